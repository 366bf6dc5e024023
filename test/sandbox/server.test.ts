// The sandbox as a real HTTP server on port 0, driven with raw HTTP: status codes, the
// `{error, reason, data}` envelope and `data.message` wording.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationWire as Conversation, Message, Operator, OperatorAvailability, PeopleEvent, PeopleProfile } from '../../src/crisp/schemas.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import {
  control,
  conv,
  crisp,
  crispGet,
  demoSite,
  messageOf,
  site,
  useSandbox,
  type CrispReply,
} from '../helpers/sandbox-http.js';

const CONVERSATIONS = (sandbox: Sandbox, query = '', page = 1) => site(sandbox, `/conversations/${page}${query ? `?${query}` : ''}`);
const ids = (conversations: { session_id: string }[]) => conversations.map((c) => c.session_id);

/** Asserts a failure envelope and returns its `data.message`. */
function expectError(reply: CrispReply<unknown>, status: number, reason: string): string {
  expect({ status: reply.status, error: reply.body?.error, reason: reply.body?.reason }).toEqual({ status, error: true, reason });
  return messageOf(reply);
}

/** Asserts a success envelope and returns its `data`. */
function expectOk<T>(reply: CrispReply<T>, reason = 'resolved', status = 200): T {
  expect({ status: reply.status, error: reply.body?.error, reason: reply.body?.reason }).toEqual({ status, error: false, reason });
  return reply.body!.data;
}

/** The demo conversations of the seed, straight from the state (the test oracle). */
const stateConversations = (sandbox: Sandbox) => [...demoSite(sandbox).conversations.values()];
const threadOf = (sandbox: Sandbox, sessionId: string) => demoSite(sandbox).messages.get(sessionId) ?? [];
const findConversation = (sandbox: Sandbox, predicate: (c: Conversation) => boolean): Conversation => {
  const found = stateConversations(sandbox).find(predicate);
  if (!found) throw new Error('no demo conversation matches the predicate');
  return found;
};

// ---------------------------------------------------------------- listing conversations

describe('GET /conversations/:page', () => {
  const sandbox = useSandbox({ seed: 42 });

  it('answers page 1 in the success envelope, most recently updated first', async () => {
    const reply = await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox()));
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const data = expectOk(reply);
    expect(data).toHaveLength(20);
    for (const c of data) {
      expect(c.session_id).toMatch(/^session_[0-9a-f-]{36}$/);
      expect(c.website_id).toBe(sandbox().websiteId);
    }
    const updated = data.map((c) => c.updated_at);
    expect(updated).toEqual([...updated].sort((a, b) => b - a));
  });

  it.each([
    ['per_page=19', 400],
    ['per_page=51', 400],
    ['per_page=abc', 400],
    ['per_page=20', 200],
    ['per_page=50', 200],
  ])('bounds %s → %i', async (query, status) => {
    const reply = await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), query));
    if (status === 400) {
      expect(expectError(reply, 400, 'invalid_data')).toBe('query.per_page should be an integer between 20 and 50');
    } else {
      expect(expectOk(reply).length).toBe(Math.min(Number(query.split('=')[1]), stateConversations(sandbox()).length));
    }
  });

  it('rejects page 0', async () => {
    const reply = await crispGet(sandbox(), CONVERSATIONS(sandbox(), '', 0));
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/page_number/);
  });

  it('pages: page 2 holds the rest, page 3 is empty', async () => {
    const total = stateConversations(sandbox()).length;
    const page1 = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), '', 1)));
    const page2 = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), '', 2)));
    const page3 = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), '', 3)));
    expect(page2).toHaveLength(total - 20);
    expect(page3).toEqual([]);
    expect(ids(page2).filter((id) => ids(page1).includes(id))).toEqual([]);
    expect(new Set([...ids(page1), ...ids(page2)])).toEqual(new Set(ids(stateConversations(sandbox()))));
  });

  const filters: [string, (c: Conversation) => boolean][] = [
    ['filter_resolved=1', (c) => c.state === 'resolved'],
    ['filter_not_resolved=1', (c) => c.state !== 'resolved'],
    ['filter_unread=1', (c) => (c.unread?.operator ?? 0) > 0],
    ['filter_unassigned=1', (c) => !c.assigned?.user_id],
  ];
  it.each(filters)('%s keeps exactly the matching conversations', async (query, predicate) => {
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), `per_page=50&${query}`)));
    const expected = stateConversations(sandbox()).filter(predicate);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(stateConversations(sandbox()).length);
    expect(data.every(predicate)).toBe(true);
    expect(new Set(ids(data))).toEqual(new Set(ids(expected)));
  });

  it('filter_assigned=<operator user_id> keeps that operator’s conversations', async () => {
    const counts = new Map<string, number>();
    for (const c of stateConversations(sandbox())) if (c.assigned?.user_id) counts.set(c.assigned.user_id, (counts.get(c.assigned.user_id) ?? 0) + 1);
    const [userId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), `per_page=50&filter_assigned=${userId}`)));
    expect(data).toHaveLength(counts.get(userId)!);
    expect(data.every((c) => c.assigned?.user_id === userId)).toBe(true);
  });

  it('rejects a filter flag that is not 0 or 1', async () => {
    const reply = await crispGet(sandbox(), CONVERSATIONS(sandbox(), 'filter_unread=yes'));
    expect(expectError(reply, 400, 'invalid_data')).toBe('query.filter_unread should be 0 or 1');
  });

  it.each([
    // The long thread's opening line, and the order reference of the hidden-text conversation.
    ['back office', (m: Message[]) => m.length >= 45],
    ['BACK OFFICE', (m: Message[]) => m.length >= 45],
    ['ACME-88213', (m: Message[]) => m.some((x) => String(x.content).includes('ACME-88213'))],
  ])('search_query=%j finds the conversation whose messages contain it', async (text, isTarget) => {
    const target = findConversation(sandbox(), (c) => isTarget(threadOf(sandbox(), c.session_id)));
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), `search_query=${encodeURIComponent(text)}`)));
    expect(ids(data)).toEqual([target.session_id]);
  });

  it('search_query matches meta fields too (a visitor nickname)', async () => {
    const target = findConversation(sandbox(), (c) => /^visitor\d+$/.test(c.meta?.nickname ?? ''));
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), `search_query=${target.meta!.nickname!}`)));
    expect(ids(data)).toContain(target.session_id);
  });

  it('search_query with nothing matching gives an empty page', async () => {
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), 'search_query=zzqqxx-no-such-text')));
    expect(data).toEqual([]);
  });

  it('order_date_waiting=1 lists only waiting conversations, the longest-waiting first', async () => {
    const data = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), 'per_page=50&order_date_waiting=1')));
    const waiting = stateConversations(sandbox()).filter((c) => typeof c.waiting_since === 'number');
    expect(waiting.length).toBeGreaterThan(1);
    expect(new Set(ids(data))).toEqual(new Set(ids(waiting)));
    const since = data.map((c) => c.waiting_since!);
    expect(since).toEqual([...since].sort((a, b) => a - b));
  });
});

