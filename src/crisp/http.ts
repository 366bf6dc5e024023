// The one seam between the Crisp client and the network: a keep-alive undici Pool for the base
// URL, Crisp's headers, the `{error, reason, data}` envelope, retries, timeouts and deadlines.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher, Pool } from 'undici';
import { CrispError, codeForStatus, isRetryableStatus, type CrispErrorCode } from './errors.js';
import { AbortedBeforeSent, sendForText, type AbortSource } from './dispatch.js';
import { DEFAULT_RETRY, mayResend, nextDelay, parseRetryAfter, type RetryPolicy } from './retry.js';
import type { Tier } from './vocabulary.js';

export interface CrispCredentials {
  identifier: string;
  key: string;
  tier: Tier;
}

export interface HttpOptions {
  /** `https://api.crisp.chat` or the sandbox's URL; a path prefix is kept. */
  baseUrl: string;
  credentials: CrispCredentials;
  userAgent: string;
  /** TCP+TLS connect timeout per attempt. */
  connectTimeoutMs?: number;
  /** Time allowed for each attempt's headers, and between body chunks. */
  attemptTimeoutMs?: number;
  /** Default total time for one call, retries and waits included. */
  deadlineMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Sockets kept open to the base URL. */
  connections?: number;
  /** Largest response accepted, in bytes. */
  maxResponseBytes?: number;
  /** Called before each retry, for logs and tests. Carries no secret. */
  onRetry?: (event: RetryEvent) => void;
  /** For tests: the jitter source. */
  random?: () => number;
}

export interface RetryEvent {
  method: string;
  path: string;
  attempt: number;
  delayMs: number;
  status?: number;
  code?: string;
}

export type QueryValue = string | number | boolean | null | undefined | readonly unknown[] | Record<string, unknown>;

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path segments after `/v1/`; each is URI-encoded here. */
  segments: readonly (string | number)[];
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** A POST that may be sent again after a failure (a message carrying its own fingerprint); see `beforeResend`. */
  idempotentPost?: boolean;
  /**
   * Asked before each re-send, with whether the failure may have reached Crisp (a dropped
   * connection, an attempt timeout, a 5xx; not a 429): the response to report instead of sending
   * again — the earlier attempt took effect, or the write is no longer wanted — or undefined to send
   * again. If it cannot tell (it throws), the earlier failure is reported and nothing is re-sent.
   */
  beforeResend?: ((signal: AbortSignal, mayHaveLanded: boolean) => Promise<CrispResponse | undefined>) | undefined;
  signal?: AbortSignal;
  deadlineMs?: number;
}

export interface CrispResponse {
  status: number;
  reason: string;
  data: unknown;
}

/**
 * A call's abort, made of only what a call uses. An AbortController is an EventTarget, and making
 * one per call (with a listener added and removed) was a visible share of the client's CPU on the
 * autopilot's hot path (bench/autopilot); a real AbortSignal is made only when a retry needs one
 * (the wait between attempts, `beforeResend`).
 */
class CallAbort implements AbortSource {
  aborted = false;
  reason: unknown = undefined;
  /** Aborted because the call's deadline passed, not by its caller. */
  byDeadline = false;
  #listeners: Array<() => void> = [];
  #controller: AbortController | undefined;
  #onCallerAbort: (() => void) | undefined;

