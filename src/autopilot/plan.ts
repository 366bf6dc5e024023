// The autopilot's decisions as pure functions: given what the store holds for a conversation and
// the thread as Crisp shows it, which visitor messages are new, what the scenario does with each
// (the engine's advanceTurn), what the guardrails let through, and the value + outbox items to save in one go.
// No I/O and no clock: `now` and the step context come in, so a test is a table.
import { initialPosition, type Action, type Position, type Program, type ScenarioEvent, type StepContext } from '../scenario/index.js';
import { isEffect } from '../engine/effects.js';
import type { ThreadMessage } from '../engine/port.js';
import { advanceTurn, allActions, eventText, isInitial, operatorSpeaks, visitorEvent, type Advance } from '../engine/turn.js';
import type { OutboxInput } from '../store/index.js';
import {
  freshState, itemFingerprints, itemId, savedState, trimState, turnId,
  type AutopilotItem, type AutopilotState, type PauseReason, type ReadValue,
} from './state.js';
import { limitReplies, silencedByOperator, type Guardrails } from './guardrails.js';
import { withChannel, withPosition, type ConversationRecord } from '../engine/record.js';

/** What the planner reads of a message: from the REST thread, or from a live event's payload. */
export type { ThreadMessage } from '../engine/port.js';

export type PlanNote =
  | { kind: 'turn'; fingerprint: number; actions: number; sends: number; suppressed: number; start: boolean; restarted?: NonNullable<Advance['restarted']> }
  | { kind: 'skipped'; fingerprint: number; reason: 'paused' | 'handed_off' | 'duplicate' | 'unexpected_input' | 'unreadable' }
  | { kind: 'paused'; reason: PauseReason; by: string | null }
  | { kind: 'resumed' }
  | { kind: 'webhook_answer'; ok: boolean; actions: number };

export interface Plan {
  /** False when there is nothing to save (no message after the cursor, nothing else changed). */
  changed: boolean;
  /** The conversation's record to save: the position and this channel's part; the other channels' parts as read. */
  value: ConversationRecord;
  /** This channel's part of `value`, as readValue reads it back. */
  state: AutopilotState;
  outbox: OutboxInput[];
  /** Fingerprints the new items will post with (already in `value.autopilot.ours`). */
  ours: number[];
  notes: PlanNote[];
}

interface Common {
  program: Program;
  website: string;
  session: string;
  read: ReadValue;
  guard: Pick<Guardrails, 'replyBudget' | 'repeatWindowMs' | 'stepBudget' | 'catchUpWindowMs' | 'operatorHoldMs'>;
  now: number;
  /** Time and operator availability for step(). */
  context: StepContext;
}

export interface TurnInput extends Common {
  /** The thread, oldest first (live events' messages merged in). */
  thread: ThreadMessage[];
  /** Whether the bot may start on a conversation it never worked (false for catch-up of old conversations, and for operator messages). */
  firstContact: boolean;
  /** Fingerprints announced by live events: on first contact these are read even when older than the catch-up window. */
  announced?: ReadonlySet<number>;
  /** The conversation was resolved at this time (a `session:set_state` event). */
  resolvedAt?: number;
}

/** Reads the thread after the cursor and plans a turn per new visitor message; undefined when the bot must not touch the conversation. */
export function planTurn(input: TurnInput): Plan | undefined {
  const { read } = input;
  if (!read.state && !input.firstContact) return undefined;
  const plan = new Planner(input, read.state ?? freshState(), read.position, readByScenario(input.thread, read.position));
  if (!read.state) plan.changed = true; // the bot now knows this conversation
  if (input.resolvedAt !== undefined && (plan.state.restart_after ?? -Infinity) < input.resolvedAt) {
    plan.state = { ...plan.state, restart_after: input.resolvedAt };
    plan.changed = true;
  }
  for (const m of read.state ? afterCursor(input.thread, readFrom(read.state, input.resolvedAt)) : firstContact(input, read.position)) plan.read(m);
  // First contact with nothing to answer: remember the end of the thread, so it is not read again.
  const last = input.thread.at(-1);
  if (!read.state && last && (plan.state.cursor === null || plan.state.cursor.ts < last.timestamp)) plan.state = { ...plan.state, cursor: { ts: last.timestamp, fps: [last.fingerprint] } };
  return plan.result();
}

