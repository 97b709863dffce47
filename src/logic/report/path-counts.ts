// The metadata paths a program called, bounded: the first MAX in sort order with their request
// counts, and the requests to every other path counted together. Sort order (not first seen)
// makes two partial counts merge into exactly the count of the whole, whatever the split.

export interface PathCounts {
  listed: Map<string, number>;
  /** Requests to paths not listed. */
  others: number;
}

export const MAX_LISTED_PATHS = 50;

export const emptyPathCounts = (): PathCounts => ({ listed: new Map(), others: 0 });

export function countPath(counts: PathCounts, path: string, requests = 1): void {
  counts.listed.set(path, (counts.listed.get(path) ?? 0) + requests);
  if (counts.listed.size <= MAX_LISTED_PATHS) return;
  // One too many: the last in sort order goes to the others.
  let last = path;
  for (const listed of counts.listed.keys()) if (listed > last) last = listed;
  counts.others += counts.listed.get(last) ?? 0;
  counts.listed.delete(last);
}

/** `from` added to `into`: the same as counting both inputs' requests into one. */
export function mergePathCounts(into: PathCounts, from: PathCounts): void {
  for (const [path, requests] of from.listed) countPath(into, path, requests);
  into.others += from.others;
}