  /** Aborts with the caller's signal, until unfollow. */
  follow(signal: AbortSignal): void {
    this.#onCallerAbort = () => this.abort();
    signal.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  unfollow(signal: AbortSignal): void {
    if (this.#onCallerAbort) signal.removeEventListener('abort', this.#onCallerAbort);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException('This operation was aborted', 'AbortError');
    for (const listener of this.#listeners.splice(0)) listener();
    this.#controller?.abort(this.reason);
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.#listeners.indexOf(listener);
    if (i !== -1) this.#listeners.splice(i, 1);
  }

  /** The same abort as a real AbortSignal. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }
}

const NEVER_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TRANSIENT = new Set([
  ...NEVER_SENT,
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export class CrispHttp {
  readonly baseUrl: string;
  readonly tier: Tier;
  readonly #poolOptions: Pool.Options;
  // undici is imported with the first call, not with this module: a server answers initialize and
  // tools/list without it (bench/startup). Every later call finds the pool made.
  #pool: Dispatcher | undefined;
  #poolReady: Promise<Dispatcher> | undefined;
  readonly #origin: string;
  readonly #pathPrefix: string;
  // Kept in private fields so they never show in util.inspect, JSON or a log of this object.
  readonly #headers: Record<string, string>;
  /** The same with the JSON body's content type, made once rather than copied per call. */
  readonly #jsonHeaders: Record<string, string>;
  readonly #attemptTimeoutMs: number;
  readonly #deadlineMs: number;
  readonly #retry: RetryPolicy;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;
  readonly #random: () => number;

  constructor(options: HttpOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`CRISP_API_URL must be an absolute http(s) URL, got "${options.baseUrl}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`CRISP_API_URL must use http or https, got "${url.protocol}"`);
    }
    const { identifier, key, tier } = options.credentials;
    if (!identifier || !key) throw new TypeError('Crisp credentials need both an identifier and a key');
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.tier = tier;
    this.#origin = url.origin;
    this.#pathPrefix = url.pathname.replace(/\/+$/, '');
    this.#headers = {
      authorization: `Basic ${Buffer.from(`${identifier}:${key}`).toString('base64')}`,
      'x-crisp-tier': tier,
      'user-agent': options.userAgent,
      accept: 'application/json',
    };
    this.#jsonHeaders = { ...this.#headers, 'content-type': 'application/json' };
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.#deadlineMs = options.deadlineMs ?? 30_000;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#onRetry = options.onRetry;
    this.#random = options.random ?? Math.random;
    this.#poolOptions = {
      connections: options.connections ?? 32,
      connect: { timeout: options.connectTimeoutMs ?? 5_000 },
      keepAliveTimeout: 30_000,
      headersTimeout: this.#attemptTimeoutMs,
      bodyTimeout: this.#attemptTimeoutMs,
      maxResponseSize: options.maxResponseBytes ?? 16 * 1024 * 1024,
    };
  }

  #dispatcher(): Dispatcher | Promise<Dispatcher> {
    return (this.#pool ??
      (this.#poolReady ??= import('undici').then(({ Pool }) => (this.#pool = new Pool(this.#origin, this.#poolOptions)))));
  }

  async request(spec: RequestSpec): Promise<CrispResponse> {
    const path = this.#path(spec);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers = body === undefined ? this.#headers : this.#jsonHeaders;
    const deadlineMs = spec.deadlineMs ?? this.#deadlineMs;
    // One abort and one cleared timer per call: AbortSignal.timeout() would leave a live
    // timer behind every call for the whole deadline, which costs at thousands of calls a second.
    const abort = new CallAbort();
    const timer = setTimeout(() => {
      abort.byDeadline = true;
      abort.abort();
    }, deadlineMs);
    const signal = spec.signal;
    if (signal) {
      abort.follow(signal);
      if (signal.aborted) abort.abort();
    }
    try {
      return await this.#attempts(spec, path, headers, body, abort, deadlineMs);
    } finally {
      clearTimeout(timer);
      if (signal) abort.unfollow(signal);
    }
  }

  // The label (`GET /v1/…`) of the messages is made only when one is written: a call that succeeds needs none.
  async #attempts(spec: RequestSpec, path: string, headers: Record<string, string>, body: string | undefined, abort: CallAbort, deadlineMs: number): Promise<CrispResponse> {
    const started = Date.now();
    const resendable = mayResend(spec.method, spec.idempotentPost === true);
    const options: Dispatcher.DispatchOptions = { origin: this.#origin, path, method: spec.method, headers, body };

    // Whether an earlier attempt may have been carried out although no success came back.
    let mayHaveLanded = false;
    let failure: CrispError | undefined;
    for (let attempt = 1; ; attempt++) {
      if (failure && spec.beforeResend) {
        const instead = await spec.beforeResend(abort.signal, mayHaveLanded).catch(() => {
          throw abort.aborted ? abortError(spec, path, attempt - 1, deadlineMs, abort.byDeadline) : failure!;
        });
        if (instead) return instead;
      }
      try {
        const res = await sendForText(this.#pool ?? (await this.#dispatcher()), options, abort);
        const text = res.text;
        if (res.statusCode >= 200 && res.statusCode < 300) return parseSuccess(res.statusCode, text, spec.method, path, attempt);
        failure = statusError(res.statusCode, text, res.headers['retry-after'], spec, path, attempt);
        // A 5xx may come after the write was carried out; a 429 or 420 says it was not, so any
        // request may go again (Crisp's maintainers: reschedule on a rate limit — crisp-api.md §1.4).
        const refusedForNow = res.statusCode === 429 || res.statusCode === 420;
        if (!failure.retryable || !(resendable || refusedForNow)) throw failure;
        mayHaveLanded ||= res.statusCode >= 500;
      } catch (error) {
        if (error instanceof CrispError) throw error;
        // Aborted while it waited for a connection: this attempt never left.
        if (error instanceof AbortedBeforeSent) throw abortError(spec, path, attempt - 1, deadlineMs, abort.byDeadline, this.#poolOptions.connections ?? undefined);
        if (abort.aborted) throw abortError(spec, path, attempt, deadlineMs, abort.byDeadline);
        const code = errorCode(error);
        const neverSent = NEVER_SENT.has(code);
        failure = new CrispError({
          code: 'crisp_unavailable',
          message: `could not reach Crisp at ${this.#origin} (${code}) for ${labelOf(spec.method, path)}`,
          method: spec.method,
          path: stripQuery(path),
          retryable: TRANSIENT.has(code),
          attempts: attempt,
          cause: sanitizedCause(error),
        });
        if (!failure.retryable || !(resendable || neverSent)) throw failure;
        mayHaveLanded ||= !neverSent;
      }
      if (attempt >= this.#retry.maxAttempts) throw failure;
      const delayMs = nextDelay(attempt, this.#retry, failure.retryAfterMs, this.#random);
      if (Date.now() - started + delayMs >= deadlineMs) throw failure;
      this.#onRetry?.({ method: spec.method, path: stripQuery(path), attempt, delayMs, status: failure.status, code: failure.code });
      try {
        await sleep(delayMs, undefined, { signal: abort.signal });
      } catch {
        throw abortError(spec, path, attempt, deadlineMs, abort.byDeadline);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#poolReady) await (await this.#poolReady).close();
  }

  #path(spec: RequestSpec): string {
    let path = `${this.#pathPrefix}/v1`;
    for (const segment of spec.segments) path += `/${encodeSegment(segment)}`;
    if (spec.query) {
      let search = '';
      for (const name of Object.keys(spec.query)) {
        const value = spec.query[name];
        if (value === undefined || value === null) continue;
        const text = typeof value === 'boolean' ? (value ? '1' : '0') : typeof value === 'object' ? JSON.stringify(value) : String(value);
        search += `${search ? '&' : ''}${formEncode(name)}=${formEncode(text)}`;
      }
      if (search) path += `?${search}`;
    }
    return path;
  }
}

/** A 1-based page number as a path segment: Crisp's pages start at 1. */
export function checkPage(page: number): number {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page must be an integer ≥ 1, got ${page}`);
  return page;
}

// The path of every call is built here (the autopilot makes two calls per visitor message): ids,
// timestamps and names are plain characters that need no escaping, so they are copied as they are
// and only the others go through the encoder.
const URI_PLAIN = /^[A-Za-z0-9_.!~*'()-]*$/;
const FORM_PLAIN = /^[A-Za-z0-9_.*-]*$/;

/** A path segment as encodeURIComponent writes it. */
function encodeSegment(segment: string | number): string {
  const text = typeof segment === 'number' ? String(segment) : segment;
  return URI_PLAIN.test(text) ? text : encodeURIComponent(text);
}

/** A query name or value as URLSearchParams writes it (application/x-www-form-urlencoded). */
function formEncode(text: string): string {
  return FORM_PLAIN.test(text) ? text : new URLSearchParams([['', text]]).toString().slice(1);
}

/** `GET /v1/…`: a call as its messages name it. */
function labelOf(method: string, path: string): string {
  return `${method} ${stripQuery(path)}`;
}

function parseSuccess(status: number, text: string, method: string, path: string, attempt: number): CrispResponse {
  if (method === 'HEAD' || text === '') return { status, reason: 'resolved', data: undefined };
  const envelope = parseEnvelope(status, text);
  if (!envelope) {
    throw new CrispError({ code: 'crisp_bad_response', message: `Crisp answered ${labelOf(method, path)} with a body that is not its JSON envelope`, status, attempts: attempt });
  }
  return envelope;
}

function statusError(status: number, text: string, retryAfter: string | string[] | undefined, spec: RequestSpec, path: string, attempt: number): CrispError {
  const label = labelOf(spec.method, path);
  const envelope = parseEnvelope(status, text);
  const reason = envelope?.reason;
  const detail = envelope && isRecord(envelope.data) && typeof envelope.data.message === 'string' ? envelope.data.message.slice(0, 300) : undefined;
  const code: CrispErrorCode = codeForStatus(status, reason);
  const retryAfterMs = parseRetryAfter(retryAfter);
  const wait = retryAfterMs !== undefined ? `; retry in ${Math.ceil(retryAfterMs / 1000)} s` : '';
  return new CrispError({
    code,
    message: `Crisp answered ${status}${reason ? ` ${reason}` : ''} to ${label}${detail ? `: ${detail}` : ''}${wait}`,
    status,
    reason,
    method: spec.method,
    path: stripQuery(path),
    retryable: isRetryableStatus(status),
    retryAfterMs,
    attempts: attempt,
  });
}

/** `waitedForOneOf`: the pool's size, when the call ended waiting for one of its connections (its last attempt never left). */
function abortError(spec: RequestSpec, path: string, attempt: number, deadlineMs: number, byDeadline: boolean, waitedForOneOf?: number): CrispError {
  const label = labelOf(spec.method, path);
  const queued = waitedForOneOf === undefined ? '' : `; it was still waiting for one of this process's ${waitedForOneOf} connection${waitedForOneOf === 1 ? '' : 's'} to Crisp, all busy with other calls, and was not sent`;
  return new CrispError({
    code: byDeadline ? 'crisp_timeout' : 'crisp_aborted',
    message: (byDeadline ? `Crisp did not answer ${label} within ${deadlineMs} ms` : `${label} was cancelled`) + queued,
    method: spec.method,
    path: stripQuery(path),
    retryable: byDeadline,
    attempts: attempt,
  });
}

/** Crisp's `{error, reason, data}` envelope, read into the response it carries. */
function parseEnvelope(status: number, text: string): CrispResponse | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value) && typeof value.error === 'boolean' && typeof value.reason === 'string') return { status, reason: value.reason, data: value.data };
  } catch {
    // fall through: not JSON
  }
  return undefined;
}

function errorCode(error: unknown): string {
  if (isRecord(error)) {
    if (typeof error.code === 'string') return error.code;
    if (isRecord(error.cause) && typeof error.cause.code === 'string') return error.cause.code;
  }
  return 'UNKNOWN';
}

/** A cause without request options, so the Authorization header can never ride along in a log. */
function sanitizedCause(error: unknown): Error {
  const e = new Error(error instanceof Error ? error.message : String(error));
  e.name = error instanceof Error ? error.name : 'Error';
  return e;
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
