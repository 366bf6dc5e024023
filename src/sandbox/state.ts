// The sandbox's in-memory inbox and the rules Crisp applies when it changes: unread counts,
// waiting time, state moves, fingerprints. Every change is announced as a Crisp event (RTM names),
// which the RTM and Web Hook emitters relay.
import { EventEmitter } from 'node:events';
import type {
  ComposeBody,
  ConversationWire,
  ConversationMetaUpdate,
  ConversationState,
  CustomData,
  MarkReadBody,
  Message,
  Operator,
  OperatorAvailability,
  PeopleEvent,
  PeopleProfile,
  PeopleProfileCard,
  SendMessageBody,
} from '../crisp/schemas.js';
import { DEMO_WEBSITES, generateDemoData, makeFingerprint } from './data.js';
import { createRng, demoWebsiteId, makeUuid } from './seed.js';
import { SEED_HELPDESK } from './helpdesk-data.js';
import type { SandboxHelpdesk } from './routes/helpdesk.js';
import { SandboxHttpError, invalid, notFound } from './http.js';

export interface WebsiteState {
  website_id: string;
  name: string;
  domain: string;
  conversations: Map<string, ConversationWire>;
  messages: Map<string, Message[]>;
  people: Map<string, PeopleProfile>;
  peopleData: Map<string, CustomData>;
  peopleEvents: Map<string, PeopleEvent[]>;
  operators: Operator[];
  availability: OperatorAvailability[];
  /** Knowledge base articles by locale (the seed's copy; no route writes it, a test or demo may). */
  helpdesk: SandboxHelpdesk;
}

export interface SandboxEvent {
  event: string;
  website_id: string;
  data: Record<string, unknown>;
  timestamp: number;
}

const STATUS: Record<ConversationState, number> = { pending: 0, unresolved: 1, resolved: 2 };

/**
 * The meta fields Crisp announces as `session:set_<field>` (the event names in src/crisp/rtm.ts);
 * `ip` and `device` have no such event, so their changes go unannounced.
 */
const ANNOUNCED_META = new Set(['nickname', 'email', 'phone', 'address', 'subject', 'avatar', 'origin', 'segments']);

/** The inbox's preview of a conversation's latest message (not a note). */
const previewOf = (message: Message): NonNullable<ConversationWire['preview_message']> => ({ type: message.type, from: message.from, excerpt: excerpt(message), fingerprint: message.fingerprint });

/** Who an API token writes as: the sender of its messages and the typist of its compose events. */
const apiUser = (shown: { nickname?: string; avatar?: string } = {}): NonNullable<Message['user']> => ({
  type: 'website',
  user_id: 'sandbox-api',
  nickname: shown.nickname ?? 'API',
  avatar: shown.avatar ?? '',
});

export interface StateOptions {
  seed: number;
  /** The clock; demo timestamps are laid out backwards from its reading at construction (and at each reset). */
  now?: () => number;
  websiteId?: string;
  /** How many demo websites (1 to DEMO_WEBSITES.length): an agency's token reaches several. Default 1. */
  websites?: number;
}

/**
 * `event`: what Crisp would announce (RTM, Web Hooks, the console); `reset`: the inbox went back to
 * its demo data, which Crisp has no event for: only the console hears it, to read everything again.
 */
export class SandboxState extends EventEmitter<{ event: [SandboxEvent]; reset: [] }> {
  /** The websites and their inboxes. */
  readonly websites = new Map<string, WebsiteState>();
  readonly now: () => number;
  readonly #rng: () => number;
  readonly #options: StateOptions;

  constructor(options: StateOptions) {
    super();
    this.#options = options;
    this.now = options.now ?? Date.now;
    this.#rng = createRng(options.seed ^ 0x5eed);
    this.reset();
  }

