// Delivers the converse API's bot replies: drains the store's outbox, each reply its own POST to
// the configured webhook, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).
//
// - In order within a conversation: one delivery at a time per conversation, and an item leaves
//   the outbox only once the receiver answered 2xx.
// - Independent across conversations: each has its own head and its own retry clock, and up to
//   `concurrency` conversations are delivered at once, so one that fails does not hold the others
//   (the application's keyed queue, src/engine/keyed-queue.ts). Given the converse service's
//   `accepting`, deliveries yield to it: a few at a time while events are being accepted.
// - Retried with capped exponential backoff and full jitter on network errors, timeouts, 408,
//   429, 5xx and the answers of a webhook not (yet) set up to take replies (see `retried`); a
//   Retry-After is honoured. Any other answer (400, 409, 410, 422…) is the receiver refusing that
//   reply for good: it is dropped, with an error log line. A reply still failing after `maxAgeMs` too.
// - Durable: the outbox lives in the store, so pending replies are picked up at start; the store
//   lock per conversation keeps two processes from delivering the same one.
// - At least once: a reply whose 2xx was lost (crash before the ack) is sent again, with the same
//   `webhook-id`; receivers dedupe on it, as Standard Webhooks asks.
import { createHmac } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { OutageLog, type Logger } from '../log.js';
import { StoreError, withLock, type OutboxItem, type Store } from '../store/index.js';
import { USER_AGENT } from '../version.js';
import { nextDelay, parseRetryAfter, type Backoff } from '../retry.js';
import { KeyedQueue, type Priority } from '../engine/keyed-queue.js';
import { webhookAgent } from '../engine/webhook-agent.js';
import { refusalOf, type WebhookNetworks } from '../engine/webhook-networks.js';

export interface RetryPolicy {
  /** First delay (default 1 s); each failure doubles it. */
  baseMs?: number;
  /** Longest delay between two attempts (default 10 min). */
  maxMs?: number;
  /** A reply still undelivered this long after it was queued is dropped (default 3 days). */
  maxAgeMs?: number;
}

export interface DelivererOptions {
  store: Store;
  /** The webhook every reply is POSTed to. */
  url: string;
  /** `whsec_` + base64 of the HMAC key. */
  secret: string;
  /** Only outbox conversations whose key starts with this are delivered (default `converse:`). */
  prefix?: string;
  /** Per attempt, from connecting to the end of the answer (default 10 s). */
  timeoutMs?: number;
  /** Conversations delivered at once (default 16). */
  concurrency?: number;
  /** How often the store is asked for due replies (default 1 s): at start, for retries, and for replies queued by other processes. */
  pollMs?: number;
  retry?: RetryPolicy;
  /** Work that goes first (the converse service's accepting): while it is busy, `whileBusy` conversations at most (default 1), each started after the requests of its turn of the event loop. */
  yieldTo?: Priority;
  whileBusy?: number;
  log?: Logger;
  /** Outgoing requests go through it (tests); an own keep-alive Agent otherwise. */
  dispatcher?: Dispatcher;
  /** Where the own Agent may connect (--webhook-networks; default private: never link-local or metadata addresses). */
  networks?: WebhookNetworks;
  /**
   * The clock a reply's due and retry times are read on: the one the store stamps replies with
   * (default Date.now). The `webhook-timestamp` stays the wall clock's, which receivers check theirs against.
   */
  now?: () => number;
}

export interface DeliveryStats {
  delivered: number;
  retried: number;
  dropped: number;
}

type Attempt = { ok: true } | { ok: false; retry: boolean; error: string; status?: number; retryAfterMs?: number };

/**
 * Whether a non-2xx answer is worth another attempt: 408, 429 and 5xx, and the answers of a webhook
 * not (yet) set up to take replies — a redirect (the URL moved), 401 or 403 (the receiver's auth,
 * or its copy of the secret), 404 (the route not deployed yet). Those refuse every reply alike until
 * someone fixes the URL or the receiver, and the replies then flow (after a restart with the right
 * URL too: they wait in the store); dropped, they would be lost for good.
 */
export function retried(status: number): boolean {
  return status >= 500 || (status >= 300 && status < 400) || status === 401 || status === 403 || status === 404 || status === 408 || status === 429;
}

/** The HMAC key of a `whsec_` secret (the base64 after the prefix). */
export function webhookKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  if (key.length === 0) throw new RangeError('the webhook secret must be whsec_ followed by base64');
  return key;
}

