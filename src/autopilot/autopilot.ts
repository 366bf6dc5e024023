// The autopilot: Crisp's live events in (RTM or Web Hooks, see src/commands/bot.ts), a scenario's replies
// out, under the guardrails (guardrails.ts) and exactly once.
//
// Exactly once. Events only say "look at this conversation": the thread as Crisp shows it is the
// truth. A conversation is worked by one worker at a time (in this process by its own queue,
// across processes and replicas by the store's lock, held as a lease while the visitor keeps
// writing), and each run, under the lock:
//   1. reads the thread after the saved cursor, steps the scenario once per new visitor message
//      and saves position + cursor + outbox items in ONE savePosition (compare-and-set);
//   2. delivers the outbox in order — what an earlier run or a crashed process left, then the new
//      items — each message with a fingerprint derived from its item id.
// A duplicate or late event finds nothing after the cursor; a reordered one finds both messages
// in the thread, in order; a Crisp 5xx leaves the item in the outbox for a retry with the same
// fingerprint; a kill between two sends leaves the rest in the outbox for the next start, which
// drains it first and then reads the threads it may have missed (catch-up).
//
// Here: the events in (intake), the runs of each conversation under its lock (queue.ts), their
// failures, the outbox sweep and close. turns.ts plans and saves a turn, outbox.ts delivers,
// catch-up.ts reads the threads no event brought, report.ts logs and counts what a plan did.
import type { CrispClient } from '../crisp/client.js';
import { CrispError } from '../crisp/errors.js';
import type { CrispEvent } from '../crisp/rtm.js';
import { OutageLog, type Logger } from '../log.js';
import { HeldLocks, type Lease, type Store } from '../store/index.js';
import type { ThreadMessage } from './plan.js';
import { DEFAULT_OUTBOX_RETRY, OutboxDeliverer, describeFailure, type DeliveryStats, type KnownOutbox, type OutboxRetry } from './outbox.js';
import { ConversationQueue, type QueuedConversation, type Work } from './queue.js';
import { RecentMap, RecentSet } from './recent-set.js';
import { intake, type Guardrails, type IgnoredReason } from './guardrails.js';
import { CatchUp } from './catch-up.js';
import { reportPlan } from './report.js';
import { ConversationTurns } from './turns.js';
import { nextDelay, type Backoff } from '../retry.js';
import type { LoadedScenario } from '../engine/library.js';
import { conversationKey, turnLockKey, TURN_LOCK_TTL_MS } from '../engine/turn.js';
import type { OpenConversation } from '../engine/port.js';

export interface AutopilotOptions {
  crisp: CrispClient;
  store: Store;
  scenario: LoadedScenario;
  guardrails: Guardrails;
  log: Logger;
  /** How long a conversation's lock lives without renewal — how long a killed bot's conversations wait for its replacement. Default 5 s. */
  lockTtlMs?: number;
  /** Conversations worked at once. Default 32. */
  concurrency?: number;
  retry?: Partial<OutboxRetry>;
  /** Conversations with due outbox items are looked for this often (items of a dead replica, lost timers). Default 5 s. */
  sweepMs?: number;
  /**
   * While running, the threads updated within the catch-up window whose last message is a visitor's
   * that this bot's record has not read are looked for this often (default 60 s; 0: only at start
   * and RTM reconnects): the messages whose Web Hook another replica answered 200 and then died
   * before working, which no live event brings here again.
   */
  catchUpEveryMs?: number;
  /** Opens a conversation as the engine's port (Crisp's; the command wires it). */
  openConversation: OpenConversation;
  now?: () => number;
}

export interface AutopilotStats {
  /** Events handed to the autopilot. */
  events: number;
  /** Events left alone, by guardrail. */
  ignored: Partial<Record<IgnoredReason, number>>;
  /** Our own replies coming back as `message:received`. */
  own: number;
  /** Turns saved (one per visitor message the scenario ran for). */
  turns: number;
  /** Bot messages queued. */
  queued: number;
  /** Identical replies suppressed. */
  suppressed: number;
  /** Times the bot paused in a conversation (operator, reply budget). */
  paused: number;
  /** Compare-and-set conflicts (someone else saved the position meanwhile); the turn was planned again. */
  conflicts: number;
  /** Runs that failed (lock busy, Crisp unreachable while reading the thread) and were tried again later. */
  failures: number;
  /** Turns planned against the record this process saved last, not read back from the store. */
  recordsKept: number;
  delivery: DeliveryStats;
}

