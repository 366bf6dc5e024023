// The sandbox as stdio `serve --sandbox` starts it (listen-first.ts, with the RTM endpoint attached
// on first use): its address is bound at once and the simulator loads, seeded, on the first
// connection, taking the bound socket over. A client must not be able to tell it from a sandbox
// started the usual way, except by the first request taking a little longer.
import { connect, createServer, type AddressInfo } from 'node:net';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationWire } from '../../src/crisp/schemas.js';
import { listenFirst, type ListeningSandbox } from '../../src/sandbox/listen-first.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { authenticatedSocket, next, visitorStarts } from '../helpers/events.js';
import { built, traceModuleLoads } from '../helpers/module-loads.js';
import { control, crispGet } from '../helpers/sandbox-http.js';

// What runtime.ts's listenEmbeddedSandbox passes on.
const asServeStarts = { rtm: { attachOnFirstUse: true } } as const;
const opened: { close(): Promise<void> }[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
const listening = async (options: Parameters<typeof listenFirst>[0]): Promise<ListeningSandbox> => {
  const sandbox = await listenFirst(options);
  opened.push(sandbox);
  return sandbox;
};
const usual = async (seed: number, now?: () => number): Promise<Sandbox> => {
  const sandbox = await startSandbox({ seed, now });
  opened.push(sandbox);
  return sandbox;
};

/** How a plain TCP connection to `url` goes: 'connected' or the error code. */
function tryConnect(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('before the first connection', () => {
  it('knows the website id and credentials a started sandbox has for the same seed, and a given website id or credential is the one it uses', async () => {
    const [front, started] = await Promise.all([listening({ seed: 21 }), usual(21)]);
    expect(front.websiteId).toBe(started.websiteId);
    expect(front.credentials).toMatchObject([{ identifier: started.credentials[0]!.identifier, tier: 'plugin' }]);
    expect(front.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const credential = { identifier: 'id-1', key: 'key-of-at-least-some-length', tier: 'website' as const };
    const given = await listening({ seed: 21, websiteId: '3f1a2b4c-0000-4000-8000-00000000abcd', credentials: [credential] });
    expect([given.websiteId, given.credentials]).toEqual(['3f1a2b4c-0000-4000-8000-00000000abcd', [credential]]);
    const listed = await crispGet<ConversationWire[]>(given, `/v1/website/${given.websiteId}/conversations/1`);
    expect(listed.status).toBe(200);
    expect(listed.body?.data.length).toBeGreaterThan(0);
  });

  it('a taken address is refused as startSandbox refuses it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(listenFirst({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await expect(startSandbox({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      taken.close();
    }
  });
});

describe('the first connections', () => {
  it('opened together, are all answered as a started sandbox answers them, on the same address', async () => {
    const clock = () => Date.UTC(2026, 5, 1, 12);
    const [front, started] = await Promise.all([listening({ seed: 22, now: clock, ...asServeStarts }), usual(22, clock)]);
    const paths = ['/conversations/1', '/people/profiles/1', '/operators/list', '/conversations/2'];
    const [expected, got] = await Promise.all([
      Promise.all(paths.map((p) => crispGet(started, `/v1/website/${started.websiteId}${p}`))),
      Promise.all(paths.map((p) => crispGet(front, `/v1/website/${front.websiteId}${p}`))),
    ]);
    expect(got.map((r) => r.status)).toEqual(expected.map((r) => r.status));
    expect(got.map((r) => r.body)).toEqual(expected.map((r) => r.body));
    expect((await front.started()).url).toBe(front.url);
    // Later connections reach the simulator directly, on the socket it took over.
    expect((await control<{ connected: number }>(front, 'GET', '/_sandbox/rtm')).body?.data).toMatchObject({ connected: 0 });
  });

  it('the demo timestamps count back from the first connection, not from the bind', async () => {
    let now = Date.UTC(2026, 5, 1, 12);
    const front = await listening({ seed: 25, now: () => now, ...asServeStarts });
    now += 7 * 86_400_000;
    const listed = await crispGet<ConversationWire[]>(front, `/v1/website/${front.websiteId}/conversations/1`);
    const newest = Math.max(...listed.body!.data.map((c) => c.updated_at));
    expect(newest).toBeGreaterThan(now - 86_400_000);
    expect(newest).toBeLessThanOrEqual(now);
  });

  it('the control panel answers as the very first connection', async () => {
    const front = await listening({ seed: 26, ...asServeStarts });
    const stats = await control<{ connected: number }>(front, 'GET', '/_sandbox/rtm');
    expect(stats.body?.data).toMatchObject({ connected: 0, authenticated: 0 });
  });

  it('the RTM endpoint works as the first use: sockets authenticate and get their events', async () => {
    const front = await listening({ seed: 23, ...asServeStarts });
    const socket = await authenticatedSocket(front, ['message:send']);
    sockets.push(socket);
    const event = next<Record<string, unknown>>(socket, 'message:send');
    const sessionId = await visitorStarts(front, 'hello there');
    expect(await event).toMatchObject({ session_id: sessionId, from: 'user', content: 'hello there' });
  });
});

describe('close', () => {
  it('frees the address whether no client ever came, the simulator started, or a connection is still waiting for it', async () => {
    const idle = await listenFirst({ seed: 24 });
    await idle.close();
    expect(await tryConnect(idle.url)).toBe('ECONNREFUSED');

    const used = await listenFirst({ seed: 24 });
    expect((await crispGet(used, `/v1/website/${used.websiteId}/operators/list`)).status).toBe(200);
    await used.close();
    expect(await tryConnect(used.url)).toBe('ECONNREFUSED');

    const starting = await listenFirst({ seed: 24 });
    const first = crispGet(starting, `/v1/website/${starting.websiteId}/operators/list`).then(
      (reply) => reply.status,
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    await starting.close();
    await first; // answered or cut off, but settled
    expect(await tryConnect(starting.url)).toBe('ECONNREFUSED');
  });
});

// Checked on the built modules, with a module-resolution hook that reports every module the process loads.
const FRONT = built('sandbox/listen-first.js');
const SCRIPT = `
const { listenFirst } = await import(${JSON.stringify(FRONT)});
const sandbox = await listenFirst({ seed: 1, rtm: { attachOnFirstUse: true } });
process.stderr.write('MARK listening\\n');
const { identifier, key, tier } = sandbox.credentials[0];
const rest = await fetch(sandbox.url + '/v1/website/' + sandbox.websiteId + '/conversations/1', { headers: { authorization: 'Basic ' + Buffer.from(identifier + ':' + key).toString('base64'), 'x-crisp-tier': tier, 'user-agent': 'crisp-mcp-tests' } });
if (rest.status !== 200) throw new Error('REST answered ' + rest.status);
process.stderr.write('MARK rest\\n');
await sandbox.close();
`;

it('loads the simulator, its routes and node:http on the first connection, not when it binds, and never Socket.IO for REST alone', () => {
  const { status, stderr, at, firstLoad } = traceModuleLoads(SCRIPT);
  expect(status, stderr).toBe(0);
  expect(at('listening')).toBeGreaterThan(0);
  expect(firstLoad(/\/dist\/sandbox\/listen-first\.js$/)).toBeLessThan(at('listening')); // the hook sees our modules
  for (const loaded of [firstLoad(/\/dist\/sandbox\/server\.js$/), firstLoad(/\/dist\/sandbox\/requests\.js$/), firstLoad(/^LOADED node:http$/)]) {
    expect([loaded > at('listening'), loaded < at('rest')]).toEqual([true, true]);
  }
  expect(firstLoad(/\/node_modules\/socket\.io\//)).toBe(-1);
});
