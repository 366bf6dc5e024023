// The converse API (design.md §8): any backend talks to a scenario over HTTP. `accept` checks an
// event and answers at once (202); the work happens after, one event at a time per conversation
// (in arrival order in this process, under the store's lock across processes): drop a messageId
// seen before, step the scenario, then save the session and one outbox item per bot reply in ONE
// savePosition. delivery.ts drains that outbox to the webhook. A sweeper ends sessions idle for
// longer than the inactivity timeout.
//
// What a crash can cost: an event answered 202 but not yet saved when the process dies (killed,
// not stopped: `close()` finishes every accepted event) is lost. Everything saved is delivered.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { StoreError, withLock, type Store } from '../scenario/store/index.js';
import { callWebhook } from './actions.js';
import { parseConverseInput, type ConverseEvent } from './converse-input.js';
import { ConverseSession, converseTurn, ended, inactivityEnd, type TurnInput } from './converse-turn.js';
import type { LoadedScenario, ScenarioLibrary } from './library.js';

export { parseConverseInput, CONVERSE_EVENT_TYPES, type ConverseEvent, type ConverseEventType } from './converse-input.js';
export { replyId, type ConverseReply, type ConverseSession, type ReplyType } from './converse-turn.js';

/** Store keys (positions, outbox, locks) of converse conversations start with this. */
export const CONVERSE_PREFIX = 'converse:';
export const DEFAULT_IDLE_MS = 30 * 60_000;
/** How long a messageId is remembered. */
export const DEDUPE_TTL_MS = 24 * 60 * 60_000;
/** Events accepted but not yet run, across conversations, before /converse answers 503. */
export const DEFAULT_MAX_QUEUED = 10_000;

export interface ConverseOptions {
  store: Store;
  library: ScenarioLibrary;
  /** The scenario every conversation runs. */
  scenario: string;
  /** A session with no event for this long ends (default 30 min). */
  idleMs?: number;
  log?: Logger;
  /** Called after a save that queued replies (the deliverer's `kick`). */
  onReplies?: (conversationKey: string) => void;
  /** The clock the scenario reads (business hours) and replies are stamped with. */
  now?: () => number;
  /** For the scenario's webhooks (tests). */
  fetch?: typeof fetch;
  maxQueued?: number;
}