export interface WebhookInput extends Common {
  /** The outbox id of the webhook call. */
  itemId: string;
  answer: { ok: boolean; status: number | null; data: unknown };
}

/** Applies a webhook's answer once: undefined when the position does not wait for this call (its answer was applied before). */
export function planWebhookAnswer(input: WebhookInput): Plan | undefined {
  const { read } = input;
  if (!read.state || read.state.webhook !== input.itemId || !read.position) return undefined;
  const plan = new Planner(input, { ...read.state, webhook: null }, read.position);
  plan.changed = true;
  // The item's depth in the chain is how many webhooks this turn called before it.
  const advance = advanceTurn(input.program, read.position, { type: 'answer', answer: input.answer, calls: chainDepth(input.itemId) + 1 }, { ...input.context, budget: input.guard.stepBudget });
  plan.position = advance.position;
  // An operator who wrote while the call was out has the conversation: the answer still moves the scenario, but the bot says nothing.
  const all = read.state.paused?.reason === 'operator' ? allActions(advance).filter((a) => !silencedByOperator(a)) : allActions(advance);
  const actions = plan.limit(all, `webhook ${input.answer.ok} ${JSON.stringify(input.answer.data ?? null).slice(0, 1000)}`);
  plan.enqueue(actions, `${input.itemId}>`);
  plan.notes.push({ kind: 'webhook_answer', ok: input.answer.ok, actions: actions.length });
  return plan.result();
}

export function chainDepth(id: string): number {
  return id.split('>').length - 1;
}

// ---------------------------------------------------------------- reading the thread

/**
 * Where to read the thread from: the cursor, or — when a resolution comes in that happened before
 * the cursor while the bot was paused from before it — the resolution. Web Hooks keep no order: a
 * visitor who writes right after an operator resolves may be delivered first, and read while the
 * bot was still paused; read again from the resolution, that message is answered.
 */
export function readFrom(state: AutopilotState, resolvedAt: number | undefined): AutopilotState['cursor'] {
  const { cursor, paused } = state;
  if (resolvedAt === undefined || !cursor || !paused || paused.at > resolvedAt || cursor.ts <= resolvedAt) return cursor;
  return { ts: resolvedAt, fps: [] };
}

function after(m: ThreadMessage, cursor: AutopilotState['cursor']): boolean {
  return cursor === null || m.timestamp > cursor.ts || (m.timestamp === cursor.ts && !cursor.fps.includes(m.fingerprint));
}

function afterCursor(thread: ThreadMessage[], cursor: AutopilotState['cursor']): ThreadMessage[] {
  return thread.filter((m) => after(m, cursor));
}

/** Someone on the operator side writing to the visitor, not this bot. */
function isOperatorWriting(m: ThreadMessage, ours: ReadonlySet<number>): boolean {
  return operatorSpeaks(m) && !ours.has(m.fingerprint);
}

/**
 * A conversation the bot never worked: the visitor messages nobody answered — after the last
 * operator message (and after the one the scenario last read, if an agent drafted here) — that
 * are recent (the catch-up window) or were just announced by a live event. When that operator
 * message is recent (`operatorHoldMs`) and no resolution came after it, the operator has the
 * conversation: it is read first, so the bot pauses there as if the operator had taken over
 * while it ran, and answers none of the messages after it.
 */
function firstContact(input: TurnInput, position: Position | undefined): ThreadMessage[] {
  const { thread } = input;
  const none = new Set<number>(); // no state yet: none of the thread is ours
  let start = 0;
  let holding: ThreadMessage | undefined;
  for (let i = thread.length - 1; i >= 0; i--) {
    const m = thread[i]!;
    const operator = isOperatorWriting(m, none);
    if (operator || (position?.last_fingerprint != null && m.fingerprint === position.last_fingerprint)) {
      start = i + 1;
      const hold = input.guard.operatorHoldMs;
      // A person's message: one a scenario sent (this bot's, before its record was lost, or an agent's post_draft) is `automated`.
      if (operator && m.automated !== true && hold > 0 && m.timestamp >= input.now - hold && !(input.resolvedAt !== undefined && input.resolvedAt > m.timestamp)) holding = m;
      break;
    }
  }
  const floor = input.now - input.guard.catchUpWindowMs;
  const unanswered = thread.slice(start).filter((m) => m.from === 'user' && (m.timestamp >= floor || input.announced?.has(m.fingerprint)));
  return holding ? [holding, ...unanswered] : unanswered;
}