describe('include_empty', () => {
  const sandbox = useSandbox({ seed: 42 });

  it('shows a conversation without messages only with include_empty=1', async () => {
    const created = expectOk(await crisp<{ session_id: string }>(sandbox(), site(sandbox(), '/conversation'), { method: 'POST' }), 'added');
    expect(created.session_id).toMatch(/^session_/);

    const without = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), 'per_page=50')));
    expect(ids(without)).not.toContain(created.session_id);
    const withEmpty = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), 'per_page=50&include_empty=1')));
    expect(ids(withEmpty)).toContain(created.session_id);
    expect(withEmpty).toHaveLength(without.length + 1);

    const one = expectOk(await crispGet<Conversation>(sandbox(), conv(sandbox(), created.session_id)));
    expect(one).toMatchObject({ session_id: created.session_id, state: 'pending', unread: { operator: 0, visitor: 0 } });
  });
});

// ---------------------------------------------------------------- auth and routing errors

describe('authentication and routing errors', () => {
  const sandbox = useSandbox({ seed: 42 });
  const operators = () => site(sandbox(), '/operators/list');

  it.each([
    ['no Authorization header', { authorization: undefined }, /Authorization/],
    ['a Bearer token', { authorization: 'Bearer abc' }, /Authorization/],
    ['no User-Agent', { 'user-agent': undefined }, /User-Agent/],
    ['no X-Crisp-Tier (defaults to user)', { 'x-crisp-tier': undefined }, /plugin tier, not user/],
    ['an X-Crisp-Tier that does not match the token', { 'x-crisp-tier': 'website' }, /plugin tier, not website/],
  ])('401 invalid_session for %s', async (_name, headers, message) => {
    const reply = await crispGet(sandbox(), operators(), { headers });
    expect(expectError(reply, 401, 'invalid_session')).toMatch(message);
  });

  it('401 invalid_session for a wrong key', async () => {
    const credential = { ...sandbox().credentials[0]!, key: 'wrong-key' };
    const reply = await crispGet(sandbox(), operators(), { credential });
    expect(expectError(reply, 401, 'invalid_session')).toBe('the identifier and key pair is not valid');
  });

  it('400 invalid_data for an unknown tier name', async () => {
    const reply = await crispGet(sandbox(), operators(), { headers: { 'x-crisp-tier': 'admin' } });
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/X-Crisp-Tier should be one of plugin, website, user/);
  });

  it('404 not_subscribed for an unknown website with a plugin token', async () => {
    const reply = await crispGet(sandbox(), '/v1/website/00000000-0000-4000-8000-000000000000/operators/list');
    expect(expectError(reply, 404, 'not_subscribed')).toBe('the website is not subscribed to the plugin');
  });

  it('404 not_found "the route does not exist" for an unknown route', async () => {
    // (`/` is the console's page: test/sandbox/console-routes.test.ts.)
    for (const path of ['/v1/nope', site(sandbox(), '/no/such/route'), '/v1']) {
      const reply = await crispGet(sandbox(), path);
      expect(expectError(reply, 404, 'not_found')).toBe('the route does not exist');
    }
  });

  it.each([
    ['DELETE', () => CONVERSATIONS(sandbox())],
    ['POST', () => site(sandbox(), '/operators/list')],
    ['PUT', () => site(sandbox(), '/people/profiles/1')],
  ] as const)('405 for %s on a known path', async (method, path) => {
    const reply = await crisp(sandbox(), path(), { method });
    expect(expectError(reply, 405, 'method_not_allowed')).toBe(`${method} is not allowed on this route`);
  });
});

describe('a website-tier credential', () => {
  const credential = { identifier: 'website-token-id', key: 'website-token-key', tier: 'website' as const };
  const sandbox = useSandbox({ seed: 42, credentials: [credential] });

  it('works on the demo website', async () => {
    expect(expectOk(await crispGet<Operator[]>(sandbox(), site(sandbox(), '/operators/list')))).toHaveLength(4);
  });

  it('gets 403 not_allowed on an unknown website', async () => {
    const reply = await crispGet(sandbox(), '/v1/website/00000000-0000-4000-8000-000000000000/operators/list');
    expect(expectError(reply, 403, 'not_allowed')).toBe('the token is not allowed on this website');
  });

  it('gets 401 with the plugin tier header', async () => {
    const reply = await crispGet(sandbox(), site(sandbox(), '/operators/list'), { headers: { 'x-crisp-tier': 'plugin' } });
    expectError(reply, 401, 'invalid_session');
  });
});

// ---------------------------------------------------------------- request bodies

