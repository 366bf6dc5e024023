// The sandbox inbox's messages and typing: sending (deduplicated by fingerprint), editing, removing,
// picking a picker's choice, marking read, and a side starting or stopping typing, with the events
// Crisp announces for each. What a message does to its conversation is inbox-rules.ts's.
import type { ComposeBody, MarkReadBody, Message, SendMessageBody } from '../crisp/schemas.js';
import { makeFingerprint } from './data.js';
import { invalid, notFound } from './http.js';
import { conversation } from './inbox-conversations.js';
import { afterMessage, refreshPreview } from './inbox-rules.js';
import type { Inbox, WebsiteState } from './state.js';

/** Who an API token writes as: the sender of its messages and the typist of its compose events. */
const apiUser = (shown: { nickname?: string; avatar?: string } = {}): NonNullable<Message['user']> => ({
  type: 'website',
  user_id: 'sandbox-api',
  nickname: shown.nickname ?? 'API',
  avatar: shown.avatar ?? '',
});

/** A side starts or stops typing; an operator's typing names `operator` (the API token's identity when absent). */
export function compose(inbox: Inbox, site: WebsiteState, sessionId: string, body: ComposeBody, operator?: Message['user']): void {
  const typedIn = conversation(site, sessionId);
  const slot = body.from === 'operator' ? 'operator' : 'visitor';
  const current = (typedIn.compose ?? {}) as Record<string, unknown>;
  const timestamp = inbox.now();
  // An operator's typing names the typist (`user`), as Crisp's compose atom and `message:compose:receive` do; a visitor's does not.
  const typist = body.from === 'operator' ? { user: operator ?? apiUser() } : {};
  const atom = { type: body.type, excerpt: body.excerpt ?? '', timestamp, automated: body.automated ?? false, ...typist };
  if (body.type === 'start') current[slot] = atom;
  else delete current[slot];
  typedIn.compose = current;
  const event = body.from === 'operator' ? 'message:compose:receive' : 'message:compose:send';
  inbox.announce(site, event, { session_id: sessionId, ...atom });
}

/**
 * Appends a message. A fingerprint already in the conversation returns the message it names
 * and changes nothing, so a retried send never shows twice (sandbox choice, docs/sandbox.md) — unless
 * `dedupe` is off (fault injection), which posts it again as Crisp might.
 */
export function addMessage(inbox: Inbox, site: WebsiteState, sessionId: string, body: SendMessageBody, user?: Message['user'], options: { dedupe?: boolean } = {}): { message: Message; duplicate: boolean } {
  const sentIn = conversation(site, sessionId);
  const thread = site.messages.get(sessionId) ?? [];
  if (body.fingerprint !== undefined && options.dedupe !== false) {
    const existing = thread.find((m) => m.fingerprint === body.fingerprint);
    if (existing) return { message: existing, duplicate: true };
  }
  // A `timestamp` in the body backdates the message (node-crisp-api's ConversationMessageNew has
  // one): it takes its place in the thread by time. Without one, it is the newest.
  const timestamp = body.timestamp ?? Math.max(inbox.now(), (thread.at(-1)?.timestamp ?? 0) + 1);
  let fingerprint = body.fingerprint ?? makeFingerprint(timestamp, inbox.rng);
  while (body.fingerprint === undefined && thread.some((m) => m.fingerprint === fingerprint)) fingerprint += 1;
  const message: Message = {
    session_id: sessionId,
    website_id: site.website_id,
    type: body.type,
    from: body.from,
    origin: body.origin,
    content: body.content,
    preview: [],
    mentions: body.mentions ?? [],
    read: '',
    delivered: '',
    edited: false,
    translated: body.translated ?? false,
    automated: body.automated ?? false,
    stamped: true,
    fingerprint,
    timestamp,
    user: user ?? apiUser(body.user),
    // What the sender attached is kept and read back, as the official client's ConversationMessage types it.
    ...(body.references ? { references: body.references } : {}),
    ...(body.original ? { original: body.original } : {}),
    ...(body.properties ? { properties: body.properties } : {}),
  };
  const later = thread.findIndex((m) => m.timestamp > timestamp);
  if (later === -1) thread.push(message);
  else thread.splice(later, 0, message);
  site.messages.set(sessionId, thread);
  afterMessage(sentIn, message);
  // A backdated message is not the latest: the inbox's preview stays on the one that is.
  if (later !== -1) refreshPreview(sentIn, thread);
  inbox.announce(site, body.from === 'user' ? 'message:send' : 'message:received', { ...message });
  return { message, duplicate: false };
}

