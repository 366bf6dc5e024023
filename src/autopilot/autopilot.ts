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
// The record is not read back after this process saved it: the next turn plans against the record
// as saved (kept in memory, a bounded number of conversations), and the save's compare-and-set on
// the version proves nobody else — a replica, an agent's post_draft — wrote since; a conflict
// plans again from the store.
import { withOlder, type CrispClient } from '../crisp/client.js';
import type { Conversation } from '../crisp/schemas.js';
import { CrispError } from '../crisp/errors.js';
import type { CrispEvent } from '../crisp/rtm.js';
import { OutageLog, type Logger } from '../log.js';
import { HeldLocks, type Lease, type Store } from '../store/index.js';
import { planTurn, readFrom, type Plan, type ThreadMessage } from './plan.js';
import { DEFAULT_OUTBOX_RETRY, OutboxDeliverer, describeFailure, knownOutbox, type DeliveryStats, type KnownOutbox, type OutboxRetry } from './outbox.js';
import { ConversationQueue, type QueuedConversation, type Work } from './queue.js';
import { RecentSet } from './recent-set.js';
import { readValue, retentionOf, type AutopilotItem, type AutopilotState, type ReadValue } from './state.js';
import { intake, operatorSpeaks, type Guardrails, type IgnoredReason } from './guardrails.js';
import { backoffDelay, type Backoff } from '../retry.js';
import type { LoadedScenario } from '../engine/library.js';
import { conversationKey, stepContext, turnLockKey, TURN_LOCK_TTL_MS } from '../engine/turn.js';
import type { ConversationRecord } from '../engine/record.js';
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
/** The thread pages read back at most per run (20 messages each). */
const MAX_PAGES = 10;
/** Where the time the bot first ran is kept (conversation key, then the scenario name). */
const MARKER_KEY = 'autopilot';
/** An RTM `session:set_state` carries no time: the resolution is taken as this much before its arrival. */
const RTM_LATENCY_MS = 250;
/** How often a running bot looks for visitor messages no event brought it (catchUpEveryMs). */
const DEFAULT_CATCH_UP_EVERY_MS = 60_000;
/** How long close() waits for the held locks to be released. */
const LOCKS_CLOSE_MS = 1_000;
/** Conversations whose last saved record this process keeps; past it, the oldest is dropped (and read from the store next time). */
const MAX_KEPT = 10_000;

/** The record of this process's last save in a conversation, with its version. */
interface Kept {
  version: number;
  read: ReadValue;
  /** This process's last drain left the conversation's outbox empty (and nobody has saved since, which the save's compare-and-set proves). */
  outboxEmpty: boolean;
}

export class Autopilot {
  readonly #o: AutopilotOptions;
  readonly #now: () => number;
  readonly #lockTtlMs: number;
  readonly #queue: ConversationQueue;
  readonly #ours = new RecentSet(50_000);
  /** Websites off CRISP_WEBSITE_ID whose events were named once at info (a plugin token hears every website it is installed on). */
  readonly #outOfScope = new RecentSet<string>(1_000);
  readonly #outbox: OutboxDeliverer;
  readonly #locks: HeldLocks;
  #closed = false;
  #since = 0;
  #sweep: NodeJS.Timeout | undefined;
  #catchUpTimer: NodeJS.Timeout | undefined;
  #lookingForUnread: Promise<number> | undefined;
  #stats: Omit<AutopilotStats, 'delivery'> = { events: 0, ignored: {}, own: 0, turns: 0, queued: 0, suppressed: 0, paused: 0, conflicts: 0, failures: 0, recordsKept: 0 };
  readonly #kept = new Map<string, Kept>();
  /** The catch-up running, and whether it was asked for again meanwhile. */
  #catchingUp: Promise<number> | undefined;
  #catchUpAgain = false;
  /** The sweep and the catch-up run on timers: a store or Crisp outage is told once each way, not once a run. */
  readonly #sweepOutage: OutageLog;
  readonly #catchUpOutages = new Map<string, OutageLog>();
  /** Conversations whose runs keep failing, and since when. */
  readonly #failing = new Map<string, number>();