describe('request bodies', () => {
  const sandbox = useSandbox({ seed: 42 });
  const sessionId = () => stateConversations(sandbox())[0]!.session_id;
  const send = (json: unknown) => crisp(sandbox(), conv(sandbox(), sessionId(), '/message'), { method: 'POST', json });

  it('400 "data should be valid JSON" for malformed JSON', async () => {
    const reply = await crisp(sandbox(), conv(sandbox(), sessionId(), '/message'), { method: 'POST', rawBody: '{"type":"text",' });
    expect(expectError(reply, 400, 'invalid_data')).toBe('data should be valid JSON');
  });

  it('400 listing the allowed values for an unknown message type', async () => {
    const reply = await send({ type: 'telegram', from: 'operator', origin: 'chat', content: 'hi' });
    expect(expectError(reply, 400, 'invalid_data')).toBe(
      'data.type should be equal to one of the allowed values (text, note, file, animation, audio, picker, field, carousel, event)',
    );
  });

  it('400 listing the allowed values for an unknown sender', async () => {
    const reply = await send({ type: 'text', from: 'robot', origin: 'chat', content: 'hi' });
    expect(expectError(reply, 400, 'invalid_data')).toBe('data.from should be equal to one of the allowed values (user, operator)');
  });

  it('400 naming the field when content has the wrong shape for the type', async () => {
    const reply = await send({ type: 'file', from: 'operator', origin: 'chat', content: 'not-an-object' });
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/^data\.content /);
  });

  it("400 \"data should have required property '.origin'\" when origin is missing", async () => {
    const reply = await send({ type: 'text', from: 'operator', content: 'hi' });
    expect(expectError(reply, 400, 'invalid_data')).toBe("data should have required property '.origin'");
  });

  describe('over maxBodyBytes', () => {
    const small = useSandbox({ seed: 42, maxBodyBytes: 1024 });
    const body = JSON.stringify({ type: 'text', from: 'operator', origin: 'chat', content: 'x'.repeat(2000) });
    const path = () => conv(small(), stateConversations(small())[0]!.session_id, '/message');

    it('413 when the declared Content-Length is over the limit, and the message is not stored', async () => {
      const before = threadOf(small(), stateConversations(small())[0]!.session_id).length;
      const reply = await crisp(small(), path(), { method: 'POST', rawBody: body });
      expect(expectError(reply, 413, 'invalid_data')).toBe(`request body is ${Buffer.byteLength(body)} bytes; the limit is 1024`);
      expect(reply.headers.connection).toBe('close');
      expect(threadOf(small(), stateConversations(small())[0]!.session_id)).toHaveLength(before);
    });

    it('413 when a chunked body grows over the limit', async () => {
      const chunks = [Buffer.from(body.slice(0, 600)), Buffer.from(body.slice(600))];
      const reply = await crisp(small(), path(), { method: 'POST', rawBody: Readable.from(chunks) });
      expect(expectError(reply, 413, 'invalid_data')).toBe('request body exceeds the limit of 1024 bytes');
    });

    it('still accepts a body under the limit', async () => {
      const reply = await crisp(small(), path(), { method: 'POST', json: { type: 'text', from: 'operator', origin: 'chat', content: 'short' } });
      expectOk(reply, 'dispatched');
    });
  });
});

// ---------------------------------------------------------------- messages

describe('GET .../messages', () => {
  const sandbox = useSandbox({ seed: 42 });

  it('pages the long conversation with timestamp_before: 206 batches of 20, then 200', async () => {
    const long = findConversation(sandbox(), (c) => threadOf(sandbox(), c.session_id).length >= 45);
    const thread = threadOf(sandbox(), long.session_id);
    const pages: { status: number; messages: Message[] }[] = [];
    let before: number | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const query = before === undefined ? '' : `?timestamp_before=${before}`;
      const reply = await crispGet<Message[]>(sandbox(), conv(sandbox(), long.session_id, `/messages${query}`));
      expect(reply.body).toMatchObject({ error: false, reason: 'resolved' });
      const messages = reply.body!.data;
      pages.push({ status: reply.status, messages });
      const stamps = messages.map((m) => m.timestamp);
      expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
      if (reply.status === 200) break;
      before = messages[0]!.timestamp;
    }

    expect(pages[0]).toMatchObject({ status: 206 });
    expect(pages[0]!.messages).toHaveLength(20);
    expect(pages.at(-1)!.status).toBe(200);
    for (const page of pages.slice(0, -1)) expect({ status: page.status, size: page.messages.length }).toEqual({ status: 206, size: 20 });
    // The newest batch comes first; reversed page order rebuilds the thread exactly once.
    const seen = pages.toReversed().flatMap((p) => p.messages.map((m) => m.fingerprint));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(thread.map((m) => m.fingerprint));
    expect(pages[0]!.messages.at(-1)!.fingerprint).toBe(thread.at(-1)!.fingerprint);
  });

  it('answers 200 with the whole thread for a short conversation', async () => {
    const short = findConversation(sandbox(), (c) => threadOf(sandbox(), c.session_id).length < 20);
    const reply = await crispGet<Message[]>(sandbox(), conv(sandbox(), short.session_id, '/messages'));
    expect(expectOk(reply).map((m) => m.fingerprint)).toEqual(threadOf(sandbox(), short.session_id).map((m) => m.fingerprint));
  });

  it('404 not_found for an unknown session', async () => {
    const reply = await crispGet(sandbox(), conv(sandbox(), 'session_00000000-0000-4000-8000-000000000000', '/messages'));
    expect(expectError(reply, 404, 'not_found')).toMatch(/session_00000000-0000-4000-8000-000000000000 does not exist/);
  });

  it('400 when two timestamp cursors are given', async () => {
    const any = stateConversations(sandbox())[0]!;
    const reply = await crispGet(sandbox(), conv(sandbox(), any.session_id, '/messages?timestamp_before=1&timestamp_after=1'));
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/at most one of timestamp_before, timestamp_after/);
  });
});

// ---------------------------------------------------------------- sending messages

