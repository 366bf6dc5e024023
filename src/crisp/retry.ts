// The Crisp client's use of the application's retry policy (../retry.ts): which requests may be
// sent again at all. The waits themselves are the shared policy's.
export { backoffDelay, DEFAULT_RETRY, nextDelay, parseRetryAfter, type RetryPolicy } from '../retry.js';

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Whether a request may be sent again after a failure that could have reached Crisp.
 * A POST is retried only when the caller can tell whether the first attempt took effect — a
 * message that carries its own `fingerprint`, looked for in the conversation before re-sending
 * (http.ts `beforeResend`) — so a reply is never posted twice.
 */
export function mayResend(method: string, idempotentPost: boolean): boolean {
  return IDEMPOTENT_METHODS.has(method) || idempotentPost;
}