  constructor(options: AutopilotOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#lockTtlMs = options.lockTtlMs ?? TURN_LOCK_TTL_MS;
    this.#sweepOutage = new OutageLog(options.log, this.#now);
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
      onSaved: (key) => this.#kept.delete(key),
      onPlanned: (key, plan) => this.#report(key, plan),
    });
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
      // A catch-up still running (at start, an RTM reconnect, the last of these) reads what this one would.
      this.#catchUpTimer = setInterval(() => {
        if (this.#catchingUp || this.#lookingForUnread) return;
        this.#lookingForUnread = this.#catchUpOnce({ unreadOnly: true }).finally(() => (this.#lookingForUnread = undefined));
      }, catchUpEvery);
      this.#catchUpTimer.unref();
    }
  }

  /** One Crisp event (from RTM or a Web Hook). `timestamp`: the hook envelope's, when there is one. */
  handle(event: CrispEvent, meta: { timestamp?: number } = {}): void {
    this.#stats.events++;
    if (this.#closed) return;
    const got = intake(event, this.#o.guardrails);
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
        return this.#queue.schedule(got.website, got.session, { reconcile: false, firstContact: false, hints: [], resolvedAt: meta.timestamp ?? this.#now() - RTM_LATENCY_MS });
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
    if (this.#catchingUp) {
      this.#catchUpAgain = true;
      return this.#catchingUp;
    }
    const rounds = async () => {
      let queued = 0;
      do {
        this.#catchUpAgain = false;
        queued += await this.#catchUpOnce();
      } while (this.#catchUpAgain && !this.#closed);
      return queued;
    };
    this.#catchingUp = rounds().finally(() => (this.#catchingUp = undefined));
    return this.#catchingUp;
  }

  /**
   * `unreadOnly` (the periodic catch-up of a running bot): only the conversations whose last message
   * is a visitor's that the saved record has not read (see #unread) — not the resolved ones, which a
   * running bot is told of live.
   */
  async #catchUpOnce({ unreadOnly = false } = {}): Promise<number> {
    const { guardrails, log, store, scenario } = this.#o;
    const floor = this.#now() - guardrails.catchUpWindowMs;
    let queued = 0;
    for (const website of guardrails.websites) {
      try {
        for await (const c of this.#updatedSince(website, floor, { filter_not_resolved: true })) {
          if (unreadOnly) {
            if (c.preview_message?.from !== 'user' || this.#closed || !(await this.#unread(website, c))) continue;
          } else if (c.preview_message?.from !== 'user' && !(await store.getPosition(conversationKey(website, c.session_id), scenario.name))) {
            // The last message is the visitor's, or the bot worked this conversation before: its own
            // replies may be the last messages with a visitor message before them that it only held in
            // memory when it stopped (killed mid-turn). An operator's last word elsewhere needs no read.
            continue;
          }
          // Conversations older than the bot's first run are answered live only, never swept up.
          this.#queue.schedule(website, c.session_id, { reconcile: true, firstContact: c.created_at >= this.#since, hints: [], resolvedAt: undefined });
          queued++;
        }
        if (!unreadOnly) {
          for await (const c of this.#updatedSince(website, floor, { filter_resolved: true })) {
            if (!(await store.getPosition(conversationKey(website, c.session_id), scenario.name))) continue;
            // Resolved at the latest when it was last updated: a visitor writing since would have reopened it.
            this.#queue.schedule(website, c.session_id, { reconcile: false, firstContact: false, hints: [], resolvedAt: c.updated_at });
            queued++;
          }
        }
        this.#catchUpOutage(website).succeeded({ website_id: website }, 'catch-up lists conversations again');
      } catch (error) {
        this.#catchUpOutage(website).failed({ website_id: website, ...describeFailure(error) }, 'catch-up could not list conversations');
      }
    }
    if (queued && unreadOnly) log.info({ conversations: queued }, 'catch-up: reading threads whose last visitor message no event brought here (or not yet)');
    else if (queued) log.info({ conversations: queued }, 'catch-up: reading threads that may hold unanswered messages or were resolved');
    return queued;
  }

  /**
   * Whether the visitor's last message may need this bot: not when its saved record has read it (the
   * cursor is on it), is paused there (until a resolution, which comes as an event), or has none
   * for a conversation older than the bot's first run (answered live only).
   */
  async #unread(website: string, c: Conversation): Promise<boolean> {
    const key = conversationKey(website, c.session_id);
    const { state } = (this.#kept.get(key) ?? (await this.#load(key))).read;
    if (!state) return c.created_at >= this.#since;
    const fingerprint = c.preview_message?.fingerprint;
    return !state.paused && (fingerprint === undefined || !state.cursor?.fps.includes(fingerprint));
  }

  /** The website's conversations in scope updated since `floor`, newest first (at most 20 pages of 50). */
  async *#updatedSince(website: string, floor: number, filter: { filter_resolved?: true; filter_not_resolved?: true }): AsyncGenerator<Conversation> {
    const { crisp, guardrails } = this.#o;
    for (let page = 1; page <= 20; page++) {
      const list = await crisp.conversations.list(website, page, { per_page: 50, ...filter, order_date_updated: true });
      for (const c of list) {
        if (c.updated_at < floor) return;
        if (guardrails.inboxes && !guardrails.inboxes.has(c.inbox_id ?? 'default')) continue;
        yield c;
      }
      if (list.length < 50) return;
    }
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
    // The turn's items go at the end of the outbox, behind whatever an earlier run left there, and
    // one drain after the turn sends them all in order (also when the turn failed).
    let failed: unknown;
    let known: KnownOutbox | undefined;
    if (work.reconcile || work.resolvedAt !== undefined) {
      try {
        known = await this.#turn(c, work);
      } catch (error) {
        failed = error;
      }
    }
    const operatorPaused = this.#kept.get(c.key)?.read.state?.paused?.reason === 'operator';
    const { retryAt, empty, reread } = await this.#outbox.drain(c.website, c.session, lease, known, operatorPaused);
    if (retryAt !== undefined) this.#queue.wake(c, retryAt);
    if (reread) this.#queue.schedule(c.website, c.session, { reconcile: true, firstContact: false, hints: [], resolvedAt: undefined });
    const kept = this.#kept.get(c.key);
    if (kept) kept.outboxEmpty = empty && failed === undefined;
    if (failed !== undefined) throw failed;
    const failingSince = this.#failing.get(c.key);
    if (failingSince !== undefined) {
      this.#failing.delete(c.key);
      this.#o.log.info({ conversation: c.key, down_ms: this.#now() - failingSince }, 'the conversation is worked again');
    }
  }

  /** The delay before a failed run's work is tried again, or undefined to drop it. */
  #failed(c: QueuedConversation, error: unknown, failures: number): number | undefined {
    const failure = describeFailure(error);
    this.#stats.failures++;
    // Whatever the failed run left half done, the next one starts from the store.
    this.#kept.delete(c.key);
    if (error instanceof CrispError && !failure.retryable) {
      // The conversation is gone or off-limits: nothing to gain from trying again. A refused key
      // (revoked while the bot runs) drops every event from now on: that is an error to act on.
      this.#o.log[failure.status === 401 ? 'error' : 'warn']({ conversation: c.key, ...failure }, 'cannot read the conversation; its event is dropped');
      this.#failing.delete(c.key);
      return undefined;
    }
    const delay = backoffDelay(failures, FAILED_RUN_BACKOFF);
    // It is tried again until it works (every 30 s at most): the first failure is the warning; the
    // rest are counted, and the run that works at last says so (#work).
    if (failures === 1) this.#failing.set(c.key, this.#now());
    this.#o.log[failures === 1 ? 'warn' : 'debug']({ conversation: c.key, ...failure, failures, retry_in_ms: delay }, 'working the conversation failed; trying again later');
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

  #catchUpOutage(website: string): OutageLog {
    let outage = this.#catchUpOutages.get(website);
    if (!outage) this.#catchUpOutages.set(website, (outage = new OutageLog(this.#o.log, this.#now)));
    return outage;
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

  // ---------------------------------------------------------------- one turn

  /** Plans and saves the turn; returns the conversation's whole outbox when it knows it without reading the store. */
  async #turn(c: QueuedConversation, work: Work): Promise<KnownOutbox | undefined> {
    const { store, scenario, guardrails } = this.#o;
    for (let attempt = 0; attempt < 5; attempt++) {
      // The record of this process's own last save, unless a compare-and-set just proved it old.
      const kept = attempt === 0 ? this.#kept.get(c.key) : undefined;
      if (kept) this.#stats.recordsKept++;
      const { version, read, outboxEmpty } = kept ?? (await this.#load(c.key));
      if (!read.state && !work.firstContact) return outboxEmpty ? [] : undefined;
      const thread = await this.#thread(c, read.state ? readFrom(read.state, work.resolvedAt) : null, work.hints);
      const now = this.#now();
      const plan = planTurn({
        program: scenario.program,
        website: c.website,
        session: c.session,
        read,
        thread,
        firstContact: work.firstContact,
        announced: new Set(work.hints.map((h) => h.fingerprint)),
        resolvedAt: work.resolvedAt,
        guard: guardrails,
        now,
        context: await stepContext(scenario.program, now, () => this.#o.openConversation(c.website, c.session).operatorsOnline()),
      });
      if (!plan?.changed) return outboxEmpty ? [] : undefined;
      // Known as ours before anything is sent, so their message:received never reads as an operator's.
      for (const fp of plan.ours) this.#ours.add(fp);
      // The items delivered since the last save are acked by this one.
      const ack = this.#outbox.unacked(c.key);
      const result = await store.savePosition(c.key, scenario.name, plan.value, { expectedVersion: version, outbox: plan.outbox, ...(ack ? { ack } : {}), ...retentionOf(plan.state) });
      if (result.ok) {
        if (ack) this.#outbox.acked(c.key, ack);
        this.#outbox.appended(result.outbox);
        this.#keep(c.key, result.version, plan.value, plan.state);
        this.#report(c.key, plan);
        return outboxEmpty ? knownOutbox(c.key, result.outbox, plan.outbox.map((item) => item.payload as AutopilotItem), now) : undefined;
      }
      this.#kept.delete(c.key);
      this.#stats.conflicts++;
    }
    throw new Error(`the scenario position of ${c.key} kept changing; will try again`);
  }

  async #load(key: string): Promise<Kept> {
    const saved = await this.#o.store.getPosition(key, this.#o.scenario.name);
    return { version: saved?.version ?? 0, read: readValue(saved?.value), outboxEmpty: false };
  }

  /** Keeps the record just saved (the newest conversation last; the oldest dropped past MAX_KEPT). */
  #keep(key: string, version: number, record: ConversationRecord, state: AutopilotState): void {
    this.#kept.delete(key);
    if (this.#kept.size >= MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value as string);
    // Whether the outbox is empty is known once the drain after this save is over.
    this.#kept.set(key, { version, read: { record, position: record.scenario ?? undefined, state }, outboxEmpty: false });
  }

  /** The thread after the cursor (or, for a conversation new to the bot, back to its last operator answer), oldest first. */
  async #thread(c: QueuedConversation, cursor: AutopilotState['cursor'], hints: ThreadMessage[]): Promise<ThreadMessage[]> {
    const { crisp, guardrails } = this.#o;
    if (cursor) {
      // Only what is new since the cursor (its own millisecond included: a message there may be
      // unread), instead of the latest batch whose older messages the cursor has passed. More than a
      // batch of them: the thread is read back from its end, as below.
      const newer = await crisp.messages.summariesAfter(c.website, c.session, cursor.ts - 1);
      if (!newer.hasMore) return withHints(newer.messages, hints);
    }
    const floor = cursor ? cursor.ts : this.#now() - guardrails.catchUpWindowMs;
    let page = await crisp.messages.summaries(c.website, c.session);
    let all: ThreadMessage[] = page.messages;
    for (let n = 1; n < MAX_PAGES && page.hasMore && all.length > 0; n++) {
      const oldest = all[0]!;
      if (oldest.timestamp <= floor) break;
      if (!cursor && all.some(operatorSpeaks)) break;
      page = await crisp.messages.summaries(c.website, c.session, oldest.timestamp);
      all = withOlder(page.messages, all);
    }
    return withHints(all, hints);
  }

  #report(conversation: string, plan: Plan): void {
    const { log } = this.#o;
    for (const note of plan.notes) {
      switch (note.kind) {
        case 'turn':
          this.#stats.turns++;
          this.#stats.suppressed += note.suppressed;
          if (note.suppressed) log.info({ conversation, fingerprint: note.fingerprint, suppressed: note.suppressed }, 'identical reply to the same input suppressed');
          log.debug({ conversation, fingerprint: note.fingerprint, actions: note.actions, sends: note.sends, start: note.start }, 'turn saved');
          // Said, since the visitor sees the greeting again: the edit removed the block this conversation was at.
          if (note.restarted) {
            const { reason, from_block: block } = note.restarted;
            log.info(
              { conversation, block },
              reason === 'program_changed'
                ? `the scenario changed since this conversation's last turn and has no block ${block} (nor a migrations entry for it): it started again from the start`
                : `the saved position did not fit the scenario (block ${block}): it started again from the start`,
            );
          }
          break;
        case 'paused':
          this.#stats.paused++;
          log.info({ conversation, reason: note.reason, by: note.by }, note.reason === 'operator' ? 'an operator wrote: the bot is silent here until the conversation is resolved' : 'reply budget spent: the bot is silent here until the conversation is resolved');
          break;
        case 'resumed':
          log.info({ conversation }, 'the conversation was resolved: the bot starts again');
          break;
        case 'skipped':
          log.debug({ conversation, fingerprint: note.fingerprint, reason: note.reason }, 'visitor message not answered');
          break;
        case 'webhook_answer':
          break;
      }
    }
    // Why the bot goes silent in a conversation, told once: the turn that hands it over or breaks off
    // (a spent reply budget is told by its 'paused' note above).
    for (const { payload } of plan.outbox) {
      const action = (payload as Partial<AutopilotItem>).action;
      if (action?.type === 'handoff' && action.reason !== 'reply_budget') log.info({ conversation, reason: action.reason }, 'the scenario handed the conversation to a human: the bot is silent here until it is resolved');
      else if (action?.type === 'error') log.warn({ conversation, code: action.code, block: action.block, error: action.message }, 'the scenario broke off its turn');
    }
    this.#stats.queued += plan.outbox.filter((item) => (item.payload as { action?: { type?: string } }).action?.type === 'send_message').length;
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

/** The thread with the messages live events announced that it does not show yet, in time order. */
function withHints(thread: ThreadMessage[], hints: readonly ThreadMessage[]): ThreadMessage[] {
  const missing = hints.filter((h) => !thread.some((m) => m.fingerprint === h.fingerprint));
  return missing.length ? [...thread, ...missing].sort((a, b) => a.timestamp - b.timestamp) : thread;
}