describe('POST .../message and the visitor side', () => {
  const sandbox = useSandbox({ seed: 42 });
  const getConversation = async (sessionId: string) => expectOk(await crispGet<Conversation>(sandbox(), conv(sandbox(), sessionId)));
  const operatorText = (content: string, extra: Record<string, unknown> = {}) => ({ type: 'text', from: 'operator', origin: 'chat', content, ...extra });

  it('dispatches an operator text with a numeric fingerprint, shown last in the thread', async () => {
    const target = findConversation(sandbox(), (c) => c.state === 'unresolved');
    const reply = await crisp<{ fingerprint: number }>(sandbox(), conv(sandbox(), target.session_id, '/message'), {
      method: 'POST',
      json: operatorText('Looking into it now.'),
    });
    const { fingerprint } = expectOk(reply, 'dispatched');
    expect(Number.isSafeInteger(fingerprint)).toBe(true);

    const messages = expectOk(await crispGet<Message[]>(sandbox(), conv(sandbox(), target.session_id, '/messages')));
    expect(messages.at(-1)).toMatchObject({ fingerprint, type: 'text', from: 'operator', origin: 'chat', content: 'Looking into it now.' });
    const one = expectOk(await crispGet<Message>(sandbox(), conv(sandbox(), target.session_id, `/message/${fingerprint}`)));
    expect(one.content).toBe('Looking into it now.');
  });

  it('moves a pending conversation to unresolved after an operator reply', async () => {
    const pending = findConversation(sandbox(), (c) => c.state === 'pending');
    expect((await getConversation(pending.session_id)).waiting_since).toEqual(expect.any(Number));
    expectOk(await crisp(sandbox(), conv(sandbox(), pending.session_id, '/message'), { method: 'POST', json: operatorText('Hi, on it!') }), 'dispatched');
    expect(expectOk(await crispGet<{ state: string }>(sandbox(), conv(sandbox(), pending.session_id, '/state')))).toEqual({ state: 'unresolved' });
    expect((await getConversation(pending.session_id)).waiting_since).toBeUndefined();
  });

  it('keeps a pending conversation pending after a private note', async () => {
    const pending = findConversation(sandbox(), (c) => c.state === 'pending');
    const note = { type: 'note', from: 'operator', origin: 'chat', content: 'Checking with billing' };
    expectOk(await crisp(sandbox(), conv(sandbox(), pending.session_id, '/message'), { method: 'POST', json: note }), 'dispatched');
    expect((await getConversation(pending.session_id)).state).toBe('pending');
  });

  it('stores a client-chosen fingerprint once, however often it is sent (sandbox choice)', async () => {
    const target = findConversation(sandbox(), (c) => c.state === 'resolved');
    const fingerprint = 424242424242424;
    const path = conv(sandbox(), target.session_id, '/message');
    const first = expectOk(await crisp<{ fingerprint: number }>(sandbox(), path, { method: 'POST', json: operatorText('Once only', { fingerprint }) }), 'dispatched');
    const second = expectOk(await crisp<{ fingerprint: number }>(sandbox(), path, { method: 'POST', json: operatorText('Once only', { fingerprint }) }), 'dispatched');
    expect([first.fingerprint, second.fingerprint]).toEqual([fingerprint, fingerprint]);
    const messages = expectOk(await crispGet<Message[]>(sandbox(), conv(sandbox(), target.session_id, '/messages')));
    expect(messages.filter((m) => m.fingerprint === fingerprint)).toHaveLength(1);
  });

  it('a visitor message increments unread.operator and sets waiting_since', async () => {
    const target = findConversation(sandbox(), (c) => c.state === 'unresolved' && c.waiting_since === undefined);
    const before = await getConversation(target.session_id);
    expect(before.waiting_since).toBeUndefined();
    const reply = await control<{ fingerprint: number }>(sandbox(), 'POST', `/_sandbox/websites/${sandbox().websiteId}/conversations/${target.session_id}/messages`, {
      content: 'Any news?',
    });
    const { fingerprint } = expectOk(reply, 'dispatched');

    const after = await getConversation(target.session_id);
    const sent = threadOf(sandbox(), target.session_id).find((m) => m.fingerprint === fingerprint)!;
    expect(sent).toMatchObject({ from: 'user', type: 'text', content: 'Any news?' });
    expect(after.unread?.operator).toBe((before.unread?.operator ?? 0) + 1);
    expect(after.waiting_since).toBe(sent.timestamp);
    expect(after.last_message).toBe('Any news?');
  });

  it('a visitor sends a GIF or a voice message as well as a file, read back with its content whole; any other type is refused naming the four it takes', async () => {
    const target = findConversation(sandbox(), (c) => c.state === 'unresolved');
    const path = `/_sandbox/websites/${sandbox().websiteId}/conversations/${target.session_id}/messages`;
    const voice = { url: 'https://files.example.test/voice.ogg', type: 'audio/ogg', duration: 7 };
    const gif = { url: 'https://files.example.test/wave.gif', type: 'image/gif' };
    const sent = [expectOk(await control<{ fingerprint: number }>(sandbox(), 'POST', path, { type: 'audio', content: voice }), 'dispatched'), expectOk(await control<{ fingerprint: number }>(sandbox(), 'POST', path, { type: 'animation', content: gif }), 'dispatched')];
    const messages = expectOk(await crispGet<Message[]>(sandbox(), conv(sandbox(), target.session_id, '/messages')));
    expect(sent.map(({ fingerprint }) => messages.find((m) => m.fingerprint === fingerprint))).toMatchObject([
      { from: 'user', type: 'audio', content: voice },
      { from: 'user', type: 'animation', content: gif },
    ]);
    // An audio without its duration is malformed, as on Crisp's own send route.
    expect(expectError(await control(sandbox(), 'POST', path, { type: 'audio', content: { url: voice.url, type: voice.type } }), 400, 'invalid_data')).toBe("data.content should have required property '.duration'");
    // The allowed values are the four types, never "undefined" (the default type once showed as one).
    expect(expectError(await control(sandbox(), 'POST', path, { type: 'note', content: 'a visitor cannot write a note' }), 400, 'invalid_data')).toBe(
      'data.type should be equal to one of the allowed values (text, file, animation, audio)',
    );
  });

  it('a visitor message reopens a resolved conversation', async () => {
    const resolved = findConversation(sandbox(), (c) => c.state === 'resolved');
    expect((await getConversation(resolved.session_id)).state).toBe('resolved');
    expectOk(await control(sandbox(), 'POST', `/_sandbox/websites/${sandbox().websiteId}/conversations/${resolved.session_id}/messages`, { content: 'It broke again' }), 'dispatched');
    const after = await getConversation(resolved.session_id);
    expect(after).toMatchObject({ state: 'unresolved', status: 1 });
    expect(after.waiting_since).toEqual(expect.any(Number));
  });

  it('a visitor message to an unknown session is 404', async () => {
    const reply = await control(sandbox(), 'POST', `/_sandbox/websites/${sandbox().websiteId}/conversations/session_nope/messages`, { content: 'hello' });
    expectError(reply, 404, 'not_found');
  });

  it('404 not_found when sending into an unknown session', async () => {
    const reply = await crisp(sandbox(), conv(sandbox(), 'session_nope', '/message'), { method: 'POST', json: operatorText('hello') });
    expect(expectError(reply, 404, 'not_found')).toMatch(/session_nope/);
  });
});

