// Receiving Crisp's Web Hooks (reference §4): the signature (checked against an independent HMAC),
// the timestamp window, the payload parse, and createHookHandler on a real node:http server —
// 403 / 400 / 200, the answer before the work — with the sandbox's signed deliveries end to end.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CrispEventError,
  createHookHandler,
  hookSignatureProblem,
  parseHookEvent,
  signHook,
  verifyHookSignature,
  type HookEvent,
  type HookHandlerOptions,
} from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { eventually, visitorStarts } from '../helpers/events.js';

const SECRET = 'hook-secret-for-tests';
const NOW = 1_718_012_345_000;

/** Reference §8.5, verbatim: the documented message:send hook. */
const DOCUMENTED = JSON.stringify({
  website_id: '42286ab3-b29a-4fde-8538-da0ae501d825',
  event: 'message:send',
  data: {
    website_id: '42286ab3-b29a-4fde-8538-da0ae501d825',
    session_id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f',
    type: 'text',
    content: 'Hey :)',
    from: 'user',
    origin: 'chat',
    stamped: true,
    timestamp: 1506985696616,
    fingerprint: 150698569649423,
    user: { nickname: 'visitor493603', user_id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f' },
  },
  timestamp: 1506985696616,
});

/** Written from the reference's words, independently of src/crisp/hooks.ts. */
const independent = (secret: string, timestamp: number | string, raw: string) => createHmac('sha256', secret).update(`[${timestamp};${raw}]`).digest('hex');

describe('verifyHookSignature', () => {
  const good = { secret: SECRET, timestamp: String(NOW), signature: independent(SECRET, NOW, DOCUMENTED), rawBody: DOCUMENTED, now: NOW };

  it('accepts a delivery signed over [timestamp;raw body], and signHook agrees with the reference', () => {
    expect(signHook(SECRET, NOW, DOCUMENTED)).toBe(independent(SECRET, NOW, DOCUMENTED));
    expect(verifyHookSignature(good)).toBe(true);
    expect(verifyHookSignature({ ...good, rawBody: Buffer.from(DOCUMENTED) })).toBe(true);
    expect(verifyHookSignature({ ...good, timestamp: NOW })).toBe(true);
    expect(verifyHookSignature({ ...good, signature: good.signature.toUpperCase() })).toBe(true);
  });

  it.each([
    ['a wrong secret', { secret: 'another-secret' }, 'bad_signature'],
    ['a tampered body (one character)', { rawBody: DOCUMENTED.replace('Hey :)', 'Hey :(') }, 'bad_signature'],
    ['the body re-serialised with spaces', { rawBody: JSON.stringify(JSON.parse(DOCUMENTED), null, 1) }, 'bad_signature'],
    ['a signature for another timestamp', { timestamp: String(NOW + 1) }, 'bad_signature'],
    ['a signature without the brackets (mrsnailo/crisp-mcp)', { signature: createHmac('sha256', SECRET).update(`${NOW};${DOCUMENTED}`).digest('hex') }, 'bad_signature'],
    ['a truncated signature', { signature: independent(SECRET, NOW, DOCUMENTED).slice(0, 63) }, 'bad_signature'],
    ['a base64 signature', { signature: createHmac('sha256', SECRET).update(`[${NOW};${DOCUMENTED}]`).digest('base64') }, 'bad_signature'],
    ['an empty secret', { secret: '' }, 'bad_signature'],
    ['a stale timestamp (6 minutes old)', { now: NOW + 6 * 60_000 }, 'stale_timestamp'],
    ['a timestamp from the future (6 minutes ahead)', { now: NOW - 6 * 60_000 }, 'stale_timestamp'],
    ['a timestamp in seconds', { timestamp: String(Math.floor(NOW / 1000)) }, 'stale_timestamp'],
    ['a timestamp that is not a number', { timestamp: 'yesterday' }, 'bad_timestamp'],
    ['no timestamp', { timestamp: undefined }, 'missing_timestamp'],
    ['no signature', { signature: undefined }, 'missing_signature'],
  ])('refuses %s', (_name, change, problem) => {
    const input = { ...good, ...change };
    expect(hookSignatureProblem(input)).toBe(problem);
    expect(verifyHookSignature(input)).toBe(false);
  });

  it('honours a custom window', () => {
    expect(verifyHookSignature({ ...good, now: NOW + 1_500, windowMs: 1_000 })).toBe(false);
    expect(verifyHookSignature({ ...good, now: NOW + 1_500, windowMs: 2_000 })).toBe(true);
  });
});

describe('parseHookEvent', () => {
  it('reads the documented message:send into a typed event', () => {
    const event = parseHookEvent(DOCUMENTED);
    expect(event.event).toBe('message:send');
    expect(event.website_id).toBe('42286ab3-b29a-4fde-8538-da0ae501d825');
    expect(event.timestamp).toBe(1506985696616);
    if (event.event !== 'message:send') throw new Error('narrowing');
    expect(event.data.fingerprint).toBe(150698569649423);
    expect(event.data.from).toBe('user');
    expect(event.data.content).toBe('Hey :)');
  });

  it('keeps fields it does not type, and takes website_id from data when the envelope lacks it', () => {
    const body = JSON.parse(DOCUMENTED) as { website_id?: string; data: Record<string, unknown> };
    delete body.website_id;
    body.data.routing_ids = ['r1'];
    body.data.something_new = { x: 1 };
    const event = parseHookEvent(JSON.stringify(body));
    expect(event.website_id).toBe('42286ab3-b29a-4fde-8538-da0ae501d825');
    expect(event.data).toMatchObject({ routing_ids: ['r1'], something_new: { x: 1 } });
  });

  it.each([
    ['not JSON', '{"event":', 'malformed_json'],
    ['an array', '[]', 'malformed_payload'],
    ['no data', '{"event":"message:send","website_id":"w"}', 'malformed_payload'],
    ['data that is not an object', '{"event":"message:send","data":"x","website_id":"w"}', 'malformed_payload'],
    ['an unknown event name', '{"event":"message:teleported","data":{},"website_id":"w"}', 'unknown_event'],
    ['a message:send without its fingerprint', JSON.stringify({ ...JSON.parse(DOCUMENTED), data: { ...JSON.parse(DOCUMENTED).data, fingerprint: undefined } }), 'invalid_event'],
    ['a message:send from someone unknown', JSON.stringify({ ...JSON.parse(DOCUMENTED), data: { ...JSON.parse(DOCUMENTED).data, from: 'robot' } }), 'invalid_event'],
    ['no website_id anywhere', '{"event":"status:health:changed","data":{}}', 'malformed_payload'],
  ])('refuses %s with a CrispEventError', (_name, raw, code) => {
    let caught: unknown;
    try {
      parseHookEvent(raw);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CrispEventError);
    expect((caught as CrispEventError).code).toBe(code);
  });

  it('names the missing field without echoing the payload', () => {
    const raw = JSON.stringify({ ...JSON.parse(DOCUMENTED), data: { ...JSON.parse(DOCUMENTED).data, fingerprint: 'secret visitor text' } });
    expect(() => parseHookEvent(raw)).toThrow(/^the message:send event is malformed \(data\.fingerprint: /);
    expect(() => parseHookEvent(raw)).not.toThrow(/secret visitor text/);
  });
});

// ---------------------------------------------------------------- createHookHandler over HTTP

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
