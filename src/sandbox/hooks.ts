// The sandbox's Web Hook deliveries: every event SandboxState announces is POSTed
// to one URL as Crisp's plugin hooks are — body `{website_id, event, data, timestamp}`, headers
// `X-Crisp-Request-Timestamp` (ms) and `X-Crisp-Signature` = lowercase hex HMAC-SHA256 over
// `[timestamp;raw body]`. Deliveries run in the background: each website's start in the order its
// events happened, with at most `concurrency` in flight at once (8 by default), and each is retried
// on its own with backoff on a network error, 5xx or 429. Crisp's own sender is a concurrent pool
// and promises no order between deliveries, so with a window > 1 a receiver may see a website's
// events out of order (as it may from Crisp); `concurrency: 1` delivers them strictly one by one.
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { USER_AGENT } from '../version.js';
import type { SandboxEvent, SandboxState } from './state.js';

export interface HookOptions {
  /** Where deliveries go (http or https). */
  url: string;
  /** The signing secret; a random one when absent (read it back from `SandboxHooks.secret`). */
  secret?: string;
  /** Only these event names are delivered; all when absent. */
  events?: readonly string[];
  /** Attempts per delivery, the first included (Crisp's limit is not documented, [U]). */
  attempts?: number;
  /** Delay before the first retry; doubles each time up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Time allowed for each attempt's answer. */
  timeoutMs?: number;
  /**
   * Deliveries in flight at once per website (retries included: one in backoff keeps its slot); 8 by
   * default, 1 for strictly serial, in-order delivery.
   */
  concurrency?: number;
  /** Deliveries waiting per website (not counting those in flight); past it the oldest waiting one is dropped (and counted). */
  maxQueue?: number;
  /** The clock that stamps `X-Crisp-Request-Timestamp` (each attempt is signed afresh). */
  now?: () => number;
  /** Called once per delivery when it is settled, for logs and tests. */
  onDelivery?: (report: HookReport) => void;
}

export interface HookReport {
  event: string;
  website_id: string;
  ok: boolean;
  attempts: number;
  /** The last HTTP status, when the receiver answered. */
  status?: number;
  /** Why the last attempt failed, when it did. */
  error?: string;
}

export interface HookStats {
  /**
   * Deliveries started (their first attempt sent). The window decides synchronously as each event
   * arrives, so this tells at once how many the receiver will see, without waiting for them.
   */
  started: number;
  delivered: number;
  failed: number;
  /** Retries made (attempts after the first). */
  retries: number;
  /** Deliveries waiting or in flight. */
  pending: number;
  /** Deliveries dropped because a website's queue was full. */
  dropped: number;
}

interface Delivery {
  event: string;
  website_id: string;
  body: string;
}

/** One website's deliveries: those not started yet, in event order, and how many are in flight. */
interface Lane {
  waiting: Delivery[];
  inFlight: number;
}

/** Header names, lowercase as node:http reports them. */
export const HOOK_HEADERS = {
  timestamp: 'x-crisp-request-timestamp',
  signature: 'x-crisp-signature',
  origin: 'x-crisp-hook-origin',
  attemptCount: 'x-delivery-attempt-count',
  attemptLimit: 'x-delivery-attempt-limit',
} as const;

export class SandboxHooks {
  readonly url: string;
  readonly secret: string;
  readonly #state: SandboxState;
  readonly #events: ReadonlySet<string> | undefined;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #timeoutMs: number;
  readonly #maxQueue: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #onDelivery: ((report: HookReport) => void) | undefined;
  readonly #agent: Agent;
  readonly #abort = new AbortController();
  readonly #lanes = new Map<string, Lane>();
  /** Every delivery in flight, for close() to wait on. */
  readonly #running = new Set<Promise<void>>();
  readonly #idle: (() => void)[] = [];
  readonly #enqueue = (event: SandboxEvent) => this.#push(event);
  #stats = { started: 0, delivered: 0, failed: 0, retries: 0, dropped: 0 };
  #closed: Promise<void> | undefined;