// ---------------------------------------------------------------- compose, state, routing, meta, read

describe('conversation updates', () => {
  const sandbox = useSandbox({ seed: 42 });
  const getConversation = async (sessionId: string) => expectOk(await crispGet<Conversation>(sandbox(), conv(sandbox(), sessionId)));
  const patch = (sessionId: string, rest: string, json: unknown) => crisp(sandbox(), conv(sandbox(), sessionId, rest), { method: 'PATCH', json });

  it('compose start shows an operator typing indicator; stop removes it', async () => {
    const target = stateConversations(sandbox())[0]!;
    expectOk(await patch(target.session_id, '/compose', { type: 'start', from: 'operator', excerpt: 'Let me che' }), 'updated');
    const typing = await getConversation(target.session_id);
    expect(typing.compose).toMatchObject({ operator: { type: 'start', excerpt: 'Let me che' } });
    expectOk(await patch(target.session_id, '/compose', { type: 'stop', from: 'operator' }), 'updated');
    expect((await getConversation(target.session_id)).compose).not.toHaveProperty('operator');
  });

  it('compose rejects an unknown type', async () => {
    const target = stateConversations(sandbox())[0]!;
    const reply = await patch(target.session_id, '/compose', { type: 'typing', from: 'operator' });
    expect(expectError(reply, 400, 'invalid_data')).toBe('data.type should be equal to one of the allowed values (start, stop)');
  });

  it.each(['resolved', 'pending', 'unresolved'] as const)('PATCH state %s, then GET state shows it', async (state) => {
    const target = stateConversations(sandbox())[1]!;
    expectOk(await patch(target.session_id, '/state', { state }), 'updated');
    expect(expectOk(await crispGet<{ state: string }>(sandbox(), conv(sandbox(), target.session_id, '/state')))).toEqual({ state });
    expect((await getConversation(target.session_id)).status).toBe({ pending: 0, unresolved: 1, resolved: 2 }[state]);
  });

  it('PATCH state rejects an unknown state, listing the allowed ones', async () => {
    const reply = await patch(stateConversations(sandbox())[1]!.session_id, '/state', { state: 'closed' });
    expect(expectError(reply, 400, 'invalid_data')).toBe('data.state should be equal to one of the allowed values (pending, unresolved, resolved)');
  });

  it('routing: assign to an operator, then unassign with {assigned: null}', async () => {
    const target = findConversation(sandbox(), (c) => !c.assigned);
    const operator = demoSite(sandbox()).operators[1]!.details.user_id;
    const routing = () => crispGet<{ assigned: { user_id: string } | null }>(sandbox(), conv(sandbox(), target.session_id, '/routing'));
    expect(expectOk(await routing())).toEqual({ assigned: null });

    expectOk(await patch(target.session_id, '/routing', { assigned: { user_id: operator } }), 'updated');
    expect(expectOk(await routing())).toEqual({ assigned: { user_id: operator } });
    const mine = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), `per_page=50&filter_assigned=${operator}`)));
    expect(ids(mine)).toContain(target.session_id);

    expectOk(await patch(target.session_id, '/routing', { assigned: null }), 'updated');
    expect(expectOk(await routing())).toEqual({ assigned: null });
  });

  it('routing: assigning someone who is not an operator is 400', async () => {
    const target = stateConversations(sandbox())[2]!;
    const reply = await patch(target.session_id, '/routing', { assigned: { user_id: 'not-an-operator' } });
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/^data\.assigned\.user_id should be the user_id of an operator/);
  });

  it('meta PATCH replaces segments and merges data', async () => {
    const target = findConversation(sandbox(), (c) => Object.keys(c.meta?.data ?? {}).length > 0 && (c.meta?.segments?.length ?? 0) > 0);
    const before = expectOk(await crispGet<NonNullable<Conversation['meta']>>(sandbox(), conv(sandbox(), target.session_id, '/meta')));
    expectOk(await patch(target.session_id, '/meta', { segments: ['vip'], data: { tier: 'gold' }, subject: 'New subject' }), 'updated');
    const after = expectOk(await crispGet<NonNullable<Conversation['meta']>>(sandbox(), conv(sandbox(), target.session_id, '/meta')));
    expect(after.segments).toEqual(['vip']);
    expect(after.data).toEqual({ ...before.data, tier: 'gold' });
    expect(after.subject).toBe('New subject');
    expect(after.nickname).toBe(before.nickname);
  });

  it('meta PATCH rejects a bad email', async () => {
    const reply = await patch(stateConversations(sandbox())[0]!.session_id, '/meta', { email: 'not-an-email' });
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/^data\.email /);
  });

  it('a visitor reading the conversation does not mark private notes as read', async () => {
    const target = findConversation(
      sandbox(),
      (c) => c.state !== 'resolved' && threadOf(sandbox(), c.session_id).some((m) => m.type === 'note' && !m.read),
    );
    expectOk(await control(sandbox(), 'PATCH', `/_sandbox/websites/${sandbox().websiteId}/conversations/${target.session_id}/read`), 'updated');
    const messages = expectOk(await crispGet<Message[]>(sandbox(), conv(sandbox(), target.session_id, '/messages')));
    expect(messages.filter((m) => m.type === 'note').map((m) => m.read)).toEqual(messages.filter((m) => m.type === 'note').map(() => ''));
  });

  it('a visitor reading the conversation brings unread.visitor to 0', async () => {
    const target = findConversation(sandbox(), (c) => (c.unread?.visitor ?? 0) > 0);
    expectOk(await control(sandbox(), 'PATCH', `/_sandbox/websites/${sandbox().websiteId}/conversations/${target.session_id}/read`), 'updated');
    expect((await getConversation(target.session_id)).unread?.visitor).toBe(0);
  });

  it('mark read as the operator brings unread.operator to 0', async () => {
    const target = findConversation(sandbox(), (c) => (c.unread?.operator ?? 0) > 0);
    expectOk(await patch(target.session_id, '/read', { from: 'operator', origin: 'chat' }), 'updated');
    expect((await getConversation(target.session_id)).unread?.operator).toBe(0);
    const unread = expectOk(await crispGet<Conversation[]>(sandbox(), CONVERSATIONS(sandbox(), 'per_page=50&filter_unread=1')));
    expect(ids(unread)).not.toContain(target.session_id);
  });
});

