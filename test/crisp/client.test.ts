// Our client against the sandbox as a real HTTP server: every endpoint method, checked by its
// effect on the sandbox's state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrispClient, CrispError } from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';

let sandbox: Sandbox;
let crisp: CrispClient;
let w: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 42 });
  crisp = clientFor(sandbox);
  w = sandbox.websiteId;
});
afterAll(async () => {
  await crisp.close();
  await sandbox.close();
});

const site = () => sandbox.state.websites.get(w)!;
const pending = () => [...site().conversations.values()].find((c) => c.state === 'pending')!;

async function rejection(promise: Promise<unknown>): Promise<CrispError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CrispError);
  return error as CrispError;
}

describe('conversations', () => {
  it('lists pages of conversations with filters, newest first', async () => {
    const page1 = await crisp.conversations.list(w, 1, { per_page: 20 });
    const page2 = await crisp.conversations.list(w, 2, { per_page: 20 });
    expect(page1).toHaveLength(20);
    expect(page2.length).toBeGreaterThan(0);
    expect(page1.map((c) => c.session_id)).not.toContain(page2[0]!.session_id);
    expect(page1.map((c) => c.updated_at)).toEqual([...page1.map((c) => c.updated_at)].sort((a, b) => b - a));

    const resolved = await crisp.conversations.list(w, 1, { filter_resolved: true, per_page: 50 });
    expect(resolved.length).toBeGreaterThan(0);
    expect(resolved.every((c) => c.state === 'resolved')).toBe(true);
    const unread = await crisp.conversations.list(w, 1, { filter_unread: true, filter_not_resolved: true, per_page: 50 });
    expect(unread.every((c) => (c.unread?.operator ?? 0) > 0 && c.state !== 'resolved')).toBe(true);
  });

  it('refuses per_page outside 20–50 before sending anything', () => {
    expect(() => crisp.conversations.list(w, 1, { per_page: 10 })).toThrow(/per_page must be between 20 and 50/);
    expect(() => crisp.conversations.list(w, 0)).toThrow(/page must be an integer/);
  });

  it('gets a conversation, its meta, state and routing', async () => {
    const target = pending();
    const conversation = await crisp.conversations.get(w, target.session_id);
    expect(conversation.session_id).toBe(target.session_id);
    expect(conversation.state).toBe('pending');
    expect((await crisp.conversations.getMeta(w, target.session_id)).nickname).toBe(target.meta?.nickname);
    expect(await crisp.conversations.getState(w, target.session_id)).toBe('pending');
    expect(await crisp.conversations.getRouting(w, target.session_id)).toBe(target.assigned?.user_id ?? null);
  });

  it('creates and removes a conversation', async () => {
    const session = await crisp.conversations.create(w);
    expect(session).toMatch(/^session_[0-9a-f-]{36}$/);
    expect(site().conversations.has(session)).toBe(true);
    await crisp.conversations.remove(w, session);
    expect(site().conversations.has(session)).toBe(false);
    const error = await rejection(crisp.conversations.get(w, session));
    expect(error.code).toBe('crisp_not_found');
    expect(error.status).toBe(404);
    expect(error.reason).toBe('not_found');
    expect(error.retryable).toBe(false);
  });

  it('updates meta: segments replace, data merges', async () => {
    const session = pending().session_id;
    await crisp.conversations.updateMeta(w, session, { subject: 'Invoice', segments: ['billing'], data: { plan: 'pro' } });
    await crisp.conversations.updateMeta(w, session, { segments: ['vip'], data: { seats: 5 } });
    const meta = site().conversations.get(session)!.meta!;
    expect(meta.subject).toBe('Invoice');
    expect(meta.segments).toEqual(['vip']);
    expect(meta.data).toMatchObject({ plan: 'pro', seats: 5 });
  });

  it('changes state and assignment', async () => {
    const session = pending().session_id;
    const operator = site().operators[0]!.details.user_id;
    await crisp.conversations.setState(w, session, 'resolved');
    expect(site().conversations.get(session)!.state).toBe('resolved');
    await crisp.conversations.assign(w, session, operator);
    expect(await crisp.conversations.getRouting(w, session)).toBe(operator);
    await crisp.conversations.assign(w, session, null);
    expect(await crisp.conversations.getRouting(w, session)).toBeNull();
    const error = await rejection(crisp.conversations.assign(w, session, 'not-an-operator'));
    expect(error.code).toBe('crisp_invalid');
    expect(error.message).toMatch(/assigned\.user_id/);
  });
});