/** The wait before a failed run is tried again. */
const FAILED_RUN_BACKOFF: Backoff = { baseDelayMs: 250, maxDelayMs: 30_000 };
/** Where the time the bot first ran is kept (conversation key, then the scenario name). */
const MARKER_KEY = 'autopilot';
/**
 * An RTM `session:set_state` carries no time: the resolution is taken as this much before its
 * arrival, or at the last message heard before it in that conversation when that is later (below).
 */
const RTM_LATENCY_MS = 250;
/** Conversations whose last message heard in order (RTM) the bot remembers, for that bound. */
const HEARD_IN_ORDER_KEPT = 10_000;
/** How often a running bot looks for visitor messages no event brought it (catchUpEveryMs). */
const DEFAULT_CATCH_UP_EVERY_MS = 60_000;
/** How long close() waits for the held locks to be released. */
const LOCKS_CLOSE_MS = 1_000;

export class Autopilot {
  readonly #o: AutopilotOptions;
  readonly #now: () => number;
  readonly #lockTtlMs: number;
  readonly #queue: ConversationQueue;
  readonly #ours = new RecentSet(50_000);
  /** Websites off CRISP_WEBSITE_ID whose events were named once at info (a plugin token hears every website it is installed on). */
  readonly #outOfScope = new RecentSet<string>(1_000);
  /**
   * Per conversation, the latest timestamp of a message heard over RTM. Its one socket delivers in
   * Crisp's order, so a resolution heard after a message happened after it: a visitor's "thanks"
   * written less than RTM_LATENCY_MS before an operator resolved is not taken for a message written
   * after the resolution (and answered once the bot starts again).
   */
  readonly #heardInOrder = new RecentMap<string, number>(HEARD_IN_ORDER_KEPT);
  readonly #outbox: OutboxDeliverer;
  readonly #locks: HeldLocks;
  #closed = false;
  #since = 0;
  readonly #turns: ConversationTurns;
  readonly #catchUp: CatchUp;
  #sweep: NodeJS.Timeout | undefined;
  #catchUpTimer: NodeJS.Timeout | undefined;
  #stats: Omit<AutopilotStats, 'delivery'> = { events: 0, ignored: {}, own: 0, turns: 0, queued: 0, suppressed: 0, paused: 0, conflicts: 0, failures: 0, recordsKept: 0 };
  /** The sweep runs on a timer: a store outage is told once each way, not once a run. */
  readonly #sweepOutage: OutageLog;
  /**
   * Conversations whose runs keep failing. Their failures are ONE outage (`#runsOutage`): a store
   * or Crisp that is down fails every conversation being worked at once, and a warning and an end
   * line each would be two lines per conversation for one outage. It ends when the last of them is worked again.
   */
  readonly #failing = new Set<string>();
  readonly #runsOutage: OutageLog;
  /** How many conversations the current outage has failed, for its end line. */
  #failedInOutage = 0;