// ---------------------------------------------------------------- people

describe('people', () => {
  const sandbox = useSandbox({ seed: 42 });
  const P = (rest: string) => site(sandbox(), `/people${rest}`);
  const people = () => [...demoSite(sandbox()).people.values()];
  const getProfile = async (id: string) => expectOk(await crispGet<PeopleProfile>(sandbox(), P(`/profile/${encodeURIComponent(id)}`)));
  const addProfile = async (card: Record<string, unknown>) =>
    expectOk(await crisp<{ people_id: string }>(sandbox(), P('/profile'), { method: 'POST', json: card }), 'added').people_id;

  it('lists 20 profiles per page; page 2 holds different ones', async () => {
    const page1 = expectOk(await crispGet<PeopleProfile[]>(sandbox(), P('/profiles/1')));
    const page2 = expectOk(await crispGet<PeopleProfile[]>(sandbox(), P('/profiles/2')));
    expect(page1).toHaveLength(20);
    expect(page2.length).toBe(Math.min(20, people().length - 20));
    const first = page1.map((p) => p.people_id);
    expect(page2.filter((p) => first.includes(p.people_id))).toEqual([]);
  });

  it('search_text matches an email', async () => {
    const target = people()[3]!;
    const data = expectOk(await crispGet<PeopleProfile[]>(sandbox(), P(`/profiles/1?search_text=${encodeURIComponent(target.email!.toUpperCase())}`)));
    expect(data.map((p) => p.people_id)).toEqual([target.people_id]);
  });

  it('search_filter keeps profiles in a segment', async () => {
    const filter = JSON.stringify([{ model: 'people', criterion: 'segments', operator: 'eq', query: ['vip'] }]);
    const data = expectOk(await crispGet<PeopleProfile[]>(sandbox(), P(`/profiles/1?search_filter=${encodeURIComponent(filter)}`)));
    const expected = people().filter((p) => p.segments?.includes('vip'));
    expect(expected.length).toBeGreaterThan(0);
    expect(data.every((p) => p.segments?.includes('vip'))).toBe(true);
    expect(new Set(data.map((p) => p.people_id))).toEqual(new Set(expected.slice(0, 20).map((p) => p.people_id)));
  });

  it.each([
    ['not JSON', 'nope', 'query.search_filter should be a JSON array'],
    ['a bad operator', JSON.stringify([{ criterion: 'segments', operator: 'like', query: ['vip'] }]), 'query.search_filter.0.operator should be equal to one of the allowed values'],
  ])('search_filter that is %s is 400', async (_name, filter, message) => {
    const reply = await crispGet(sandbox(), P(`/profiles/1?search_filter=${encodeURIComponent(filter)}`));
    expect(expectError(reply, 400, 'invalid_data')).toContain(message);
  });

  it('adds a profile, then refuses the same email with 409', async () => {
    const peopleId = await addProfile({ email: 'new.person@example.test', person: { nickname: 'New Person' }, segments: ['trial'] });
    expect(peopleId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await getProfile(peopleId)).toMatchObject({ people_id: peopleId, email: 'new.person@example.test', person: { nickname: 'New Person' }, segments: ['trial'] });

    const again = await crisp(sandbox(), P('/profile'), { method: 'POST', json: { email: 'New.Person@example.test' } });
    expect(again.status).toBe(409);
    expect(again.body?.error).toBe(true);
    expect(messageOf(again)).toMatch(/already exists/);
  });

  it('PATCH changes only the fields sent', async () => {
    const target = people()[5]!;
    const before = await getProfile(target.people_id);
    expectOk(await crisp(sandbox(), P(`/profile/${target.people_id}`), { method: 'PATCH', json: { person: { nickname: 'Renamed' } } }), 'updated');
    const after = await getProfile(target.people_id);
    expect(after.person?.nickname).toBe('Renamed');
    expect(after.email).toBe(before.email);
    expect(after.person?.phone).toBe(before.person?.phone);
    expect(after.segments).toEqual(before.segments);
  });

  it('PATCH may change the letter case of the profile’s own email', async () => {
    const target = people()[6]!;
    const reply = await crisp(sandbox(), P(`/profile/${target.people_id}`), { method: 'PATCH', json: { email: target.email!.toUpperCase() } });
    expectOk(reply, 'updated');
  });

  it('PUT replaces the whole card', async () => {
    const target = people()[7]!;
    expect(target.person?.phone).toBeTruthy();
    expectOk(await crisp(sandbox(), P(`/profile/${target.people_id}`), { method: 'PUT', json: { email: target.email, person: { nickname: 'Only Name' } } }), 'updated');
    const after = await getProfile(target.people_id);
    expect(after.person).toEqual({ nickname: 'Only Name' });
    expect(after.segments).toEqual([]);
    expect(after.company).toEqual({});
  });

  it('PUT without an email is 400', async () => {
    const reply = await crisp(sandbox(), P(`/profile/${people()[8]!.people_id}`), { method: 'PUT', json: { person: { nickname: 'x' } } });
    expect(expectError(reply, 400, 'invalid_data')).toBe("data should have required property '.email'");
  });

  it('data PATCH merges keys and a null value removes one', async () => {
    const target = people()[9]!;
    const path = P(`/data/${target.people_id}`);
    const before = expectOk(await crispGet<{ data: Record<string, unknown> }>(sandbox(), path)).data;
    expect(before).toHaveProperty('mrr');
    expectOk(await crisp(sandbox(), path, { method: 'PATCH', json: { data: { vip_since: '2025-01', mrr: null } } }), 'updated');
    const after = expectOk(await crispGet<{ data: Record<string, unknown> }>(sandbox(), path)).data;
    const { mrr: _mrr, ...kept } = before;
    expect(after).toEqual({ ...kept, vip_since: '2025-01' });
  });

  it('events: add one, and the list shows it first (newest first)', async () => {
    const target = people()[10]!;
    expectOk(await crisp(sandbox(), P(`/events/${target.people_id}`), { method: 'POST', json: { text: 'Opened the app', color: 'blue', data: { build: 42 } } }), 'added');
    const events = expectOk(await crispGet<PeopleEvent[]>(sandbox(), P(`/events/${target.people_id}/list/1`)));
    expect(events[0]).toMatchObject({ text: 'Opened the app', color: 'blue', data: { build: 42 } });
    const stamps = events.map((e) => e.timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => b - a));
    expect(events).toHaveLength((demoSite(sandbox()).peopleEvents.get(target.people_id) ?? []).length);
  });

  it('person conversations lists session_id strings', async () => {
    const linked = stateConversations(sandbox()).find((c) => c.people_id)!;
    const data = expectOk(await crispGet<string[]>(sandbox(), P(`/conversations/${linked.people_id!}/list/1`)));
    expect(data.every((id) => typeof id === 'string' && id.startsWith('session_'))).toBe(true);
    const expected = stateConversations(sandbox()).filter((c) => c.people_id === linked.people_id).map((c) => c.session_id);
    expect(new Set(data)).toEqual(new Set(expected));
  });

  it('accepts the email in place of the people_id', async () => {
    const target = people()[11]!;
    expect((await getProfile(target.email!)).people_id).toBe(target.people_id);
  });

  it('DELETE, then GET is 404 not_found', async () => {
    const peopleId = await addProfile({ email: 'to.delete@example.test' });
    expectOk(await crisp(sandbox(), P(`/profile/${peopleId}`), { method: 'DELETE' }), 'deleted');
    const reply = await crispGet(sandbox(), P(`/profile/${peopleId}`));
    expect(expectError(reply, 404, 'not_found')).toMatch(new RegExp(`people profile ${peopleId} does not exist`));
  });
});

