// The effect port: everything a turn needs from outside the engine, in the engine's own terms.
// The engine decides what a conversation's scenario does; a channel's port carries it out — the
// Crisp port (src/commands/crisp-conversation.ts, wired in by the commands) for the autopilot and
// post_draft, the converse reply sink for the
// converse API. The engine never sees a Crisp type, a URL of Crisp's or a reply body.
import type { Action } from '../scenario/index.js';
import type { RoutingSeen } from './routing.js';

/** An action the runner stops at: its answer decides what follows. Always the last action of its step. */
export type EffectAction = Extract<Action, { type: 'webhook' | 'search_articles' }>;
/** An action carried out without waiting: a message, a note, a write to the conversation or the contact, routing. */
export type PlainAction = Exclude<Action, EffectAction>;

/** A message of the conversation's thread, as a turn reads it. */
export interface ThreadMessage {
  type: string;
  from: 'user' | 'operator';
  content: unknown;
  fingerprint: number;
  timestamp: number;
  user?: { user_id?: string | undefined } | undefined;
  /** Sent by a bot or an integration (Crisp's `automated` flag; every message a scenario sends has it), not typed by a person. */
  automated?: boolean | undefined;
}

/** Which action a port call carries out, stable across retries: the port derives its message fingerprints from it. */
export interface ActionRef {
  scenario: string;
  /** The turn: a draft id, an outbox item id. */
  turn: string;
  /** The action within the turn: `a3`, or `w1.0` for the 1st action after the 1st webhook's answer. */
  step: string;
  /** The action was carried out before and may have reached the other side: look before sending again. */
  again: boolean;
  /**
   * How the turn that decided a routing write (assign, unassign, resolve) found the conversation:
   * carried out later, the write stands down if a person changed that since (routing.ts). Without
   * it, the write is carried out as it comes.
   */
  seen?: RoutingSeen | undefined;
}

export interface ActionOutcome {
  /** The ref's step. */
  step: string;
  type: Action['type'];
  /** done; held: posted as a private note for approval (--send-mode note); skipped: could not apply here. */
  status: 'done' | 'held' | 'skipped';
  detail: string;
  fingerprint?: number;
  /** Skipped because a person changed the conversation's routing since its turn read it (ActionRef.seen). */
  stoodDown?: true;
}

/** The answer of an effect (a webhook call or a helpdesk search), fed back to the runner. */
export interface EffectAnswer {
  /** The webhook's URL, or HELPDESK_SEARCH. */
  url: string;
  status: number | null;
  ok: boolean;
  /** Parsed JSON answer (null when none or not JSON); a search: `{articles}`. */
  data: unknown;
  error?: string;
}

type HelpdeskSearch = (question: string, options: { locale?: string; limit?: number }) => Promise<{ articles: ReadonlyArray<{ title: string; url: string }> }>;

/** What an `articles` block searches: Crisp's helpdesk, or a local helpdesk file. */
export interface HelpdeskPort {
  search(website: string, ...query: Parameters<HelpdeskSearch>): ReturnType<HelpdeskSearch>;
}

/** Where a turn's actions and effects go out. */
export interface EffectPort {
  /** Carries out one action; throws when it may be tried again (nothing is saved then). */
  carryOut(action: PlainAction, ref: ActionRef): Promise<ActionOutcome>;
  /** Calls a scenario webhook the allow-list let through; a failure is an answer with `ok: false`, never a throw. */
  callWebhook(action: Extract<EffectAction, { type: 'webhook' }>, idempotencyKey: string): Promise<EffectAnswer>;
  /** Searches the helpdesk; absent when there is none (the articles block then takes its none path). */
  searchHelpdesk?: HelpdeskSearch;
}

/** A port that can also read the conversation: what a draft needs (the MCP tools). */
export interface ConversationPort extends EffectPort {
  /** The thread's latest messages, oldest first. */
  thread(): Promise<ThreadMessage[]>;
  /** Whether an operator of the website is online. */
  operatorsOnline(): Promise<boolean>;
  /** How the conversation is routed now: what a turn deciding a routing write reads (ActionRef.seen). */
  routing(): Promise<RoutingSeen>;
}

/**
 * Opens one conversation as a port for one turn: Crisp's in production (commands/crisp-conversation.ts,
 * handed to the autopilot and the MCP scenario tools by the command that wires them). `hold`: customer-visible
 * messages become private notes for an operator to approve (--send-mode note).
 */
export type OpenConversation = (website: string, session: string, options?: { hold?: boolean }) => ConversationPort;
