// The converse API: any backend talks to a scenario over HTTP. `accept` checks an
// event, appends it to the conversation's durable inbox (an outbox queue of the store under
// `converse-in:<id>`, deduped on its messageId by the same atomic store write: ONE outboxAppend)
// and only then answers 202. A worker drains each inbox in order, one event at a time per
// conversation (the keyed queue in this process, src/engine/keyed-queue.ts; the store's lock
// across processes): step the scenario, save the session — the `converse` part of the
// conversation's ONE record (engine/record.ts; its position is the record's), with the inbox seq it
// has consumed — and one outbox item per bot reply in ONE savePosition, then ack the inbox item.
// A session saved by the previous release (a bare ConverseSession value) is migrated on read
// (session-record.ts).
// delivery.ts drains the reply outbox to the webhook. A sweeper ends sessions idle for longer
// than the inactivity timeout (inactivity.ts); the same timer picks up inbox items left by a crash.
// Accepting goes first: during a burst of events (`accepting`, shared with the deliverer), turns
// start none for the burst's first ACCEPTING_PAUSE_MS, then a few at a time, each after the
// requests of its turn of the event loop, and catch up when the burst is over.
//
// What a crash can cost: nothing accepted. An event answered 202 is in the store; one whose save
// happened but whose ack did not is recognised by the session's `inboxSeq` and only acked (its
// replies are not queued twice); a messageId is deduped atomically with the inbox append, and
// kept with a digest of its event, so a different event sent under it is refused (409). The
// previous release kept each inbox's messageIds in a position record (scenario `converse-inbox`):
// those still within their time are read once, before the first append, and deduped on too.
// The inbox and its waiters are inbox.ts's; what /converse answers, answers.ts's.
import { OutageLog, type Logger } from '../log.js';
import { StoreError, withLock, type OutboxItem, type Store } from '../store/index.js';
import { callWebhook } from '../engine/actions.js';
import type { HelpdeskPort } from '../engine/port.js';
import { backoffDelay, type Backoff } from '../retry.js';
import { KeyedQueue, Priority } from '../engine/keyed-queue.js';
import { parseConverseInput, type ConverseEvent } from './input.js';
import { converseTurn, type TurnInput } from './turn.js';
import type { LoadedScenario, ScenarioLibrary } from '../engine/library.js';
import { TURN_LOCK_TTL_MS } from '../engine/turn.js';
import { accepted, invalidRequest, messageIdReused, unavailable, type ConverseAnswer } from './answers.js';
import { ConverseInbox, type Enqueued, type HandleOutcome, type InboxPayload } from './inbox.js';
import { InactivitySweep } from './inactivity.js';
import { conversationKey, inboxKey, INBOX_PREFIX, lockKey } from './keys.js';
import { lifetime, readSession, withSession } from './session-record.js';

export { parseConverseInput, type ConverseEvent } from './input.js';
export type { ConverseAnswer } from './answers.js';
export { inboxKey, INBOX_PREFIX } from './keys.js';
export { ENDED_SESSION_RETENTION_MS } from './session-record.js';

export const DEFAULT_IDLE_MS = 30 * 60_000;
/** The wait before a failed event is run again. */
const FAILED_EVENT_BACKOFF: Backoff = { baseDelayMs: 100, maxDelayMs: 30_000 };
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
  /**
   * The clock the scenario reads (business hours), replies are stamped with, and every time the
   * service judges is read on: an inbox event due, a session idle, a messageId remembered. A test
   * that moves it gives the store the same one (a session is idle by the time of its last save).
   */
  now?: () => number;
  /** For the scenario's webhooks (tests). */
  fetch?: typeof fetch;
  /** The helpdesk `articles` blocks search (the serve process's Crisp client); none: they take their none path, with a note. */
  helpdesk?: { port: HelpdeskPort; website: string };
  maxQueued?: number;
  /** Conversations whose turns run at once (default 64); during a burst of events being accepted, `turnsWhileAccepting` (default 1). */
  concurrency?: number;
  turnsWhileAccepting?: number;
  /** Told of each event being accepted; the turns (and the deliverer, given the same) yield to a burst of them. Default: acceptingPriority(). */
  accepting?: Priority;
}

/** An inbox event whose run failed this many times is dropped (logged), so that it cannot block its conversation. */
export const MAX_EVENT_ATTEMPTS = 8;

