// The sandbox's RTM endpoint attached on first use (`rtm: { attachOnFirstUse }`, as stdio
// `serve --sandbox` starts it): Socket.IO loads and attaches only when the first request for the
// RTM path or the first upgrade arrives. A client must not be able to tell, except by that request
// taking a little longer.
import { request } from 'node:http';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { authenticatedSocket, next, visitorStarts } from '../helpers/events.js';
import { built, traceModuleLoads } from '../helpers/module-loads.js';
import { crispGet } from '../helpers/sandbox-http.js';
import { officialClientHearsVisitor } from '../helpers/official-rtm.js';

const onFirstUse = { attachOnFirstUse: true } as const;
let sandboxes: Sandbox[] = [];
const sockets: Socket[] = [];
const start = async (options: SandboxOptions) => {
  const started = await startSandbox(options);
  sandboxes.push(started);
  return started;
};
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await Promise.all(sandboxes.map((s) => s.close()));
  sandboxes = [];
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

describe('the RTM endpoint attached on first use', () => {
  it('REST answers before it; the first sockets, opened together, all authenticate and get the events they asked for', async () => {
    const sandbox = await start({ seed: 7, rtm: onFirstUse });
    expect(sandbox.rtm.stats()).toEqual({ connected: 0, authenticated: 0, authentications: 0, refused: 0, emitted: 0 });
    const reply = await crispGet<{ socket: { app: string } }>(sandbox, '/v1/plugin/connect/endpoints');
    expect(reply.body?.data.socket.app).toBe(`${sandbox.url}/rtm`);
    const opened = await Promise.all([1, 2, 3].map(() => authenticatedSocket(sandbox, ['message:send'])));
    sockets.push(...opened);
    expect(sandbox.rtm.stats()).toMatchObject({ connected: 3, authenticated: 3 });
    const events = opened.map((socket) => next<Record<string, unknown>>(socket, 'message:send'));
    const sessionId = await visitorStarts(sandbox, 'first contact');
    for (const data of await Promise.all(events)) expect(data).toMatchObject({ session_id: sessionId, from: 'user', content: 'first contact' });
    // The sandbox's own routes still answer once Socket.IO has taken over the server's requests.
    expect((await crispGet(sandbox, `/v1/website/${sandbox.websiteId}/conversation/${sessionId}`)).status).toBe(200);
  });

  it('the official crisp-api client, as the very first request, discovers, authenticates and receives message:send', async () => {
    const sandbox = await start({ seed: 8, rtm: onFirstUse });
    const { sessionId, data } = await officialClientHearsVisitor(sandbox, 'Hi');
    expect(data).toMatchObject({ session_id: sessionId, from: 'user', content: 'Hi' });
  });

  it.each([
    ['a long-polling request to the RTM path', '/rtm/?EIO=4&transport=polling', {}],
    ['a WebSocket upgrade elsewhere', '/v1/plugin/connect/endpoints', { connection: 'Upgrade', upgrade: 'websocket' }],
    ['a WebSocket upgrade without a handshake', '/rtm/?EIO=4&transport=websocket', { connection: 'Upgrade', upgrade: 'websocket' }],
  ])('%s, as the very first request, gets what it gets when Socket.IO is attached at start', async (_name, path, headers) => {
    const [usual, onFirst] = await Promise.all([start({ seed: 9 }), start({ seed: 9, rtm: onFirstUse })]);
    const [expected, got] = await Promise.all([rawRequest(usual, path, headers), rawRequest(onFirst, path, headers)]);
    expect(expected).not.toMatch(/^upgraded/);
    expect(got).toBe(expected);
  });

  it('closes cleanly whether or not a client ever came, and while Socket.IO is still loading', async () => {
    const idle = await startSandbox({ seed: 10, rtm: onFirstUse });
    await idle.close();
    const loading = await startSandbox({ seed: 10, rtm: onFirstUse });
    const first = rawRequest(loading, '/rtm/?EIO=4&transport=polling');
    await loading.close();
    expect(await first).toMatch(/^closed|^400 /);
    expect(loading.rtm.stats().connected).toBe(0);
  });
});

// Checked on the built modules, with a module-resolution hook that reports every module the process loads.
const SERVER = built('sandbox/server.js');
const SCRIPT = `
import { io } from 'socket.io-client';
const { startSandbox } = await import(${JSON.stringify(SERVER)});
const sandbox = await startSandbox({ seed: 1, rtm: { attachOnFirstUse: true } });
const mark = (what) => process.stderr.write('MARK ' + what + '\\n');
mark('started');
const { identifier, key, tier } = sandbox.credentials[0];
const rest = await fetch(sandbox.url + '/v1/website/' + sandbox.websiteId + '/conversations/1', { headers: { authorization: 'Basic ' + Buffer.from(identifier + ':' + key).toString('base64'), 'x-crisp-tier': tier, 'user-agent': 'crisp-mcp-tests' } });
if (rest.status !== 200) throw new Error('REST answered ' + rest.status);
mark('rest');
const socket = io(sandbox.url, { path: '/rtm', transports: ['websocket'], reconnection: false });
await new Promise((resolve, reject) => { socket.once('authenticated', resolve); socket.once('connect_error', reject); socket.emit('authentication', { tier, username: identifier, password: key, events: [] }); });
mark('rtm');
socket.disconnect();
await sandbox.close();
`;

it('loads Socket.IO on the first RTM connection, not at start nor for REST', () => {
  const { status, stderr, at, firstLoad } = traceModuleLoads(SCRIPT);
  expect(status, stderr).toBe(0);
  const socketIo = firstLoad(/\/node_modules\/socket\.io\//);
  expect(at('started')).toBeGreaterThan(0);
  // The hook sees our modules; the routes are loaded before the sandbox listens.
  const routes = firstLoad(/\/dist\/sandbox\/(requests|routes\/conversations)\.js$/);
  expect([routes > -1, routes < at('started')]).toEqual([true, true]);
  expect([socketIo > at('rest'), socketIo < at('rtm')]).toEqual([true, true]);
});
