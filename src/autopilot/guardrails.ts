// The autopilot's guardrails as pure functions (Crisp's "make the bot production-ready" list):
// scope (allow-listed websites and inboxes), origin (only a visitor's `message:send`), rate control
// (a per-conversation reply budget, identical-reply suppression; the runner's own step budget is
// passed to step()), and the settings behind them with their flag parsing. Nothing here does I/O.
import { hash } from 'node:crypto';
import type { CrispEvent, MessageEventData } from '../crisp/rtm.js';
import type { Action } from '../scenario/index.js';
import { DEFAULT_STEP_BUDGET } from '../scenario/index.js';
import { normalize } from '../scenario/fold.js';
import type { AutopilotState } from './state.js';
import { addCount, addHash, HASH_CHARS, hasHash, liveCounts, liveHashes, total } from './rate-memory.js';

export interface Guardrails {
  /** Websites the bot may act on (CRISP_WEBSITE_ID). */
  websites: ReadonlySet<string>;
  /** Inboxes it may act on (--inboxes; `default` = conversations in no inbox); all when undefined. */
  inboxes: ReadonlySet<string> | undefined;
  /** At most `max` bot messages per conversation per `windowMs`; past it the bot pauses there and tells the operators. */
  replyBudget: { max: number; windowMs: number };
  /** The same reply to the same visitor input is not sent twice within this time (0: off). */
  repeatWindowMs: number;
  /** Instructions one turn of the scenario may run (the runner's step budget). */
  stepBudget: number;
  /** At start and after an RTM reconnect, conversations updated this recently are read again for missed messages (0: off). */
  catchUpWindowMs: number;
  /**
   * In a conversation new to the bot, an operator who wrote this recently (and was not followed by
   * a resolution) has it: the bot stays out, as if that operator had taken over while it ran (0: off).
   */
  operatorHoldMs: number;
}

export const DEFAULT_GUARDRAILS = {
  replyBudget: { max: 20, windowMs: 10 * 60_000 },
  repeatWindowMs: 60_000,
  stepBudget: DEFAULT_STEP_BUDGET,
  catchUpWindowMs: 15 * 60_000,
  operatorHoldMs: 24 * 60 * 60_000,
} as const satisfies Omit<Guardrails, 'websites' | 'inboxes'>;