/**
 * How long the turns and deliveries pause at the start of a burst of events (then they run one at a
 * time until it is over): a burst shorter than this is accepted with the process to itself, and a
 * reply waits at most this long for it (longer only while it stays behind the events before it).
 */
const ACCEPTING_PAUSE_MS = 1_000;
/** A burst of /converse events: 16 or more within 20 ms (800/s); the turns and deliveries yield to it. */
export const acceptingPriority = (): Priority => new Priority({ busyAt: 16, windowMs: 20, pauseMs: ACCEPTING_PAUSE_MS });

/** A failure's stable code (a StoreError's), which tells one outage from the next. */
const codeOf = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

export class ConverseService {
  readonly #o: ConverseOptions;
  readonly #loaded: LoadedScenario;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #maxQueued: number;
  /** Where the scenario's webhook calls and helpdesk searches go: this channel's port, with the replies (turn.ts). */
  readonly #effects: TurnInput['effects'];
  readonly #accepting: Priority;
  /** Per conversation, its inbox drains (a drain queued while one waits is the same drain) and time-outs, in order. */
  readonly #turns: KeyedQueue<'drain'>;
  readonly #inbox: ConverseInbox;
  readonly #inactivity: InactivitySweep;
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  #resuming = false;
  /** The store failing under the background work (every second) is told once per outage, and once when it answers again. */
  readonly #storeOutage: OutageLog | undefined;