  constructor(state: SandboxState, options: HookOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`the hooks URL must be an absolute http(s) URL, got "${options.url}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the hooks URL must use http or https, got "${url.protocol}"`);
    if (options.secret === '') throw new TypeError('the hooks secret must not be empty');
    this.url = url.href;
    this.secret = options.secret ?? randomBytes(24).toString('hex');
    this.#state = state;
    this.#events = options.events ? new Set(options.events) : undefined;
    this.#attempts = Math.max(1, options.attempts ?? 5);
    this.#retryDelayMs = options.retryDelayMs ?? 500;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxQueue = options.maxQueue ?? 10_000;
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`the hooks concurrency must be a whole number ≥ 1, got ${concurrency}`);
    this.#concurrency = concurrency;
    // Enough connections that a website's whole window is really on the wire at once.
    this.#agent = new Agent({ keepAliveTimeout: 10_000, connections: Math.max(16, concurrency) });
    this.#now = options.now ?? Date.now;
    this.#onDelivery = options.onDelivery;
    state.on('event', this.#enqueue);
  }

  stats(): HookStats {
    let pending = 0;
    for (const lane of this.#lanes.values()) pending += lane.waiting.length + lane.inFlight;
    return { ...this.#stats, pending };
  }

  /** Resolves once nothing is waiting or in flight: every delivery queued so far (and since) is settled. */
  idle(): Promise<void> {
    if (this.#lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops listening, abandons waiting deliveries and aborts the ones in flight (once; later calls wait for the first). */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#state.off('event', this.#enqueue);
    this.#abort.abort();
    for (const [websiteId, lane] of this.#lanes) {
      lane.waiting.length = 0;
      if (lane.inFlight === 0) this.#lanes.delete(websiteId);
    }
    await Promise.allSettled(this.#running);
    this.#lanes.clear();
    for (const resolve of this.#idle.splice(0)) resolve();
    await this.#agent.close();
  }

  /** Called synchronously from the REST handler's state change: only queues, never waits. */
  #push(event: SandboxEvent): void {
    if (this.#abort.signal.aborted || (this.#events && !this.#events.has(event.event))) return;
    // The key order of Crisp's documented example.
    const body = JSON.stringify({ website_id: event.website_id, event: event.event, data: event.data, timestamp: event.timestamp });
    let lane = this.#lanes.get(event.website_id);
    if (!lane) this.#lanes.set(event.website_id, (lane = { waiting: [], inFlight: 0 }));
    // Past the cap the oldest waiting one goes; one in flight is never dropped. (Something waits only
    // while the window is full, so the new delivery always has a place.)
    if (lane.waiting.length > 0 && lane.waiting.length >= this.#maxQueue) {
      lane.waiting.shift();
      this.#stats.dropped++;
    }
    lane.waiting.push({ event: event.event, website_id: event.website_id, body });
    this.#fill(event.website_id, lane);
  }

  /** Starts a website's waiting deliveries, oldest first, while its window has room. */
  #fill(websiteId: string, lane: Lane): void {
    while (lane.inFlight < this.#concurrency && lane.waiting.length > 0 && !this.#abort.signal.aborted) {
      const delivery = lane.waiting.shift()!;
      lane.inFlight++;
      this.#stats.started++;
      const running: Promise<void> = this.#run(websiteId, lane, delivery).finally(() => this.#running.delete(running));
      this.#running.add(running);
    }
  }

  async #run(websiteId: string, lane: Lane, delivery: Delivery): Promise<void> {
    let report: HookReport;
    try {
      report = await this.#deliver(delivery);
    } catch (error) {
      report = { event: delivery.event, website_id: delivery.website_id, ok: false, attempts: 0, error: errorText(error) };
    }
    lane.inFlight--;
    if (report.ok) this.#stats.delivered++;
    else this.#stats.failed++;
    try {
      this.#onDelivery?.(report);
    } catch (error) {
      console.error('sandbox: a hook delivery listener threw', error);
    }
    this.#fill(websiteId, lane);
    if (lane.inFlight === 0 && lane.waiting.length === 0 && this.#lanes.get(websiteId) === lane) this.#lanes.delete(websiteId);
    if (this.#lanes.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #deliver(delivery: Delivery): Promise<HookReport> {
    const report: HookReport = { event: delivery.event, website_id: delivery.website_id, ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      report.attempts = attempt;
      let retryAfterMs: number | undefined;
      try {
        const res = await request(this.url, {
          method: 'POST',
          dispatcher: this.#agent,
          headers: this.#headers(delivery.body, attempt),
          body: delivery.body,
          signal: this.#abort.signal,
          headersTimeout: this.#timeoutMs,
          bodyTimeout: this.#timeoutMs,
        });
        await res.body.dump();
        report.status = res.statusCode;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          delete report.error;
          report.ok = true;
          return report;
        }
        report.error = `the receiver answered ${res.statusCode}`;
        // Only what may succeed later is retried: 5xx and 429 (Crisp reportedly retries any non-2xx, [U]).
        if (res.statusCode < 500 && res.statusCode !== 429) return report;
        if (res.statusCode === 429) retryAfterMs = retryAfter(res.headers['retry-after']);
      } catch (error) {
        if (this.#abort.signal.aborted) return { ...report, error: 'the sandbox closed' };
        delete report.status;
        report.error = errorText(error);
      }
      if (attempt === this.#attempts) break;
      this.#stats.retries++;
      const backoff = Math.min(this.#maxRetryDelayMs, this.#retryDelayMs * 2 ** (attempt - 1));
      try {
        await sleep(Math.min(this.#maxRetryDelayMs, Math.max(backoff, retryAfterMs ?? 0)), undefined, { signal: this.#abort.signal });
      } catch {
        return { ...report, error: 'the sandbox closed' };
      }
    }
    return report;
  }

  #headers(body: string, attempt: number): Record<string, string> {
    const timestamp = String(this.#now());
    return {
      'content-type': 'application/json',
      'user-agent': `${USER_AGENT} (sandbox hooks)`,
      [HOOK_HEADERS.origin]: 'plugin/rtm crisp-mcp-sandbox development',
      [HOOK_HEADERS.timestamp]: timestamp,
      [HOOK_HEADERS.signature]: createHmac('sha256', this.secret).update(`[${timestamp};${body}]`).digest('hex'),
      [HOOK_HEADERS.attemptCount]: String(attempt),
      [HOOK_HEADERS.attemptLimit]: String(this.#attempts),
    };
  }
}

function retryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text.trim()) * 1000;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
