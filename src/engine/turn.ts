// The ONE turn of the conversation engine, for every channel — the MCP tools' draft and post, the
// autopilot, the converse API. `advanceTurn` feeds the runner one input (a visitor's event, or the
// answer of the effect it stopped at) under the turn limits of limits.ts, and says what to carry
// out and which effect, if any, to perform next; it is pure. `runTurn` drives it through a
// channel's port: carry the actions out, perform the effect, feed its answer back, until the
// scenario waits for the visitor. The autopilot performs each effect later, from its outbox, and
// feeds the answer to advanceTurn when it comes back.
import type { Program } from '../scenario/compile.js';
import { step, type Action, type FoundArticle, type Position, type ScenarioEvent, type StepContext, type StepResult } from '../scenario/run.js';
import { webhookIdempotencyKey } from './actions.js';
import { isEffect, performEffect } from './effects.js';
import { capWebhookChain, limitRegexBacktracking } from './limits.js';
import type { LoadedScenario } from './library.js';
import type { ActionOutcome, EffectAction, EffectAnswer, EffectPort, PlainAction, ThreadMessage } from './port.js';
import type { RoutingSeen } from './routing.js';

/** The store key of a conversation: records, drafts, outbox and lock are per conversation. */
export function conversationKey(website: string, session: string): string {
  return `${website}/${session}`;
}

/**
 * How long a turn's lock lives without being extended: what a conversation waits, at most, after
 * the process working it was killed (the autopilot's `--lock-ttl` default, post_draft, converse).
 */
export const TURN_LOCK_TTL_MS = 5_000;

/** The lock every turn of a conversation runs under (MCP posts and the autopilot alike). */
export function turnLockKey(website: string, session: string): string {
  return `turn:${conversationKey(website, session)}`;
}

/** What a turn feeds the runner: a visitor's event, or the answer of the turn's `calls`-th effect. */
export type TurnInput = { type: 'event'; event: ScenarioEvent } | { type: 'answer'; answer: Pick<EffectAnswer, 'ok' | 'status' | 'data'>; calls: number };

/** One advance: the position after it, the actions to carry out in order, and the effect to perform next (null: the turn is done). */
export interface Advance extends Omit<StepResult, 'actions'> {
  actions: PlainAction[];
  effect: EffectAction | null;
}

export function advanceTurn(program: Program, position: Position, input: TurnInput, context: StepContext = {}): Advance {
  limitRegexBacktracking();
  const result = input.type === 'event' ? step(program, position, input.event, context) : capWebhookChain(step(program, position, answerEvent(program, position, input.answer), context), input.calls);
  return { ...result, ...pending(result.actions) };
}

/** Actions split at the effect the runner stopped at (it is the last of its step). */
export function pending(actions: readonly Action[]): Pick<Advance, 'actions' | 'effect'> {
  const at = actions.findIndex(isEffect);
  return at < 0 ? { actions: actions as PlainAction[], effect: null } : { actions: actions.slice(0, at) as PlainAction[], effect: actions[at] as EffectAction };
}

/** An advance's actions as one list, its effect last: what a draft shows and the autopilot's outbox holds. */
export function allActions(advance: Pick<Advance, 'actions' | 'effect'>): Action[] {
  return advance.effect ? [...advance.actions, advance.effect] : advance.actions;
}

/** The event an effect's answer is for the block that waits on it. */
function answerEvent(program: Program, position: Position, answer: Pick<EffectAnswer, 'ok' | 'status' | 'data'>): ScenarioEvent {
  return program.code[position.pc]?.op === 'articles'
    ? { type: 'articles_result', articles: answer.ok ? foundArticles(answer.data) : [] }
    : { type: 'webhook_result', ok: answer.ok, ...(answer.status !== null ? { status: answer.status } : {}), data: answer.data };
}

/** The articles of a helpdesk search's answer (effects.ts), as the runner takes them. */
function foundArticles(data: unknown): FoundArticle[] {
  const list = (data as { articles?: unknown } | null)?.articles;
  if (!Array.isArray(list)) return [];
  return list.filter((a): a is FoundArticle => typeof (a as FoundArticle | null)?.title === 'string' && typeof (a as FoundArticle).url === 'string');
}

