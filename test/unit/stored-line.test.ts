// readStoredLine: the one reader of stored log lines. What the sink writes comes back typed
// from the contract; lines of older versions (fewer fields) still read; a line that is cut,
// not JSON or off-contract is `corrupt` (with what its text still says), another event's is
// `foreign`. A field the writer does not have cannot be named (checked by tsc on this file).
import { describe, expect, it } from 'vitest';
import { readStoredLine, type StoredLineOf } from '../../src/model/stored-line.js';
import { sinkText } from '../helpers/report-fixtures.js';
import { requestLine } from '../helpers/request-line.js';

const T = Date.parse('2026-11-20T00:00:00Z');

/** A request line and an error line, as the daemon's sink writes them. */
async function written(): Promise<string[]> {
  const text = await sinkText({
    hostname: 'host-1',
    instance_id: 'i-0123456789abcdef0',
    boots: [
      {
        boot_id: 'b-1',
        entries: [
          { atMs: T, write: (sink) => sink.request(requestLine()) },
          { atMs: T, write: (sink) => sink.lifecycle('error', { source: 'libbpf', message: 'x' }) },
        ],
      },
    ],
  });
  return text.split('\n').filter(Boolean);
}

describe('readStoredLine', () => {
  it('gives back what the sink wrote, typed from the contract', async () => {
    const [request, error] = (await written()).map(readStoredLine);
    expect(request).toMatchObject({
      kind: 'line',
      line: { event: 'imds_request', imds_version: 'v1', hostname: 'host-1' },
    });
    expect(error).toMatchObject({
      kind: 'line',
      line: { event: 'error', source: 'libbpf', time: T },
    });
    if (request?.kind !== 'line' || request.line.event !== 'imds_request') throw new Error('not a request line');
    const line: StoredLineOf<'imds_request'> = request.line;
    expect(line.process?.argv?.[0]).toBe('curl');
    // @ts-expect-error: the contract has no such field, so a reader cannot name it.
    expect(line.capture_continued).toBeUndefined();
  });

  it('reads a CloudWatch Logs export line and an older line that lacks fields', () => {
    const old = '{"level":30,"time":5,"hostname":"h","event":"ready","boot_id":"b","pid":1}';
    const reading = readStoredLine(`2026-11-20T00:00:00.000Z ${old}`);
    expect(reading).toEqual({ kind: 'line', line: JSON.parse(old) });
    if (reading.kind === 'line' && reading.line.event === 'ready')
      expect(reading.line.capture_continued).toBeUndefined();
  });

  it('says what a torn line still tells, and whether it may have been a request', async () => {
    const [request] = await written();
    const torn = readStoredLine((request ?? '').slice(0, 200));
    expect(torn).toEqual({
      kind: 'corrupt',
      line: {
        time: T,
        hostname: 'host-1',
        instance_id: 'i-0123456789abcdef0',
        boot_id: 'b-1',
        event: 'imds_request',
        couldBeRequest: true,
      },
    });
    const tornStats = readStoredLine('{"level":30,"time":7,"hostname":"h","event":"stats","kern');
    expect(tornStats).toMatchObject({ kind: 'corrupt', line: { event: 'stats', couldBeRequest: false } });
    // Cut before its event: it may have been anything.
    expect(readStoredLine('{"level":40,"time":7,"hos')).toMatchObject({
      kind: 'corrupt',
      line: { time: 7, hostname: null, couldBeRequest: true },
    });
    // Complete JSON that is no object is not a line of ours at all.
    expect(readStoredLine('[1,2,3]')).toMatchObject({ kind: 'corrupt', line: { couldBeRequest: false } });
  });

  it('takes a line of one of our events with a field of the wrong type as corrupt, never half', () => {
    const line = '{"level":40,"time":7,"hostname":"h","event":"imds_request","imds_version":"v1","aws_api":"yes"}';
    expect(readStoredLine(line)).toMatchObject({
      kind: 'corrupt',
      line: { event: 'imds_request', couldBeRequest: true },
    });
    expect(readStoredLine('{"level":30,"hostname":"h","event":"stats"}')).toMatchObject({ kind: 'corrupt' });
  });

  it('cannot be fooled by a value that looks like a field: quotes inside a string are escaped', () => {
    const text = JSON.stringify({
      level: 40,
      time: 9,
      hostname: 'real',
      argv: ['"hostname":"forged"', '"event":"stats"'],
    });
    const torn = readStoredLine(text.slice(0, -3));
    expect(torn).toMatchObject({ kind: 'corrupt', line: { hostname: 'real', event: null, couldBeRequest: true } });
  });

  it('reads a line of an event this version does not know as foreign, and blank lines as blank', () => {
    expect(readStoredLine('{"time":1,"hostname":"h","event":"digest"}')).toEqual({
      kind: 'foreign',
      line: { time: 1, hostname: 'h', event: 'digest' },
    });
    expect(readStoredLine('  ')).toEqual({ kind: 'blank' });
  });
});
