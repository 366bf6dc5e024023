// The sandbox inbox's conversations: looking one up, opening, removing, its meta (and the contact
// an email binds it to), its state and its assignee, with the events Crisp announces for each change.
import type { ConversationMetaUpdate, ConversationState, ConversationWire } from '../crisp/schemas.js';
import { invalid, notFound } from './http.js';
import { addPerson, personByEmail } from './inbox-people.js';
import { mergeData, moveState, STATUS } from './inbox-rules.js';
import { makeUuid } from './seed.js';
import type { Inbox, WebsiteState } from './state.js';

/**
 * The meta fields Crisp announces as `session:set_<field>` (the event names in src/crisp/rtm.ts);
 * `ip` and `device` have no such event, so their changes go unannounced.
 */
const ANNOUNCED_META = new Set(['nickname', 'email', 'phone', 'address', 'subject', 'avatar', 'origin', 'segments']);

export function conversation(site: WebsiteState, sessionId: string): ConversationWire {
  const found = site.conversations.get(sessionId);
  if (!found) throw notFound(`conversation ${sessionId} does not exist on website ${site.website_id}`);
  return found;
}

export function createConversation(inbox: Inbox, site: WebsiteState, visitor: { nickname?: string; email?: string } = {}): ConversationWire {
  const now = inbox.now();
  const sessionId = `session_${makeUuid(inbox.rng)}`;
  const person = visitor.email ? personByEmail(site, visitor.email) : undefined;
  const created: ConversationWire = {
    session_id: sessionId,
    website_id: site.website_id,
    inbox_id: null,
    people_id: null,
    state: 'pending',
    status: STATUS.pending,
    is_verified: false,
    is_blocked: false,
    availability: 'online',
    active: { now: true, last: now },
    last_message: '',
    topic: '',
    verifications: [],
    participants: [],
    mentions: [],
    compose: {},
    unread: { operator: 0, visitor: 0 },
    meta: {
      nickname: visitor.nickname ?? person?.person?.nickname ?? `visitor${Math.floor(inbox.rng() * 90_000) + 10_000}`,
      email: visitor.email ?? '',
      phone: '',
      address: '',
      subject: '',
      ip: '203.0.113.10',
      avatar: '',
      origin: 'chat',
      segments: [],
      data: {},
    },
    created_at: now,
    updated_at: now,
  };
  site.conversations.set(sessionId, created);
  site.messages.set(sessionId, []);
  inbox.announce(site, 'session:request:initiated', { session_id: sessionId });
  bindContact(inbox, site, created);
  return created;
}

/**
 * A visitor whose email is known is a contact: the conversation's `people_id` names the profile
 * with that email (in any case), made with the email and the visitor's nickname when there is
 * none, so a lookup by that email finds them. Crisp attaches the session to a contact this way
 * and announces it as `people:bind:session` (`{session_id, people_id}` in node-crisp-api's
 * EventsMap); docs/sandbox.md, the sandbox's visitor side.
 */
function bindContact(inbox: Inbox, site: WebsiteState, bound: ConversationWire): void {
  const email = bound.meta?.email;
  if (!email) return;
  const nickname = bound.meta?.nickname;
  const person = personByEmail(site, email) ?? addPerson(inbox, site, { email, person: nickname ? { nickname } : {} });
  if (bound.people_id === person.people_id) return;
  bound.people_id = person.people_id;
  inbox.announce(site, 'people:bind:session', { session_id: bound.session_id, people_id: person.people_id });
}

export function removeConversation(inbox: Inbox, site: WebsiteState, sessionId: string): void {
  conversation(site, sessionId);
  site.conversations.delete(sessionId);
  site.messages.delete(sessionId);
  inbox.announce(site, 'session:removed', { session_id: sessionId });
}

export function updateMeta(inbox: Inbox, site: WebsiteState, sessionId: string, update: ConversationMetaUpdate): void {
  const updated = conversation(site, sessionId);
  const meta = (updated.meta ??= {});
  const { data, ...fields } = update;
  Object.assign(meta, fields);
  if (data) meta.data = mergeData(meta.data ?? {}, data);
  updated.updated_at = inbox.now();
  if (fields.email) bindContact(inbox, site, updated);
  for (const [key, value] of Object.entries(fields)) {
    if (ANNOUNCED_META.has(key)) inbox.announce(site, `session:set_${key}`, { session_id: sessionId, [key]: value });
  }
  if (data) inbox.announce(site, 'session:set_data', { session_id: sessionId, data: meta.data });
}

export function setState(inbox: Inbox, site: WebsiteState, sessionId: string, state: ConversationState): void {
  const moved = conversation(site, sessionId);
  moveState(moved, state);
  moved.updated_at = inbox.now();
  if (state === 'resolved') delete moved.waiting_since;
  inbox.announce(site, 'session:set_state', { session_id: sessionId, state });
}

export function assign(inbox: Inbox, site: WebsiteState, sessionId: string, userId: string | null): void {
  const assigned = conversation(site, sessionId);
  if (userId !== null && !site.operators.some((o) => o.details.user_id === userId)) {
    throw invalid(`data.assigned.user_id should be the user_id of an operator of website ${site.website_id}`);
  }
  const previous = assigned.assigned?.user_id ?? null;
  if (userId === null) delete assigned.assigned;
  else assigned.assigned = { user_id: userId };
  assigned.updated_at = inbox.now();
  inbox.announce(site, 'session:set_routing', { session_id: sessionId, routing_id: userId, previous_routing_id: previous });
}
