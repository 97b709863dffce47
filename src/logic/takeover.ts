// Whether a daemon took over its predecessor's capture with no window, and if not, why:
// the ready line's capture_continued and capture_gap (docs/service.md). Pure: the capture
// gathers the facts, this decides. Any doubt is a gap: a takeover is credited only when
// every record the previous daemon's programs wrote reaches this daemon, and every record
// the previous daemon read but had not logged yet is in its journal.

/** Why the time before a start was not seen, as the ready line's capture_gap names it. */
export type CaptureGap =
  /** Nothing of a previous daemon was handed over (first start, or after a real stop). */
  | 'fresh_start'
  /** Some program had no link to take over: it was attached anew, with a window before. */
  | 'links_detached'
  /** The previous buffer could not be taken over or read to its end: its records are lost. */
  | 'ring_not_drained'
  /** The previous daemon's journal is missing, given up, or dropped records it still needed. */
  | 'journal_truncated';

export interface TakeoverFacts {
  /** Links of the previous daemon found among the handed-back fds. */
  linksInherited: number;
  /** Programs this daemon runs, and how many of them run through a link taken over. */
  programs: number;
  programsTakenOver: number;
  /** The previous daemon's maps were reused: its ring buffer is this daemon's. */
  mapsReused: boolean;
  /** Not reused: the previous ring was read to its end after every link had switched. */
  previousRingDrained: boolean;
  journal: JournalFacts | null;
}

export interface JournalFacts {
  /** Records were dropped to make room since the journal was made. */
  dropped: boolean;
  /** The writer's watermark: oldest record it still needed; null: unknown; 'none': nothing. */
  neededSinceNs: bigint | null | 'none';
  /** Kernel time of the oldest record still in the journal (null: none). */
  oldestKeptNs: bigint | null;
  givenUp: boolean;
}

/** True when the journal still holds every record its writer needed. */
export function journalWhole(journal: JournalFacts): boolean {
  if (journal.givenUp) return false;
  if (!journal.dropped || journal.neededSinceNs === 'none') return true;
  if (journal.neededSinceNs === null || journal.oldestKeptNs === null) return false;
  return journal.neededSinceNs >= journal.oldestKeptNs;
}

/** Null when the takeover was continuous; otherwise the first reason it was not. */
export function takeoverGap(facts: TakeoverFacts): CaptureGap | null {
  if (facts.linksInherited === 0) return 'fresh_start';
  if (facts.programsTakenOver < facts.programs) return 'links_detached';
  if (!facts.mapsReused && !facts.previousRingDrained) return 'ring_not_drained';
  if (!facts.journal || !journalWhole(facts.journal)) return 'journal_truncated';
  return null;
}
