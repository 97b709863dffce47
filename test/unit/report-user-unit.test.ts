// A unit a user named in its own delegated subtree (user@UID.service/<unit>, user_delegated on
// the line) is never shown as the system service of the same name: the report keeps the two
// apart and says, in the table and the HTML page, who named the user's one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userUnitNote } from '../../src/logic/report/user-unit.js';
import type { RequestLine } from '../../src/model/log-line.js';
import { buildReport } from '../../src/report/index.js';
import { renderHtml } from '../../src/report/html.js';
import { renderTable } from '../../src/report/render.js';
import { requestLine } from '../helpers/request-line.js';
import { sinkLines } from '../helpers/sink-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'report-user-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agentCall(over: Partial<RequestLine>): RequestLine {
  const base = requestLine();
  return {
    ...base,
    process: { ...base.process, comm: 'python3', exe: '/usr/bin/python3', argv: ['python3', '/opt/agent.py'] },
    ...over,
  };
}

describe("a user's unit named like a system service", () => {
  beforeAll(async () => {
    await sinkLines(dir, (sink) => {
      sink.request(agentCall({ unit: 'amazon-ssm-agent.service', cgroup: '/system.slice/amazon-ssm-agent.service' }));
      sink.request(
        agentCall({
          unit: 'user@4242.service/amazon-ssm-agent.service',
          user_delegated: true,
          cgroup: '/user.slice/user-4242.slice/user@4242.service/app.slice/amazon-ssm-agent.service',
        }),
      );
    });
  });

  it('is a program of its own, and the table and the page say who named it', async () => {
    const report = await buildReport([dir]);
    expect(report.groups.map((g) => g.unit).sort()).toEqual([
      'amazon-ssm-agent.service',
      'user@4242.service/amazon-ssm-agent.service',
    ]);
    const table = renderTable(report, false);
    const note = 'named by uid 4242 in its own delegated cgroup subtree, not a system service';
    expect(table).toContain(note);
    expect(table.split(note)).toHaveLength(2); // once: the system service gets no note
    expect(renderHtml(report)).toContain(`user@4242.service/amazon-ssm-agent.service: ${note}`);
  });

  it('notes only units below a user manager', () => {
    expect(userUnitNote('user@1000.service')).toBeNull(); // the user manager itself is a system unit
    expect(userUnitNote('amazon-ssm-agent.service')).toBeNull();
    expect(userUnitNote('system.slice/user@1000.service/x.service')).toBeNull();
    expect(userUnitNote(null)).toBeNull();
    expect(userUnitNote('user@0.service/app.service')).toContain('uid 0');
  });
});
