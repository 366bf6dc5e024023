// The converse API: any backend talks to a scenario over HTTP. `accept` checks an
// event, appends it to the conversation's durable inbox (an outbox queue of the store under
// `converse-in:<id>`, deduped on its messageId by the same atomic store write: ONE outboxAppend)
// and only then answers 202. A worker drains each inbox in order, one event at a time per
// conversation (the keyed queue in this process, src/engine/keyed-queue.ts; the store's lock
// across processes): step the scenario, save the session — the `converse` part of the
// conversation's ONE record (engine/record.ts; its position is the record's), with the inbox seq it
// has consumed — and one outbox item per bot reply in ONE savePosition, then ack the inbox item.
// A session saved by the previous release (a bare ConverseSession value) is migrated on read.
// delivery.ts drains the reply outbox to the webhook. A sweeper ends sessions idle for longer
// than the inactivity timeout; the same timer picks up inbox items left by a crash.
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
import { OutageLog, type Logger } from '../log.js';
import { StoreError, withLock, type OutboxItem, type SaveOptions, type Store } from '../store/index.js';
import { callWebhook } from '../engine/actions.js';
import type { HelpdeskPort } from '../engine/port.js';
import { backoffDelay, type Backoff } from '../retry.js';
import { KeyedQueue, Priority } from '../engine/keyed-queue.js';
import { eventDigest, parseConverseInput, type ConverseEvent } from './input.js';
import { ConverseSession, converseTurn, ended, inactivityEnd, type TurnInput } from './turn.js';
import type { LoadedScenario, ScenarioLibrary } from '../engine/library.js';
import { readRecord, type ConversationRecord } from '../engine/record.js';
import { TURN_LOCK_TTL_MS } from '../engine/turn.js';

export { parseConverseInput, type ConverseEvent } from './input.js';

/** Store keys (positions, outbox, locks) of converse conversations start with this. */
export const CONVERSE_PREFIX = 'converse:';
export const DEFAULT_IDLE_MS = 30 * 60_000;
/** How long a messageId is remembered. */
export const DEDUPE_TTL_MS = 24 * 60 * 60_000;
/**
 * How long a conversation's record outlives its ended session (with the metadata the next session
 * reads): then the store deletes it, and an event on that id starts as on a new one. Without it,
 * every conversation id ever seen kept its row for good.
 */
export const ENDED_SESSION_RETENTION_MS = 30 * 24 * 60 * 60_000;
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
  /** The clock the scenario reads (business hours) and replies are stamped with. */
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

