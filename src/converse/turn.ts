// One converse event applied to one session: the session record the store keeps, the engine's
// turn run (webhooks called in between) with this channel's port — the reply sink, which turns
// the scenario's messages and handoffs into replies, each with a stable messageId derived from
// (conversation, scenario, saved version, index). No store, no lock, no delivery here:
// converse.ts does those, and delivery.ts posts the replies, signed, to the webhook.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { carryOver, initialPosition, Position, Vars, type OutMessage, type Program, type Scalar, type ScenarioEvent } from '../scenario/index.js';
import { HELPDESK_SEARCH } from '../engine/effects.js';
import type { EffectPort, PlainAction } from '../engine/port.js';
import { advanceTurn, runTurn, type Advance } from '../engine/turn.js';
import type { ConverseEvent } from './input.js';
import type { LoadedScenario } from '../engine/library.js';

export type ReplyType = 'text' | 'choice' | 'carousel' | 'handoff' | 'end';
export type EndReason = 'completed' | 'end_session' | 'inactivity';

export type ConverseButton = { type: 'button'; text: string; value: string } | { type: 'link'; text: string; url: string };

export interface ConverseCard {
  title: string;
  description?: string;
  imageUrl?: string;
  buttons: ConverseButton[];
}

/** One bot message, as POSTed to the webhook (the body, verbatim). */
export interface ConverseReply {
  conversationId: string;
  /** Stable: the same on every delivery attempt; also the `webhook-id` header. */
  messageId: string;
  /** The `messageId` of the event this answers; null when it had none (or for an inactivity end). */
  replyTo: string | null;
  type: ReplyType;
  text: string;
  buttons: ConverseButton[];
  carouselCards: ConverseCard[];
  /** A file message: the caption is `text`. */
  file?: { url: string; name: string; mime: string };
  /** handoff: the scenario's reason; end: why the session ended. */
  reason?: string;
  /** handoff: the scenario's note for the humans taking over. */
  note?: string;
  /** handoff: the operator the scenario assigns the conversation to. */
  assignTo?: { userId?: string; email?: string };
  userId: string | null;
  /** When the turn produced it (ISO 8601); delivery may be later. */
  createdAt: string;
}

/** What the store keeps per conversation (the "position" value of (converse:<id>, scenario)). */
export const ConverseSession = z.object({
  kind: z.literal('converse_session'),
  conversationId: z.string(),
  status: z.enum(['active', 'ended']),
  /** 1 for the first session of this conversation id, +1 per new one. */
  session: z.number().int().nonnegative(),
  /** null until the scenario first runs (a session opened by metadata alone). */
  position: Position.nullable(),
  metadata: Vars,
  userId: z.string().nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  endReason: z.enum(['completed', 'end_session', 'inactivity']).nullable(),
});
export type ConverseSession = z.infer<typeof ConverseSession>;

/** Metadata keys one session keeps; past that, the oldest keys give way. */
export const MAX_SESSION_METADATA = 100;

export interface TurnInput {
  loaded: LoadedScenario;
  /** The saved session, if any (ended ones included). */
  prior: ConverseSession | undefined;
  event: ConverseEvent;
  /** The version this turn's save will have: reply ids derive from it. */
  version: number;
  now: number;
  /** Where the scenario's webhook calls and helpdesk searches go. */
  effects: Pick<EffectPort, 'callWebhook' | 'searchHelpdesk'>;
}

export interface TurnOutput {
  session: ConverseSession;
  replies: ConverseReply[];
  /** Runner notes worth a log line (restarts, budget errors, refused webhooks). */
  notes: string[];
}

/**
 * A stable reply id: 22 base64url characters of sha-256(conversation, scenario, session start,
 * saved version, index). The session's start time keeps ids apart should the store be wiped and
 * the versions start again (receivers remember the ids they have seen).
 */
export function replyId(conversationId: string, scenario: string, sessionStart: number, version: number, index: number): string {
  return `msg_${createHash('sha256').update(JSON.stringify([conversationId, scenario, sessionStart, version, index])).digest('base64url').slice(0, 22)}`;
}

