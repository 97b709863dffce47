// Whether a takeover was continuous (src/logic/takeover.ts): the ready line's
// capture_continued and capture_gap. Every fact that can break continuity names its gap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { journalWhole, type TakeoverFacts, takeoverGap } from '../../src/logic/takeover.js';

const continuous: TakeoverFacts = {
  linksInherited: 7,
  programs: 7,
  programsTakenOver: 7,
  mapsReused: true,
  previousRingDrained: false,
  journal: { dropped: false, neededSinceNs: 'none', oldestKeptNs: 10n, givenUp: false },
};

describe('takeoverGap', () => {
  it('credits a takeover of the same maps, every link and a whole journal', () => {
    expect(takeoverGap(continuous)).toBeNull();
  });

  it('credits changed maps only when the previous ring was drained', () => {
    expect(takeoverGap({ ...continuous, mapsReused: false })).toBe('ring_not_drained');
    expect(takeoverGap({ ...continuous, mapsReused: false, previousRingDrained: true })).toBeNull();
  });

  it('names each other gap', () => {
    expect(takeoverGap({ ...continuous, linksInherited: 0, programsTakenOver: 0 })).toBe('fresh_start');
    expect(takeoverGap({ ...continuous, programsTakenOver: 6 })).toBe('links_detached');
    expect(takeoverGap({ ...continuous, journal: null })).toBe('journal_truncated');
    expect(takeoverGap({ ...continuous, journal: { ...continuous.journal!, givenUp: true } })).toBe(
      'journal_truncated',
    );
  });

  it('any facts: continuous only when every condition holds', () => {
    const journal = fc.record({
      dropped: fc.boolean(),
      neededSinceNs: fc.oneof(fc.constant(null), fc.constant('none' as const), fc.bigInt({ min: 1n, max: 100n })),
      oldestKeptNs: fc.oneof(fc.constant(null), fc.bigInt({ min: 1n, max: 100n })),
      givenUp: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.record({
          linksInherited: fc.nat(10),
          programs: fc.constant(7),
          programsTakenOver: fc.nat(7),
          mapsReused: fc.boolean(),
          previousRingDrained: fc.boolean(),
          journal: fc.option(journal, { nil: null }),
        }),
        (facts) => {
          const whole = facts.journal !== null && journalWhole(facts.journal);
          const expected =
            facts.linksInherited > 0 &&
            facts.programsTakenOver === 7 &&
            (facts.mapsReused || facts.previousRingDrained) &&
            whole;
          expect(takeoverGap(facts) === null).toBe(expected);
        },
      ),
    );
  });
});

describe('journalWhole', () => {
  const journal = { dropped: true, neededSinceNs: 50n as bigint | null | 'none', oldestKeptNs: 40n, givenUp: false };
  it('a journal that dropped records is whole when all it dropped was older than what its writer needed', () => {
    expect(journalWhole(journal)).toBe(true);
    expect(journalWhole({ ...journal, neededSinceNs: 'none' })).toBe(true);
    expect(journalWhole({ ...journal, dropped: false, neededSinceNs: 1n })).toBe(true);
  });

  it('is not whole when it dropped what was needed, when that is unknown, or when it was given up', () => {
    expect(journalWhole({ ...journal, neededSinceNs: 39n })).toBe(false);
    expect(journalWhole({ ...journal, neededSinceNs: null })).toBe(false);
    expect(journalWhole({ ...journal, oldestKeptNs: null })).toBe(false);
    expect(journalWhole({ ...journal, dropped: false, givenUp: true })).toBe(false);
  });
});
