// Conversation, message, state, routing and meta routes.
import { z } from 'zod';
import {
  ComposeBody,
  MESSAGE_CONTENT,
  ConversationMetaUpdate,
  MarkReadBody,
  RoutingUpdateBody,
  SendMessageBody,
  StateUpdateBody,
  type ConversationWire,
  type Message,
} from '../../crisp/schemas.js';
import { flag, intParam, invalid, validate } from '../http.js';
import { pageOf, type RestContext, type RestRoute } from './context.js';
import { searchKey } from '../search-text.js';

/** Messages per batch on GET .../messages (Crisp's size is unverified; ~20 is what users report). */
export const MESSAGE_BATCH = 20;
const W = '/v1/website/:website_id';
const C = `${W}/conversation/:session_id`;

export const conversationRoutes: RestRoute[] = [
  { method: 'GET', pattern: `${W}/conversations/:page`, handler: listConversations },
  { method: 'POST', pattern: `${W}/conversation`, handler: ({ state, site }) => ({ reason: 'added', data: { session_id: state.createConversation(site).session_id } }) },
  { method: 'GET', pattern: C, handler: ({ state, site }, p) => ({ data: state.conversation(site, p.session_id!) }) },
  { method: 'DELETE', pattern: C, handler: ({ state, site }, p) => (state.removeConversation(site, p.session_id!), { reason: 'deleted' }) },
  { method: 'GET', pattern: `${C}/meta`, handler: ({ state, site }, p) => ({ data: state.conversation(site, p.session_id!).meta ?? {} }) },
  {
    method: 'PATCH',
    pattern: `${C}/meta`,
    handler: ({ state, site, body }, p) => (state.updateMeta(site, p.session_id!, validate(ConversationMetaUpdate, body)), { reason: 'updated' }),
  },
  { method: 'GET', pattern: `${C}/messages`, handler: listMessages },
  {
    method: 'GET',
    pattern: `${C}/message/:fingerprint`,
    handler: ({ state, site }, p) => ({ data: state.message(site, p.session_id!, Number(p.fingerprint)) }),
  },
  { method: 'PATCH', pattern: `${C}/message/:fingerprint`, handler: editMessage },
  {
    method: 'DELETE',
    pattern: `${C}/message/:fingerprint`,
    handler: ({ state, site }, p) => (state.removeMessage(site, p.session_id!, Number(p.fingerprint)), { reason: 'deleted' }),
  },
  {
    method: 'POST',
    pattern: `${C}/message`,
    handler: ({ state, site, body, dedupe }, p) => {
      const message = validate(SendMessageBody, body);
      const sent = state.addMessage(site, p.session_id!, message, undefined, { dedupe });
      return { reason: 'dispatched', data: { fingerprint: sent.message.fingerprint } };
    },
  },
  {
    method: 'PATCH',
    pattern: `${C}/compose`,
    handler: ({ state, site, body }, p) => (state.compose(site, p.session_id!, validate(ComposeBody, body)), { reason: 'updated' }),
  },
  { method: 'PATCH', pattern: `${C}/read`, handler: ({ state, site, body }, p) => (state.markRead(site, p.session_id!, validate(MarkReadBody, body)), { reason: 'updated' }) },
  { method: 'GET', pattern: `${C}/state`, handler: ({ state, site }, p) => ({ data: { state: state.conversation(site, p.session_id!).state } }) },
  {
    method: 'PATCH',
    pattern: `${C}/state`,
    handler: ({ state, site, body }, p) => (state.setState(site, p.session_id!, validate(StateUpdateBody, body).state), { reason: 'updated' }),
  },
  {
    method: 'GET',
    pattern: `${C}/routing`,
    handler: ({ state, site }, p) => {
      const userId = state.conversation(site, p.session_id!).assigned?.user_id;
      return { data: { assigned: userId ? { user_id: userId } : null } };
    },
  },
  {
    method: 'PATCH',
    pattern: `${C}/routing`,
    handler: ({ state, site, body }, p) => {
      const routing = validate(RoutingUpdateBody, body);
      state.assign(site, p.session_id!, routing.assigned?.user_id ?? null);
      return { reason: 'updated' };
    },
  },
];