/**
 * The visitor messages the scenario has read already — on any channel: an agent's post_draft
 * advances the same position — up to the last one it read. The bot never feeds them again, even
 * when its own cursor is behind them.
 */
function readByScenario(thread: ThreadMessage[], position: Position | undefined): ReadonlySet<number> {
  const last = position?.last_fingerprint;
  if (last === null || last === undefined) return new Set();
  const at = thread.findIndex((m) => m.fingerprint === last);
  return new Set(thread.slice(0, at + 1).filter((m) => m.from === 'user').map((m) => m.fingerprint));
}

function scenarioEvent(m: ThreadMessage, start: boolean): ScenarioEvent | undefined {
  const read = visitorEvent(m);
  // Files, audio…: nothing a scenario reads; a first one still starts the scenario (its greeting).
  return start ? { type: 'start', ...(read ? { text: eventText(read) } : {}), fingerprint: m.fingerprint } : read;
}

// ---------------------------------------------------------------- the planner

class Planner {
  state: AutopilotState;
  position: Position | undefined;
  changed = false;
  readonly notes: PlanNote[] = [];
  readonly outbox: OutboxInput[] = [];
  readonly ours: number[] = [];
  readonly #ours: Set<number>;
  readonly #readByScenario: ReadonlySet<number>;
  /** Our own messages read from the thread, by fingerprint: their time. */
  readonly #oursRead = new Map<number, number>();
  #start: boolean;
  #suppressed = 0;

  constructor(
    private readonly input: Common,
    state: AutopilotState,
    position: Position | undefined,
    readByScenario: ReadonlySet<number> = new Set(),
  ) {
    this.#readByScenario = readByScenario;
    this.state = state;
    this.position = position;
    this.#ours = new Set(state.ours);
    this.#start = !position || isInitial(position, input.program);
  }

