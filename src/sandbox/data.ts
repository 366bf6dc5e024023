// The generator of the sandbox's seeded demo inbox: a website, its operators, people and
// conversations, all in Crisp wire shape, drawn from the tables of demo-tables.ts. Every value comes
// from one mulberry32 stream and every timestamp is an offset from `now`, so a given seed yields the
// same inbox, always fresh.
import type {
  ConversationWire,
  ConversationState,
  CustomData,
  Message,
  Operator,
  OperatorAvailability,
  PeopleEvent,
  PeopleProfile,
} from '../crisp/schemas.js';
import {
  COMPANIES, DEMO_WEBSITES, DEVICES, EVENTS, HIDDEN_TEXT, LONG_ENDPOINTS, LONG_ERRORS, LONG_FIXES, NUDGES, OPERATORS, PERSONAL_DOMAINS, PLANS,
  REGIONS, SEGMENTS, TOPICS, type Topic, type Turn,
} from './demo-tables.js';
import { previewFields, STATUS } from './inbox-rules.js';
import { createRng, makeUuid } from './seed.js';

export interface DemoData {
  website: { website_id: string; name: string; domain: string };
  operators: Operator[];
  availability: OperatorAvailability[];
  conversations: ConversationWire[];
  /** session_id -> messages, ascending by timestamp. */
  messages: Map<string, Message[]>;
  people: PeopleProfile[];
  /** people_id -> custom data. */
  peopleData: Map<string, CustomData>;
  /** people_id -> events, ascending by timestamp. */
  peopleEvents: Map<string, PeopleEvent[]>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------- rng helpers

/** Crisp-like ~15-digit message id; unique as long as messages are >= 10 ms apart. */
export function makeFingerprint(timestamp: number, rng: () => number): number {
  return Math.floor(timestamp / 10) * 1000 + Math.floor(rng() * 1000);
}

const int = (rng: () => number, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
function shuffle<T>(rng: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
const ascii = (s: string): string => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');

// ---------------------------------------------------------------- builders

interface Visitor {
  people_id?: string;
  nickname: string;
  first: string;
  email?: string;
  phone: string;
  plan?: string;
  segments: string[];
  region: (typeof REGIONS)[number];
}

function buildOperators(rng: () => number, now: number): { operators: Operator[]; availability: OperatorAvailability[] } {
  const operators: Operator[] = [];
  const availability: OperatorAvailability[] = [];
  for (const op of OPERATORS) {
    const user_id = makeUuid(rng);
    operators.push({
      type: 'operator',
      details: {
        user_id, email: `${op.email}@acme-cloud.test`, avatar: '', first_name: op.first, last_name: op.last,
        role: op.role, title: op.title, availability: op.availability, has_token: op.role === 'owner',
      },
    });
    const since = now - int(rng, 5, 240) * MINUTE;
    availability.push({ user_id, type: op.availability, time: { for: now - since, since } });
  }
  return { operators, availability };
}

function buildPeople(rng: () => number, now: number, count: number) {
  const people: PeopleProfile[] = [];
  const peopleData = new Map<string, CustomData>();
  const peopleEvents = new Map<string, PeopleEvent[]>();
  const emails = new Set<string>();
  for (let i = 0; i < count; i++) {
    const region = REGIONS[i % REGIONS.length] as (typeof REGIONS)[number];
    const company = rng() < 0.5 ? pick(rng, COMPANIES) : undefined;
    const domain = company?.domain ?? pick(rng, PERSONAL_DOMAINS);
    let first = '', last = '', email = '';
    for (let attempt = 0; !email || emails.has(email); attempt++) {
      [first, last] = [pick(rng, region.first), pick(rng, region.last)];
      email = `${ascii(first)}.${ascii(last)}${attempt > 8 ? attempt : ''}@${domain}`;
    }
    emails.add(email);
    const people_id = makeUuid(rng);
    const created_at = now - int(rng, 30, 400) * DAY;
    const updated_at = int(rng, created_at, now - HOUR);
    const { plan, seatPrice } = pick(rng, PLANS);
    const seats = plan === 'free' ? 1 : int(rng, 2, 25);
    people.push({
      people_id, email,
      person: {
        nickname: `${first} ${last}`, avatar: '', phone: `${region.phone} ${int(rng, 100, 999)} ${int(rng, 1000, 9999)}`,
        timezone: region.timezone, geolocation: { country: region.country, city: region.city }, locales: [...region.locales],
      },
      ...(company ? { company: { name: company.name, domain: company.domain } } : {}),
      segments: shuffle(rng, SEGMENTS).slice(0, int(rng, 0, 3)),
      notepad: '', active: { now: false, last: updated_at }, score: int(rng, 0, 5), created_at, updated_at,
    });
    const mrr = seats * seatPrice;
    peopleData.set(people_id, {
      // A key without a value is absent, never null: Crisp's people data holds strings, numbers and
      // booleans (node-crisp-api types it so), and a null written by PATCH removes the key.
      plan, signup_date: new Date(created_at).toISOString(), mrr, seats, newsletter: rng() < 0.4, ...(company ? { company: company.name } : {}),
    });
    const events: PeopleEvent[] = [];
    const eventCount = int(rng, 0, 4);
    if (eventCount > 0) events.push({ text: 'Signed up', data: { plan: 'free' }, color: 'blue', timestamp: created_at });
    for (let e = 1; e < eventCount; e++) {
      const kind = pick(rng, EVENTS);
      const data: CustomData = kind.text === 'Upgraded plan' ? { plan } : kind.text === 'Invited teammate' ? { seats } : kind.text === 'Exported data' ? { format: 'csv' } : { amount: mrr, currency: 'EUR' };
      events.push({ text: kind.text, data, color: kind.color, timestamp: int(rng, created_at + HOUR, now - HOUR) });
    }
    peopleEvents.set(people_id, events.sort((a, b) => a.timestamp - b.timestamp));
  }
  return { people, peopleData, peopleEvents };
}

function scriptFor(rng: () => number, topic: Topic, state: ConversationState): Turn[] {
  const turns = [...topic.turns];
  const firstReply = turns.findIndex((t) => t[0] !== 'user' && t[0] !== 'user-file');
  if (state === 'resolved') return turns;
  if (state === 'unresolved') {
    // Cut after the first reply and before the end; half the time where the visitor spoke last,
    // so some unresolved chats are waiting on us and others on the visitor.
    const cuts = turns.map((_, i) => i + 1).filter((k) => k >= Math.max(firstReply + 1, 2) && k < turns.length);
    const visitorLast = cuts.filter((k) => turns[k - 1]?.[0].startsWith('user'));
    return turns.slice(0, pick(rng, rng() < 0.5 && visitorLast.length > 0 ? visitorLast : cuts));
  }
  const opening = turns.slice(0, firstReply);
  return opening.length >= 2 && rng() < 0.6 ? opening : [...opening, ['user', pick(rng, NUDGES)]];
}

function longScript(rng: () => number): Turn[] {
  const turns: Turn[] = [['user', 'Hi, we are wiring the Acme Cloud API into our back office and hit a few snags.']];
  for (let i = 0; i < 23; i++) {
    const endpoint = pick(rng, LONG_ENDPOINTS);
    turns.push(['user', `Next one: GET ${endpoint} returns ${pick(rng, LONG_ERRORS)} when we page past item ${int(rng, 2, 90) * 100}.`]);
    turns.push(['operator', `For ${endpoint}, ${pick(rng, LONG_FIXES)}`]);
  }
  turns.push(['user', "OK, I'll try all of that tonight and report back."]);
  return turns;
}

function buildThread(
  rng: () => number, turns: readonly Turn[], ctx: { websiteId: string; sessionId: string; visitor: Visitor; handler: Operator; operators: Operator[]; startAt: number; gaps: number[]; resolved: boolean },
): Message[] {
  let at = ctx.startAt;
  const messages = turns.map((turn, i): Message => {
    at += i === 0 ? 0 : (ctx.gaps[i - 1] ?? MINUTE);
    const fromUser = turn[0] === 'user' || turn[0] === 'user-file';
    const author = turn[0] === 'note' ? pick(rng, ctx.operators).details : ctx.handler.details;
    const text = (s: string): string => s.replaceAll('{first}', ctx.visitor.first);
    const [type, content]: [string, unknown] =
      turn[0] === 'user' || turn[0] === 'operator' ? ['text', text(turn[1])]
      : turn[0] === 'note' ? ['note', turn[1]]
      : turn[0] === 'picker' ? ['picker', { id: `picker-${i}`, text: turn[1], choices: turn[2].map(([value, label]) => ({ value, label, selected: false })) }]
      : ['file', { name: turn[1], url: `https://files.acme-cloud.test/${makeUuid(rng)}/${turn[1]}`, type: turn[2] }];
    return {
      session_id: ctx.sessionId, website_id: ctx.websiteId, type, from: fromUser ? 'user' : 'operator', origin: 'chat', content,
      preview: [], mentions: [], read: '', delivered: 'chat', edited: false, translated: false, automated: false, stamped: true,
      fingerprint: makeFingerprint(at, rng), timestamp: at,
      user: fromUser
        ? { user_id: ctx.sessionId, nickname: ctx.visitor.nickname }
        : { type: 'website', user_id: author.user_id, nickname: author.first_name ?? '', avatar: '' },
    };
  });
  // Read once the other side wrote after it (an operator's note shows they saw the visitor's
  // message); notes are never shown to the visitor, so they stay unread until the chat is resolved.
  messages.forEach((m, i) => {
    const answered = messages.slice(i + 1).some((later) => later.from !== m.from);
    m.read = ctx.resolved || (answered && m.type !== 'note') ? 'chat' : '';
  });
  return messages;
}

function buildConversation(
  rng: () => number,
  ctx: { websiteId: string; now: number; state: ConversationState; visitor: Visitor; subject: string; turns: readonly Turn[]; operators: Operator[] },
): { conversation: ConversationWire; messages: Message[] } {
  const { now, state, visitor } = ctx;
  const sessionId = `session_${makeUuid(rng)}`;
  const handler = pick(rng, ctx.operators);
  // Gaps >= 20 s keep fingerprints (timestamp/10 based) unique within the thread.
  const gaps = ctx.turns.slice(1).map((t) => (t[0].startsWith('user') ? int(rng, 20, 600) : int(rng, 60, 1800)) * 1000);
  const span = gaps.reduce((a, b) => a + b, 0);
  const [minAge, maxAge] = state === 'pending' ? [5 * MINUTE, 6 * HOUR] : state === 'unresolved' ? [5 * MINUTE, 5 * DAY] : [DAY, 29 * DAY];
  const lastAt = now - int(rng, minAge, Math.max(minAge, maxAge - span));
  const messages = buildThread(rng, ctx.turns, { ...ctx, sessionId, handler, startAt: lastAt - span, gaps, resolved: state === 'resolved' });
  // A private note is not an answer: the visitor still waits, and the preview shows what they see
  // (the same rules as the live sandbox, inbox-rules.ts).
  const last = messages.findLast((m) => m.type !== 'note') as Message;
  const lastAnswer = messages.findLastIndex((m) => m.from === 'operator' && m.type !== 'note');
  const waiting = state === 'resolved' ? [] : messages.slice(lastAnswer + 1).filter((m) => m.from === 'user'); // visitor messages nobody answered
  const lastVisitor = messages.findLastIndex((m) => m.from === 'user');
  const unseenByVisitor = state === 'resolved' ? 0 : messages.slice(lastVisitor + 1).filter((m) => m.type !== 'note').length;
  const activeNow = state !== 'resolved' && now - lastAt < 30 * MINUTE;
  const device = pick(rng, DEVICES);
  const conversation: ConversationWire = {
    session_id: sessionId, website_id: ctx.websiteId, inbox_id: null,
    ...(visitor.people_id ? { people_id: visitor.people_id } : {}),
    state, status: STATUS[state],
    is_verified: false, is_blocked: false, availability: activeNow ? 'online' : 'offline', active: { now: activeNow, last: lastAt },
    ...previewFields(messages),
    topic: '', verifications: [], participants: [], mentions: [], compose: {},
    unread: { operator: waiting.length, visitor: unseenByVisitor },
    ...(rng() < 0.5 ? { assigned: { user_id: handler.details.user_id } } : {}),
    meta: {
      nickname: visitor.nickname, ...(visitor.email ? { email: visitor.email } : {}), phone: visitor.phone, address: '',
      subject: ctx.subject, ip: `203.0.113.${int(rng, 1, 254)}`, avatar: '', origin: 'chat', segments: visitor.segments,
      data: visitor.plan ? { plan: visitor.plan } : {},
      device: {
        geolocation: { country: visitor.region.country, city: visitor.region.city },
        system: { os: { ...device.os }, browser: { ...device.browser } }, timezone: visitor.region.timezone, locales: [...visitor.region.locales],
      },
    },
    created_at: lastAt - span, updated_at: lastAt,
    ...(waiting.length > 0 && last.from === 'user' ? { waiting_since: (waiting[0] as Message).timestamp } : {}),
  };
  return { conversation, messages };
}

// ---------------------------------------------------------------- entry point

export function generateDemoData(options: { seed: number; now: number; websiteId?: string; site?: { name: string; domain: string } }): DemoData {
  const rng = createRng(options.seed);
  const { now } = options;
  const websiteId = options.websiteId ?? makeUuid(rng);
  const { operators, availability } = buildOperators(rng, now);
  const { people, peopleData, peopleEvents } = buildPeople(rng, now, 40);

  const states = shuffle(rng, [
    ...Array<ConversationState>(8).fill('pending'), ...Array<ConversationState>(12).fill('unresolved'), ...Array<ConversationState>(10).fill('resolved'),
  ]);
  const hiddenAt = states.indexOf('pending');
  const longAt = states.indexOf('unresolved');
  const linked = shuffle(rng, people);
  const conversations: ConversationWire[] = [];
  const messages = new Map<string, Message[]>();

  states.forEach((state, i) => {
    const special = i === hiddenAt || i === longAt;
    const profile = !special && i % 8 === 5 ? undefined : linked[i % linked.length]; // a few anonymous visitors
    const region = REGIONS.find((r) => r.country === profile?.person?.geolocation?.country) ?? pick(rng, REGIONS);
    const topic = i === hiddenAt ? (TOPICS[1] as Topic) : pick(rng, TOPICS);
    const nickname = profile?.person?.nickname ?? `visitor${int(rng, 10000, 99999)}`;
    const visitor: Visitor = {
      nickname, first: profile ? (nickname.split(' ')[0] ?? nickname) : 'there', region, segments: [...topic.segments],
      phone: profile?.person?.phone ?? '',
      ...(profile ? { people_id: profile.people_id, email: profile.email, plan: String(peopleData.get(profile.people_id)?.plan) } : {}),
    };
    let turns: Turn[];
    if (i === longAt) turns = longScript(rng);
    else if (i === hiddenAt) turns = [['user', HIDDEN_TEXT], ['user', 'Order reference: ACME-88213.']];
    else turns = scriptFor(rng, topic, state);
    const subject = i === longAt ? 'API integration troubleshooting' : topic.subject;
    const built = buildConversation(rng, { websiteId, now, state, visitor, subject, turns, operators });
    conversations.push(built.conversation);
    messages.set(built.conversation.session_id, built.messages);
  });
  // Crisp lists the inbox most recently updated first.
  conversations.sort((a, b) => b.updated_at - a.updated_at);

  return {
    website: { website_id: websiteId, ...(options.site ?? DEMO_WEBSITES[0]) },
    operators, availability, conversations, messages, people, peopleData, peopleEvents,
  };
}
