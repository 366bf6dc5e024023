// The bot's routing writes — assign, unassign, resolve — and the rule that keeps them from undoing a
// person's: the turn that decides one also reads how the conversation is routed (`RoutingSeen`), and
// each attempt to carry it out reads that again first. If someone changed it since (an operator
// assigned the conversation by hand, reopened it), the bot stands down: the action is skipped and
// said, never written over theirs. A retry after a Crisp 429/5xx, or a bot killed mid-way, is what
// makes "later" long enough for that to happen. Pure; the port (commands/crisp-conversation.ts)
// does the reading and the writing.
import type { Action } from '../scenario/index.js';

/** How a conversation is routed: who it is assigned to (null: nobody), and its state. */
export interface RoutingSeen {
  assigned: string | null;
  state: string;
}

export type RoutingWrite = Extract<Action, { type: 'assign' | 'unassign' | 'resolve' }>;

export function isRoutingWrite(action: Action): action is RoutingWrite {
  return action.type === 'assign' || action.type === 'unassign' || action.type === 'resolve';
}

/**
 * What a routing write does now, given how its turn found the conversation (`seen`) and how it is
 * (`now`): `applied` when it is already as the bot wants (an earlier attempt landed), `stand_down`
 * when the part it writes changed since the turn read it, else `write`. `assignTo`: the user_id an
 * assign resolves to. A person who puts it back exactly as the turn found it cannot be told apart
 * — an assignment undone, a conversation reopened after the bot's resolve landed unanswered — so a
 * resolve stands down only when its turn found the conversation resolved and it is open again.
 */
export function routingDecision(action: RoutingWrite, seen: RoutingSeen, now: RoutingSeen, assignTo?: string): 'applied' | 'stand_down' | 'write' {
  if (action.type === 'resolve') {
    if (now.state === 'resolved') return 'applied';
    // Pending and unresolved are both open: the bot's own reply of the same turn takes a pending conversation to unresolved.
    return seen.state !== 'resolved' ? 'write' : 'stand_down';
  }
  const wanted = action.type === 'assign' ? (assignTo ?? null) : null;
  if (now.assigned === wanted) return 'applied';
  return now.assigned === seen.assigned ? 'write' : 'stand_down';
}

/** The sentence a stood-down write is logged and reported with: the bot's turn's or a draft's, alike. */
export function stoodDown(action: RoutingWrite, seen: RoutingSeen, now: RoutingSeen): string {
  const change = action.type === 'resolve' ? `its state went from ${seen.state} to ${now.state}` : `its assignment went from ${seen.assigned ?? 'nobody'} to ${now.assigned ?? 'nobody'}`;
  return `stood down: ${change} after the turn that decided this ${action.type} read it, so a person routed the conversation; not carried out`;
}