/** The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export class ReplyDeliverer {
  readonly stats: DeliveryStats = { delivered: 0, retried: 0, dropped: 0 };
  readonly #o: DelivererOptions;
  readonly #key: Buffer;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  /** One round per conversation at a time; a kick meanwhile is one more round after it. */
  readonly #rounds: KeyedQueue<'deliver'>;
  readonly #now: () => number;
  #poller: NodeJS.Timeout | undefined;
  #polling = false;
  #stopped = false;
  /** The webhook failing and the store failing are each told once per outage (the poll runs every second, a reply is retried for days). */
  readonly #webhookOutage: OutageLog | undefined;
  readonly #storeOutage: OutageLog | undefined;

  constructor(options: DelivererOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#webhookOutage = options.log && new OutageLog(options.log, this.#now);
    this.#storeOutage = options.log && new OutageLog(options.log, this.#now);
    this.#key = webhookKey(options.secret);
    this.#prefix = options.prefix ?? 'converse:';
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#concurrency = options.concurrency ?? 16;
    this.#rounds = new KeyedQueue<'deliver'>({
      concurrency: this.#concurrency,
      now: this.#now,
      ...(options.yieldTo ? { yieldTo: options.yieldTo, concurrencyWhileBusy: options.whileBusy ?? 1 } : {}),
      merge: (round) => round,
      // #deliver handles every failure itself (logged, then retried later).
      run: (conversation) => this.#deliver(conversation),
    });
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      webhookAgent(options.networks ?? 'private', { connections: this.#concurrency, keepAliveTimeout: 10_000, connectTimeout: this.#timeoutMs, headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs });
  }

  /** Delivers what is pending now, then keeps polling. */
  start(): void {
    if (this.#poller || this.#stopped) return;
    // #poll catches and logs its own failures.
    void this.#poll();
    this.#poller = setInterval(() => void this.#poll(), this.#o.pollMs ?? 1_000);
    this.#poller.unref();
  }

  /** A conversation has new replies (or is due): deliver it as soon as a slot is free. */
  kick(conversation: string): void {
    if (this.#stopped || !conversation.startsWith(this.#prefix)) return;
    this.#rounds.add(conversation, 'deliver');
  }

  /** Stops starting deliveries, lets the ones in flight finish (each within its timeout) and acks them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poller);
    await this.#rounds.close();
    if (this.#ownDispatcher) await this.#dispatcher.close();
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      // Only reply queues: the converse inboxes (`converse-in:`, accepted events) and the autopilot's share the store's outbox.
      const due = await this.#o.store.outboxPending({ dueBy: this.#now(), limit: 1_000, prefix: this.#prefix });
      for (const { conversation } of due) this.kick(conversation);
      this.#storeOutage?.succeeded({}, 'converse delivery: the store answers again');
    } catch (err) {
      this.#storeOutage?.failed({ err }, 'converse delivery: cannot read the outbox');
    } finally {
      this.#polling = false;
    }
  }

  /** One round for one conversation: its items in order, until it is empty or an attempt fails. */
  async #deliver(conversation: string): Promise<void> {
    const { store } = this.#o;
    try {
      await withLock(
        store,
        `${this.#prefix}delivery:${conversation}`,
        async (lease) => {
          while (!this.#stopped && !lease.signal.aborted) {
            const item = await store.outboxHead<unknown>(conversation);
            if (!item) return;
            if (item.nextAttemptAt > this.#now()) return this.#retryAt(conversation, item.nextAttemptAt);
            const attempt = await this.#post(item);
            if (attempt.ok) {
              this.#webhookOutage?.succeeded({ conversation, messageId: item.id }, 'converse delivery: the webhook takes replies again');
              this.#o.log?.debug({ conversation, messageId: item.id, attempts: item.attempts + 1 }, 'converse delivery: delivered');
              await store.outboxAck(conversation, item.seq);
              this.stats.delivered++;
              continue;
            }
            const failure = { conversation, messageId: item.id, attempts: item.attempts + 1, status: attempt.status, error: attempt.error };
            const now = this.#now();
            const delay = nextDelay(item.attempts + 1, this.#policy, attempt.retryAfterMs);
            if (!attempt.retry || now + delay - item.createdAt > (this.#o.retry?.maxAgeMs ?? 3 * 24 * 60 * 60_000)) {
              this.#o.log?.error(failure, 'converse delivery: reply dropped');
              await store.outboxAck(conversation, item.seq);
              this.stats.dropped++;
              continue;
            }
            this.#webhookOutage?.failed({ ...failure, retry_in_ms: delay }, 'converse delivery: will retry');
            await store.outboxRetry(conversation, item.seq, { nextAttemptAt: now + delay, error: attempt.error });
            this.stats.retried++;
            return this.#retryAt(conversation, now + delay);
          }
        },
        // A short lock, kept alive while we work: after a crash another process takes over within 5 s.
        { ttlMs: 5_000, waitMs: 0 },
      );
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'store_lock_busy')) this.#storeOutage?.failed({ err, conversation }, 'converse delivery: round failed');
      this.#retryAt(conversation, this.#now() + (this.#o.pollMs ?? 1_000));
    }
  }

  /** POSTs one reply, signed; classifies the answer. */
  async #post(item: OutboxItem): Promise<Attempt> {
    const body = JSON.stringify(item.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const response = await request(this.#o.url, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': item.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.#key, item.id, timestamp, body),
        },
        body,
      });
      await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { ok: true };
      const retry = retried(status);
      const after = retry ? parseRetryAfter(response.headers['retry-after']) : undefined;
      return { ok: false, retry, error: `HTTP ${status}`, status, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Retried still: a name refused now may resolve elsewhere later; the outage log says why once.
      const refused = refusalOf(err)?.message;
      return { ok: false, retry: true, error: refused ?? (abort.signal.aborted ? 'timed out' : `network error${code ? ` (${code})` : ''}`) };
    } finally {
      clearTimeout(timer);
    }
  }

  get #policy(): Backoff {
    return { baseDelayMs: this.#o.retry?.baseMs ?? 1_000, maxDelayMs: this.#o.retry?.maxMs ?? 10 * 60_000 };
  }

  #retryAt(conversation: string, at: number): void {
    if (!this.#stopped) this.#rounds.wake(conversation, at, 'deliver');
  }
}