  /** Throws UnknownScenarioError (naming the valid ones) when the scenario is not in the library. */
  constructor(options: ConverseOptions) {
    this.#o = options;
    this.#loaded = options.library.require(options.scenario);
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#now = options.now ?? Date.now;
    this.#storeOutage = options.log && new OutageLog(options.log, this.#now);
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#effects = effectsOf(options);
    this.#accepting = options.accepting ?? acceptingPriority();
    this.#turns = new KeyedQueue<'drain'>({
      concurrency: options.concurrency ?? 64,
      // An item's retry time is on this clock (#drain): so are the wake-ups.
      now: this.#now,
      yieldTo: this.#accepting,
      concurrencyWhileBusy: options.turnsWhileAccepting ?? 1,
      merge: (drain) => drain,
      // #drain handles every failure itself (logged, then retried later or dropped).
      run: (conversationId) => this.#drain(conversationId),
    });
    this.#inbox = new ConverseInbox({ store: options.store, now: this.#now, queued: (conversationId) => this.#kick(conversationId) });
    this.#inactivity = new InactivitySweep({
      store: options.store,
      idleMs: this.#idleMs,
      now: this.#now,
      log: options.log,
      onReplies: options.onReplies,
      submit: (conversationId, task) => this.#turns.submit(conversationId, task),
      closed: () => this.#closed,
    });
  }

  get scenario(): string {
    return this.#loaded.name;
  }

  /** Events accepted (or being accepted) here and not yet run. */
  get queued(): number {
    return this.#inbox.queued;
  }

  /**
   * Checks a parsed JSON body and appends the event to the conversation's durable inbox: 202 once
   * it is in the store, 400 naming the field, or 503 (Retry-After) when full, closing or the store
   * write failed. A messageId seen before in the conversation is answered 202 with `duplicate: true`
   * and not run again; 409 when it came with a different event then (that one stands).
   */
  async accept(body: unknown): Promise<ConverseAnswer> {
    const input = parseConverseInput(body);
    if (!input.ok) return invalidRequest(input.field, input.message);
    if (this.#closed || this.queued >= this.#maxQueued) return unavailable(this.#closed ? 'the server is shutting down; retry' : 'too many events waiting; retry shortly');
    const event = input.event;
    this.#accepting.arrived();
    let enqueued: Enqueued;
    try {
      enqueued = await this.#inbox.enqueue(event);
    } catch (err) {
      this.#o.log?.error({ err, conversation: event.conversationId, eventType: event.type, messageId: event.messageId }, 'converse: cannot store the event');
      return unavailable('the event could not be stored; retry');
    }
    if (enqueued.status === 'conflict') return messageIdReused(event.messageId);
    return accepted(event, enqueued.status === 'duplicate');
  }

  /** Runs one event (accept's work, awaited): dedupe and append to the inbox, then run it in order and return what it did. */
  async handle(event: ConverseEvent): Promise<HandleOutcome> {
    if (this.#closed) throw new StoreError('store_unavailable', 'the converse service is closed');
    let settle: (outcome: HandleOutcome | Error) => void = () => undefined;
    const ran = new Promise<HandleOutcome>((resolve, reject) => (settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))));
    const enqueued = await this.#inbox.enqueue(event, settle);
    return enqueued.status === 'queued' ? ran : enqueued;
  }

  /** Ends every session idle since before now − idle timeout, each with an `end` reply (reason inactivity); how many. */
  async sweep(): Promise<number> {
    return this.#inactivity.run();
  }

  /**
   * Starts the background work: the inactivity sweep every `everyMs` (default: a quarter of the
   * timeout, between 250 ms and 30 s), and, at once then every second, running the inbox events
   * left pending (by a crash, a failed attempt or another process).
   */
  startSweeper(everyMs = Math.min(30_000, Math.max(250, this.#idleMs / 4))): void {
    if (this.#sweeper || this.#closed) return;
    // The cadence of a real timer, on the wall clock; the sweep itself reads the service's.
    let last = Date.now();
    // resume() catches and logs its own failures.
    void this.resume();
    this.#sweeper = setInterval(() => {
      void this.resume();
      if (Date.now() - last < everyMs) return;
      last = Date.now();
      this.sweep().catch((err: unknown) => this.#storeOutage?.failed({ err, code: codeOf(err) }, 'converse: the inactivity sweep failed'));
    }, Math.min(everyMs, 1_000));
    this.#sweeper.unref();
  }

  /** Runs the inbox events pending in the store (accepted before a crash, or retried): their conversations are drained in order. */
  async resume(): Promise<void> {
    if (this.#resuming || this.#closed) return;
    this.#resuming = true;
    try {
      const due = await this.#o.store.outboxPending({ dueBy: this.#now(), limit: 1_000, prefix: INBOX_PREFIX });
      for (const { conversation } of due) this.#kick(conversation.slice(INBOX_PREFIX.length));
      this.#storeOutage?.succeeded({}, 'converse: the store answers again');
    } catch (err) {
      this.#storeOutage?.failed({ err, code: codeOf(err) }, 'converse: cannot read the pending inbox events');
    } finally {
      this.#resuming = false;
    }
  }

  /** Stops taking events and sweeping, then waits for every event accepted here to be run (one waiting for a retry stays in the store). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await this.#inactivity.settled();
    // The appends first: each one stored queues its drain, which the turns then run.
    await this.#inbox.appended();
    await this.#turns.close({ drain: true });
  }

  /** Drains the conversation's inbox soon (once: a drain already queued will see the new items). */
  #kick(conversationId: string): void {
    this.#turns.add(conversationId, 'drain');
  }

  #retryAt(conversationId: string, at: number): void {
    if (!this.#closed) this.#turns.wake(conversationId, at, 'drain');
  }

  /** Runs the conversation's inbox items in order until it is empty, or an item must wait. */
  async #drain(conversationId: string): Promise<void> {
    const { store } = this.#o;
    const key = inboxKey(conversationId);
    for (;;) {
      let item: OutboxItem<InboxPayload> | undefined;
      try {
        item = await store.outboxHead<InboxPayload>(key);
      } catch (err) {
        this.#storeOutage?.failed({ err, code: codeOf(err), conversation: conversationId }, 'converse: cannot read the inbox');
        return this.#retryAt(conversationId, this.#now() + 1_000);
      }
      // Items accepted here that the inbox holds no more (before its head, or all of them): another
      // process on the same store ran them; left counted, they would hold a slot of maxQueued for good.
      this.#inbox.ranElsewhere(conversationId, item?.seq);
      if (!item) return;
      if (item.nextAttemptAt > this.#now()) return this.#retryAt(conversationId, item.nextAttemptAt);
      const event = item.payload.event;
      let outcome: HandleOutcome;
      try {
        outcome = await this.#run(event, item.seq, item.attempts);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'store_lock_busy') return this.#retryAt(conversationId, this.#now() + 200); // another process runs it
        if (item.attempts + 1 >= MAX_EVENT_ATTEMPTS) {
          this.#o.log?.error({ err, conversation: conversationId, eventType: event.type, messageId: event.messageId, attempts: item.attempts + 1 }, 'converse: event dropped after repeated failures');
          if (!(await store.outboxAck(key, item.seq).catch(() => false))) return this.#retryAt(conversationId, this.#now() + 1_000);
          if (this.#inbox.settle(conversationId, item.seq, err instanceof Error ? err : new Error(String(err)))) return;
          continue;
        }
        const delay = backoffDelay(item.attempts + 1, FAILED_EVENT_BACKOFF);
        this.#o.log?.warn({ err, conversation: conversationId, eventType: event.type, messageId: event.messageId, retry_in_ms: delay }, 'converse: event failed; will retry');
        await store.outboxRetry(key, item.seq, { nextAttemptAt: this.#now() + delay, error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
        return this.#retryAt(conversationId, this.#now() + delay);
      }
      if (this.#inbox.settle(conversationId, item.seq, outcome)) return;
    }
  }

  /**
   * Runs one inbox item: step, save session (with `inboxSeq`) + replies atomically, ack. Already
   * consumed (a crash before the ack): only ack. `attempts`: the item's failed runs so far.
   */
  async #run(event: ConverseEvent, seq: number, attempts: number): Promise<HandleOutcome> {
    const { store } = this.#o;
    return withLock(store, lockKey(event.conversationId), async (lease) => {
      const key = conversationKey(event.conversationId);
      const found = await store.getPosition(key, this.#loaded.name);
      const prior = readSession(found?.value, event.conversationId, this.#o.log);
      let outcome: HandleOutcome = { status: 'nothing' };
      if (prior.inboxSeq < seq) {
        const version = (found?.version ?? 0) + 1;
        let busy: unknown;
        const effects = this.#effects.searchHelpdesk ? { ...this.#effects, searchHelpdesk: noteBusy(this.#effects.searchHelpdesk, (err) => (busy = err)) } : this.#effects;
        const turn = await converseTurn({ loaded: this.#loaded, prior: prior.session, event, version, now: this.#now(), effects });
        // Crisp busy or unreachable does not mean "no article": nothing is saved and the event runs
        // again (#drain's backoff, as the autopilot tries its search again); only on its last attempt
        // does the articles block take its none path, so the visitor still gets an answer.
        if (busy !== undefined && attempts + 1 < MAX_EVENT_ATTEMPTS) throw busy;
        if (turn) {
          for (const note of turn.notes) this.#o.log?.warn({ conversation: event.conversationId, scenario: this.#loaded.name }, note);
          if (lease.signal.aborted) throw lease.signal.reason;
          const saved = await store.savePosition(key, this.#loaded.name, withSession(prior.record, turn.session, seq), {
            expectedVersion: version - 1,
            outbox: turn.replies.map((reply) => ({ id: reply.messageId, payload: reply })),
            ...lifetime(turn.session),
          });
          if (!saved.ok) throw new StoreError('store_lock_lost', `conversation ${event.conversationId} was saved by someone else during the turn (version ${saved.current})`);
          if (turn.replies.length > 0) this.#o.onReplies?.(key);
          outcome = { status: 'saved', version: saved.version, replies: turn.replies.length };
        }
      }
      await store.outboxAck(inboxKey(event.conversationId), seq);
      return outcome;
      // A short lock, kept alive while the turn runs: after a crash another process takes over within 5 s.
    }, { ttlMs: TURN_LOCK_TTL_MS });
  }
}

function effectsOf({ fetch, helpdesk }: ConverseOptions): TurnInput['effects'] {
  return {
    callWebhook: (action, key) => callWebhook(action, key, fetch),
    ...(helpdesk ? { searchHelpdesk: (question: string, options: { locale?: string; limit?: number }) => helpdesk.port.search(helpdesk.website, question, options) } : {}),
  };
}

/**
 * The search, telling `busy` of a failure that may pass: the Crisp client marks a 429, a 5xx or a
 * network failure `retryable` (converse/ does not import crisp/: the port's errors are read by
 * that field).
 */
function noteBusy(search: NonNullable<TurnInput['effects']['searchHelpdesk']>, busy: (err: unknown) => void): typeof search {
  return (question, options) =>
    search(question, options).catch((err: unknown) => {
      if ((err as { retryable?: unknown } | undefined)?.retryable === true) busy(err);
      throw err;
    });
}