describe('messages', () => {
  it('pages back through a long conversation: 206 while older messages remain, then 200', async () => {
    const long = [...site().messages.entries()].find(([, m]) => m.length >= 45)!;
    const [session, thread] = long;
    const seen: number[] = [];
    let before: number | undefined;
    let pages = 0;
    for (;;) {
      const page = await crisp.messages.list(w, session, before);
      pages++;
      seen.unshift(...page.messages.map((m) => m.fingerprint));
      if (!page.hasMore) break;
      before = page.messages[0]!.timestamp;
    }
    expect(pages).toBe(Math.ceil(thread.length / 20));
    expect(seen).toEqual(thread.map((m) => m.fingerprint));
  });

  it('reads a page as summaries: the same messages, only the fields a thread reader uses, still checked', async () => {
    const [session] = [...site().messages.entries()].find(([, m]) => m.length >= 5)!;
    const [full, summaries] = await Promise.all([crisp.messages.list(w, session), crisp.messages.summaries(w, session)]);
    expect(summaries.hasMore).toBe(full.hasMore);
    expect(summaries.messages).toEqual(full.messages.map((m) => ({ type: m.type, from: m.from, content: m.content, fingerprint: m.fingerprint, timestamp: m.timestamp, ...(m.user ? { user: m.user } : {}), ...(m.automated === undefined ? {} : { automated: m.automated }) })));
    // A field it relies on, malformed: refused like any answer of the wrong shape, naming the field.
    const last = site().messages.get(session)!.at(-1)! as unknown as { timestamp: unknown };
    const timestamp = last.timestamp;
    last.timestamp = 'yesterday';
    try {
      await expect(crisp.messages.summaries(w, session)).rejects.toMatchObject({ code: 'crisp_bad_response', message: expect.stringMatching(/timestamp/) });
    } finally {
      last.timestamp = timestamp;
    }
  });

  it('reads the summaries newer than a time: only those, oldest first, 206 while a batch cannot hold them all', async () => {
    const [session, thread] = [...site().messages.entries()].find(([, m]) => m.length >= 45)!;
    const last3 = thread.slice(-3);
    const newer = await crisp.messages.summariesAfter(w, session, last3[0]!.timestamp - 1);
    expect(newer.hasMore).toBe(false);
    expect(newer.messages.map((m) => m.fingerprint)).toEqual(thread.filter((m) => m.timestamp >= last3[0]!.timestamp).map((m) => m.fingerprint));
    expect(newer.messages[0]).toEqual({ type: last3[0]!.type, from: last3[0]!.from, content: last3[0]!.content, fingerprint: last3[0]!.fingerprint, timestamp: last3[0]!.timestamp, ...(last3[0]!.user ? { user: last3[0]!.user } : {}), automated: last3[0]!.automated });
    expect((await crisp.messages.summariesAfter(w, session, thread.at(-1)!.timestamp)).messages).toEqual([]);
    const all = await crisp.messages.summariesAfter(w, session, 0);
    expect(all.hasMore).toBe(true);
    expect(all.messages.map((m) => m.fingerprint)).toEqual(thread.slice(0, 20).map((m) => m.fingerprint));
  });

  it('sends every message type and reads it back', async () => {
    const session = pending().session_id;
    const sends = [
      { type: 'text', content: 'Hello from the test' },
      { type: 'note', content: 'internal: check invoice' },
      { type: 'file', content: { name: 'a.pdf', url: 'https://files.example.test/a.pdf', type: 'application/pdf' } },
      { type: 'animation', content: { url: 'https://files.example.test/a.gif', type: 'image/gif' } },
      { type: 'audio', content: { url: 'https://files.example.test/a.mp3', type: 'audio/mpeg', duration: 12 } },
      { type: 'picker', content: { id: 'p1', text: 'Pick one', choices: [{ value: 'a', label: 'A', selected: false }] } },
      { type: 'field', content: { id: 'f1', text: 'Your email?', explain: 'Enter your email' } },
      { type: 'carousel', content: { text: 'Plans', targets: [{ title: 'Pro', description: '10 seats', actions: [{ label: 'Buy', url: 'https://acme.test/buy' }] }] } },
      { type: 'event', content: { namespace: 'bot:handoff', text: 'Handed to a human' } },
    ] as const;
    for (const send of sends) {
      const fingerprint = await crisp.messages.send(w, session, { ...send, from: 'operator', origin: 'chat' } as never);
      const stored = await crisp.messages.get(w, session, fingerprint);
      expect(stored.type).toBe(send.type);
      expect(stored.content).toEqual(send.content);
    }
    const latest = await crisp.messages.list(w, session);
    expect(latest.messages.at(-1)!.type).toBe('event');
    expect(site().conversations.get(session)!.state).toBe('unresolved');
  });

  it('reports Crisp\'s invalid_data wording for a malformed message', async () => {
    const error = await rejection(crisp.messages.send(w, pending().session_id, { type: 'picker', from: 'operator', origin: 'chat', content: { id: 'x', text: 't', choices: [] } } as never));
    expect(error.code).toBe('crisp_invalid');
    expect(error.reason).toBe('invalid_data');
    expect(error.message).toMatch(/data\.content\.choices should be at least 1 items/);
  });

  it('shows and clears the typing indicator, and marks messages read', async () => {
    const session = [...site().conversations.values()].find((c) => (c.unread?.operator ?? 0) > 0)!.session_id;
    await crisp.messages.compose(w, session, { type: 'start', from: 'operator', excerpt: 'Typing…' });
    expect(site().conversations.get(session)!.compose).toHaveProperty('operator');
    await crisp.messages.compose(w, session, { type: 'stop', from: 'operator' });
    expect(site().conversations.get(session)!.compose).not.toHaveProperty('operator');
    await crisp.messages.markRead(w, session, { from: 'operator', origin: 'chat' });
    expect(site().conversations.get(session)!.unread!.operator).toBe(0);
  });
});

