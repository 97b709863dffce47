// The daemon's side of bounded evidence (src/daemon/request-evidence.ts): the first request
// it counts instead of writing is said at once, so that a crash before the next stats line
// cannot lose counts the report does not name (summaries_lost).
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/config/index.js';
import { RequestEvidence } from '../../src/daemon/request-evidence.js';
import type { LogSink } from '../../src/logging/index.js';
import type { RequestLine } from '../../src/model/log-line.js';
import { requestLine } from '../helpers/request-line.js';

const T0 = Date.parse('2026-11-28T14:00:00.000Z');

function v2At(ms: number): RequestLine {
  const line = requestLine();
  line.imds_version = 'v2';
  line.request_time = new Date(ms).toISOString();
  return line;
}

function evidence(enabled: boolean) {
  const written: string[] = [];
  const sink = {
    request: () => written.push('imds_request'),
    lifecycle: (event: string) => written.push(event),
  } as unknown as LogSink;
  const config = { ...DEFAULT_CONFIG, summary: { ...DEFAULT_CONFIG.summary, enabled } };
  return { written, evidence: new RequestEvidence(config, sink, () => T0) };
}

describe('the first count held', () => {
  it('is said once, right after the request counted and before any other line', () => {
    const { written, evidence: e } = evidence(true);
    const said: string[][] = [];
    e.onFirstCount(() => said.push([...written]));
    for (let i = 0; i < 4; i++) e.write(v2At(T0 + i));
    // The first request of the program is written; the second is the first one counted.
    expect(said).toEqual([['imds_request']]);
    expect(written).toEqual(['imds_request']);
    expect(e.summarised).toBe(3);
  });

  it('is said at once when counts are held before the hook is set', () => {
    const { evidence: e } = evidence(true);
    e.write(v2At(T0));
    e.write(v2At(T0 + 1));
    let said = 0;
    e.onFirstCount(() => said++);
    e.write(v2At(T0 + 2));
    expect(said).toBe(1);
  });

  it('is never said when every request is written in full', () => {
    const { written, evidence: e } = evidence(false);
    let said = 0;
    e.onFirstCount(() => said++);
    for (let i = 0; i < 4; i++) e.write(v2At(T0 + i));
    expect({ said, written: written.length, summarised: e.summarised }).toEqual({
      said: 0,
      written: 4,
      summarised: 0,
    });
  });
});
