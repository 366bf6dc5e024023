// The retry policy as pure functions, so it is tested with numbers, not with sleeps.

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Backoff before retry n is drawn from [0, min(maxDelayMs, baseDelayMs * 2^(n-1))] (full jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Whether a request may be sent again after a failure that could have reached Crisp.
 * A POST is retried only when the caller can tell whether the first attempt took effect — a
 * message that carries its own `fingerprint`, looked for in the conversation before re-sending
 * (http.ts `alreadyApplied`) — so a reply is never posted twice.
 */
export function mayResend(method: string, idempotentPost: boolean): boolean {
  return IDEMPOTENT_METHODS.has(method) || idempotentPost;
}

/** Full-jitter exponential backoff (AWS architecture blog); `random` is injected for tests. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Unparseable or negative values give undefined.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its month; this keeps "-1" and other stray numbers from parsing as years.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The wait before the next attempt: the server's `Retry-After` when it gave one (never less),
 * otherwise the jittered backoff.
 */
export function nextDelay(retry: number, policy: RetryPolicy, retryAfterMs: number | undefined, random?: () => number): number {
  const backoff = backoffDelay(retry, policy, random);
  return retryAfterMs === undefined ? backoff : Math.max(retryAfterMs, Math.min(backoff, retryAfterMs / 4 + 50));
}