  /** Back to the demo data of the seed. */
  reset(): void {
    this.websites.clear();
    // Website i is seeded with seed + i, so the first is the same inbox whatever the count.
    DEMO_WEBSITES.slice(0, this.#options.websites ?? 1).forEach((names, i) => {
      const demo = generateDemoData({ seed: this.#options.seed + i, now: this.now(), websiteId: i === 0 ? this.#options.websiteId : undefined, site: names });
      this.websites.set(demo.website.website_id, {
        ...demo.website,
        conversations: new Map(demo.conversations.map((c) => [c.session_id, c])),
        messages: demo.messages,
        people: new Map(demo.people.map((p) => [p.people_id, p])),
        peopleData: demo.peopleData,
        peopleEvents: demo.peopleEvents,
        operators: demo.operators,
        availability: demo.availability,
        // A copy: an article edited while the sandbox runs stays edited in this sandbox alone.
        helpdesk: structuredClone(SEED_HELPDESK),
      });
    });
    this.emit('reset');
  }

  /** The demo website's id. */
  get defaultWebsiteId(): string {
    return this.#options.websiteId ?? demoWebsiteId(this.#options.seed);
  }

  // ------------------------------------------------------------------ conversations

  conversation(site: WebsiteState, sessionId: string): ConversationWire {
    const conversation = site.conversations.get(sessionId);
    if (!conversation) throw notFound(`conversation ${sessionId} does not exist on website ${site.website_id}`);
    return conversation;
  }

  createConversation(site: WebsiteState, visitor: { nickname?: string; email?: string } = {}): ConversationWire {
    const now = this.now();
    const sessionId = `session_${makeUuid(this.#rng)}`;
    const person = visitor.email ? this.#personByEmail(site, visitor.email) : undefined;
    const conversation: ConversationWire = {
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
        nickname: visitor.nickname ?? person?.person?.nickname ?? `visitor${Math.floor(this.#rng() * 90_000) + 10_000}`,
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
    site.conversations.set(sessionId, conversation);
    site.messages.set(sessionId, []);
    this.#emit(site, 'session:request:initiated', { session_id: sessionId });
    this.#bindContact(site, conversation);
    return conversation;
  }

  /**
   * A visitor whose email is known is a contact: the conversation's `people_id` names the profile
   * with that email (in any case), made with the email and the visitor's nickname when there is
   * none, so a lookup by that email finds them. Crisp attaches the session to a contact this way
   * and announces it as `people:bind:session` (`{session_id, people_id}` in node-crisp-api's
   * EventsMap); README, the sandbox's visitor side.
   */
  #bindContact(site: WebsiteState, conversation: ConversationWire): void {
    const email = conversation.meta?.email;
    if (!email) return;
    const nickname = conversation.meta?.nickname;
    const person = this.#personByEmail(site, email) ?? this.addPerson(site, { email, person: nickname ? { nickname } : {} });
    if (conversation.people_id === person.people_id) return;
    conversation.people_id = person.people_id;
    this.#emit(site, 'people:bind:session', { session_id: conversation.session_id, people_id: person.people_id });
  }

  #personByEmail(site: WebsiteState, email: string): PeopleProfile | undefined {
    const lower = email.toLowerCase();
    return [...site.people.values()].find((p) => p.email?.toLowerCase() === lower);
  }

  removeConversation(site: WebsiteState, sessionId: string): void {
    this.conversation(site, sessionId);
    site.conversations.delete(sessionId);
    site.messages.delete(sessionId);
    this.#emit(site, 'session:removed', { session_id: sessionId });
  }

  updateMeta(site: WebsiteState, sessionId: string, update: ConversationMetaUpdate): void {
    const conversation = this.conversation(site, sessionId);
    const meta = (conversation.meta ??= {});
    const { data, ...fields } = update;
    Object.assign(meta, fields);
    if (data) meta.data = mergeData(meta.data ?? {}, data);
    conversation.updated_at = this.now();
    if (fields.email) this.#bindContact(site, conversation);
    for (const [key, value] of Object.entries(fields)) {
      if (ANNOUNCED_META.has(key)) this.#emit(site, `session:set_${key}`, { session_id: sessionId, [key]: value });
    }
    if (data) this.#emit(site, 'session:set_data', { session_id: sessionId, data: meta.data });
  }

  setState(site: WebsiteState, sessionId: string, state: ConversationState): void {
    const conversation = this.conversation(site, sessionId);
    conversation.state = state;
    conversation.status = STATUS[state];
    conversation.updated_at = this.now();
    if (state === 'resolved') delete conversation.waiting_since;
    this.#emit(site, 'session:set_state', { session_id: sessionId, state });
  }

  assign(site: WebsiteState, sessionId: string, userId: string | null): void {
    const conversation = this.conversation(site, sessionId);
    if (userId !== null && !site.operators.some((o) => o.details.user_id === userId)) {
      throw invalid(`data.assigned.user_id should be the user_id of an operator of website ${site.website_id}`);
    }
    const previous = conversation.assigned?.user_id ?? null;
    if (userId === null) delete conversation.assigned;
    else conversation.assigned = { user_id: userId };
    conversation.updated_at = this.now();
    this.#emit(site, 'session:set_routing', { session_id: sessionId, routing_id: userId, previous_routing_id: previous });
  }

