// The sandbox's RTM endpoint over real sockets: discovery → Socket.IO at the
// discovered URL → `authentication` → `authenticated` / `unauthorized`, then only the events
// subscribed to, for the websites the token may see — and the official crisp-api client on it.
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { authenticatedSocket, barrier, next, openSocket, visitorStarts, visitorWrites } from '../helpers/events.js';
import { control, crispGet, useSandbox } from '../helpers/sandbox-http.js';
import { officialClientHearsVisitor } from '../helpers/official-rtm.js';

const sockets: Socket[] = [];
const track = (socket: Socket): Socket => (sockets.push(socket), socket);
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

/** Every event a socket receives, in order. */
function record(socket: Socket): { event: string; data: Record<string, unknown> }[] {
  const seen: { event: string; data: Record<string, unknown> }[] = [];
  socket.onAny((event: string, data: Record<string, unknown>) => seen.push({ event, data }));
  return seen;
}

describe('RTM authentication', () => {
  const sandbox = useSandbox({ seed: 3 });

  it('lives at the URL the endpoints route answers, and answers `authenticated` with true', async () => {
    const reply = await crispGet<{ socket: { app: string } }>(sandbox(), '/v1/plugin/connect/endpoints');
    expect(reply.body?.data.socket.app).toBe(`${sandbox().url}/rtm`);
    const socket = track(openSocket(reply.body!.data.socket.app));
    const { identifier, key, tier } = sandbox().credentials[0]!;
    const answer = next(socket, 'authenticated');
    socket.emit('authentication', { tier, username: identifier, password: key, events: ['message:send'] });
    expect(await answer).toBe(true);
    expect(sandbox().rtm.stats()).toMatchObject({ connected: 1, authenticated: 1 });
  });

  it.each([
    ['a wrong key', (c: { identifier: string; key: string; tier: string }) => ({ tier: c.tier, username: c.identifier, password: `${c.key}x`, events: [] }), 'the identifier and key pair is not valid'],
    ['another tier', (c: { identifier: string; key: string }) => ({ tier: 'website', username: c.identifier, password: c.key, events: [] }), 'the token belongs to the plugin tier, not website'],
    ['no tier (node-crisp-api then means "user")', (c: { identifier: string; key: string }) => ({ username: c.identifier, password: c.key, events: [] }), 'the token belongs to the plugin tier, not user'],
    ['a malformed payload', () => 'hello', 'authentication needs {username, password, tier, events}'],
  ])('answers %s with `unauthorized` {message} and closes the socket', async (_name, payload, message) => {
    const socket = track(openSocket(`${sandbox().url}/rtm`));
    const refused = next<{ message: string }>(socket, 'unauthorized');
    const closed = next<string>(socket, 'disconnect');
    socket.emit('authentication', payload(sandbox().credentials[0]!));
    expect(await refused).toEqual({ message });
    expect(await closed).toBe('io server disconnect');
  });

  it('stays silent until authenticated', async () => {
    const socket = track(openSocket(`${sandbox().url}/rtm`));
    const seen = record(socket);
    await next(socket, 'connect');
    await visitorStarts(sandbox(), 'anyone there?');
    const later = await authenticatedSocket(sandbox(), ['message:send']);
    track(later);
    await barrier(later);
    expect(seen).toEqual([]);
  });

  it('serves WebSocket only, as Crisp does (no long-polling)', async () => {
    const res = await fetch(`${sandbox().url}/rtm/?EIO=4&transport=polling`);
    expect(res.status).toBe(400);
  });
});