  constructor(options: AutopilotOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#lockTtlMs = options.lockTtlMs ?? TURN_LOCK_TTL_MS;
    this.#sweepOutage = new OutageLog(options.log, this.#now);
    this.#runsOutage = new OutageLog(options.log, this.#now);
    // A conversation's lock is kept while its visitor keeps writing (no store write per message to
    // take and release it), and released once it has been idle a moment, or on close.
    this.#locks = new HeldLocks(options.store, { ttlMs: this.#lockTtlMs, waitMs: this.#lockTtlMs * 2 });
    this.#queue = new ConversationQueue({
      concurrency: options.concurrency ?? 32,
      now: this.#now,
      // The acks a conversation's last saves did not carry are written before its lock goes.
      run: (c, work) => this.#locks.run(turnLockKey(c.website, c.session), (lease) => this.#work(c, work, lease), () => this.#outbox.flushAcks(c.key)),
      failed: (c, _work, error, failures) => this.#failed(c, error, failures),
    });
    this.#outbox = new OutboxDeliverer({
      store: options.store,
      scenario: options.scenario,
      guardrails: options.guardrails,
      log: options.log,
      retry: { ...DEFAULT_OUTBOX_RETRY, ...options.retry },
      now: this.#now,
      openConversation: options.openConversation,
      onOurs: (fps) => fps.forEach((fp) => this.#ours.add(fp)),
      // A webhook's answer was saved: the record kept is no longer the latest.
      onSaved: (key) => this.#turns.forget(key),
      onPlanned: (key, plan) => reportPlan(options.log, this.#stats, key, plan),
    });
    this.#turns = new ConversationTurns({
      ...options,
      now: this.#now,
      ours: this.#ours,
      outbox: this.#outbox,
      counts: this.#stats,
      report: (key, plan) => reportPlan(options.log, this.#stats, key, plan),
    });
    this.#catchUp = new CatchUp({ ...options, now: this.#now }, {
      schedule: (website, session, work) => this.#queue.schedule(website, session, work),
      unread: (website, c) => this.#turns.unread(website, c, this.#since),
      since: () => this.#since,
      closed: () => this.#closed,
    });
  }

  #heard(website: string, session: string, timestamp: number): void {
    const key = conversationKey(website, session);
    if (timestamp > (this.#heardInOrder.get(key) ?? -Infinity)) this.#heardInOrder.set(key, timestamp);
  }

  /** When a resolution heard with no time of its own (RTM) happened, as near as the bot can tell: see #heardInOrder. */
  #rtmResolvedAt(website: string, session: string): number {
    return Math.max(this.#now() - RTM_LATENCY_MS, this.#heardInOrder.get(conversationKey(website, session)) ?? -Infinity);
  }

  /** Drains the outbox left by an earlier run, reads the recent threads it may have missed, then sweeps for due items every few seconds. */
  async start(): Promise<void> {
    this.#since = await this.#marker();
    const pending = await this.#pending({ limit: 1_000 });
    for (const { website, session } of pending) this.#queue.schedule(website, session);
    if (pending.length) this.#o.log.info({ conversations: pending.length }, 'delivering what the outbox still held');
    if (this.#o.guardrails.catchUpWindowMs > 0) await this.catchUp();
    const every = this.#o.sweepMs ?? 5_000;
    this.#sweep = setInterval(() => void this.#sweepDue(), every);
    this.#sweep.unref();
    const catchUpEvery = this.#o.catchUpEveryMs ?? DEFAULT_CATCH_UP_EVERY_MS;
    if (catchUpEvery > 0 && this.#o.guardrails.catchUpWindowMs > 0) {
      this.#catchUpTimer = setInterval(() => this.#catchUp.lookForUnread(), catchUpEvery);
      this.#catchUpTimer.unref();
    }
  }

  /**
   * One Crisp event (from RTM or a Web Hook). `timestamp`: the hook envelope's, when there is one;
   * `ordered`: the events come in the order Crisp sent them (RTM's one socket; Web Hooks keep none).
   */
  handle(event: CrispEvent, meta: { timestamp?: number; ordered?: boolean } = {}): void {
    this.#stats.events++;
    if (this.#closed) return;
    const got = intake(event, this.#o.guardrails);
    if (meta.ordered && (got.kind === 'visitor_message' || got.kind === 'operator_message')) this.#heard(got.website, got.session, got.kind === 'visitor_message' ? got.message.timestamp : got.timestamp);
    switch (got.kind) {
      case 'ignored':
        this.#stats.ignored[got.reason] = (this.#stats.ignored[got.reason] ?? 0) + 1;
        if (got.reason === 'website_not_allowed' && got.website !== undefined && !this.#outOfScope.has(got.website)) {
          // Once per website: the token hears it, the bot ignores it; a website meant to be answered is missing from the list.
          this.#outOfScope.add(got.website);
          this.#o.log.info({ event: event.event, website_id: got.website }, 'events of a website not in CRISP_WEBSITE_ID: ignored (said once per website; add it to the list to answer there)');
        } else if (got.reason === 'website_not_allowed' || got.reason === 'inbox_not_allowed') this.#o.log.debug({ event: event.event, website_id: got.website, reason: got.reason }, 'event out of scope');
        return;
      case 'visitor_message': {
        const m = got.message;
        const hint: ThreadMessage = { type: m.type, from: m.from, content: m.content, fingerprint: m.fingerprint, timestamp: m.timestamp, user: m.user, automated: m.automated };
        return this.#queue.schedule(got.website, got.session, { reconcile: true, firstContact: true, hints: [hint], resolvedAt: undefined });
      }
      case 'operator_message':
        // Our own replies come back as message:received; an operator's message is read from the thread, in order.
        if (this.#ours.has(got.fingerprint)) return void this.#stats.own++;
        return this.#queue.schedule(got.website, got.session, { reconcile: true, firstContact: false, hints: [], resolvedAt: undefined });
      case 'resolved':
        return this.#queue.schedule(got.website, got.session, { reconcile: false, firstContact: false, hints: [], resolvedAt: meta.timestamp ?? this.#rtmResolvedAt(got.website, got.session) });
      case 'removed':
        // Through the queue: a run in flight for it finishes (and saves) first, then all of it is erased.
        this.#heardInOrder.delete(conversationKey(got.website, got.session));
        return this.#queue.schedule(got.website, got.session, { reconcile: false, firstContact: false, hints: [], resolvedAt: undefined, removed: true });
    }
  }

  /**
   * Whether a raw event is our own reply coming back as `message:received`, told by its
   * fingerprint before the event's schema and the guardrails read it: over RTM, and over Web Hooks
   * with `message:received` subscribed, every other event the bot receives is one of these.
   */
  isOwnEcho(name: string, data: unknown): boolean {
    if (name !== 'message:received' || typeof data !== 'object' || data === null) return false;
    const fingerprint = (data as { fingerprint?: unknown }).fingerprint;
    if (typeof fingerprint !== 'number' || !this.#ours.has(fingerprint)) return false;
    this.#stats.events++;
    this.#stats.own++;
    return true;
  }

  /**
   * Queues every conversation of the allowed websites updated within the catch-up window whose last
   * message is the visitor's, or that the bot worked before; and every one the bot worked that was
   * resolved meanwhile, so that it starts again at the visitor's next message as after a live
   * `session:set_state` (which RTM does not replay, and a hook the bot missed may never be retried).
   * Returns how many. Asked again while one runs (an RTM socket that keeps reconnecting asks at each
   * authentication), it runs once more after that one, however often it was asked: the catch-ups of
   * a flapping socket never pile up, and what changed during the one running is still read.
   */
  catchUp(): Promise<number> {
    return this.#catchUp.run();
  }

  /** Resolves when no conversation is being worked or waiting for a worker (retry timers aside). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  stats(): AutopilotStats {
    return { ...this.#stats, ignored: { ...this.#stats.ignored }, delivery: { ...this.#outbox.stats } };
  }

  /** Stops taking events and timers; waits (up to `timeoutMs`) for the conversations being worked. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    clearInterval(this.#catchUpTimer);
    this.#queue.close();
    await atMost(this.#queue.idle(), timeoutMs);
    const { running, waiting } = this.#queue.pending;
    // Not lost, but late: what they owe is in the store's outbox, or found by the next start's catch-up.
    if (running + waiting > 0) this.#o.log.warn({ running, waiting, grace_ms: timeoutMs }, `${running + waiting} conversation${running + waiting > 1 ? 's' : ''} still in flight after the ${timeoutMs / 1000} s grace period cut off: the next start delivers what the outbox holds and catches up on the rest`);
    // The held locks go now, their acks first; a store that does not answer is not waited for past
    // a second: an unreleased lock expires by itself, and an item left unacked is looked for before it is sent again.
    await atMost(this.#locks.close(), LOCKS_CLOSE_MS);
  }

  // ---------------------------------------------------------------- one run of a conversation, under its lock

  async #work(c: QueuedConversation, work: Work, lease: Lease): Promise<void> {
    if (work.removed) return this.#erase(c);
    // The turn's items go at the end of the outbox, behind whatever an earlier run left there, and
    // one drain after the turn sends them all in order (also when the turn failed).
    let failed: unknown;
    let known: KnownOutbox | undefined;
    if (work.reconcile || work.resolvedAt !== undefined) {
      try {
        known = await this.#turns.turn(c, work);
      } catch (error) {
        failed = error;
      }
    }
    const operatorPaused = this.#turns.operatorPaused(c.key);
    const { retryAt, empty, reread } = await this.#outbox.drain(c.website, c.session, lease, known, operatorPaused);
    if (retryAt !== undefined) this.#queue.wake(c, retryAt);
    if (reread) this.#queue.schedule(c.website, c.session, { reconcile: true, firstContact: false, hints: [], resolvedAt: undefined });
    this.#turns.drained(c.key, empty && failed === undefined);
    if (failed !== undefined) throw failed;
    if (this.#failing.delete(c.key)) this.#endRunsOutage(c.key);
  }

  /**
   * The conversation was deleted in Crisp: what the store keeps of it (the visitor's answers, the
   * outbox) goes, as `crisp-mcp store forget` would do it, and what this process remembers of it.
   * A second event for it (RTM and a hook, a hook delivered again) finds nothing left: said at debug.
   */
  async #erase(c: QueuedConversation): Promise<void> {
    const erased = await this.#o.store.forget(c.key);
    this.#turns.forget(c.key);
    this.#outbox.forget(c.key);
    if (this.#failing.delete(c.key)) this.#endRunsOutage(c.key);
    const fields = { conversation: c.key, positions: erased.positions, drafts: erased.drafts, outbox_items: erased.outboxItems, once_keys: erased.onceKeys };
    if (erased.positions + erased.drafts + erased.outboxItems + erased.onceKeys === 0) return void this.#o.log.debug(fields, 'conversation removed in Crisp: the store held nothing of it');
    this.#o.log.info(fields, 'conversation removed in Crisp: what the store kept of it is erased');
  }

  /** A failing conversation was worked again (or dropped): the outage ends with the last of them. */
  #endRunsOutage(conversation: string): void {
    if (this.#failing.size > 0) return void this.#o.log.debug({ conversation, conversations_failing: this.#failing.size }, 'the conversation is worked again');
    this.#runsOutage.succeeded({ conversation, conversations: this.#failedInOutage }, 'the conversation is worked again');
    this.#failedInOutage = 0;
  }

  /** The delay before a failed run's work is tried again, or undefined to drop it. */
  #failed(c: QueuedConversation, error: unknown, failures: number): number | undefined {
    const failure = describeFailure(error);
    this.#stats.failures++;
    // Whatever the failed run left half done, the next one starts from the store.
    this.#turns.forget(c.key);
    if (error instanceof CrispError && !failure.retryable) {
      // The conversation is gone or off-limits: nothing to gain from trying again. A refused key
      // (revoked while the bot runs) drops every event from now on: that is an error to act on.
      this.#o.log[failure.status === 401 ? 'error' : 'warn']({ conversation: c.key, ...failure }, 'cannot read the conversation; its event is dropped');
      if (this.#failing.delete(c.key)) this.#endRunsOutage(c.key);
      return undefined;
    }
    // A Crisp that said when to come back (429 Retry-After) is not asked again before then.
    const delay = nextDelay(failures, FAILED_RUN_BACKOFF, failure.retryAfterMs);
    // It is tried again until it works (every 30 s at most): the first failure of the outage is the
    // warning, whichever conversation it is; the rest, of every conversation, are counted at debug,
    // and the run that works at last, of the last conversation failing, says so (#work).
    if (!this.#failing.has(c.key)) {
      this.#failing.add(c.key);
      this.#failedInOutage++;
    }
    this.#runsOutage.failed({ conversation: c.key, ...failure, failures, retry_in_ms: delay, conversations_failing: this.#failing.size }, 'working the conversation failed; trying again later');
    return delay;
  }

  async #sweepDue(): Promise<void> {
    if (this.#closed) return;
    try {
      for (const { website, session, conversation } of await this.#pending({ dueBy: this.#now(), limit: 200 })) {
        if (!this.#queue.busy(conversation)) this.#queue.schedule(website, session);
      }
      this.#sweepOutage.succeeded({}, 'the outbox sweep works again');
    } catch (error) {
      this.#sweepOutage.failed({ ...describeFailure(error) }, 'the outbox sweep failed');
    }
  }

  /**
   * The allowed websites' conversations with outbox items (due by `dueBy` when given), up to `limit`
   * per website: one query per website, so that no other user of the store's outbox (converse
   * queues, other websites) can crowd them out.
   */
  async #pending(opts: { dueBy?: number; limit: number }): Promise<Array<{ website: string; session: string; conversation: string }>> {
    const found: Array<{ website: string; session: string; conversation: string }> = [];
    for (const website of this.#o.guardrails.websites) {
      const prefix = conversationKey(website, ''); // `${website}/`
      for (const { conversation } of await this.#o.store.outboxPending({ ...opts, prefix })) {
        const session = conversation.slice(prefix.length);
        if (session) found.push({ website, session, conversation });
      }
    }
    return found;
  }

  /** When the bot first ran with this store and scenario (saved once). */
  async #marker(): Promise<number> {
    const { store, scenario } = this.#o;
    for (let attempt = 0; attempt < 3; attempt++) {
      const saved = await store.getPosition<{ since?: unknown }>(MARKER_KEY, scenario.name);
      if (saved && typeof saved.value.since === 'number') return saved.value.since;
      const since = this.#now();
      const result = await store.savePosition(MARKER_KEY, scenario.name, { since }, { expectedVersion: saved?.version ?? 0 });
      if (result.ok) return since;
    }
    return this.#now();
  }
}

/** Waits for `work`, but not longer than `ms` (the work itself goes on). */
async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
