// The rate controls' memory per conversation (guardrails.ts decides with it, state.ts saves it):
// what happened is kept per time bucket of a sixtieth of the control's window — the reply budget
// as counts, repeat suppression as reply hashes — so it never holds more than about sixty
// buckets however many replies, and it is kept in memory in the form it is saved in: a turn
// neither rebuilds nor converts it. Everything in a bucket is taken as if it happened at the
// bucket's last moment, so it stays remembered for a window after that moment: never less than
// a window after it happened, at most one bucket more. Pure functions; a value is never changed
// in place (the autopilot keeps the record it saved last and plans again from it after a conflict).

/** Buckets per window. */
export const WINDOW_BUCKETS = 60;

/** Counts per bucket of `w` ms: n[i] happened in bucket k + i, which covers [(k + i)·w, (k + i + 1)·w). */
export interface BucketCounts {
  w: number;
  k: number;
  n: number[];
}

/** Hashes per bucket, as in BucketCounts: bucket k + i's are the i-th comma-separated run of HASH_CHARS-character hashes. */
export interface BucketHashes {
  w: number;
  k: number;
  r: string;
}

/**
 * Characters of a reply hash kept: 48 bits (base64url, which has no comma). A reply is wrongly
 * taken for a repeat only if its hash equals one of the at most 50 remembered in the conversation:
 * at most 50 / 2^48 ≈ 1.8e-13 per reply — a bot sending a million replies a day would drop one
 * legitimate reply in some 15,000 years. The record is written with every turn: every character counts.
 */
export const HASH_CHARS = 8;

/** The bucket width for a window: a sixtieth of it, whole milliseconds. */
export function bucketMs(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / WINDOW_BUCKETS));
}

/** The first bucket whose last moment is still inside the window that ends at `now`. */
function firstLive(now: number, windowMs: number, w: number): number {
  return Math.floor((now - windowMs + 1) / w);
}

/** The bucket of width `w` that holds the last moment of bucket `k` of width `from`. */
function rebucket(k: number, from: number, w: number): number {
  return Math.floor(((k + 1) * from - 1) / w);
}

/** Adds `value` to `groups[at]` (`merge`), the groups missing before it made `empty`. */
function put<T>(groups: T[], at: number, value: T, empty: T, merge: (a: T, b: T) => T): void {
  while (groups.length <= at) groups.push(empty);
  groups[at] = merge(groups[at]!, value);
}

/** Groups of buckets k + i at width `from`, each moved to the bucket of width `w` that holds its last moment, merged there. */
function regroup<T>(groups: readonly T[], k: number, from: number, w: number, empty: T, merge: (a: T, b: T) => T): { k: number; groups: T[] } {
  const first = rebucket(k, from, w);
  const out: T[] = [];
  groups.forEach((group, i) => put(out, rebucket(k + i, from, w) - first, group, empty, merge));
  return { k: first, groups: out };
}

/** Values with their times (the layouts of earlier releases) grouped per bucket, at a width that keeps them within WINDOW_BUCKETS + 1 buckets. */
function groupTimes<T>(entries: ReadonlyArray<{ at: number; value: T }>, empty: T, merge: (a: T, b: T) => T): { w: number; k: number; groups: T[] } | undefined {
  if (entries.length === 0) return undefined;
  // A loop, not Math.min(...times): an earlier release may have kept a time for each of 100,000 messages.
  let min = Infinity;
  let max = -Infinity;
  for (const { at } of entries) {
    if (at < min) min = at;
    if (at > max) max = at;
  }
  const w = bucketMs(max - min + 1);
  const k = Math.floor(min / w);
  const groups: T[] = [];
  for (const { at, value } of entries) put(groups, Math.floor(at / w) - k, value, empty, merge);
  return { w, k, groups };
}

/**
 * Groups dated after bucket `current` (the clock went back) merged into it, so that the memory never
 * spans more than a window; the same groups when there are none.
 */
function foldFuture<T>(k: number, groups: T[], current: number, empty: T, merge: (a: T, b: T) => T): { k: number; groups: T[] } {
  if (k + groups.length - 1 <= current) return { k, groups };
  const keep = Math.max(0, current - k);
  return { k: Math.min(k, current), groups: [...groups.slice(0, keep), groups.slice(keep).reduce(merge, empty)] };
}

/** How many commas `runs` holds: its buckets after the first. */
function commas(runs: string): number {
  let count = 0;
  for (let at = runs.indexOf(','); at >= 0; at = runs.indexOf(',', at + 1)) count++;
  return count;
}

const add = (a: number, b: number): number => a + b;
const concat = (a: string, b: string): string => a + b;

// ---------------------------------------------------------------- counts (the reply budget)

/**
 * The counts that the window ending at `now` may still hold, at the window's bucket width: older
 * buckets dropped; counts kept at another width (the window changed between runs) moved to the
 * bucket that holds their old bucket's last moment; counts dated after `now`'s bucket (the clock
 * went back) moved into it, so that the memory never spans more than a window.
 */