  /** A side starts or stops typing; an operator's typing names `operator` (the API token's identity when absent). */
  compose(site: WebsiteState, sessionId: string, compose: ComposeBody, operator?: Message['user']): void {
    const conversation = this.conversation(site, sessionId);
    const slot = compose.from === 'operator' ? 'operator' : 'visitor';
    const current = (conversation.compose ?? {}) as Record<string, unknown>;
    const timestamp = this.now();
    // An operator's typing names the typist (`user`), as Crisp's compose atom and `message:compose:receive` do; a visitor's does not.
    const typist = compose.from === 'operator' ? { user: operator ?? apiUser() } : {};
    const atom = { type: compose.type, excerpt: compose.excerpt ?? '', timestamp, automated: compose.automated ?? false, ...typist };
    if (compose.type === 'start') current[slot] = atom;
    else delete current[slot];
    conversation.compose = current;
    const event = compose.from === 'operator' ? 'message:compose:receive' : 'message:compose:send';
    this.#emit(site, event, { session_id: sessionId, ...atom });
  }

  // ------------------------------------------------------------------ messages

  /**
   * Appends a message. A fingerprint already in the conversation returns the message it names
   * and changes nothing, so a retried send never shows twice (sandbox choice, README) — unless
   * `dedupe` is off (fault injection), which posts it again as Crisp might.
   */
  addMessage(site: WebsiteState, sessionId: string, body: SendMessageBody, user?: Message['user'], options: { dedupe?: boolean } = {}): { message: Message; duplicate: boolean } {
    const conversation = this.conversation(site, sessionId);
    const thread = site.messages.get(sessionId) ?? [];
    if (body.fingerprint !== undefined && options.dedupe !== false) {
      const existing = thread.find((m) => m.fingerprint === body.fingerprint);
      if (existing) return { message: existing, duplicate: true };
    }
    // A `timestamp` in the body backdates the message (node-crisp-api's ConversationMessageNew has
    // one): it takes its place in the thread by time. Without one, it is the newest.
    const timestamp = body.timestamp ?? Math.max(this.now(), (thread.at(-1)?.timestamp ?? 0) + 1);
    let fingerprint = body.fingerprint ?? makeFingerprint(timestamp, this.#rng);
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
    this.#afterMessage(conversation, message);
    // A backdated message is not the latest: the inbox's preview stays on the one that is.
    if (later !== -1) this.#refreshPreview(conversation, thread);
    this.#emit(site, body.from === 'user' ? 'message:send' : 'message:received', { ...message });
    return { message, duplicate: false };
  }

  #afterMessage(conversation: ConversationWire, message: Message): void {
    conversation.updated_at = Math.max(conversation.updated_at, message.timestamp);
    if (message.type === 'note') return;
    const unread = (conversation.unread ??= { operator: 0, visitor: 0 });
    conversation.preview_message = previewOf(message);
    if (message.type === 'text') conversation.last_message = String(message.content);
    if (message.from === 'user') {
      unread.operator = (unread.operator ?? 0) + 1;
      conversation.waiting_since ??= message.timestamp;
      // A visitor writing into a resolved conversation reopens it.
      if (conversation.state === 'resolved') this.#moveState(conversation, 'unresolved');
    } else {
      unread.visitor = (unread.visitor ?? 0) + 1;
      delete conversation.waiting_since;
      // The first operator answer takes a conversation out of "pending".
      if (conversation.state === 'pending') this.#moveState(conversation, 'unresolved');
    }
  }

  /** The message a fingerprint names in a conversation. */
  message(site: WebsiteState, sessionId: string, fingerprint: number): Message {
    this.conversation(site, sessionId);
    const message = (site.messages.get(sessionId) ?? []).find((m) => m.fingerprint === fingerprint);
    if (!message) throw notFound(`message ${fingerprint} does not exist in conversation ${sessionId}`);
    return message;
  }

  /** New content for a message (already checked against its type); it shows as edited. */
  editMessage(site: WebsiteState, sessionId: string, fingerprint: number, content: Message['content']): void {
    const message = this.message(site, sessionId, fingerprint);
    message.content = content;
    message.edited = true;
    this.#refreshPreview(this.conversation(site, sessionId), site.messages.get(sessionId) ?? []);
    this.#emit(site, 'message:updated', { session_id: sessionId, fingerprint, content });
  }

  removeMessage(site: WebsiteState, sessionId: string, fingerprint: number): void {
    const message = this.message(site, sessionId, fingerprint);
    const conversation = this.conversation(site, sessionId);
    const thread = site.messages.get(sessionId) ?? [];
    thread.splice(thread.indexOf(message), 1);
    if (!message.read && message.type !== 'note' && conversation.unread) {
      const side = message.from === 'user' ? 'operator' : 'visitor';
      conversation.unread[side] = Math.max(0, (conversation.unread[side] ?? 0) - 1);
    }
    this.#refreshPreview(conversation, thread);
    this.#emit(site, 'message:removed', { session_id: sessionId, fingerprint });
  }

