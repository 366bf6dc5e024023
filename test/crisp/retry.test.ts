import { describe, expect, it } from 'vitest';
import { backoffDelay, mayResend, nextDelay, parseRetryAfter, type RetryPolicy } from '../../src/crisp/retry.js';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('retry policy', () => {
  it.each([
    ['GET', false, true],
    ['HEAD', false, true],
    ['PUT', false, true],
    ['PATCH', false, true],
    ['DELETE', false, true],
    ['POST', false, false],
    ['POST', true, true],
  ])('%s (idempotent POST: %s) may be resent: %s', (method, idempotentPost, expected) => {
    expect(mayResend(method, idempotentPost)).toBe(expected);
  });

  it('draws full-jitter backoff under an exponential ceiling capped at maxDelayMs', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, policy, top)).toBe(99);
    expect(backoffDelay(2, policy, top)).toBe(199);
    expect(backoffDelay(3, policy, top)).toBe(399);
    expect(backoffDelay(10, policy, top)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(['2.5'], now)).toBe(2_500);
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });

  it('never waits less than Retry-After, and uses backoff when the server gave none', () => {
    expect(nextDelay(1, policy, 2_000, () => 0)).toBe(2_000);
    expect(nextDelay(1, policy, 2_000, () => 0.999)).toBeGreaterThanOrEqual(2_000);
    expect(nextDelay(2, policy, undefined, () => 0.5)).toBe(100);
  });
});