export interface TurnRun {
  position: Position;
  /** Every action carried out, in order; `follow_up` ones came from an effect's answer. */
  outcomes: Array<ActionOutcome & { follow_up: boolean }>;
  /** The answers of the effects performed, in order. */
  answers: EffectAnswer[];
}

export interface RunOptions {
  /** Names the turn for the port (message fingerprints) and the webhooks' Idempotency-Keys: stable across retries. */
  turn: string;
  /** The turn was carried out before and may have reached the other side. */
  again?: boolean;
  /** The step context for each effect's answer (the time; operators online). */
  context: () => StepContext | Promise<StepContext>;
  /** How the turn found the conversation routed: its routing writes stand down if a person changed that since (ActionRef.seen). */
  seen?: RoutingSeen | undefined;
}

/** Carries an advance out through `port`, performing each effect and advancing on its answer, until the scenario waits for the visitor. */
export async function runTurn(loaded: LoadedScenario, first: Pick<Advance, 'position' | 'actions' | 'effect'>, port: EffectPort, options: RunOptions): Promise<TurnRun> {
  const run: TurnRun = { position: first.position, outcomes: [], answers: [] };
  let next = first;
  for (let calls = 0; ; ) {
    const prefix = calls === 0 ? 'a' : `w${calls}.`;
    for (const [i, action] of next.actions.entries()) {
      const ref = { scenario: loaded.name, turn: options.turn, step: `${prefix}${i}`, again: options.again === true, seen: options.seen };
      run.outcomes.push({ ...(await port.carryOut(action, ref)), follow_up: calls > 0 });
    }
    if (!next.effect) return run;
    calls++;
    const answer = await performEffect(loaded, next.effect, webhookIdempotencyKey(options.turn, `w${calls}`), port);
    run.answers.push(answer);
    next = advanceTurn(loaded.program, run.position, { type: 'answer', answer, calls }, await options.context());
    run.position = next.position;
  }
}

const readsOperators = new WeakMap<Program, boolean>();

/** What a step may read: the time, and (only for programs that ask) whether an operator is online. */
export async function stepContext(program: Program, now: number, operatorsOnline: () => Promise<boolean>): Promise<StepContext> {
  let needed = readsOperators.get(program);
  if (needed === undefined) {
    // Once per program, not per turn: a turn stays independent of the graph's size.
    needed = program.code.some((i) => i.op === 'cond' && i.when.some((c) => c.kind === 'operators'));
    readsOperators.set(program, needed);
  }
  return { now, operatorsAvailable: needed ? await operatorsOnline() : false };
}

/** A saved position that is its program's untouched start (new, or reset by reset_scenario): the next message starts it. */
export function isInitial(p: Position, program: Program): boolean {
  return p.pc === program.start && !p.waiting && !p.handed_off && !p.ended && p.last_fingerprint === null && Object.keys(p.vars).length === 0;
}

/**
 * Whether a message from the operator side is someone taking the conversation over: not a private
 * note (written for operators), nor an `event` message (what an integration logs into the thread,
 * such as "order shipped": no one wrote to the visitor). The autopilot pauses on it; post_draft
 * refuses a draft a person answered before.
 */
export function operatorSpeaks(message: { from?: string; type?: string }): boolean {
  return message.from === 'operator' && message.type !== 'note' && message.type !== 'event';
}

/** What the scenario reads of a visitor's message: its text, or the button it chose; undefined for files, audio… */
export function visitorEvent(m: ThreadMessage): Extract<ScenarioEvent, { type: 'visitor_text' | 'choice' }> | undefined {
  if (m.type === 'text' && typeof m.content === 'string') return { type: 'visitor_text', text: m.content, fingerprint: m.fingerprint };
  if (m.type === 'picker' && m.content && typeof m.content === 'object') {
    const chosen = (m.content as { choices?: Array<{ value?: unknown; selected?: unknown }> }).choices?.find((c) => c.selected === true && typeof c.value === 'string');
    if (chosen) return { type: 'choice', value: chosen.value as string, fingerprint: m.fingerprint };
  }
  return undefined;
}

/** The visitor's words an event carries ('' for none). */
export function eventText(event: ScenarioEvent): string {
  switch (event.type) {
    case 'start':
      return event.text ?? '';
    case 'visitor_text':
      return event.text;
    case 'choice':
      return event.value;
    default:
      return '';
  }
}