describe('operators and availability', () => {
  it('lists operators and their availability', async () => {
    const operators = await crisp.operators.list(w);
    expect(operators).toHaveLength(4);
    expect(operators[0]!.details.email).toMatch(/@/);
    const availability = await crisp.operators.availability(w);
    expect(availability.map((a) => a.user_id).sort()).toEqual(operators.map((o) => o.details.user_id).sort());
    expect((await crisp.operators.websiteAvailability(w)).status).toBe('online');
  });
});

describe('people', () => {
  it('lists, searches and filters profiles', async () => {
    const page1 = await crisp.people.list(w, 1);
    expect(page1).toHaveLength(20);
    const target = page1[3]!;
    const found = await crisp.people.list(w, 1, { search_text: target.email! });
    expect(found.map((p) => p.people_id)).toEqual([target.people_id]);
    const vip = await crisp.people.list(w, 1, { search_filter: [{ model: 'people', criterion: 'segments', operator: 'eq', query: ['vip'] }] });
    expect(vip.length).toBeGreaterThan(0);
    expect(vip.every((p) => p.segments?.includes('vip'))).toBe(true);
  });

  it('adds, patches, saves and removes a profile; a duplicate email is a conflict', async () => {
    const id = await crisp.people.add(w, { email: 'new.person@example.test', person: { nickname: 'New Person', phone: '+33100000001' } });
    const conflict = await rejection(crisp.people.add(w, { email: 'new.person@example.test' }));
    expect(conflict.code).toBe('crisp_conflict');
    expect(conflict.status).toBe(409);

    await crisp.people.update(w, id, { person: { nickname: 'Renamed' } });
    let profile = await crisp.people.get(w, id);
    expect(profile.person?.nickname).toBe('Renamed');
    expect(profile.person?.phone).toBe('+33100000001');
    expect(profile.email).toBe('new.person@example.test');

    await crisp.people.save(w, id, { email: 'new.person@example.test', person: { nickname: 'Only name' } });
    profile = await crisp.people.get(w, id);
    expect(profile.person).toEqual({ nickname: 'Only name' });

    await crisp.people.remove(w, id);
    expect((await rejection(crisp.people.get(w, id))).code).toBe('crisp_not_found');
  });

  it('merges and replaces custom data, and records events', async () => {
    const person = [...site().people.values()][0]!;
    await crisp.people.updateData(w, person.people_id, { plan: 'business', mrr: 99 });
    await crisp.people.updateData(w, person.people_id, { mrr: null, seats: 3 });
    const data = await crisp.people.getData(w, person.people_id);
    expect(data).toMatchObject({ plan: 'business', seats: 3 });
    expect(data).not.toHaveProperty('mrr');
    await crisp.people.saveData(w, person.people_id, { only: 'this' });
    expect(await crisp.people.getData(w, person.people_id)).toEqual({ only: 'this' });

    await crisp.people.addEvent(w, person.people_id, { text: 'Test event', data: { n: 1 }, color: 'green' });
    const events = await crisp.people.listEvents(w, person.people_id);
    expect(events[0]).toMatchObject({ text: 'Test event', color: 'green' });
  });

  it("lists a person's conversations as session ids", async () => {
    const linked = [...site().conversations.values()].find((c) => c.people_id)!;
    const sessions = await crisp.people.listConversations(w, linked.people_id!);
    expect(sessions).toContain(linked.session_id);
    expect(sessions.every((s) => s.startsWith('session_'))).toBe(true);
  });
});