export class GuardrailConfigError extends Error {
  override readonly name = 'GuardrailConfigError';
  readonly code = 'config';
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms", "90s", "10m", "1h", or a bare number of seconds; "0" is zero. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new GuardrailConfigError(`${flag} must be a duration like 500ms, 90s, 10m or 1h, got "${text}"`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}

/** "20/10m": 20 bot messages per conversation per 10 minutes. */
export function parseReplyBudget(text: string): Guardrails['replyBudget'] {
  const [count, window] = text.split('/', 2);
  if (!count || !/^\d+$/.test(count.trim()) || Number(count) < 1 || !window) {
    throw new GuardrailConfigError(`--reply-budget must look like 20/10m (messages per conversation per window), got "${text}"`);
  }
  const windowMs = parseDuration(window, '--reply-budget');
  if (windowMs <= 0) throw new GuardrailConfigError('--reply-budget needs a window longer than 0');
  return { max: Number(count), windowMs };
}

// ---------------------------------------------------------------- scope and origin

/** What an event means to the autopilot. */
export type Intake =
  | { kind: 'visitor_message'; website: string; session: string; message: MessageEventData }
  /** A message written by someone on the operator side: an operator, or our own reply coming back. */
  | { kind: 'operator_message'; website: string; session: string; fingerprint: number; timestamp: number }
  | { kind: 'resolved'; website: string; session: string }
  /** The conversation was deleted in Crisp: what the store keeps of it goes too. */
  | { kind: 'removed'; website: string; session: string }
  | { kind: 'ignored'; reason: IgnoredReason; website?: string };

export type IgnoredReason = 'website_not_allowed' | 'inbox_not_allowed' | 'not_from_visitor' | 'private_note' | 'operator_event' | 'event_not_used';

/** The events the bot subscribes to. */
export const BOT_EVENTS = ['message:send', 'message:received', 'session:set_state', 'session:removed'] as const;

export function intake(event: CrispEvent, g: Pick<Guardrails, 'websites' | 'inboxes'>): Intake {
  if (event.event !== 'message:send' && event.event !== 'message:received' && event.event !== 'session:set_state' && event.event !== 'session:removed') return { kind: 'ignored', reason: 'event_not_used' };
  const { website_id: website, session_id: session, inbox_id: inbox } = event.data;
  if (!g.websites.has(website)) return { kind: 'ignored', reason: 'website_not_allowed', website };
  // Whatever its inbox now: the bot may have worked it in an allowed inbox before it was moved.
  if (event.event === 'session:removed') return { kind: 'removed', website, session };
  if (g.inboxes && !g.inboxes.has(inbox ?? 'default')) return { kind: 'ignored', reason: 'inbox_not_allowed', website };
  if (event.event === 'session:set_state') return event.data.state === 'resolved' ? { kind: 'resolved', website, session } : { kind: 'ignored', reason: 'event_not_used', website };
  const message = event.data;
  if (event.event === 'message:received' || message.from === 'operator') {
    // A note is for operators, an event message an integration's log line: neither takes the conversation over.
    if (message.type === 'note') return { kind: 'ignored', reason: 'private_note', website };
    if (message.type === 'event') return { kind: 'ignored', reason: 'operator_event', website };
    return { kind: 'operator_message', website, session, fingerprint: message.fingerprint, timestamp: message.timestamp };
  }
  return { kind: 'visitor_message', website, session, message };
}

// ---------------------------------------------------------------- rate control

export interface Limited {
  actions: Action[];
  /** Identical replies dropped. */
  suppressed: number;
  /** The budget ran out in this turn: the bot pauses in this conversation. */
  overBudget: boolean;
  state: AutopilotState;
}

/** Repeat-suppression memory per conversation: the newest this many replies of the repeat window. */
export const MAX_REPEATS = 50;

/**
 * Applies the reply budget and identical-reply suppression to one turn's actions. A repeated reply
 * (same visitor input, same message, within the repeat window) is dropped; once the conversation's
 * budget is spent, the remaining messages are dropped and a handoff note tells the operators why.
 * Both count from the end of the time bucket a reply fell in (rate-memory.ts): the budget is never
 * exceeded in any window and may refuse up to a sixtieth of a window early.
 */
export function limitReplies(actions: readonly Action[], state: AutopilotState, input: string, g: Pick<Guardrails, 'replyBudget' | 'repeatWindowMs'>, now: number): Limited {
  const budgetMs = g.replyBudget.windowMs;
  let budget = liveCounts(state.budget, now, budgetMs);
  const spent = total(budget);
  const repeatMs = g.repeatWindowMs;
  let recent = repeatMs > 0 ? liveHashes(state.recent, now, repeatMs, MAX_REPEATS) : undefined;
  const out: Action[] = [];
  let suppressed = 0;
  let sends = 0;
  let overBudget = false;
  // The visitor's input is folded once for all of the turn's replies, as a scenario's match rules read
  // it (case, accents, Unicode forms, spaces): words the scenario answers alike are one input. Plain
  // ASCII folds to lowercase, as earlier releases did, so the digests they saved still match.
  const normalized = repeatMs > 0 ? normalize(input) : '';
  for (const action of actions) {
    if (action.type !== 'send_message') {
      out.push(action);
      continue;
    }
    const h = repeatMs > 0 ? replyHash(normalized, action) : undefined;
    if (h && hasHash(recent, h)) {
      suppressed++;
      continue;
    }
    if (spent + sends >= g.replyBudget.max) {
      overBudget = true;
      break;
    }
    sends++;
    if (h) recent = addHash(recent, h, now, repeatMs);
    out.push(action);
  }
  if (sends > 0) budget = addCount(budget, sends, now, budgetMs);
  if (overBudget) {
    // What came after the cut is dropped too; the operators get a note saying why the bot stopped.
    out.push({ type: 'handoff', reason: 'reply_budget', note: `The bot sent ${g.replyBudget.max} messages here within ${describeMs(g.replyBudget.windowMs)} and stopped; resolve the conversation to let it start again.` });
  }
  return { actions: out, suppressed, overBudget, state: { ...state, budget, recent } };
}

/** A prefix of sha-256 over (normalized input, reply): see HASH_CHARS. */
function replyHash(normalizedInput: string, action: Extract<Action, { type: 'send_message' }>): string {
  return hash('sha256', `${normalizedInput}\u0000${JSON.stringify(action.message)}`, 'base64url').slice(0, HASH_CHARS);
}

export function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/**
 * What the bot leaves undone once an operator has written in the conversation: talking to the
 * visitor, and resolving or routing the conversation, are the operator's now. Its notes to the
 * operators and what it saves of the visitor's answers (data, profile, segments) still go.
 */
export function silencedByOperator(action: Action): boolean {
  return action.type === 'send_message' || action.type === 'resolve' || action.type === 'assign' || action.type === 'unassign';
}