/** Applies one event. Undefined when there is nothing to save (endSession of no live session). */
export async function converseTurn(input: TurnInput): Promise<TurnOutput | undefined> {
  const { loaded, prior, event, now } = input;
  const program = loaded.program;
  const live = prior?.status === 'active' ? prior : undefined;
  const metadata = mergeMetadata(prior?.metadata ?? {}, event.metadata);
  const userId = event.userId ?? prior?.userId ?? null;

  switch (event.type) {
    case 'endSession': {
      if (!live) return undefined;
      const out = new Replies(input, live.startedAt);
      out.end('end_session');
      return { session: ended({ ...live, userId }, 'end_session', now), replies: out.list, notes: [] };
    }
    case 'metadata': {
      if (!live) {
        // Kept for the next session, which the next message or startSession opens: no session starts (or ends) here.
        const base = prior ?? { ...newSession(event.conversationId, 0, now), status: 'ended' as const };
        return { session: { ...base, metadata, userId }, replies: [], notes: [] };
      }
      const position = live.position && { ...live.position, vars: { ...live.position.vars, ...event.metadata } };
      return { session: { ...live, metadata, userId, position }, replies: [], notes: [] };
    }
    case 'startSession':
    case 'message': {
      const session: ConverseSession =
        event.type === 'startSession' || !live ? { ...newSession(event.conversationId, (prior?.session ?? 0) + 1, now), metadata, userId } : { ...live, metadata, userId };
      const out = new Replies(input, session.startedAt);
      const notes: string[] = [];
      let first: Advance;
      if (session.position === null || session.position.ended) {
        first = startWith(program, metadata, event.text, now);
      } else {
        const position = { ...session.position, vars: { ...session.position.vars, ...event.metadata } };
        first = advanceTurn(program, position, { type: 'event', event: inputOf(program, position, event, notes) }, { now });
        if (first.restarted) {
          notes.push(`scenario ${loaded.name} changed since the last turn (was at block ${first.restarted.from_block}): started again`);
          first = startWith(program, metadata, event.text, now);
        }
      }
      // This channel's port: the effects go out as they are, the other actions become replies.
      const port: EffectPort = { ...input.effects, carryOut: async (action, ref) => (out.add(action, notes), { step: ref.step, type: action.type, status: 'done', detail: 'reply' }) };
      const run = await runTurn(loaded, first, port, { turn: `converse:${event.conversationId}:${input.version}`, context: () => ({ now }) });
      for (const a of run.answers) if (a.error && !a.status) notes.push(`${a.url === HELPDESK_SEARCH ? 'helpdesk search' : `webhook ${a.url}`}: ${a.error}`);
      const position = run.position;
      session.position = position;
      if (position.ended) {
        out.end('completed');
        return { session: ended(session, 'completed', now), replies: out.list, notes };
      }
      return { session, replies: out.list, notes };
    }
  }
}

function newSession(conversationId: string, session: number, now: number): ConverseSession {
  return { kind: 'converse_session', conversationId, status: 'active', session, position: null, metadata: {}, userId: null, startedAt: now, endedAt: null, endReason: null };
}

/** The session once ended, with why. */
export function ended(session: ConverseSession, reason: EndReason, now: number): ConverseSession {
  return { ...session, status: 'ended', endedAt: now, endReason: reason };
}

/** The `end` reply of a session the sweeper timed out (no event answered: replyTo is null). */
export function inactivityEnd(session: ConverseSession, scenario: string, version: number, now: number): ConverseReply {
  return {
    conversationId: session.conversationId, messageId: replyId(session.conversationId, scenario, session.startedAt, version, 0), replyTo: null,
    type: 'end', text: '', buttons: [], carouselCards: [], reason: 'inactivity', userId: session.userId, createdAt: new Date(now).toISOString(),
  };
}

/**
 * The scenario from its start with `vars` already set, so the first messages can use metadata.
 * The runner's `start` event resets the variables; a fresh initial position fed the visitor's
 * text is the same turn as `start` with that text. Without text, a card event stands for "no
 * input": at a position that is not waiting, only a waiting block reads input, and each of those
 * waits for text, a card at a choice, or a webhook answer, so nothing consumes it. `now` is the
 * clock the blocks before the first wait read (a business-hours condition at the start).
 */
function startWith(program: Program, vars: Vars, text: string | undefined, now: number): Advance {
  const position: Position = { ...initialPosition(program), vars: { ...vars } };
  return advanceTurn(program, position, { type: 'event', event: text === undefined ? { type: 'card', index: -1 } : { type: 'visitor_text', text } }, { now });
}