// ---------------------------------------------------------------- operators, availability, endpoints

describe('operators, availability and connect endpoints', () => {
  const sandbox = useSandbox({ seed: 42 });

  it('lists the 4 operators', async () => {
    const operators = expectOk(await crispGet<Operator[]>(sandbox(), site(sandbox(), '/operators/list')));
    expect(operators).toHaveLength(4);
    for (const o of operators) expect(o.details.email).toMatch(/@acme-cloud\.test$/);
  });

  it('lists operator availability, one entry per operator', async () => {
    const operators = expectOk(await crispGet<Operator[]>(sandbox(), site(sandbox(), '/operators/list')));
    const availability = expectOk(await crispGet<OperatorAvailability[]>(sandbox(), site(sandbox(), '/availability/operators')));
    expect(new Set(availability.map((a) => a.user_id))).toEqual(new Set(operators.map((o) => o.details.user_id)));
    expect(availability.map((a) => a.type).sort()).toEqual(['away', 'offline', 'online', 'online']);
  });

  it('availability/status is online since the earliest online operator', async () => {
    const status = expectOk(await crispGet<{ status: string; since?: number }>(sandbox(), site(sandbox(), '/availability/status')));
    const online = demoSite(sandbox()).availability.filter((a) => a.type === 'online');
    expect(status).toEqual({ status: 'online', since: Math.min(...online.map((a) => a.time!.since!)) });
  });

  it('/v1/plugin/connect/endpoints points the RTM socket at the sandbox', async () => {
    const data = expectOk(await crispGet<{ socket: { app: string } }>(sandbox(), '/v1/plugin/connect/endpoints'));
    const url = new URL(data.socket.app);
    expect(url.origin).toBe(new URL(sandbox().url).origin);
  });

  it('/v1/website/connect/endpoints with a plugin token is 403 restricted_route_tier', async () => {
    const reply = await crispGet(sandbox(), '/v1/website/connect/endpoints');
    expect(expectError(reply, 403, 'restricted_route_tier')).toBe('this route is for the website tier; the token is plugin');
  });
});

// ---------------------------------------------------------------- rate limit

describe('rate limit', () => {
  const sandbox = useSandbox({ seed: 42, rateLimit: { perSecond: 5, burst: 5 } });

  it('answers 429 rate_limited with a numeric Retry-After once the bucket is empty', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => crispGet(sandbox(), site(sandbox(), '/operators/list'))));
    const limited = replies.filter((r) => r.status === 429);
    const ok = replies.filter((r) => r.status === 200);
    expect(limited.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(limited.length + ok.length).toBe(10);
    for (const reply of limited) {
      expect(expectError(reply, 429, 'rate_limited')).toBe('too many requests; slow down');
      expect(reply.headers['retry-after']).toMatch(/^\d+$/);
      expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  });
});

