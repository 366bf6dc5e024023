// The ONE retry policy of the application, as pure functions (tested with numbers, not sleeps):
// capped exponential backoff with full jitter, and the server's Retry-After honoured. The Crisp
// client, the autopilot's outbox and failed runs, the converse inbox and reply delivery, and the
// RTM client's reconnects all wait by it. (The sandbox's hook sender models Crisp's own retries
// and keeps its own schedule.)

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Backoff before retry n is drawn from [0, min(maxDelayMs, baseDelayMs * 2^(n-1))] (full jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The waits alone, for workers that retry until they give up by other rules (age, attempts of their own). */
export type Backoff = Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>;

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Full-jitter exponential backoff (AWS architecture blog); `random` is injected for tests. */
export function backoffDelay(retry: number, policy: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** The longest wait a `Retry-After` is followed for: a server asking for more gets this. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at most
 * MAX_RETRY_AFTER_MS. Unparseable or negative values give undefined.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(trimmed) * 1000));
  // An HTTP date names its month; this keeps "-1" and other stray numbers from parsing as years.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

/**
 * The wait before the next attempt: the server's `Retry-After` when it gave one (never less),
 * otherwise the jittered backoff.
 */
export function nextDelay(retry: number, policy: Backoff, retryAfterMs: number | undefined, random?: () => number): number {
  const backoff = backoffDelay(retry, policy, random);
  return retryAfterMs === undefined ? backoff : Math.max(retryAfterMs, Math.min(backoff, retryAfterMs / 4 + 50));
}
