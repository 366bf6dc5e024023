// One conversation's turn, under its lock: the thread read after the saved cursor, the scenario
// planned on it, and position + cursor + outbox items saved in ONE savePosition (compare-and-set).
// The record is not read back after this process saved it: the next turn plans against the record
// as saved (kept in memory, a bounded number of conversations), and the save's compare-and-set on
// the version proves nobody else — a replica, an agent's post_draft — wrote since; a conflict
// plans again from the store.
import { withOlder, type CrispClient } from '../crisp/client.js';
import type { Conversation } from '../crisp/schemas.js';
import type { Store } from '../store/index.js';
import type { LoadedScenario } from '../engine/library.js';
import type { OpenConversation } from '../engine/port.js';
import type { ConversationRecord } from '../engine/record.js';
import { conversationKey, operatorSpeaks, stepContext } from '../engine/turn.js';
import { planTurn, readFrom, type Plan, type ThreadMessage } from './plan.js';
import { knownOutbox, type KnownOutbox, type OutboxDeliverer } from './outbox.js';
import type { QueuedConversation, Work } from './queue.js';
import type { RecentSet } from './recent-set.js';
import { readValue, retentionOf, withRoutingSeen, type AutopilotItem, type AutopilotState, type ReadValue } from './state.js';
import type { Guardrails } from './guardrails.js';

/** The thread pages read back at most per run (20 messages each). */
const MAX_PAGES = 10;
/** Conversations whose last saved record this process keeps; past it, the oldest is dropped (and read from the store next time). */
const MAX_KEPT = 10_000;

/** The record of this process's last save in a conversation, with its version. */
interface Kept {
  version: number;
  read: ReadValue;
  /** This process's last drain left the conversation's outbox empty (and nobody has saved since, which the save's compare-and-set proves). */
  outboxEmpty: boolean;
}

export interface TurnsOptions {
  crisp: CrispClient;
  store: Store;
  scenario: LoadedScenario;
  guardrails: Guardrails;
  openConversation: OpenConversation;
  now: () => number;
  /** The fingerprints of the bot's own messages: a plan's are added before anything is sent. */
  ours: RecentSet<number>;
  outbox: OutboxDeliverer;
  /** The stats a turn adds to (AutopilotStats' fields of the same names). */
  counts: { recordsKept: number; conflicts: number };
  /** Told of every plan saved. */
  report: (conversation: string, plan: Plan) => void;
}

/** The autopilot's turns, planned against the records this process saved last. */
export class ConversationTurns {
  readonly #o: TurnsOptions;
  readonly #kept = new Map<string, Kept>();

  constructor(options: TurnsOptions) {
    this.#o = options;
  }

  /** The record kept is no longer the latest (a webhook's answer was saved, a run failed half done). */
  forget(key: string): void {
    this.#kept.delete(key);
  }

  /** Whether the record kept says an operator paused the bot in this conversation. */
  operatorPaused(key: string): boolean {
    return this.#kept.get(key)?.read.state?.paused?.reason === 'operator';
  }

  /** After a drain: whether the conversation's outbox is empty now (false after a failed turn). */
  drained(key: string, empty: boolean): void {
    const kept = this.#kept.get(key);
    if (kept) kept.outboxEmpty = empty;
  }

  /**
   * Whether the visitor's last message may need this bot: not when its saved record has read it (the
   * cursor is on it), is paused there (until a resolution, which comes as an event), or has none
   * for a conversation older than the bot's first run (`since`; answered live only).
   */
  async unread(website: string, c: Conversation, since: number): Promise<boolean> {
    const key = conversationKey(website, c.session_id);
    const { state } = (this.#kept.get(key) ?? (await this.#load(key))).read;
    if (!state) return c.created_at >= since;
    const fingerprint = c.preview_message?.fingerprint;
    return !state.paused && (fingerprint === undefined || !state.cursor?.fps.includes(fingerprint));
  }

  /** Plans and saves the turn; returns the conversation's whole outbox when it knows it without reading the store. */
  async turn(c: QueuedConversation, work: Work): Promise<KnownOutbox | undefined> {
    const { store, scenario, guardrails } = this.#o;
    for (let attempt = 0; attempt < 5; attempt++) {
      // The record of this process's own last save, unless a compare-and-set just proved it old.
      const kept = attempt === 0 ? this.#kept.get(c.key) : undefined;
      if (kept) this.#o.counts.recordsKept++;
      const { version, read, outboxEmpty } = kept ?? (await this.#load(c.key));
      if (!read.state && !work.firstContact) return outboxEmpty ? [] : undefined;
      const thread = await this.#thread(c, read.state ? readFrom(read.state, work.resolvedAt) : null, work.hints);
      const now = this.#o.now();
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
      const outbox = await withRoutingSeen(plan.outbox, () => this.#o.openConversation(c.website, c.session).routing());
      // Known as ours before anything is sent, so their message:received never reads as an operator's.
      for (const fp of plan.ours) this.#o.ours.add(fp);
      // The items delivered since the last save are acked by this one.
      const ack = this.#o.outbox.unacked(c.key);
      const result = await store.savePosition(c.key, scenario.name, plan.value, { expectedVersion: version, outbox, ...(ack ? { ack } : {}), ...retentionOf(plan.state) });
      if (result.ok) {
        if (ack) this.#o.outbox.acked(c.key, ack);
        this.#o.outbox.appended(result.outbox);
        this.#keep(c.key, result.version, plan.value, plan.state);
        this.#o.report(c.key, plan);
        return outboxEmpty ? knownOutbox(c.key, result.outbox, outbox.map((item) => item.payload as AutopilotItem), now) : undefined;
      }
      this.#kept.delete(c.key);
      this.#o.counts.conflicts++;
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
    const floor = cursor ? cursor.ts : this.#o.now() - guardrails.catchUpWindowMs;
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
}

/** The thread with the messages live events announced that it does not show yet, in time order. */
function withHints(thread: ThreadMessage[], hints: readonly ThreadMessage[]): ThreadMessage[] {
  const missing = hints.filter((h) => !thread.some((m) => m.fingerprint === h.fingerprint));
  return missing.length ? [...thread, ...missing].sort((a, b) => a.timestamp - b.timestamp) : thread;
}