export function liveCounts(counts: BucketCounts | undefined, now: number, windowMs: number): BucketCounts | undefined {
  if (!counts) return undefined;
  const w = bucketMs(windowMs);
  const at = counts.w === w ? { k: counts.k, groups: counts.n } : regroup(counts.n, counts.k, counts.w, w, 0, add);
  const { k, groups: n } = foldFuture(at.k, at.groups, Math.floor(now / w), 0, add);
  let drop = Math.max(0, firstLive(now, windowMs, w) - k);
  while (drop < n.length && n[drop] === 0) drop++;
  if (drop >= n.length) return undefined;
  return drop === 0 && n === counts.n && k === counts.k && w === counts.w ? counts : { w, k: k + drop, n: drop ? n.slice(drop) : n };
}

export function total(counts: BucketCounts | undefined): number {
  return counts ? sum(counts.n) : 0;
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** `live` (liveCounts at `now`) with `count` more in now's bucket. */
export function addCount(live: BucketCounts | undefined, count: number, now: number, windowMs: number): BucketCounts {
  const w = bucketMs(windowMs);
  const current = Math.floor(now / w);
  if (!live) return { w, k: current, n: [count] };
  const n = live.n.slice();
  put(n, current - live.k, count, 0, add);
  return { w, k: live.k, n };
}

/** Single times (the layouts of earlier releases) as counts, at a width that keeps them within WINDOW_BUCKETS + 1 buckets. */
export function countsOfTimes(times: readonly number[]): BucketCounts | undefined {
  const grouped = groupTimes(times.map((at) => ({ at, value: 1 })), 0, add);
  return grouped && { w: grouped.w, k: grouped.k, n: grouped.groups };
}

// ---------------------------------------------------------------- hashes (repeat suppression)

/**
 * The hashes that the window ending at `now` may still hold, at the window's bucket width, the
 * newest `max` of them (moved as liveCounts moves counts).
 */
export function liveHashes(hashes: BucketHashes | undefined, now: number, windowMs: number, max: number): BucketHashes | undefined {
  if (!hashes) return undefined;
  const w = bucketMs(windowMs);
  if (hashes.w === w && hashes.k >= firstLive(now, windowMs, w) && !hashes.r.startsWith(',')) {
    // Usually nothing to drop (once a turn): told without splitting the string.
    const separators = commas(hashes.r);
    if (hashes.k + separators <= Math.floor(now / w) && hashes.r.length - separators <= max * HASH_CHARS) return hashes;
  }
  const split = hashes.r.split(',');
  const at = hashes.w === w ? { k: hashes.k, groups: split } : regroup(split, hashes.k, hashes.w, w, '', concat);
  const { k, groups: runs } = foldFuture(at.k, at.groups, Math.floor(now / w), '', concat);
  let changed = hashes.w !== w || runs !== split;
  let drop = Math.max(0, firstLive(now, windowMs, w) - k);
  let count = 0;
  for (let i = drop; i < runs.length; i++) count += runs[i]!.length / HASH_CHARS;
  // Past `max`, the oldest go first.
  for (let excess = count - max; excess > 0 && drop < runs.length; ) {
    const inRun = runs[drop]!.length / HASH_CHARS;
    if (inRun <= excess) {
      excess -= inRun;
      drop++;
    } else {
      runs[drop] = runs[drop]!.slice(excess * HASH_CHARS);
      excess = 0;
      changed = true;
    }
  }
  while (drop < runs.length && runs[drop] === '') drop++;
  if (drop >= runs.length) return undefined;
  return drop === 0 && !changed ? hashes : { w, k: k + drop, r: runs.slice(drop).join(',') };
}

/** Whether `hash` (HASH_CHARS characters) is among the remembered ones: a match must start at a hash's boundary. */
export function hasHash(hashes: BucketHashes | undefined, hash: string): boolean {
  if (!hashes) return false;
  const { r } = hashes;
  for (let at = r.indexOf(hash); at >= 0; at = r.indexOf(hash, at + 1)) {
    if ((at - (r.lastIndexOf(',', at) + 1)) % HASH_CHARS === 0) return true;
  }
  return false;
}

/** `live` (liveHashes at `now`) with `hash` in now's bucket. */
export function addHash(live: BucketHashes | undefined, hash: string, now: number, windowMs: number): BucketHashes {
  const w = bucketMs(windowMs);
  const current = Math.floor(now / w);
  if (!live) return { w, k: current, r: hash };
  const last = live.k + commas(live.r);
  return { w, k: live.k, r: `${live.r}${','.repeat(Math.max(0, current - last))}${hash}` };
}

/** Hashes with their times (the layouts of earlier releases), oldest first, as BucketHashes. */
export function hashesOfTimes(entries: ReadonlyArray<{ h: string; at: number }>): BucketHashes | undefined {
  // Oldest first within a bucket too: past the memory's cap, the oldest go first.
  const kept = entries.filter((e) => e.h.length >= HASH_CHARS && Number.isFinite(e.at)).sort((a, b) => a.at - b.at);
  const grouped = groupTimes(kept.map((e) => ({ at: e.at, value: e.h.slice(0, HASH_CHARS) })), '', concat);
  return grouped && { w: grouped.w, k: grouped.k, r: grouped.groups.join(',') };
}
