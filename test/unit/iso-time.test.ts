// The report's fast ISO time parse gives Date.parse's number (NaN included) for any text:
// the writer's times in order, times out of order, and texts one character off the form.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IsoTimes } from '../../src/logic/report/iso-time.js';

const T0 = Date.parse('2026-11-01T00:00:00.000Z');

describe('IsoTimes', () => {
  it("gives Date.parse's number for the writer's times and for texts edited anywhere", () => {
    const times = new IsoTimes();
    let edited = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: -3 * 86400_000, max: 400 * 86400_000 }),
        fc.option(
          fc.record({
            at: fc.nat(23),
            char: fc.constantFrom('0', '2', '4', '5', '6', '9', 'x', ':', '-', '.', 'Z', ' ', '+'),
          }),
        ),
        (offset, edit) => {
          let text = new Date(T0 + offset).toISOString();
          if (edit) {
            text = text.slice(0, edit.at) + edit.char + text.slice(edit.at + 1);
            edited++;
          }
          expect([text, times.parse(text)]).toEqual([text, Date.parse(text)]);
        },
      ),
      { numRuns: 20000 },
    );
    expect(edited).toBeGreaterThan(1000);
  });

  it('gives NaN or the right instant at the edges: hour 24, second 60, a day that is not', () => {
    const times = new IsoTimes();
    for (const text of [
      '2026-11-01T24:00:00.000Z',
      '2026-11-01T24:00:07.000Z',
      '2026-11-01T23:59:60.000Z',
      '2026-02-30T00:00:01.000Z',
      '2026-13-01T00:00:01.000Z',
      '2026-11-01T00:60:01.000Z',
      '2026-11-01T00:00:01.000Z',
      '2026-11-01T00:00:59.999Z',
      '',
    ])
      expect([text, times.parse(text)]).toEqual([text, Date.parse(text)]);
  });
});
