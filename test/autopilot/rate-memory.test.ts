// The rate controls' memory per time bucket (src/autopilot/rate-memory.ts), with an injected clock.
import { describe, expect, it } from 'vitest';
import { addCount, addHash, countsOfTimes, hashesOfTimes, hasHash, liveCounts, liveHashes, total } from '../../src/autopilot/rate-memory.js';

const NOW = 1_750_000_000_000; // a multiple of every width below
const A = 'AAAAAAAA';
const B = 'BBBBBBBB';

describe('counts', () => {
  it('drop the buckets whose last moment has left the window, and keep the rest as they are', () => {
    const counts = { w: 1000, k: NOW / 1000, n: [2, 0, 3] };
    expect(liveCounts(counts, NOW + 60_998, 60_000)).toBe(counts);
    expect(liveCounts(counts, NOW + 60_999, 60_000)).toEqual({ w: 1000, k: NOW / 1000 + 2, n: [3] }); // the empty bucket goes too
    expect(liveCounts(counts, NOW + 62_999, 60_000)).toBeUndefined();
  });
  it('counts dated after now (the clock went back) are kept in now\'s bucket', () => {
    const counts = { w: 1000, k: NOW / 1000 + 5, n: [1, 2] };
    expect(liveCounts(counts, NOW, 60_000)).toEqual({ w: 1000, k: NOW / 1000, n: [3] });
    expect(liveCounts({ w: 1000, k: NOW / 1000 - 1, n: [1, 1, 1] }, NOW, 60_000)).toEqual({ w: 1000, k: NOW / 1000 - 1, n: [1, 2] });
  });
  it('add to now\'s bucket without changing the value they were given', () => {
    const live = { w: 1000, k: NOW / 1000, n: [1] };
    expect(addCount(live, 2, NOW + 2500, 60_000)).toEqual({ w: 1000, k: NOW / 1000, n: [1, 0, 2] });
    expect(live).toEqual({ w: 1000, k: NOW / 1000, n: [1] });
    expect(addCount(undefined, 1, NOW + 10, 60_000)).toEqual({ w: 1000, k: NOW / 1000, n: [1] });
  });
  it('single times of an earlier layout fit in at most 61 buckets, each at or after its time', () => {
    const times = Array.from({ length: 1000 }, (_, i) => NOW + i * 997);
    const counts = countsOfTimes(times)!;
    expect(counts.n.length).toBeLessThanOrEqual(61);
    expect(total(counts)).toBe(1000);
    // Read back with a window of 10 s: the last time was NOW + 996,003, so it counts until at least NOW + 1,006,003.
    expect(total(liveCounts(counts, NOW + 1_006_002, 10_000))).toBeGreaterThan(0);
    // As many as a budget of 100000/1m let an earlier release keep.
    expect(total(countsOfTimes(Array.from({ length: 200_000 }, (_, i) => NOW + i)))).toBe(200_000);
  });
});

describe('hashes', () => {
  it('match only at a hash boundary', () => {
    const hashes = { w: 500, k: NOW / 500, r: `${A}${B},${B}` };
    expect(hasHash(hashes, A)).toBe(true);
    expect(hasHash(hashes, B)).toBe(true);
    expect(hasHash(hashes, 'AAAABBBB')).toBe(false); // straddles two hashes
    expect(hasHash(undefined, A)).toBe(false);
  });
  it('are added to now\'s bucket, leaving a bucket with none empty', () => {
    const one = addHash(undefined, A, NOW, 30_000);
    expect(one).toEqual({ w: 500, k: NOW / 500, r: A });
    expect(addHash(one, B, NOW + 1600, 30_000)).toEqual({ w: 500, k: NOW / 500, r: `${A},,,${B}` });
    expect(addHash(one, B, NOW + 499, 30_000)).toEqual({ w: 500, k: NOW / 500, r: `${A}${B}` });
  });
  it('keep the newest `max` and only the window\'s buckets', () => {
    const hashes = { w: 500, k: NOW / 500, r: `${A}${B},,${A}${B}${A}` };
    expect(liveHashes(hashes, NOW + 1100, 30_000, 5)).toBe(hashes);
    expect(liveHashes(hashes, NOW + 1100, 30_000, 3)).toEqual({ w: 500, k: NOW / 500 + 2, r: `${A}${B}${A}` });
    expect(liveHashes(hashes, NOW + 1100, 30_000, 2)).toEqual({ w: 500, k: NOW / 500 + 2, r: `${B}${A}` });
    expect(liveHashes(hashes, NOW + 30_499, 30_000, 50)).toEqual({ w: 500, k: NOW / 500 + 2, r: `${A}${B}${A}` });
    expect(liveHashes(hashes, NOW + 31_499, 30_000, 50)).toBeUndefined();
  });
  it('dated after now (the clock went back) are kept in now\'s bucket', () => {
    expect(liveHashes({ w: 500, k: NOW / 500, r: `${A},,${B}` }, NOW + 600, 30_000, 50)).toEqual({ w: 500, k: NOW / 500, r: `${A},${B}` });
  });
  it('kept at another width move to the bucket of their old bucket\'s last moment', () => {
    const hashes = { w: 500, k: NOW / 500, r: `${A},${B}` }; // [NOW, NOW + 499], [NOW + 500, NOW + 999]
    expect(liveHashes(hashes, NOW + 1000, 60_000, 50)).toEqual({ w: 1000, k: NOW / 1000, r: `${A}${B}` });
    expect(liveHashes(hashes, NOW + 1000, 6000, 50)).toEqual({ w: 100, k: NOW / 100 + 4, r: `${A},,,,,${B}` });
  });
  it('of an earlier layout keep their first 8 characters, grouped by time', () => {
    const hashes = hashesOfTimes([{ h: `${B}xyz`, at: NOW + 50 }, { h: `${A}0123456789`, at: NOW }, { h: 'short', at: NOW }])!;
    expect(hashes.r.replace(/,/g, '')).toBe(`${A}${B}`);
    expect(hasHash(hashes, A) && hasHash(hashes, B)).toBe(true);
  });
});