/** What /converse answers: http.ts sends it as JSON. */
export interface ConverseAnswer {
  status: 202 | 400 | 503;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type HandleOutcome =
  | { status: 'saved'; version: number; replies: number }
  | { status: 'duplicate' }
  | { status: 'nothing' };

/** The store key of a conversation. */
export const conversationKey = (conversationId: string): string => `${CONVERSE_PREFIX}${conversationId}`;
const lockKey = (conversationId: string): string => `${CONVERSE_PREFIX}lock:${conversationId}`;
// The length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
const dedupeKey = (e: ConverseEvent): string => `${CONVERSE_PREFIX}msg:${e.conversationId.length}:${e.conversationId}:${e.messageId}`;

export class ConverseService {
  readonly #o: ConverseOptions;
  readonly #loaded: LoadedScenario;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #maxQueued: number;
  /** Per conversation, the tail of its chain of pending work. */
  readonly #chains = new Map<string, Promise<void>>();
  #queued = 0;
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  /** Throws UnknownScenarioError (naming the valid ones) when the scenario is not in the library. */
  constructor(options: ConverseOptions) {
    this.#o = options;
    this.#loaded = options.library.require(options.scenario);
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#now = options.now ?? Date.now;
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  get scenario(): string {
    return this.#loaded.name;
  }

  /** Events accepted and not yet run. */
  get queued(): number {
    return this.#queued;
  }

  /** Checks a parsed JSON body and queues the event: 202, 400 naming the field, or 503 when full or closing. */
  accept(body: unknown): ConverseAnswer {
    const input = parseConverseInput(body);
    if (!input.ok) return { status: 400, body: { error: 'invalid_request', field: input.field, message: input.message } };
    if (this.#closed || this.#queued >= this.#maxQueued) {
      return { status: 503, body: { error: 'unavailable', message: this.#closed ? 'the server is shutting down; retry' : 'too many events waiting; retry shortly' }, headers: { 'retry-after': '1' } };
    }
    const event = input.event;
    this.#queued++;
    void this.#serial(event.conversationId, () => this.#handleWithRetry(event)).finally(() => this.#queued--);
    return { status: 202, body: { status: 'accepted', conversationId: event.conversationId, ...(event.messageId ? { messageId: event.messageId } : {}) } };
  }

  /** Runs one event now (accept's work, awaited): dedupe, step, save session + replies atomically. */
  async handle(event: ConverseEvent): Promise<HandleOutcome> {
    const { store } = this.#o;
    return withLock(store, lockKey(event.conversationId), async (lease) => {
      const claim = event.messageId !== undefined ? dedupeKey(event) : undefined;
      if (claim && !(await store.claim(claim, DEDUPE_TTL_MS))) return { status: 'duplicate' } as const;
      let kept = false;
      try {
        const key = conversationKey(event.conversationId);
        const found = await store.getPosition(key, this.#loaded.name);
        const version = (found?.version ?? 0) + 1;
        const turn = await converseTurn({ loaded: this.#loaded, prior: this.#read(found?.value, event.conversationId), event, version, now: this.#now(), callWebhook: this.#callWebhook });
        if (!turn) {
          kept = true;
          return { status: 'nothing' } as const;
        }
        for (const note of turn.notes) this.#o.log?.warn({ conversation: event.conversationId, scenario: this.#loaded.name }, note);
        if (lease.signal.aborted) throw lease.signal.reason;
        const saved = await store.savePosition(key, this.#loaded.name, turn.session, {
          expectedVersion: version - 1,
          outbox: turn.replies.map((reply) => ({ id: reply.messageId, payload: reply })),
          trackIdle: turn.session.status === 'active',
        });
        if (!saved.ok) throw new StoreError('store_lock_lost', `conversation ${event.conversationId} was saved by someone else during the turn (version ${saved.current})`);
        kept = true;
        if (turn.replies.length > 0) this.#o.onReplies?.(key);
        return { status: 'saved', version: saved.version, replies: turn.replies.length } as const;
      } finally {
        // Nothing saved: the same messageId must be able to try again.
        if (claim && !kept) await store.unclaim(claim).catch(() => undefined);
      }
    });
  }

  /** Ends every session idle since before now − idle timeout, each with an `end` reply (reason inactivity); how many. */
  async sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepAll().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Sweeps every `everyMs` (default: a quarter of the timeout, between 250 ms and 30 s). */
  startSweeper(everyMs = Math.min(30_000, Math.max(250, this.#idleMs / 4))): void {
    if (this.#sweeper || this.#closed) return;
    this.#sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) => this.#o.log?.error({ err }, 'converse: the inactivity sweep failed'));
    }, everyMs);
    this.#sweeper.unref();
  }

  /** Stops taking events and sweeping, then waits for every accepted event to be saved. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await this.#sweeping?.catch(() => undefined);
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  async #sweepAll(): Promise<number> {
    const { store } = this.#o;
    let count = 0;
    for (;;) {
      const before = Date.now() - this.#idleMs; // the store stamps saves with its writer's clock
      const idle = (await store.listIdle(before, 100)).filter((p) => p.conversation.startsWith(CONVERSE_PREFIX));
      const done = await Promise.all(idle.map((p) => this.#serial(p.conversation.slice(CONVERSE_PREFIX.length), () => this.#timeOut(p.conversation, p.scenario, before))));
      count += done.filter(Boolean).length;
      if (idle.length < 100 || this.#closed || !done.some(Boolean)) return count;
    }
  }

  /** Ends one idle session, unless an event came meanwhile. True when it ended it. */
  async #timeOut(key: string, scenario: string, before: number): Promise<boolean> {
    const { store } = this.#o;
    const id = key.slice(CONVERSE_PREFIX.length);
    try {
      return await withLock(store, lockKey(id), async () => {
        const found = await store.getPosition(key, scenario);
        if (!found || found.updatedAt >= before) return false;
        const session = this.#read(found.value, id);
        const now = this.#now();
        const replies = session?.status === 'active' ? [inactivityEnd(session, scenario, found.version + 1, now)] : [];
        const value = session ? (session.status === 'active' ? ended(session, 'inactivity', now) : session) : found.value;
        const saved = await store.savePosition(key, scenario, value, { expectedVersion: found.version, outbox: replies.map((r) => ({ id: r.messageId, payload: r })), trackIdle: false });
        if (saved.ok && replies.length > 0) this.#o.onReplies?.(key);
        return saved.ok && replies.length > 0;
      }, { waitMs: 0 });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'store_lock_busy') return false; // an event is running: not idle
      throw err;
    }
  }

  /** Runs `fn` after everything queued before it for this conversation. */
  #serial<T>(conversationId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(conversationId) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(conversationId, tail);
    void tail.then(() => {
      if (this.#chains.get(conversationId) === tail) this.#chains.delete(conversationId);
    });
    return result;
  }

  /** `handle`, tried again on a busy lock or a store hiccup; a failure in the end is logged (the caller had its 202). */
  async #handleWithRetry(event: ConverseEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.handle(event);
        if (outcome.status === 'duplicate') this.#o.log?.debug({ conversation: event.conversationId, messageId: event.messageId }, 'converse: duplicate messageId, ignored');
        return;
      } catch (err) {
        if (attempt >= 3) {
          this.#o.log?.error({ err, conversation: event.conversationId, eventType: event.type, messageId: event.messageId }, 'converse: event lost after 3 attempts');
          return;
        }
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  #read(value: unknown, conversationId: string): ConverseSession | undefined {
    if (value === undefined) return undefined;
    const parsed = ConverseSession.safeParse(value);
    if (parsed.success) return parsed.data;
    this.#o.log?.warn({ conversation: conversationId }, 'converse: unreadable session record; starting a new session');
    return undefined;
  }

  readonly #callWebhook: TurnInput['callWebhook'] = (action, key) => callWebhook(action, key, this.#o.fetch);
}