/** The message a fingerprint names in a conversation. */
export function message(site: WebsiteState, sessionId: string, fingerprint: number): Message {
  conversation(site, sessionId);
  const found = (site.messages.get(sessionId) ?? []).find((m) => m.fingerprint === fingerprint);
  if (!found) throw notFound(`message ${fingerprint} does not exist in conversation ${sessionId}`);
  return found;
}

/** New content for a message (already checked against its type); it shows as edited. */
export function editMessage(inbox: Inbox, site: WebsiteState, sessionId: string, fingerprint: number, content: Message['content']): void {
  const edited = message(site, sessionId, fingerprint);
  edited.content = content;
  edited.edited = true;
  refreshPreview(conversation(site, sessionId), site.messages.get(sessionId) ?? []);
  inbox.announce(site, 'message:updated', { session_id: sessionId, fingerprint, content });
}

export function removeMessage(inbox: Inbox, site: WebsiteState, sessionId: string, fingerprint: number): void {
  const removed = message(site, sessionId, fingerprint);
  const removedFrom = conversation(site, sessionId);
  const thread = site.messages.get(sessionId) ?? [];
  thread.splice(thread.indexOf(removed), 1);
  if (!removed.read && removed.type !== 'note' && removedFrom.unread) {
    const side = removed.from === 'user' ? 'operator' : 'visitor';
    removedFrom.unread[side] = Math.max(0, (removedFrom.unread[side] ?? 0) - 1);
  }
  refreshPreview(removedFrom, thread);
  inbox.announce(site, 'message:removed', { session_id: sessionId, fingerprint });
}

/**
 * The visitor clicks a picker button: the picker shows that choice selected (`message:updated`)
 * and the visitor's answer arrives as a picker message with the choice selected (`message:send`),
 * which is what a bot reads as the visitor's choice.
 */
export function choose(inbox: Inbox, site: WebsiteState, sessionId: string, fingerprint: number, value: string, user: Message['user']): Message {
  const picker = message(site, sessionId, fingerprint);
  if (picker.type !== 'picker') throw invalid(`message ${fingerprint} is a ${picker.type}, not a picker`);
  const content = picker.content as { id: string; text: string; choices: Array<{ value: string; label: string; selected: boolean }> };
  if (!content.choices.some((c) => c.value === value)) throw invalid(`data.value should be one of ${content.choices.map((c) => c.value).join(', ')}`);
  content.choices = content.choices.map((c) => ({ ...c, selected: c.value === value }));
  inbox.announce(site, 'message:updated', { session_id: sessionId, fingerprint, content });
  return addMessage(inbox, site, sessionId, { type: 'picker', from: 'user', origin: 'chat', content: structuredClone(content) }, user).message;
}

export function markRead(inbox: Inbox, site: WebsiteState, sessionId: string, read: MarkReadBody): void {
  const readIn = conversation(site, sessionId);
  const thread = site.messages.get(sessionId) ?? [];
  const wanted = read.fingerprints ? new Set(read.fingerprints) : undefined;
  // Reading as the operator acknowledges the visitor's messages, and the reverse.
  const authoredBy = read.from === 'operator' ? 'user' : 'operator';
  const marked: number[] = [];
  for (const m of thread) {
    // Private notes are for operators: a visitor never reads them.
    if (m.from !== authoredBy || m.read || m.type === 'note') continue;
    if (wanted && !wanted.has(m.fingerprint)) continue;
    m.read = read.origin;
    marked.push(m.fingerprint);
  }
  const remaining = thread.filter((m) => m.from === authoredBy && !m.read && m.type !== 'note').length;
  const unread = (readIn.unread ??= { operator: 0, visitor: 0 });
  if (read.from === 'operator') unread.operator = remaining;
  else unread.visitor = remaining;
  const event = read.from === 'operator' ? 'message:acknowledge:read:received' : 'message:acknowledge:read:send';
  inbox.announce(site, event, { session_id: sessionId, origin: read.origin, fingerprints: marked });
}