  /** After an edit or a removal, the inbox preview shows the latest message that is not a note. */
  #refreshPreview(conversation: ConversationWire, thread: readonly Message[]): void {
    const latest = thread.findLast((m) => m.type !== 'note');
    if (latest) conversation.preview_message = previewOf(latest);
    else delete conversation.preview_message;
    const latestText = thread.findLast((m) => m.type === 'text');
    conversation.last_message = latestText ? String(latestText.content) : '';
  }

  #moveState(conversation: ConversationWire, state: ConversationState): void {
    conversation.state = state;
    conversation.status = STATUS[state];
  }

  /**
   * The visitor clicks a picker button: the picker shows that choice selected (`message:updated`)
   * and the visitor's answer arrives as a picker message with the choice selected (`message:send`),
   * which is what a bot reads as the visitor's choice.
   */
  choose(site: WebsiteState, sessionId: string, fingerprint: number, value: string, user: Message['user']): Message {
    const picker = this.message(site, sessionId, fingerprint);
    if (picker.type !== 'picker') throw invalid(`message ${fingerprint} is a ${picker.type}, not a picker`);
    const content = picker.content as { id: string; text: string; choices: Array<{ value: string; label: string; selected: boolean }> };
    if (!content.choices.some((c) => c.value === value)) throw invalid(`data.value should be one of ${content.choices.map((c) => c.value).join(', ')}`);
    content.choices = content.choices.map((c) => ({ ...c, selected: c.value === value }));
    this.#emit(site, 'message:updated', { session_id: sessionId, fingerprint, content });
    return this.addMessage(site, sessionId, { type: 'picker', from: 'user', origin: 'chat', content: structuredClone(content) }, user).message;
  }

  markRead(site: WebsiteState, sessionId: string, read: MarkReadBody): void {
    const conversation = this.conversation(site, sessionId);
    const thread = site.messages.get(sessionId) ?? [];
    const wanted = read.fingerprints ? new Set(read.fingerprints) : undefined;
    // Reading as the operator acknowledges the visitor's messages, and the reverse.
    const authoredBy = read.from === 'operator' ? 'user' : 'operator';
    const marked: number[] = [];
    for (const message of thread) {
      // Private notes are for operators: a visitor never reads them.
      if (message.from !== authoredBy || message.read || message.type === 'note') continue;
      if (wanted && !wanted.has(message.fingerprint)) continue;
      message.read = read.origin;
      marked.push(message.fingerprint);
    }
    const remaining = thread.filter((m) => m.from === authoredBy && !m.read && m.type !== 'note').length;
    const unread = (conversation.unread ??= { operator: 0, visitor: 0 });
    if (read.from === 'operator') unread.operator = remaining;
    else unread.visitor = remaining;
    const event = read.from === 'operator' ? 'message:acknowledge:read:received' : 'message:acknowledge:read:send';
    this.#emit(site, event, { session_id: sessionId, origin: read.origin, fingerprints: marked });
  }

  // ------------------------------------------------------------------ people

  person(site: WebsiteState, peopleId: string): PeopleProfile {
    const person = site.people.get(peopleId) ?? [...site.people.values()].find((p) => p.email === peopleId);
    if (!person) throw notFound(`people profile ${peopleId} does not exist on website ${site.website_id}`);
    return person;
  }

  addPerson(site: WebsiteState, card: PeopleProfileCard): PeopleProfile {
    if (!card.email) throw invalid("data should have required property '.email'");
    this.#assertEmailFree(site, card.email);
    const now = this.now();
    const profile: PeopleProfile = {
      people_id: makeUuid(this.#rng),
      email: card.email,
      person: card.person ?? {},
      company: card.company ?? {},
      segments: card.segments ?? [],
      notepad: card.notepad ?? '',
      active: { now: false, last: card.active ?? now },
      score: 0,
      created_at: now,
      updated_at: now,
    };
    site.people.set(profile.people_id, profile);
    site.peopleData.set(profile.people_id, {});
    site.peopleEvents.set(profile.people_id, []);
    this.#emit(site, 'people:profile:created', { people_id: profile.people_id, email: profile.email });
    return profile;
  }

  /** PATCH keeps what is not sent and merges `person` and `company` one level deep; PUT replaces. */
  updatePerson(site: WebsiteState, peopleId: string, card: PeopleProfileCard, mode: 'patch' | 'put'): void {
    const profile = this.person(site, peopleId);
    if (card.email && card.email !== profile.email) this.#assertEmailFree(site, card.email, profile.people_id);
    if (mode === 'put') {
      if (!card.email) throw invalid("data should have required property '.email'");
      profile.person = card.person ?? {};
      profile.company = card.company ?? {};
      profile.segments = card.segments ?? [];
      profile.notepad = card.notepad ?? '';
    } else {
      if (card.person) profile.person = { ...profile.person, ...card.person };
      if (card.company) profile.company = { ...profile.company, ...card.company };
      if (card.segments) profile.segments = card.segments;
      if (card.notepad !== undefined) profile.notepad = card.notepad;
    }
    if (card.email) profile.email = card.email;
    if (card.active !== undefined) profile.active = { ...profile.active, last: card.active };
    profile.updated_at = this.now();
    this.#emit(site, 'people:profile:updated', { people_id: profile.people_id, email: profile.email, update: { updated_at: profile.updated_at, person: profile.person } });
  }

  /**
   * The profile goes; its conversations stay, as the visitor's sessions they are, bound to no
   * contact (`people_id` null, as before an email made one) rather than to a profile that no
   * longer exists. Crisp's behaviour here is unverified (README, the sandbox's choices).
   */
  removePerson(site: WebsiteState, peopleId: string): void {
    const profile = this.person(site, peopleId);
    site.people.delete(profile.people_id);
    site.peopleData.delete(profile.people_id);
    site.peopleEvents.delete(profile.people_id);
    for (const conversation of site.conversations.values()) {
      if (conversation.people_id === profile.people_id) conversation.people_id = null;
    }
    this.#emit(site, 'people:profile:removed', { people_id: profile.people_id, email: profile.email });
  }

  /** PATCH merges keys (a null value removes one); PUT replaces the whole object. */
  writePeopleData(site: WebsiteState, peopleId: string, data: CustomData, mode: 'patch' | 'put'): void {
    const profile = this.person(site, peopleId);
    const next = mode === 'put' ? mergeData({}, data) : mergeData(site.peopleData.get(profile.people_id) ?? {}, data);
    site.peopleData.set(profile.people_id, next);
    profile.updated_at = this.now();
  }

  addPeopleEvent(site: WebsiteState, peopleId: string, event: { text: string; data?: CustomData; color?: string }): PeopleEvent {
    const profile = this.person(site, peopleId);
    const stored: PeopleEvent = { text: event.text, data: event.data ?? {}, color: event.color ?? 'grey', timestamp: this.now() };
    const events = site.peopleEvents.get(profile.people_id) ?? [];
    events.push(stored);
    site.peopleEvents.set(profile.people_id, events);
    return stored;
  }

  #assertEmailFree(site: WebsiteState, email: string, exceptPeopleId?: string): void {
    const lower = email.toLowerCase();
    for (const p of site.people.values()) {
      if (p.people_id !== exceptPeopleId && p.email?.toLowerCase() === lower) throw new SandboxHttpError(409, 'people_exists', `a people profile with email ${email} already exists`);
    }
  }

  #emit(site: WebsiteState, event: string, data: Record<string, unknown>): void {
    // Session-scoped events carry the inbox (none in the sandbox); website-scoped ones (people:*) do not.
    const payload = 'session_id' in data ? { website_id: site.website_id, inbox_id: null, ...data } : { website_id: site.website_id, ...data };
    this.emit('event', { event, website_id: site.website_id, data: payload, timestamp: this.now() });
  }
}

function mergeData(base: CustomData, patch: CustomData): CustomData {
  const next: CustomData = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

function excerpt(message: Message): string {
  if (typeof message.content === 'string') return excerptOf(message.content);
  const content = message.content as Record<string, unknown>;
  const text = content.text ?? content.name ?? content.url ?? message.type;
  return excerptOf(String(text));
}

const EXCERPT_UNITS = 200;
// Made on the first long excerpt: a segmenter loads ICU's break rules, which most runs never need.
let graphemes: Intl.Segmenter | undefined;

/**
 * At most 200 UTF-16 units, cut between two user-perceived characters: never half of a surrogate
 * pair, a flag (🇯🇵 becoming 🇯), a ZWJ emoji or a letter without its marks. The rule of
 * src/text-cut.ts, which sandbox/ may not import (lint/layers.js: it shares only crisp/schemas).
 */
function excerptOf(text: string): string {
  if (text.length <= EXCERPT_UNITS) return text;
  let end = 0;
  for (const { index, segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text)) {
    if (index + segment.length > EXCERPT_UNITS) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}