  /** One message of the thread, in order. */
  read(m: ThreadMessage): void {
    const { program, guard, context } = this.input;
    this.changed = true;
    this.#advance(m);
    const restartAfter = this.state.restart_after;
    if (restartAfter !== null && m.timestamp > restartAfter) {
      // Resolved before this message: the bot starts over here, even if it had handed off or paused.
      if (this.state.paused) this.notes.push({ kind: 'resumed' });
      this.state = { ...this.state, paused: null, restart_after: null };
      this.#start = true;
    }
    if (this.#ours.has(m.fingerprint)) return void this.#oursRead.set(m.fingerprint, m.timestamp);
    if (m.from === 'operator') {
      if (!operatorSpeaks(m) || this.state.paused) return;
      // An operator (or anyone on the operator side who is not this bot) wrote: the bot steps back.
      this.#withdraw();
      const by = m.user?.user_id ?? null;
      this.state = { ...this.state, paused: { reason: 'operator', at: m.timestamp, by } };
      this.notes.push({ kind: 'paused', reason: 'operator', by });
      return;
    }
    if (this.state.paused) return void this.notes.push({ kind: 'skipped', fingerprint: m.fingerprint, reason: 'paused' });
    if (this.#readByScenario.has(m.fingerprint)) return void this.notes.push({ kind: 'skipped', fingerprint: m.fingerprint, reason: 'duplicate' });
    const event = scenarioEvent(m, this.#start);
    if (!event) return void this.notes.push({ kind: 'skipped', fingerprint: m.fingerprint, reason: 'unreadable' });
    const start = this.#start;
    const advance = advanceTurn(program, this.position ?? initialPosition(program), { type: 'event', event }, { ...context, budget: guard.stepBudget });
    this.#start = false;
    this.position = advance.position;
    const all = allActions(advance);
    if (advance.ignored && all.length === 0) return void this.notes.push({ kind: 'skipped', fingerprint: m.fingerprint, reason: advance.ignored });
    const before = this.outbox.length;
    const suppressedBefore = this.#suppressed;
    const actions = this.limit(all, eventText(event));
    this.enqueue(actions, turnId(this.input.session, m.fingerprint));
    this.notes.push({
      kind: 'turn',
      fingerprint: m.fingerprint,
      actions: this.outbox.length - before,
      sends: actions.filter((a) => a.type === 'send_message').length,
      suppressed: this.#suppressed - suppressedBefore,
      start,
      ...(advance.restarted ? { restarted: advance.restarted } : {}),
    });
  }

  /** The reply budget and identical-reply suppression; running out of budget pauses the bot here. */
  limit(actions: readonly Action[], input: string): Action[] {
    const limited = limitReplies(actions, this.state, input, this.input.guard, this.input.now);
    this.state = limited.state;
    this.#suppressed += limited.suppressed;
    if (limited.overBudget) {
      this.state = { ...this.state, paused: { reason: 'reply_budget', at: this.input.now, by: null } };
      this.notes.push({ kind: 'paused', reason: 'reply_budget', by: null });
    }
    return limited.actions;
  }

  enqueue(actions: readonly Action[], parent: string): void {
    const { website, session, program } = this.input;
    actions.forEach((action, i) => {
      const id = itemId(parent, i);
      const payload: AutopilotItem = { kind: 'autopilot', website, session, scenario: program.scenario, action };
      this.outbox.push({ id, payload });
      const fps = itemFingerprints(id, action);
      for (const fp of fps) this.#ours.add(fp);
      this.ours.push(...fps);
      // The runner stops at a webhook or a helpdesk search: its answer comes back through the outbox, applied once.
      if (isEffect(action)) this.state = { ...this.state, webhook: id };
    });
  }

  /** The operator wrote after the visitor messages this turn answered: they have those, and this turn's answers to them are not sent. */
  #withdraw(): void {
    const silenced = this.outbox.filter((item) => silencedByOperator((item.payload as AutopilotItem).action));
    if (!silenced.length) return;
    const gone = new Set(silenced.flatMap((item) => itemFingerprints(item.id ?? '', (item.payload as AutopilotItem).action)));
    const keep = this.outbox.filter((item) => !silenced.includes(item));
    this.outbox.splice(0, this.outbox.length, ...keep);
    const ours = this.ours.filter((fp) => !gone.has(fp));
    this.ours.splice(0, this.ours.length, ...ours);
  }

  #advance(m: ThreadMessage): void {
    const cursor = this.state.cursor;
    if (cursor === null || m.timestamp > cursor.ts) this.state = { ...this.state, cursor: { ts: m.timestamp, fps: [m.fingerprint] } };
    else if (m.timestamp === cursor.ts && !cursor.fps.includes(m.fingerprint)) this.state = { ...this.state, cursor: { ts: cursor.ts, fps: [...cursor.fps, m.fingerprint] } };
  }

  result(): Plan {
    const { program, guard, now } = this.input;
    const position = this.position ?? initialPosition(program);
    // An own message older than the cursor is never read again: its fingerprint need not be kept
    // (the record is read and written on every turn; this keeps it from growing with the thread).
    const cursorTs = this.state.cursor?.ts ?? -Infinity;
    const passed = (fp: number) => (this.#oursRead.get(fp) ?? Infinity) < cursorTs;
    const ours = this.#oursRead.size ? this.state.ours.filter((fp) => !passed(fp)) : this.state.ours;
    const state = trimState({ ...this.state, ours: [...ours, ...this.ours] }, now, { budgetMs: guard.replyBudget.windowMs, repeatMs: guard.repeatWindowMs });
    const value = withChannel(withPosition(this.input.read.record, position), 'autopilot', savedState(state));
    return { changed: this.changed, value, state, outbox: this.outbox, ours: this.ours, notes: this.notes };
  }
}
