// A call that waits for one of the pool's connections past its deadline: it ends at the deadline
// (not when a connection frees), is never sent, and says so — first with Crisp faked at the network
// edge (a real HTTP server that holds the first request until the test lets it go), then through a
// tool against the sandbox made slow.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CrispClient, CrispError } from '../../src/crisp/index.js';
import { callTool, McpHarness } from '../helpers/mcp.js';

const WEBSITE = '00000000-0000-4000-8000-000000000001';
const SESSION = 'session_00000000-0000-4000-8000-000000000002';

let server: Server;
let baseUrl: string;
const received: string[] = [];
let held: ServerResponse | undefined;
let onHeld: () => void = () => undefined;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    received.push(`${req.method} ${req.url}`);
    req.resume();
    held = res;
    onHeld();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('ends a call still waiting for a connection at its deadline, unsent, and says why', async () => {
  const crisp = new CrispClient({ baseUrl, credentials: { identifier: 'id', key: 'key', tier: 'plugin' }, connections: 1, deadlineMs: 300, retry: { maxAttempts: 1 } });
  try {
    const firstHeld = new Promise<void>((resolve) => (onHeld = resolve));
    // The one connection is taken by a call with a long deadline, which the server holds.
    const first = crisp.conversations.setState(WEBSITE, SESSION, 'resolved', { deadlineMs: 60_000 });
    await firstHeld;
    const second = crisp.messages.send(WEBSITE, SESSION, { type: 'text', from: 'operator', origin: 'chat', content: 'hello' }).catch((e: unknown) => e);
    const error = await second; // ends while the first still holds the connection: the server has not answered it
    expect(error).toBeInstanceOf(CrispError);
    expect(error).toMatchObject({ code: 'crisp_timeout', attempts: 0, method: 'POST' });
    expect((error as Error).message).toMatch(/within 300 ms; it was still waiting for one of this process's 1 connection to Crisp, all busy with other calls, and was not sent$/);
    held!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: false, reason: 'updated', data: {} }));
    await first;
    // The connection is free: the next call goes out on it, and the abandoned one did not go before it (the pool keeps order).
    const nextHeld = new Promise<void>((resolve) => (onHeld = resolve));
    const next = crisp.conversations.setState(WEBSITE, SESSION, 'unresolved');
    await nextHeld;
    held!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: false, reason: 'updated', data: {} }));
    await next;
    expect(received).toEqual([`PATCH /v1/website/${WEBSITE}/conversation/${SESSION}/state`, `PATCH /v1/website/${WEBSITE}/conversation/${SESSION}/state`]);
  } finally {
    await crisp.close();
  }
});

it('a tool whose call timed out waiting for a connection says it was not sent (not "may or may not have happened")', async () => {
  const harness = await McpHarness.start({ seed: 5, crisp: { connections: 1, deadlineMs: 300, retry: { maxAttempts: 1 } } });
  try {
    const site = harness.sandbox.state.websites.get(harness.sandbox.websiteId)!;
    const session = [...site.conversations.values()].find((c) => c.state === 'pending')!.session_id;
    harness.sandbox.faults.configure('latency:600ms');
    const [first, second] = await Promise.all(['first of two', 'second of two'].map((content) => callTool(harness.client, 'send_message', { session_id: session, content })));
    harness.sandbox.faults.clear();
    const texts = [first!.text, second!.text];
    // The call that had the connection timed out after it was sent (a resend under its fingerprint is safe); the other never left.
    expect(texts).toContainEqual(expect.stringMatching(/^Not confirmed sent \(crisp_timeout\); it may have reached the visitor\. Call send_message again with the same arguments and fingerprint \d+/));
    expect(texts).toContain('This server had too many calls to Crisp at once, and this one timed out waiting for a connection: it was not sent. Try again in a few seconds.');
    const unsent = texts[0]!.startsWith('This server') ? 'first of two' : 'second of two';
    // The sent one lands once the sandbox's latency is over; the unsent one never does.
    await harness.crisp.conversations.setState(harness.sandbox.websiteId, session, 'pending', { deadlineMs: 5_000 });
    expect(site.messages.get(session)!.some((m) => m.content === unsent)).toBe(false);
  } finally {
    await harness.close();
  }
});