describe('RTM events', () => {
  const sandbox = useSandbox({ seed: 4 });

  it('relays a visitor message posted through /_sandbox/ as message:send, in Crisp\'s payload', async () => {
    const socket = track(await authenticatedSocket(sandbox(), ['message:send', 'message:received']));
    const event = next<Record<string, unknown>>(socket, 'message:send');
    const sessionId = await visitorStarts(sandbox(), 'My invoice is wrong');
    const data = await event;
    expect(data).toMatchObject({
      website_id: sandbox().websiteId,
      session_id: sessionId,
      inbox_id: null,
      type: 'text',
      from: 'user',
      origin: 'chat',
      content: 'My invoice is wrong',
      stamped: true,
      user: { user_id: sessionId, nickname: expect.any(String) },
    });
    expect(data.fingerprint).toEqual(expect.any(Number));
    expect(data.timestamp).toEqual(expect.any(Number));
    // The same message the REST API lists.
    const [listed] = (await clientFor(sandbox()).messages.list(sandbox().websiteId, sessionId)).messages;
    expect(listed?.fingerprint).toBe(data.fingerprint);
  });

  it('relays an operator send made through our CrispClient as message:received', async () => {
    const sessionId = await visitorStarts(sandbox(), 'hello');
    const socket = track(await authenticatedSocket(sandbox(), ['message:received']));
    const event = next<Record<string, unknown>>(socket, 'message:received');
    const client = clientFor(sandbox());
    try {
      const fingerprint = await client.messages.send(sandbox().websiteId, sessionId, { type: 'text', from: 'operator', origin: 'chat', content: 'Looking into it', user: { nickname: 'Sam' } });
      expect(await event).toMatchObject({
        website_id: sandbox().websiteId,
        session_id: sessionId,
        type: 'text',
        from: 'operator',
        origin: 'chat',
        content: 'Looking into it',
        fingerprint,
        user: { nickname: 'Sam' },
      });
    } finally {
      await client.close();
    }
  });

  it('sends only the events a socket subscribed to', async () => {
    const socket = track(await authenticatedSocket(sandbox(), ['message:send']));
    const seen = record(socket);
    const sessionId = await visitorStarts(sandbox(), 'one'); // session:request:initiated, message:send
    await control(sandbox(), 'PATCH', `/_sandbox/websites/${sandbox().websiteId}/conversations/${sessionId}/compose`, { type: 'start' });
    const client = clientFor(sandbox());
    await client.messages.send(sandbox().websiteId, sessionId, { type: 'text', from: 'operator', origin: 'chat', content: 'hi' });
    await client.close();
    await visitorWrites(sandbox(), sessionId, 'two');
    await barrier(socket);
    expect(seen.map((e) => [e.event, e.data.content])).toEqual([
      ['message:send', 'one'],
      ['message:send', 'two'],
    ]);
  });

  it('socket:bind:push and socket:bind:pop change the events; socket:bind with {events} replaces them', async () => {
    const socket = track(await authenticatedSocket(sandbox(), ['message:send']));
    expect(await socket.timeout(2_000).emitWithAck('socket:bind:push', { events: ['session:request:initiated'] })).toEqual({ events: ['message:send', 'session:request:initiated'] });
    expect(await socket.timeout(2_000).emitWithAck('socket:bind:pop', { events: ['message:send'] })).toEqual({ events: ['session:request:initiated'] });
    const seen = record(socket);
    await visitorStarts(sandbox(), 'x');
    await barrier(socket);
    expect(seen.map((e) => e.event)).toEqual(['session:request:initiated']);
    expect(await socket.timeout(2_000).emitWithAck('socket:bind', { events: ['message:send'] })).toEqual({ events: ['message:send'] });
  });

  it('the control panel reports and drops sockets', async () => {
    const socket = track(await authenticatedSocket(sandbox(), ['message:send']));
    const stats = await control<{ connected: number; authenticated: number }>(sandbox(), 'GET', '/_sandbox/rtm');
    expect(stats.body?.data).toMatchObject({ connected: 1, authenticated: 1 });
    const closed = next<string>(socket, 'disconnect');
    const dropped = await control<{ dropped: number }>(sandbox(), 'POST', '/_sandbox/rtm/drop', { mode: 'server' });
    expect(dropped.body?.data).toEqual({ dropped: 1 });
    expect(await closed).toBe('io server disconnect');
  });
});

describe('RTM scope and timing', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('sends nothing about a website the token may not see', async () => {
    sandbox = await startSandbox({
      seed: 5,
      credentials: [
        { identifier: 'all-sites', key: 'key-all', tier: 'plugin' },
        { identifier: 'other-site', key: 'key-other', tier: 'plugin', websites: ['00000000-0000-4000-8000-000000000000'] },
      ],
    });
    const all = track(await authenticatedSocket(sandbox, ['message:send'], sandbox.credentials[0]));
    const other = track(await authenticatedSocket(sandbox, ['message:send'], sandbox.credentials[1]));
    const seenOther = record(other);
    const arrived = next(all, 'message:send');
    await visitorStarts(sandbox, 'for the demo website only');
    await arrived;
    await barrier(other);
    expect(seenOther).toEqual([]);
    // REST agrees: the same token is refused on that website.
    const reply = await crispGet(sandbox, `/v1/website/${sandbox.websiteId}/conversations/1`, { credential: sandbox.credentials[1] });
    expect(reply.status).toBe(404);
  });

  it('closes a socket that does not authenticate within the window', async () => {
    sandbox = await startSandbox({ seed: 5, rtm: { authTimeoutMs: 100 } });
    const socket = track(openSocket(`${sandbox.url}/rtm`));
    expect(await next(socket, 'disconnect')).toBe('io server disconnect');
  });

  it('the official crisp-api client discovers, authenticates and receives message:send', async () => {
    sandbox = await startSandbox({ seed: 6 });
    const { sessionId, data } = await officialClientHearsVisitor(sandbox, 'Hi');
    expect(data).toMatchObject({ session_id: sessionId, from: 'user', type: 'text', content: 'Hi' });
  });
});