/** What /converse answers: http.ts sends it as JSON. */
export interface ConverseAnswer {
  status: 202 | 400 | 409 | 503;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type HandleOutcome =
  | { status: 'saved'; version: number; replies: number }
  | { status: 'duplicate' }
  /** Its messageId was accepted before for a different event: not run. */
  | { status: 'conflict' }
  | { status: 'nothing' }
  /** Run by another process on the same store (what it did is that process's). */
  | { status: 'elsewhere' };

/** Store keys of converse inboxes (accepted events not yet run) start with this; not with CONVERSE_PREFIX. */
export const INBOX_PREFIX = 'converse-in:';
/** The "scenario" under which the previous release kept each inbox's messageIds, in a position record. */
const LEGACY_INBOX_SCENARIO = 'converse-inbox';
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

/** The store key of a conversation. */
export const conversationKey = (conversationId: string): string => `${CONVERSE_PREFIX}${conversationId}`;
/** The store key (outbox queue and position) of a conversation's inbox. */
export const inboxKey = (conversationId: string): string => `${INBOX_PREFIX}${conversationId}`;
const lockKey = (conversationId: string): string => `${CONVERSE_PREFIX}lock:${conversationId}`;

/** The previous release's inbox record: when each recent messageId was accepted. */
interface LegacyInboxRecord {
  kind: 'converse_inbox';
  seen: Record<string, number>;
}
/** What an inbox item carries. */
interface InboxPayload {
  event: ConverseEvent;
}

/** The last inbox seq a saved converse part has consumed (0: none). */
const inboxSeqOf = (part: unknown): number => {
  const seq = (part as { inboxSeq?: unknown } | undefined)?.inboxSeq;
  return typeof seq === 'number' ? seq : 0;
};

/** A conversation's saved record, with the converse session read out of it (position from the record, the rest from its converse part). */
interface SavedSession {
  record: ConversationRecord;
  session: ConverseSession | undefined;
  /** The last inbox seq the saved session has consumed (0: none). */
  inboxSeq: number;
}

/** messageIds of the previous release's inbox records still within DEDUPE_TTL_MS, by conversation id → when each was accepted. */
interface LegacySeen {
  ids: Map<string, Map<string, number>>;
  /** When the last of them is forgotten. */
  until: number;
}

/** Reads the previous release's inbox records saved within DEDUPE_TTL_MS (none on a store it never wrote). */
async function loadLegacySeen(store: Store, now: number): Promise<LegacySeen> {
  const legacy: LegacySeen = { ids: new Map(), until: 0 };
  let cursor: string | undefined;
  do {
    const page = await store.listPositions<Partial<LegacyInboxRecord> | null>(LEGACY_INBOX_SCENARIO, { since: now - DEDUPE_TTL_MS, cursor, limit: 500 });
    for (const { conversation, value } of page.positions) {
      const seen = value?.seen;
      if (!conversation.startsWith(INBOX_PREFIX) || !seen || typeof seen !== 'object') continue;
      const ids = new Map<string, number>();
      for (const [messageId, at] of Object.entries(seen)) {
        if (typeof at !== 'number' || now - at >= DEDUPE_TTL_MS) continue;
        ids.set(messageId, at);
        legacy.until = Math.max(legacy.until, at + DEDUPE_TTL_MS);
      }
      if (ids.size > 0) legacy.ids.set(conversation.slice(INBOX_PREFIX.length), ids);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return legacy;
}

/** A failure's stable code (a StoreError's), which tells one outage from the next. */
const codeOf = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

type Enqueued = { status: 'queued'; seq: number } | { status: 'duplicate' } | { status: 'conflict' };

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
  /** Inbox items accepted here and not yet run: `<id>\0<seq>` → who waits for the outcome. */
  readonly #pending = new Map<string, Array<(outcome: HandleOutcome | Error) => void>>();
  /** Per conversation, the seqs of its items in #pending, lowest first. */
  readonly #pendingHere = new Map<string, number[]>();
  /** The previous release's messageIds: read at the first append (loading until then). */
  #legacy: LegacySeen | Promise<LegacySeen> | undefined;
  /** Appends in flight, and who waits for there to be none (close). */
  #appending = 0;
  readonly #appendsDone: Array<() => void> = [];
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
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
      yieldTo: this.#accepting,
      concurrencyWhileBusy: options.turnsWhileAccepting ?? 1,
      merge: (drain) => drain,
      // #drain handles every failure itself (logged, then retried later or dropped).
      run: (conversationId) => this.#drain(conversationId),
    });
  }

  get scenario(): string {
    return this.#loaded.name;
  }

  /** Events accepted (or being accepted) here and not yet run. */
  get queued(): number {
    return this.#appending + this.#pending.size;
  }

  /**
   * Checks a parsed JSON body and appends the event to the conversation's durable inbox: 202 once
   * it is in the store, 400 naming the field, or 503 (Retry-After) when full, closing or the store
   * write failed. A messageId seen before in the conversation is answered 202 with `duplicate: true`
   * and not run again; 409 when it came with a different event then (that one stands).
   */
  async accept(body: unknown): Promise<ConverseAnswer> {
    const input = parseConverseInput(body);
    if (!input.ok) return { status: 400, body: { error: 'invalid_request', field: input.field, message: input.message } };
    if (this.#closed || this.queued >= this.#maxQueued) {
      return { status: 503, body: { error: 'unavailable', message: this.#closed ? 'the server is shutting down; retry' : 'too many events waiting; retry shortly' }, headers: { 'retry-after': '1' } };
    }
    const event = input.event;
    this.#accepting.arrived();
    let enqueued: Enqueued;
    try {
      enqueued = await this.#enqueue(event);
    } catch (err) {
      this.#o.log?.error({ err, conversation: event.conversationId, eventType: event.type, messageId: event.messageId }, 'converse: cannot store the event');
      return { status: 503, body: { error: 'unavailable', message: 'the event could not be stored; retry' }, headers: { 'retry-after': '1' } };
    }
    if (enqueued.status === 'conflict') {
      return {
        status: 409,
        body: {
          error: 'message_id_reused', field: 'messageId',
          message: `messageId ${JSON.stringify(event.messageId)} was accepted in this conversation within the last 24 h for a different event (type, text, cardIndex, userId or metadata); that one stands and this one was not stored: give a new event a new messageId`,
        },
      };
    }
    // `duplicate`: this messageId was accepted before, so this body was not run (the first one was).
    const duplicate = enqueued.status === 'duplicate' ? { duplicate: true } : {};
    return { status: 202, body: { status: 'accepted', conversationId: event.conversationId, ...(event.messageId ? { messageId: event.messageId } : {}), ...duplicate } };
  }

  /** Runs one event (accept's work, awaited): dedupe and append to the inbox, then run it in order and return what it did. */
  async handle(event: ConverseEvent): Promise<HandleOutcome> {
    let settle: (outcome: HandleOutcome | Error) => void = () => undefined;
    const ran = new Promise<HandleOutcome>((resolve, reject) => (settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))));
    const enqueued = await this.#enqueue(event, settle);
    return enqueued.status === 'queued' ? ran : enqueued;
  }

  /** Ends every session idle since before now − idle timeout, each with an `end` reply (reason inactivity); how many. */
  async sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepAll().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /**
   * Starts the background work: the inactivity sweep every `everyMs` (default: a quarter of the
   * timeout, between 250 ms and 30 s), and, at once then every second, running the inbox events
   * left pending (by a crash, a failed attempt or another process).
   */
  startSweeper(everyMs = Math.min(30_000, Math.max(250, this.#idleMs / 4))): void {
    if (this.#sweeper || this.#closed) return;
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
      const due = await this.#o.store.outboxPending({ dueBy: Date.now(), limit: 1_000, prefix: INBOX_PREFIX });
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
    await this.#sweeping?.catch(() => undefined);
    // The appends first: each one stored queues its drain, which the turns then run.
    if (this.#appending > 0) await new Promise<void>((resolve) => this.#appendsDone.push(resolve));
    await this.#turns.close({ drain: true });
  }

  /** Appends the event to its conversation's inbox (after the ones accepted before it here), unless its messageId was seen; then kicks the drain. */
  async #enqueue(event: ConverseEvent, waiter?: (outcome: HandleOutcome | Error) => void): Promise<Enqueued> {
    if (this.#closed && waiter) throw new StoreError('store_unavailable', 'the converse service is closed');
    this.#appending++;
    try {
      const result = await this.#append(event);
      if (result.status === 'queued') {
        this.#pending.set(this.#itemKey(event.conversationId, result.seq), waiter ? [waiter] : []);
        const seqs = this.#pendingHere.get(event.conversationId);
        if (!seqs) this.#pendingHere.set(event.conversationId, [result.seq]);
        else if (seqs.push(result.seq) > 1 && seqs.at(-2)! > result.seq) seqs.sort((a, b) => a - b);
        this.#kick(event.conversationId);
      }
      return result;
    } finally {
      if (--this.#appending === 0) for (const done of this.#appendsDone.splice(0)) done();
    }
  }

  /**
   * One outboxAppend: the inbox item, deduped on the messageId by the store in the same atomic
   * write. The store orders appends as they are called, and this calls it without awaiting anything
   * first (but the one read of the previous release's records, which every append waits for alike),
   * so a conversation's events are appended in the order they were accepted here.
   */
  async #append(event: ConverseEvent): Promise<Enqueued> {
    let legacy = (this.#legacy ??= this.#loadLegacy());
    if (legacy instanceof Promise) legacy = await legacy;
    const { conversationId, messageId } = event;
    const now = Date.now();
    if (messageId !== undefined && legacy.ids.size > 0) {
      if (now >= legacy.until) legacy.ids.clear();
      const at = legacy.ids.get(conversationId)?.get(messageId);
      if (at !== undefined && now - at < DEDUPE_TTL_MS) return { status: 'duplicate' };
    }
    const payload: InboxPayload = { event };
    const once = messageId === undefined ? undefined : { key: messageId, ttlMs: DEDUPE_TTL_MS, digest: eventDigest(event) };
    const appended = await this.#o.store.outboxAppend(inboxKey(conversationId), { payload }, once ? { once } : {});
    if (appended.ok) return { status: 'queued', seq: appended.seq };
    // No digest kept (an earlier release's key): taken for the same event, as that release did.
    return appended.digest === undefined || appended.digest === once?.digest ? { status: 'duplicate' } : { status: 'conflict' };
  }

  /** Reads the previous release's messageIds once; a failed read is tried again by the next append. */
  #loadLegacy(): Promise<LegacySeen> {
    return loadLegacySeen(this.#o.store, Date.now()).then(
      (legacy) => (this.#legacy = legacy),
      (err: unknown) => {
        this.#legacy = undefined;
        throw err;
      },
    );
  }

  #itemKey(conversationId: string, seq: number): string {
    return `${conversationId}\0${seq}`;
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
        return this.#retryAt(conversationId, Date.now() + 1_000);
      }
      // Items accepted here that the inbox holds no more (before its head, or all of them): another
      // process on the same store ran them; left counted, they would hold a slot of maxQueued for good.
      this.#ranElsewhere(conversationId, item?.seq);
      if (!item) return;
      if (item.nextAttemptAt > Date.now()) return this.#retryAt(conversationId, item.nextAttemptAt);
      const event = item.payload.event;
      let outcome: HandleOutcome;
      try {
        outcome = await this.#run(event, item.seq);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'store_lock_busy') return this.#retryAt(conversationId, Date.now() + 200); // another process runs it
        if (item.attempts + 1 >= MAX_EVENT_ATTEMPTS) {
          this.#o.log?.error({ err, conversation: conversationId, eventType: event.type, messageId: event.messageId, attempts: item.attempts + 1 }, 'converse: event dropped after repeated failures');
          if (!(await store.outboxAck(key, item.seq).catch(() => false))) return this.#retryAt(conversationId, Date.now() + 1_000);
          if (this.#settle(conversationId, item.seq, err instanceof Error ? err : new Error(String(err)))) return;
          continue;
        }
        const delay = backoffDelay(item.attempts + 1, FAILED_EVENT_BACKOFF);
        this.#o.log?.warn({ err, conversation: conversationId, eventType: event.type, messageId: event.messageId, retry_in_ms: delay }, 'converse: event failed; will retry');
        await store.outboxRetry(key, item.seq, { nextAttemptAt: Date.now() + delay, error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
        return this.#retryAt(conversationId, Date.now() + delay);
      }
      if (this.#settle(conversationId, item.seq, outcome)) return;
    }
  }

  /**
   * Tells who waits for the conversation's item `seq` its outcome. True when that item was accepted here and was
   * the last of its conversation's accepted here: the drain stops without reading the inbox again
   * (an item appended meanwhile kicks a drain of its own; one left by a crash or another process
   * comes with the next resume()). An item not accepted here (resumed) lets the drain read on.
   */
  #settle(conversationId: string, seq: number, outcome: HandleOutcome | Error): boolean {
    const key = this.#itemKey(conversationId, seq);
    const waiters = this.#pending.get(key);
    if (!waiters) return false;
    this.#pending.delete(key);
    for (const waiter of waiters) waiter(outcome);
    const seqs = this.#pendingHere.get(conversationId) ?? [];
    const at = seqs.indexOf(seq);
    if (at >= 0) seqs.splice(at, 1);
    if (seqs.length > 0) return false;
    this.#pendingHere.delete(conversationId);
    return true;
  }

  /**
   * Settles the items accepted here below the inbox's head seq (every one, when it is empty): seqs
   * only grow within an inbox, so those have left it, run and acked by another process.
   */
  #ranElsewhere(conversationId: string, head: number | undefined): void {
    const seqs = this.#pendingHere.get(conversationId);
    if (!seqs || (head !== undefined && seqs[0]! >= head)) return;
    for (const seq of head === undefined ? [...seqs] : seqs.filter((seq) => seq < head)) this.#settle(conversationId, seq, { status: 'elsewhere' });
  }

  /** Runs one inbox item: step, save session (with `inboxSeq`) + replies atomically, ack. Already consumed (a crash before the ack): only ack. */
  async #run(event: ConverseEvent, seq: number): Promise<HandleOutcome> {
    const { store } = this.#o;
    return withLock(store, lockKey(event.conversationId), async (lease) => {
      const key = conversationKey(event.conversationId);
      const found = await store.getPosition(key, this.#loaded.name);
      const prior = this.#read(found?.value, event.conversationId);
      let outcome: HandleOutcome = { status: 'nothing' };
      if (prior.inboxSeq < seq) {
        const version = (found?.version ?? 0) + 1;
        const turn = await converseTurn({ loaded: this.#loaded, prior: prior.session, event, version, now: this.#now(), effects: this.#effects });
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

  async #sweepAll(): Promise<number> {
    const { store } = this.#o;
    let count = 0;
    for (;;) {
      const before = Date.now() - this.#idleMs; // the store stamps saves with its writer's clock
      const idle = (await store.listIdle(before, 100)).filter((p) => p.conversation.startsWith(CONVERSE_PREFIX));
      const done = await Promise.all(idle.map((p) => this.#turns.submit(p.conversation.slice(CONVERSE_PREFIX.length), () => this.#timeOut(p.conversation, p.scenario, before))));
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
        const prior = this.#read(found.value, id);
        const session = prior.session;
        const now = this.#now();
        const replies = session?.status === 'active' ? [inactivityEnd(session, scenario, found.version + 1, now)] : [];
        const value = session ? withSession(prior.record, session.status === 'active' ? ended(session, 'inactivity', now) : session, prior.inboxSeq) : found.value;
        const saved = await store.savePosition(key, scenario, value, { expectedVersion: found.version, outbox: replies.map((r) => ({ id: r.messageId, payload: r })), expireAfterMs: ENDED_SESSION_RETENTION_MS });
        if (saved.ok && replies.length > 0) this.#o.onReplies?.(key);
        return saved.ok && replies.length > 0;
      }, { waitMs: 0 });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'store_lock_busy') return false; // an event is running: not idle
      throw err;
    }
  }

  /** The saved record (of this release or, migrated, of an earlier one) and the session in it. */
  #read(value: unknown, conversationId: string): SavedSession {
    const { record } = readRecord(value);
    const part = record.channels.converse;
    if (part === undefined) return { record, session: undefined, inboxSeq: 0 };
    const parsed = ConverseSession.safeParse({ ...(part as object), position: record.scenario });
    if (!parsed.success) this.#o.log?.warn({ conversation: conversationId }, 'converse: unreadable session record; starting a new session');
    return { record, session: parsed.success ? parsed.data : undefined, inboxSeq: inboxSeqOf(part) };
  }

}

/**
 * The record with the session written in: its position as the record's, the rest (and the inbox
 * seq consumed) as the converse part; the other channels' parts are kept.
 */
function withSession(record: ConversationRecord, session: ConverseSession, inboxSeq: number): ConversationRecord {
  const { position, ...rest } = session;
  return { ...record, scenario: position, channels: { ...record.channels, converse: inboxSeq > 0 ? { ...rest, inboxSeq } : rest } };
}

/** A live session is watched for inactivity; an ended one (or metadata kept for the next) is kept ENDED_SESSION_RETENTION_MS. */
function lifetime(session: ConverseSession): Pick<SaveOptions, 'trackIdle' | 'expireAfterMs'> {
  return session.status === 'active' ? { trackIdle: true } : { expireAfterMs: ENDED_SESSION_RETENTION_MS };
}

function effectsOf({ fetch, helpdesk }: ConverseOptions): TurnInput['effects'] {
  return {
    callWebhook: (action, key) => callWebhook(action, key, fetch),
    ...(helpdesk ? { searchHelpdesk: (question: string, options: { locale?: string; limit?: number }) => helpdesk.port.search(helpdesk.website, question, options) } : {}),
  };
}