// ---------------------------------------------------------------- faults and the control panel

describe('fault injection and the control panel', () => {
  const sandbox = useSandbox({ seed: 42 });
  const operators = () => site(sandbox(), '/operators/list');
  const faults = (json: unknown) => control<{ active: boolean }>(sandbox(), 'POST', '/_sandbox/faults', json);

  afterEach(async () => {
    expectOk(await faults({ clear: true }), 'updated');
  });

  it('a 429 burst gives exactly two 429s, then a 200', async () => {
    expect(expectOk(await faults({ burst: { fault: '429', count: 2, retry_after: 0 } }), 'updated')).toEqual({ active: true });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await crispGet(sandbox(), operators());
      statuses.push(reply.status);
      if (reply.status === 429) {
        expectError(reply, 429, 'rate_limited');
        expect(reply.headers['retry-after']).toBe('0');
      }
    }
    expect(statuses).toEqual([429, 429, 200]);
  });

  it('a 503 burst answers the error envelope', async () => {
    expectOk(await faults({ burst: { fault: '503', count: 1 } }), 'updated');
    expect(expectError(await crispGet(sandbox(), operators()), 503, 'error')).toBe('the server encountered an internal error');
    expectOk(await crispGet(sandbox(), operators()));
  });

  it('drop makes the request fail with a socket error', async () => {
    expectOk(await faults({ burst: { fault: 'drop', count: 1 } }), 'updated');
    await expect(crispGet(sandbox(), operators())).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expectOk(await crispGet(sandbox(), operators()));
  });

  it('drop-after on POST message fails the request, yet the message is stored', async () => {
    const target = stateConversations(sandbox())[0]!;
    expectOk(await faults({ burst: { fault: 'drop-after', count: 1, method: 'POST', path_includes: '/message' } }), 'updated');
    // A GET is not hit by this burst.
    expectOk(await crispGet(sandbox(), conv(sandbox(), target.session_id, '/messages')));
    const content = `stored despite the drop ${Date.now()}`;
    await expect(
      crisp(sandbox(), conv(sandbox(), target.session_id, '/message'), { method: 'POST', json: { type: 'text', from: 'operator', origin: 'chat', content } }),
    ).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(threadOf(sandbox(), target.session_id).filter((m) => m.content === content)).toHaveLength(1);
  });

  it('a bad spec is 400 naming the bad item', async () => {
    const reply = await faults({ spec: '429:10%,bogus:1' });
    expect(expectError(reply, 400, 'invalid_data')).toMatch(/unknown fault "bogus" in "bogus:1"/);
  });

  it('GET /_sandbox/stats counts requests, handled routes and injected faults', async () => {
    expectOk(await faults({ burst: { fault: '429', count: 1, retry_after: 0 } }), 'updated'); // also resets the stats
    await crispGet(sandbox(), operators()); // 429
    await crispGet(sandbox(), operators());
    await crispGet(sandbox(), operators());
    await crispGet(sandbox(), '/v1/nope'); // counted, never handled
    const stats = expectOk(await control<{ total: number; handled: Record<string, number>; faults: Record<string, number>; abandoned: number }>(sandbox(), 'GET', '/_sandbox/stats'));
    expect(stats).toEqual({ total: 4, handled: { 'GET /v1/website/:website_id/operators/list': 2 }, faults: { '429': 1 }, abandoned: 0 });
  });

  it('POST /_sandbox/reset restores the demo data', async () => {
    const target = stateConversations(sandbox())[0]!;
    const count = stateConversations(sandbox()).length;
    expectOk(await crisp(sandbox(), conv(sandbox(), target.session_id), { method: 'DELETE' }), 'deleted');
    expectError(await crispGet(sandbox(), conv(sandbox(), target.session_id)), 404, 'not_found');
    expectOk(await control(sandbox(), 'POST', '/_sandbox/reset'), 'updated');
    expect(expectOk(await crispGet<Conversation>(sandbox(), conv(sandbox(), target.session_id))).session_id).toBe(target.session_id);
    expect(stateConversations(sandbox())).toHaveLength(count);
  });

  it('an unknown control route is 404', async () => {
    expectError(await control(sandbox(), 'GET', '/_sandbox/nope'), 404, 'not_found');
  });
});

// ---------------------------------------------------------------- HEAD

describe('HEAD', () => {
  const sandbox = useSandbox({ seed: 42 });

  it('200 with an empty body for an existing conversation', async () => {
    const target = stateConversations(sandbox())[0]!;
    const reply = await crisp(sandbox(), conv(sandbox(), target.session_id), { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('');
  });

  it('404 with an empty body for an unknown session', async () => {
    const reply = await crisp(sandbox(), conv(sandbox(), 'session_00000000-0000-4000-8000-000000000000'), { method: 'HEAD' });
    expect(reply.status).toBe(404);
    expect(reply.text).toBe('');
  });

  it('works for a people profile too', async () => {
    const person = [...demoSite(sandbox()).people.values()][0]!;
    const found = await crisp(sandbox(), site(sandbox(), `/people/profile/${person.people_id}`), { method: 'HEAD' });
    const missing = await crisp(sandbox(), site(sandbox(), '/people/profile/00000000-0000-4000-8000-000000000000'), { method: 'HEAD' });
    expect([found.status, found.text, missing.status, missing.text]).toEqual([200, '', 404, '']);
  });
});

// ---------------------------------------------------------------- lifecycle

describe('startSandbox', () => {
  it('listens on a loopback port and stops accepting connections after close()', async () => {
    const sandbox = await startSandbox({ seed: 7 });
    try {
      expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expectOk(await crispGet<Operator[]>(sandbox, site(sandbox, '/operators/list')));
    } finally {
      await sandbox.close();
    }
    await expect(crispGet(sandbox, site(sandbox, '/operators/list'))).rejects.toThrow();
  });
});