describe('connect and credentials', () => {
  it('discovers the RTM endpoint for its tier', async () => {
    const endpoints = await crisp.connect.endpoints();
    expect(new URL(endpoints.socket.app).origin).toBe(new URL(sandbox.url).origin);
  });

  it('turns a refused key into crisp_unauthorized without leaking the key', async () => {
    const wrongKey = 'definitely-wrong-key-123';
    const bad = new CrispClient({ baseUrl: sandbox.url, credentials: { identifier: sandbox.credentials[0]!.identifier, key: wrongKey, tier: 'plugin' } });
    const error = await rejection(bad.operators.list(w));
    await bad.close();
    expect(error.code).toBe('crisp_unauthorized');
    expect(error.reason).toBe('invalid_session');
    expect(error.attempts).toBe(1);
    const everything = JSON.stringify(error) + error.message + String(error.stack);
    expect(everything).not.toContain(wrongKey);
    expect(everything).not.toContain(Buffer.from(`${sandbox.credentials[0]!.identifier}:${wrongKey}`).toString('base64'));
  });

  it('answers not_subscribed for a website the plugin is not installed on', async () => {
    const error = await rejection(crisp.operators.list('00000000-0000-4000-8000-000000000000'));
    expect(error.code).toBe('crisp_not_subscribed');
  });

  it('rejects a bad base URL at construction', () => {
    expect(() => new CrispClient({ baseUrl: 'not a url', credentials: { identifier: 'a', key: 'b', tier: 'plugin' } })).toThrow(/CRISP_API_URL must be an absolute/);
    expect(() => new CrispClient({ baseUrl: 'ftp://x', credentials: { identifier: 'a', key: 'b', tier: 'plugin' } })).toThrow(/http or https/);
  });
});
