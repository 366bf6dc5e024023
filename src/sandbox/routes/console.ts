// The operator side the browser console needs, under /_sandbox/ like the visitor side: the inbox,
// one conversation with every message (private notes too), the operators, and what an operator
// does in Crisp's app (write, add a note, read, change state, assign). Each route calls the same
// SandboxState method the REST route does, so Crisp's rules and events are the same either way.
import { z } from 'zod';
import { CONVERSATION_STATES } from '../../crisp/schemas.js';
import { invalid, validate, type Route } from '../http.js';
import type { WebsiteState } from '../state.js';
import { MessageText } from '../visible-text.js';
import { S, site, type ControlContext } from './visitor.js';

const OperatorMessage = z.object({
  type: z.enum(['text', 'note']).default('text'),
  // The visitor side's check (visible-text.ts): text no keyboard types (only whitespace, zero-width characters or marks, a control character) is refused.
  content: MessageText,
  /** Who writes; the website's first operator when absent. */
  user_id: z.string().min(1).optional(),
});
const OperatorCompose = z.object({
  type: z.enum(['start', 'stop']),
  /** Who types; the website's first operator when absent. */
  user_id: z.string().min(1).optional(),
});
const StateChange = z.object({ state: z.enum(CONVERSATION_STATES) });
const Assignment = z.object({ user_id: z.string().min(1).nullable() });

export const consoleRoutes: Route<ControlContext>[] = [
  {
    method: 'GET',
    pattern: S,
    handler: ({ state, query }, p) => {
      const w = site(state, p.website_id!);
      const wanted = query.get('state');
      if (wanted && !(CONVERSATION_STATES as readonly string[]).includes(wanted)) throw invalid(`query.state should be one of ${CONVERSATION_STATES.join(', ')}`);
      const items = [...w.conversations.values()].filter((c) => !wanted || c.state === wanted).sort((a, b) => b.updated_at - a.updated_at);
      return { data: items };
    },
  },
  {
    method: 'GET',
    pattern: `${S}/:session_id`,
    handler: ({ state }, p) => {
      const w = site(state, p.website_id!);
      const conversation = state.conversation(w, p.session_id!);
      const person = conversation.people_id ? w.people.get(conversation.people_id) : undefined;
      return { data: { conversation, messages: w.messages.get(p.session_id!) ?? [], person: person ?? null } };
    },
  },
  {
    method: 'GET',
    pattern: '/_sandbox/websites/:website_id/operators',
    handler: ({ state }, p) => {
      const w = site(state, p.website_id!);
      return {
        data: w.operators.map((o) => ({
          user_id: o.details.user_id,
          nickname: [o.details.first_name, o.details.last_name].filter(Boolean).join(' '),
          availability: w.availability.find((a) => a.user_id === o.details.user_id)?.type ?? 'offline',
        })),
      };
    },
  },
  {
    method: 'POST',
    pattern: `${S}/:session_id/operator/messages`,
    handler: ({ state, body }, p) => {
      const w = site(state, p.website_id!);
      const input = validate(OperatorMessage, body);
      const user = operatorUser(w, input.user_id);
      const sent = state.addMessage(w, p.session_id!, { type: input.type, from: 'operator', origin: 'chat', content: input.content }, user);
      return { reason: 'dispatched', data: { fingerprint: sent.message.fingerprint } };
    },
  },
  {
    // The operator's composer says it is typing, as Crisp's app does: the visitor (and every
    // listener) sees "… is typing" (`message:compose:receive`, naming the operator).
    method: 'PATCH',
    pattern: `${S}/:session_id/operator/compose`,
    handler: ({ state, body }, p) => {
      const w = site(state, p.website_id!);
      const input = validate(OperatorCompose, body);
      state.compose(w, p.session_id!, { type: input.type, from: 'operator' }, operatorUser(w, input.user_id));
      return { reason: 'updated' };
    },
  },
  {
    method: 'PATCH',
    pattern: `${S}/:session_id/operator/read`,
    handler: ({ state }, p) => (state.markRead(site(state, p.website_id!), p.session_id!, { from: 'operator', origin: 'chat' }), { reason: 'updated' }),
  },
  {
    method: 'PATCH',
    pattern: `${S}/:session_id/state`,
    handler: ({ state, body }, p) => (state.setState(site(state, p.website_id!), p.session_id!, validate(StateChange, body).state), { reason: 'updated' }),
  },
  {
    method: 'PATCH',
    pattern: `${S}/:session_id/routing`,
    handler: ({ state, body }, p) => (state.assign(site(state, p.website_id!), p.session_id!, validate(Assignment, body).user_id), { reason: 'updated' }),
  },
];

/** The operator `userId` names (the website's first when absent), as the sender or typist a console action shows. */
function operatorUser(w: WebsiteState, userId: string | undefined) {
  const operator = userId ? w.operators.find((o) => o.details.user_id === userId) : w.operators[0];
  if (!operator) throw invalid(`data.user_id should be the user_id of an operator of website ${w.website_id}`);
  const nickname = [operator.details.first_name, operator.details.last_name].filter(Boolean).join(' ');
  return { type: 'participant', user_id: operator.details.user_id, nickname };
}
