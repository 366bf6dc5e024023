// Receiving Crisp's Web Hooks: the signature (checked against an independent HMAC),
// the timestamp window and the payload parse; the node:http route is tested in
// test/transport/hook-receiver.test.ts.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CrispEventError,
  checkHookRequest,
  hookSignatureProblem,
  parseHookEvent,
  signHook,
  verifyHookSignature,
} from '../../src/crisp/index.js';
import { DOCUMENTED, independent } from '../helpers/hooks.js';

const SECRET = 'hook-secret-for-tests';
const NOW = 1_718_012_345_000;

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

describe('checkHookRequest with skip', () => {
  const headers = (body: string) => ({ 'x-crisp-request-timestamp': String(NOW), 'x-crisp-signature': independent(SECRET, NOW, body) });
  const echo = JSON.stringify({ website_id: 'w1', event: 'message:received', data: { website_id: 'w1', session_id: 's1', fingerprint: 424242 }, timestamp: NOW });
  const skip = (name: string, data: unknown) => name === 'message:received' && (data as { fingerprint?: unknown }).fingerprint === 424242;

  it('answers 200 and drops a signed delivery skip recognises, before the event schema reads it', () => {
    // Without skip the same (malformed) delivery is a 400: the schema did read it.
    expect(checkHookRequest(headers(echo), echo, { secret: SECRET, now: () => NOW }).status).toBe(400);
    expect(checkHookRequest(headers(echo), echo, { secret: SECRET, now: () => NOW, skip })).toEqual({ status: 200, ignored: 'message:received not needed' });
  });

  it('checks the signature first: an unsigned delivery is refused whatever skip says', () => {
    const decision = checkHookRequest({ 'x-crisp-request-timestamp': String(NOW), 'x-crisp-signature': '0'.repeat(64) }, echo, { secret: SECRET, now: () => NOW, skip: () => true });
    expect(decision.status).toBe(403);
  });

  it('passes on what skip does not recognise', () => {
    const decision = checkHookRequest(headers(DOCUMENTED), DOCUMENTED, { secret: SECRET, now: () => NOW, skip });
    expect(decision.status).toBe(200);
    expect('event' in decision && decision.event.event).toBe('message:send');
  });
});
