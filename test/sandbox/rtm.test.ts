// The sandbox's RTM endpoint over real sockets: discovery → Socket.IO at the
// discovered URL → `authentication` → `authenticated` / `unauthorized`, then only the events
// subscribed to, for the websites the token may see — and the official crisp-api client on it.
import { request } from 'node:http';
import { Crisp } from 'crisp-api';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { authenticatedSocket, barrier, eventually, next, openSocket, visitorStarts, visitorWrites } from '../helpers/events.js';
import { control, crispGet, useSandbox } from '../helpers/sandbox-http.js';

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
    const { identifier, key, tier } = sandbox.credentials[0]!;
    const official = new Crisp();
    official.setRestHost(sandbox.url);
    official.setTier(tier);
    official.authenticate(identifier, key);
    const received: Record<string, unknown>[] = [];
    await official.on('message:send', (data: Record<string, unknown>) => void received.push(data));
    try {
      // It batches subscriptions for 500 ms, then discovers and connects.
      await eventually(() => sandbox!.rtm.stats().authenticated === 1, 5_000, 'the official client authenticating');
      const sessionId = await visitorStarts(sandbox, 'Hi');
      const [data] = await eventually(() => received.length > 0 && received, 3_000, 'message:send reaching the official client');
      expect(data).toMatchObject({ session_id: sessionId, from: 'user', type: 'text', content: 'Hi' });
    } finally {
      (official as unknown as { _socket: Socket | null })._socket?.disconnect();
    }
  });
});

/** What a raw request to `path` on the sandbox gets: its status and body, or how the connection ended. */
function rawRequest(sandbox: Sandbox, path: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${sandbox.url}${path}`, { headers });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(`upgraded ${res.statusCode}`);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(`closed: ${error.code ?? error.message}`));
    req.end();
  });
}

// `serve --sandbox` (stdio) loads and attaches Socket.IO on the first request that needs it, not at
// start; a client must not be able to tell.
describe('RTM attached on first use', () => {
  let sandboxes: Sandbox[] = [];
  const start = async (options: SandboxOptions) => {
    const started = await startSandbox(options);
    sandboxes.push(started);
    return started;
  };
  afterEach(async () => {
    await Promise.all(sandboxes.map((s) => s.close()));
    sandboxes = [];
  });

  it('REST answers at once; the first sockets, opened together, all authenticate and get the events they asked for', async () => {
    const sandbox = await start({ seed: 7, rtm: { attachOnFirstUse: true } });
    expect(sandbox.rtm.stats()).toEqual({ connected: 0, authenticated: 0, authentications: 0, refused: 0, emitted: 0 });
    const reply = await crispGet<{ socket: { app: string } }>(sandbox, '/v1/plugin/connect/endpoints');
    expect(reply.body?.data.socket.app).toBe(`${sandbox.url}/rtm`);
    const sockets = (await Promise.all([1, 2, 3].map(() => authenticatedSocket(sandbox, ['message:send'])))).map(track);
    expect(sandbox.rtm.stats()).toMatchObject({ connected: 3, authenticated: 3 });
    const events = sockets.map((socket) => next<Record<string, unknown>>(socket, 'message:send'));
    const sessionId = await visitorStarts(sandbox, 'first contact');
    for (const data of await Promise.all(events)) expect(data).toMatchObject({ session_id: sessionId, from: 'user', content: 'first contact' });
    // The sandbox's own routes still answer after Socket.IO has taken over the server's requests.
    expect((await crispGet(sandbox, `/v1/website/${sandbox.websiteId}/conversation/${sessionId}`)).status).toBe(200);
  });

  it('the official crisp-api client discovers, authenticates and receives message:send', async () => {
    const sandbox = await start({ seed: 8, rtm: { attachOnFirstUse: true } });
    const { identifier, key, tier } = sandbox.credentials[0]!;
    const official = new Crisp();
    official.setRestHost(sandbox.url);
    official.setTier(tier);
    official.authenticate(identifier, key);
    const received: Record<string, unknown>[] = [];
    await official.on('message:send', (data: Record<string, unknown>) => void received.push(data));
    try {
      await eventually(() => sandbox.rtm.stats().authenticated === 1, 5_000, 'the official client authenticating');
      const sessionId = await visitorStarts(sandbox, 'Hi');
      const [data] = await eventually(() => received.length > 0 && received, 3_000, 'message:send reaching the official client');
      expect(data).toMatchObject({ session_id: sessionId, from: 'user', content: 'Hi' });
    } finally {
      (official as unknown as { _socket: Socket | null })._socket?.disconnect();
    }
  });

  it.each([
    ['a long-polling request to the RTM path', '/rtm/?EIO=4&transport=polling', {}],
    ['a WebSocket upgrade elsewhere', '/v1/plugin/connect/endpoints', { connection: 'Upgrade', upgrade: 'websocket' }],
    ['a WebSocket upgrade without a handshake', '/rtm/?EIO=4&transport=websocket', { connection: 'Upgrade', upgrade: 'websocket' }],
  ])('%s, as the very first request, gets what it gets when Socket.IO is attached at start', async (_name, path, headers) => {
    const [atStart, onFirstUse] = await Promise.all([start({ seed: 9 }), start({ seed: 9, rtm: { attachOnFirstUse: true } })]);
    const [expected, got] = await Promise.all([rawRequest(atStart, path, headers), rawRequest(onFirstUse, path, headers)]);
    expect(expected).not.toMatch(/^upgraded/);
    expect(got).toBe(expected);
  });

  it('closes cleanly whether or not an RTM client ever came, and while Socket.IO is still loading', async () => {
    const idle = await startSandbox({ seed: 10, rtm: { attachOnFirstUse: true } });
    await idle.close();
    const loading = await startSandbox({ seed: 10, rtm: { attachOnFirstUse: true } });
    const first = rawRequest(loading, '/rtm/?EIO=4&transport=polling');
    await loading.close();
    expect(await first).toMatch(/^closed|^400 /);
    expect(loading.rtm.stats().connected).toBe(0);
  });
});