function listConversations({ site, query }: RestContext, params: Record<string, string>) {
  const page = intParam(params.page, 'page_number', 1)!;
  const perPage = intParam(query.get('per_page'), 'query.per_page', 20, 50) ?? 20;
  let items = [...site.conversations.values()];

  if (!flag(query, 'include_empty')) items = items.filter((c) => (site.messages.get(c.session_id)?.length ?? 0) > 0);
  if (flag(query, 'filter_unread')) items = items.filter((c) => (c.unread?.operator ?? 0) > 0);
  if (flag(query, 'filter_resolved')) items = items.filter((c) => c.state === 'resolved');
  if (flag(query, 'filter_not_resolved')) items = items.filter((c) => c.state !== 'resolved');
  if (flag(query, 'filter_unassigned')) items = items.filter((c) => !c.assigned?.user_id);
  const assigned = query.get('filter_assigned');
  // node-crisp-api sends an operator's user_id, go-crisp-api sends 1: accept both.
  if (assigned === '1') items = items.filter((c) => Boolean(c.assigned?.user_id));
  else if (assigned && assigned !== '0') items = items.filter((c) => c.assigned?.user_id === assigned);
  const inbox = query.get('filter_inbox_id');
  if (inbox) items = items.filter((c) => c.inbox_id === inbox);
  items = items.filter(dateFilter(query));

  const searchQuery = query.get('search_query');
  if (searchQuery) items = items.filter(searchPredicate(site.messages, searchQuery, query.get('search_type') ?? 'text'));

  if (flag(query, 'order_date_waiting')) {
    // Only conversations waiting for an operator's answer, the longest-waiting first.
    items = items.filter((c) => c.waiting_since).sort((a, b) => a.waiting_since! - b.waiting_since!);
  } else if (flag(query, 'order_date_created')) items.sort((a, b) => b.created_at - a.created_at);
  else items.sort((a, b) => b.updated_at - a.updated_at);

  return { data: pageOf(items, page, perPage) };
}

function dateFilter(query: URLSearchParams): (c: ConversationWire) => boolean {
  const bound = (name: string) => {
    const value = query.get(name);
    if (!value) return undefined;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw invalid(`query.${name} should be an ISO-8601 date`);
    return ms;
  };
  const start = bound('filter_date_start');
  const end = bound('filter_date_end');
  return (c) => (start === undefined || c.created_at >= start) && (end === undefined || c.created_at <= end);
}

function searchPredicate(messages: Map<string, Message[]>, search: string, type: string): (c: ConversationWire) => boolean {
  if (type === 'segment') return (c) => (c.meta?.segments ?? []).includes(search);
  if (type === 'filter') throw invalid('query.search_type "filter" is not supported by the sandbox; use text or segment');
  if (type !== 'text') throw invalid('query.search_type should be equal to one of the allowed values (text, segment, filter)');
  const needle = searchKey(search);
  return (c) => {
    const meta = c.meta ?? {};
    const fields = [meta.nickname, meta.email, meta.subject, meta.phone, c.last_message];
    if (fields.some((f) => f !== undefined && searchKey(f).includes(needle))) return true;
    return (messages.get(c.session_id) ?? []).some((m) => typeof m.content === 'string' && searchKey(m.content).includes(needle));
  };
}

function listMessages({ state, site, query }: RestContext, params: Record<string, string>) {
  state.conversation(site, params.session_id!);
  const thread = site.messages.get(params.session_id!) ?? [];
  const names = ['timestamp_before', 'timestamp_after', 'timestamp_around'].filter((n) => query.get(n));
  if (names.length > 1) throw invalid(`query should have at most one of ${names.join(', ')}`);
  const before = intParam(query.get('timestamp_before'), 'query.timestamp_before', 0);
  const after = intParam(query.get('timestamp_after'), 'query.timestamp_after', 0);
  const around = intParam(query.get('timestamp_around'), 'query.timestamp_around', 0);

  let batch: Message[];
  let more: boolean;
  if (after !== undefined) {
    const newer = thread.filter((m) => m.timestamp > after);
    batch = newer.slice(0, MESSAGE_BATCH);
    more = newer.length > MESSAGE_BATCH;
  } else if (around !== undefined) {
    const pivot = thread.findIndex((m) => m.timestamp >= around);
    const center = pivot === -1 ? thread.length : pivot;
    const start = Math.max(0, center - MESSAGE_BATCH / 2);
    batch = thread.slice(start, start + MESSAGE_BATCH);
    more = start > 0;
  } else {
    // Exclusive: the message at exactly `timestamp_before` was on the previous page.
    const older = before === undefined ? thread : thread.filter((m) => m.timestamp < before);
    batch = older.slice(-MESSAGE_BATCH);
    more = older.length > MESSAGE_BATCH;
  }
  return { status: more ? 206 : 200, data: batch };
}

/** PATCH .../message/{fingerprint} body `{content}`: content of the message's own type. */
const EDIT_BODY: Partial<Record<string, z.ZodType<{ content: Message['content'] }>>> = Object.fromEntries(
  Object.entries(MESSAGE_CONTENT).map(([type, content]) => [type, z.object({ content })]),
);

function editMessage({ state, site, body }: RestContext, params: Record<string, string>) {
  const fingerprint = Number(params.fingerprint);
  const { type } = state.message(site, params.session_id!, fingerprint);
  const { content } = validate(EDIT_BODY[type]!, body);
  state.editMessage(site, params.session_id!, fingerprint, content);
  return { reason: 'updated' };
}
