// One error type for everything the Crisp client can fail with. Callers branch on `code`,
// never on the message; the message never holds a credential or a raw upstream body.

export type CrispErrorCode =
  | 'crisp_invalid' // 400: Crisp rejected an argument
  | 'crisp_unauthorized' // 401: the identifier/key pair was refused
  | 'crisp_forbidden' // 403, or a route the token's tier may not call
  | 'crisp_not_found' // 404: unknown id or route
  | 'crisp_not_subscribed' // 404 not_subscribed: the plugin is not installed on the website
  | 'crisp_conflict' // 409: e.g. a people profile with that email exists
  | 'crisp_rate_limited' // 420 / 429, after retries
  | 'crisp_unavailable' // 5xx or network failure, after retries
  | 'crisp_timeout' // the call's deadline passed
  | 'crisp_aborted' // the caller's AbortSignal fired
  | 'crisp_bad_response'; // an answer that is not the envelope or not the shape we rely on

export interface CrispErrorInit {
  code: CrispErrorCode;
  message: string;
  status?: number;
  reason?: string;
  method?: string;
  path?: string;
  retryable?: boolean;
  retryAfterMs?: number;
  attempts?: number;
  cause?: unknown;
}

export class CrispError extends Error {
  override readonly name = 'CrispError';
  readonly code: CrispErrorCode;
  /** HTTP status, when Crisp answered. */
  readonly status: number | undefined;
  /** Crisp's `reason` string from the envelope (`invalid_data`, `not_found`…), when it sent one. */
  readonly reason: string | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  /** Whether the same call may succeed if made again later. */
  readonly retryable: boolean;
  /** How long Crisp asked us to wait, from `Retry-After`, when it said. */
  readonly retryAfterMs: number | undefined;
  /** How many times the request was sent (0 when it never left). */
  readonly attempts: number;

  constructor(init: CrispErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.reason = init.reason;
    this.method = init.method;
    this.path = init.path;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.attempts = init.attempts ?? 0;
  }

  /** The website the failed call was made on, read from its path (`/v1/website/{id}/…`); undefined for other routes. */
  get website(): string | undefined {
    return /^\/v1\/website\/([^/?]+)/.exec(this.path ?? '')?.[1];
  }

  /** A plain object for logs: no stack, no cause chain that could carry request headers. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      reason: this.reason,
      method: this.method,
      path: this.path,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      attempts: this.attempts,
    };
  }
}

/** Maps an HTTP error answer to a code. `reason` refines 404s and 403s. */
export function codeForStatus(status: number, reason: string | undefined): CrispErrorCode {
  if (status === 400 || status === 422 || status === 413) return 'crisp_invalid';
  if (status === 401) return 'crisp_unauthorized';
  if (status === 403 || reason === 'restricted_route_tier') return 'crisp_forbidden';
  if (status === 404) return reason === 'not_subscribed' ? 'crisp_not_subscribed' : 'crisp_not_found';
  if (status === 409) return 'crisp_conflict';
  if (status === 420 || status === 429) return 'crisp_rate_limited';
  if (status >= 500) return 'crisp_unavailable';
  return 'crisp_invalid';
}

/** Statuses after which the same request may be sent again. */
export function isRetryableStatus(status: number): boolean {
  return status === 420 || status === 429 || status >= 500;
}
