// The 2025-era session cap under concurrent initialize requests. The SDK may yield to the event
// loop while a session opens (connecting its transport); here it always does, so every concurrent
// initialize is past the cap check before the first session is registered — the cap must hold anyway.
import { Writable } from 'node:stream';
import { McpServer, type AuthInfo } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { LegacySessions } from '../../src/transport/legacy-sessions.js';

const AUTH: AuthInfo = { token: '', clientId: 'tester', scopes: [], extra: {} };
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const quiet = createLogger('silent', new Writable({ write: (_chunk, _encoding, done) => done() }));

/** A server whose connect() waits for the next turn of the event loop before connecting. */
function slowToConnect(): McpServer {
  const server = new McpServer({ name: 'slow', version: '1' });
  const connect = server.connect.bind(server);
  server.connect = async (transport) => {
    await new Promise((resolve) => setImmediate(resolve));
    return connect(transport);
  };
  return server;
}

function initialize(): Request {
  return new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(INITIALIZE),
  });
}

let sessions: LegacySessions | undefined;
afterEach(async () => {
  await sessions?.closeAll();
});

describe('LegacySessions', () => {
  it('holds its cap when many initialize requests arrive at once', async () => {
    sessions = new LegacySessions({ build: slowToConnect, log: quiet, maxBodyBytes: 1 << 20, max: 3 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => sessions!.handle(initialize(), INITIALIZE, AUTH, Promise.resolve())));
    const opened = answers.filter((answer) => answer.status === 200 && answer.headers.get('mcp-session-id'));
    expect(opened.length).toBeGreaterThan(0);
    expect(sessions.size).toBeLessThanOrEqual(3);
  });
});
