// Programs are grouped by identity (executable, unit or container, script, argv shape), not by
// whole argv: one script that curls many metadata paths is one program with its paths listed.
// The fixture is written by the daemon's own log sink.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestSink } from '../helpers/test-sink.js';
import { argShape } from '../../src/logic/report/normalize.js';
import { programOf, scriptOf } from '../../src/logic/report/program.js';
import type { RequestLine } from '../../src/model/log-line.js';
import { buildReport } from '../../src/report/index.js';
import { requestLine } from '../helpers/request-line.js';

const IMDS = 'http://169.254.169.254'; // test data: never dialled
const dir = mkdtempSync(join(tmpdir(), 'report-grouping-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('program identity', () => {
  it('finds the script an interpreter runs, not inline code or options', () => {
    expect(scriptOf(['bash', '/usr/local/bin/collect.sh', 'x'])).toEqual({
      name: '/usr/local/bin/collect.sh',
      index: 1,
    });
    expect(scriptOf(['/usr/bin/python3', '-u', '-W', 'ignore', '/opt/app/worker.py'])).toEqual({
      name: '/opt/app/worker.py',
      index: 4,
    });
    expect(scriptOf(['python3.11', '-m', 'awscli', 's3', 'ls'])).toEqual({ name: '-m awscli', index: 2 });
    expect(scriptOf(['-bash'])).toBeNull();
    expect(scriptOf(['sh', '-c', 'curl http://x/'])).toBeNull();
    expect(scriptOf(['curl', '/opt/x.sh'])).toBeNull();
    expect(scriptOf(['sh', '/tmp/tmp.Ab12/run.sh'])?.name).toBe('/tmp/<tmp>');
  });

  it('reduces URLs, paths and numbers in the argv shape, keeping the service asked', () => {
    expect(argShape(`${IMDS}/latest/meta-data/tags/instance/Name`)).toBe(`${IMDS}/<path>`);
    expect(argShape('http://[fd00:ec2::254]/latest/api/token')).toBe('http://[fd00:ec2::254]/<path>');
    expect(argShape('/etc/agent.toml')).toBe('<path>');
    expect(argShape('/var/tmp/upload.1234')).toBe('/var/tmp/<tmp>');
    expect(argShape('--config=/etc/x/y.json')).toBe('--config=<path>');
    expect(argShape('42')).toBe('<n>');
    expect(argShape('-s')).toBe('-s');
    expect(argShape('s3://bucket/')).toBe('s3://bucket/');
  });

  it('makes a tool called by a script one program whatever its arguments', () => {
    const parent = [['bash', '/usr/local/bin/collect.sh'], ['/sbin/init']];
    const a = programOf(['curl', '-s', `${IMDS}/latest/meta-data/instance-id`], parent);
    const b = programOf(['curl', '-sf', '--max-time', '2', `${IMDS}/latest/meta-data/local-ipv4`], parent);
    expect(a.script).toBe('/usr/local/bin/collect.sh');
    expect(a.key).toBe(b.key);
    expect(a.command).toBe(`curl -s ${IMDS}/<path>`);
    const bare = programOf(['curl', '-s', `${IMDS}/latest/meta-data/instance-id`], [['-bash']]);
    expect({ script: bare.script, command: bare.command, key: bare.key }).toEqual({
      script: null,
      command: `curl -s ${IMDS}/<path>`,
      key: `curl -s ${IMDS}/<path>`,
    });
    expect(programOf(['python3', '/opt/app/worker.py', '--job', '7'], []).command).toBe(
      'python3 /opt/app/worker.py --job <n>',
    );
  });
});

/** A request line of the contract, called by `argv` with `ancestors` (nearest first). */
function call(argv: string[], path: string, ancestors: string[][], over: Partial<RequestLine> = {}): RequestLine {
  const base = requestLine();
  return {
    ...base,
    request: { ...base.request, path },
    process: { ...base.process, comm: argv[0] ?? null, exe: `/usr/bin/${argv[0]}`, argv, cmdline: argv.join(' ') },
    ancestors: ancestors.map((a, i) => ({ pid: 100 + i, comm: a[0] ?? '', exe: null, argv: a, uid: 0 })),
    unit: 'metadata-collect.service',
    ...over,
  };
}

describe('one script that calls many paths', () => {
  const script = ['bash', '/usr/local/bin/collect-metadata.sh'];
  const paths = Array.from(
    { length: 60 },
    (_, i) => `/latest/meta-data/tags/instance/key-${String(i).padStart(2, '0')}`,
  );

  beforeAll(async () => {
    const sink = await openTestSink(dir, {
      rotation: { maxSizeMB: 10, frequency: 'daily', maxFiles: 2 },
      hostname: 'ip-10-0-9-9',
      identity: { instance_id: 'i-0aaaaaaaaaaaaaaa1', region: null, boot_id: 'b-1' },
    });
    for (const path of paths) {
      sink.request(call(['curl', '-s', `${IMDS}${path}`], path, [script, ['/sbin/init']]));
      sink.request(call(['curl', '-sf', '--max-time', '2', `${IMDS}${path}`], path, [script]));
    }
    // The same script through another executable is a program of its own (what is fixed differs).
    sink.request(call(['wget', '-qO-', `${IMDS}/latest/meta-data/ami-id`], '/latest/meta-data/ami-id', [script]));
    // Another script with the same curl is another program.
    sink.request(
      call(['curl', '-s', `${IMDS}/latest/meta-data/ami-id`], '/latest/meta-data/ami-id', [
        ['sh', '/opt/inventory.sh'],
      ]),
    );
    // One worker run with many job numbers is one program.
    for (const job of ['1001', '1002', '1003'])
      sink.request(
        call(['python3', '/opt/app/worker.py', '--job', job], '/latest/meta-data/placement/region', [['/sbin/init']]),
      );
    await sink.close();
  });

  it('is one program with its paths listed (the first 50, the rest counted)', async () => {
    const report = await buildReport([dir]);
    const v1 = report.groups.filter((g) => g.kind === 'imdsv1');
    expect(v1.map((g) => [g.script, g.exe, g.command, g.count])).toEqual([
      ['/usr/local/bin/collect-metadata.sh', '/usr/bin/curl', `curl -s ${IMDS}/<path>`, 120],
      ['/opt/app/worker.py', '/usr/bin/python3', 'python3 /opt/app/worker.py --job <n>', 3],
      ['/usr/local/bin/collect-metadata.sh', '/usr/bin/wget', `wget -qO- ${IMDS}/<path>`, 1],
      ['/opt/inventory.sh', '/usr/bin/curl', `curl -s ${IMDS}/<path>`, 1],
    ]);
    const collect = v1[0];
    expect(collect?.paths).toEqual(paths.slice(0, 50));
    // 10 paths beyond the list, each called twice.
    expect(collect?.paths_unlisted).toBe(20);
    expect(collect?.timeline.reduce((n, h) => n + h.count, 0)).toBe(120);
    expect(report.hosts[0]?.imdsv1_programs).toHaveLength(4);
    expect(report.verdict.imdsv1_programs).toBe(4);
  });
});