/**
 * The event as the scenario reads it: a card at a choice, else the text. A cardIndex past the last
 * card is the caller's mistake: its text (the button's) is read instead, and a note says so.
 */
function inputOf(program: Program, position: Position, event: ConverseEvent, notes: string[]): ScenarioEvent {
  // A position saved by another version of the scenario is read where the runner resumes it, never at its old index.
  const at = position.program_hash === program.hash && position.scenario === program.scenario ? position : carryOver(program, position)?.position;
  const ins = at?.waiting ? program.code[at.pc] : undefined;
  if (event.cardIndex !== undefined && ins?.op === 'choice' && event.cardIndex >= ins.targets.length) {
    notes.push(`cardIndex ${event.cardIndex} is past the last card (${ins.targets.length} at block ${ins.block}): ${event.text === undefined ? 'the choices are shown again' : 'its text is read instead'}`);
    if (event.text !== undefined) return { type: 'visitor_text', text: event.text };
  }
  if (event.cardIndex !== undefined && (ins?.op === 'choice' || event.text === undefined)) return { type: 'card', index: event.cardIndex };
  return { type: 'visitor_text', text: event.text ?? '' };
}

/** The replies of one turn, numbered as they come. */
class Replies {
  readonly list: ConverseReply[] = [];
  #assign: ConverseReply['assignTo'];

  constructor(
    private readonly input: TurnInput,
    private readonly sessionStart: number,
  ) {}

  /** Adds the reply an action makes, if any. */
  add(action: PlainAction, notes: string[]): void {
    switch (action.type) {
      case 'send_message':
        return this.#push(messageReply(action.message));
      case 'assign':
        this.#assign = { ...(action.user_id ? { userId: action.user_id } : {}), ...(action.email ? { email: action.email } : {}) };
        return;
      case 'handoff':
        return this.#push({ type: 'handoff', reason: action.reason, ...(action.note ? { note: action.note } : {}), ...(this.#assign ? { assignTo: this.#assign } : {}) });
      case 'error':
        return void notes.push(`${action.code} at block ${action.block}: ${action.message}`);
      default:
        return; // Crisp-side writes (conversation data, segments, profile, resolve): nothing to send
    }
  }

  end(reason: EndReason): void {
    this.#push({ type: 'end', reason });
  }

  #push(part: Partial<ConverseReply> & { type: ReplyType }): void {
    const { event, loaded, version, now } = this.input;
    this.list.push({
      conversationId: event.conversationId,
      messageId: replyId(event.conversationId, loaded.name, this.sessionStart, version, this.list.length),
      replyTo: event.messageId ?? null,
      text: '',
      buttons: [],
      carouselCards: [],
      ...part,
      userId: event.userId ?? this.input.prior?.userId ?? null,
      createdAt: new Date(now).toISOString(),
    });
  }
}

/** A scenario message as a reply: buttons for a picker, cards for a carousel. */
function messageReply(m: OutMessage): Partial<ConverseReply> & { type: ReplyType } {
  switch (m.type) {
    case 'text':
      return { type: 'text', text: m.text };
    case 'picker':
      return { type: 'choice', text: m.text, buttons: m.choices.map((c) => (c.url ? { type: 'link', text: c.label, url: c.url } : { type: 'button', text: c.label, value: c.value })) };
    case 'carousel':
      return {
        type: 'carousel',
        text: m.text,
        carouselCards: m.cards.map((c) => ({
          title: c.title,
          ...(c.description ? { description: c.description } : {}),
          ...(c.image ? { imageUrl: c.image } : {}),
          buttons: c.url ? [{ type: 'link', text: c.button ?? 'Open', url: c.url }] : c.value !== undefined ? [{ type: 'button', text: c.title, value: c.value }] : [],
        })),
      };
    case 'file':
      return { type: 'text', text: m.text ?? '', file: { ...m.file } };
  }
}

/** Earlier metadata with the new pairs on top; at most MAX_SESSION_METADATA keys (the oldest go). */
function mergeMetadata(kept: Vars, fresh: Record<string, Scalar>): Vars {
  const merged: Vars = { ...kept };
  for (const [key, value] of Object.entries(fresh)) {
    delete merged[key]; // re-inserted last: the newest keys survive the cap
    merged[key] = value;
  }
  const keys = Object.keys(merged);
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_SESSION_METADATA))) delete merged[key];
  return merged;
}
