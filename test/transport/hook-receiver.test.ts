// The Web Hook route (src/transport/hook-receiver.ts) on a real node:http server: 403 / 400 / 200,
// 405 / 413, the answer before the work, and the sandbox's signed deliveries end to end.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { HookEvent } from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { createHookHandler, type HookHandlerOptions } from '../../src/transport/hook-receiver.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { DOCUMENTED, independent } from '../helpers/hooks.js';

const SECRET = 'hook-secret-for-tests';

let server: Server | undefined;
let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  if (server) await new Promise<void>((resolve) => (server!.close(() => resolve()), server!.closeAllConnections()));
  server = sandbox = undefined;
});

async function serve(options: Partial<HookHandlerOptions> & Pick<HookHandlerOptions, 'onEvent'>): Promise<string> {
  server = createServer(createHookHandler({ secret: SECRET, ...options }));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/crisp`;
}

async function post(url: string, raw: string, headers: Record<string, string> = {}, method: 'POST' | 'GET' = 'POST') {
  const timestamp = String(Date.now());
  const res = await request(url, {
    method,
    headers: { 'content-type': 'application/json', 'x-crisp-request-timestamp': timestamp, 'x-crisp-signature': independent(SECRET, timestamp, raw), ...headers },
    body: method === 'POST' ? raw : undefined,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('createHookHandler', () => {
  it('answers 200 at once and hands the typed event over afterwards', async () => {
    const events: HookEvent[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const url = await serve({
      onEvent: async (event) => {
        events.push(event);
        await gate; // slow work must not hold the answer
      },
    });
    const reply = await post(url, DOCUMENTED, { 'x-delivery-attempt-count': '2' }).then((r) => r);
    expect(reply).toEqual({ status: 200, text: 'ok' });
    await eventually(() => events.length === 1, 2_000, 'onEvent');
    expect(events[0]).toMatchObject({ event: 'message:send', website_id: '42286ab3-b29a-4fde-8538-da0ae501d825', data: { fingerprint: 150698569649423 } });
    release();
  });

  it('passes the attempt count on', async () => {
    const deliveries: unknown[] = [];
    const url = await serve({ onEvent: (_event, delivery) => void deliveries.push(delivery) });
    await post(url, DOCUMENTED, { 'x-delivery-attempt-count': '3' });
    await eventually(() => deliveries.length === 1, 2_000, 'onEvent');
    expect(deliveries).toEqual([{ attempt: 3 }]);
  });

  it.each([
    ['a bad signature', { 'x-crisp-signature': '0'.repeat(64) }],
    ['no signature', { 'x-crisp-signature': '' }],
    ['a stale timestamp', { 'x-crisp-request-timestamp': String(Date.now() - 10 * 60_000) }],
  ])('answers 403 to %s and never calls onEvent', async (_name, headers) => {
    const errors: [string, number | undefined][] = [];
    let called = false;
    const url = await serve({ onEvent: () => void (called = true), onError: (error, status) => void errors.push([error.message, status]) });
    const reply = await post(url, DOCUMENTED, headers);
    expect(reply).toEqual({ status: 403, text: 'invalid signature' });
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe(403);
    await new Promise((resolve) => setImmediate(resolve));
    expect(called).toBe(false);
  });

  it('answers 400 to a signed but malformed body', async () => {
    let called = false;
    const url = await serve({ onEvent: () => void (called = true) });
    expect((await post(url, '{"event":')).status).toBe(400);
    const reply = await post(url, JSON.stringify({ website_id: 'w', event: 'message:send', data: { website_id: 'w' } }));
    expect(reply.status).toBe(400);
    expect(reply.text).toMatch(/^the message:send event is malformed/);
    expect(called).toBe(false);
  });

  it('answers 200 to an event it was not asked for, or one it does not know, and drops it', async () => {
    const events: string[] = [];
    const url = await serve({ events: ['message:received'], onEvent: (e) => void events.push(e.event) });
    expect((await post(url, DOCUMENTED)).status).toBe(200);
    expect((await post(url, JSON.stringify({ website_id: 'w', event: 'message:teleported', data: {} }))).status).toBe(200);
    expect((await post(url, DOCUMENTED.replace('"message:send"', '"message:received"'))).status).toBe(200);
    await eventually(() => events.length === 1, 2_000, 'onEvent');
    expect(events).toEqual(['message:received']);
  });

  it('answers 405 to anything but POST, and 413 to a body over the limit', async () => {
    const url = await serve({ onEvent: () => undefined, maxBodyBytes: 1_000 });
    expect((await post(url, '', {}, 'GET')).status).toBe(405);
    expect((await post(url, JSON.stringify({ pad: 'x'.repeat(2_000) }))).status).toBe(413);
  });

  it('reports an onEvent failure and keeps serving', async () => {
    const errors: string[] = [];
    const url = await serve({
      onEvent: () => {
        throw new Error('handler broke');
      },
      onError: (error) => void errors.push(error.message),
    });
    expect((await post(url, DOCUMENTED)).status).toBe(200);
    expect((await post(url, DOCUMENTED)).status).toBe(200);
    await eventually(() => errors.length === 2, 2_000, 'two reports');
    expect(errors).toEqual(['handler broke', 'handler broke']);
  });

  it('names POST in the 405 and sends its answers with a known length', async () => {
    const url = await serve({ onEvent: () => undefined });
    const refused = await request(url, { method: 'GET' });
    expect(refused.statusCode).toBe(405);
    expect(refused.headers.allow).toBe('POST');
    expect(await refused.body.text()).toBe('method not allowed; Crisp posts hooks');
    const timestamp = String(Date.now());
    const accepted = await request(url, {
      method: 'POST',
      headers: { 'x-crisp-request-timestamp': timestamp, 'x-crisp-signature': independent(SECRET, timestamp, DOCUMENTED) },
      body: DOCUMENTED,
    });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.headers).toMatchObject({ 'content-length': '2', 'content-type': 'text/plain; charset=utf-8' });
    expect(await accepted.body.text()).toBe('ok');
  });

  it('closes the connection of a refused delivery whose onError throws, and keeps serving', async () => {
    const url = await serve({
      onEvent: () => undefined,
      onError: () => {
        throw new Error('reporter broke');
      },
    });
    await expect(post(url, DOCUMENTED, { 'x-crisp-signature': 'f'.repeat(64) })).rejects.toThrow();
    expect((await post(url, DOCUMENTED)).status).toBe(200);
  });

  it('refuses to start without a secret', () => {
    expect(() => createHookHandler({ secret: '', onEvent: () => undefined })).toThrow(/CRISP_HOOK_SECRET/);
  });

  it('receives the sandbox\'s signed deliveries end to end, in order', async () => {
    const events: HookEvent[] = [];
    const url = await serve({ events: ['message:send', 'message:received'], onEvent: (e) => void events.push(e) });
    sandbox = await startSandbox({ seed: 9, hooks: { url, secret: SECRET, retryDelayMs: 5 } });
    const sessionId = await visitorStarts(sandbox, 'one');
    for (const text of ['two', 'three']) {
      await fetch(`${sandbox.url}/_sandbox/websites/${sandbox.websiteId}/conversations/${sessionId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: text }),
      });
    }
    await sandbox.hooks!.idle();
    await eventually(() => events.length === 3, 2_000, 'three events');
    expect(events.map((e) => (e.event === 'message:send' ? [e.data.session_id, e.data.content] : e.event))).toEqual([
      [sessionId, 'one'],
      [sessionId, 'two'],
      [sessionId, 'three'],
    ]);
    expect(sandbox.hooks!.stats()).toMatchObject({ delivered: 4, failed: 0 }); // and session:request:initiated, answered 200 and dropped
  });
});
