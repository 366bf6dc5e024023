// ReplyDeliverer against a real receiver that misbehaves: 500s, 429 with Retry-After, dropped
// connections, a hung request, a permanent 4xx, a webhook not set up yet (3xx, 401, 403, 404);
// one conversation's failures never delay another; and a restart in the middle of delivery,
// SQLite on a temporary file, with nothing lost or doubled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReplyDeliverer, signWebhook, webhookKey } from '../../src/converse/delivery.js';
import { parseRetryAfter as retryAfterMs } from '../../src/retry.js';
import { MemoryStore } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { settled, startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { Receiver, TEST_SECRET, verifyStandardWebhook } from '../helpers/receiver.js';

let receiver: Receiver;
let h: ConverseHarness | undefined;
let dir: string;
beforeAll(async () => {
  receiver = await Receiver.start();
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-converse-'));
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  receiver.release();
  await h?.stop();
  h = undefined;
  receiver.behaviour = () => 200;
  receiver.delayMs = 0;
});

let n = 0;
const fresh = (tag: string) => `${tag}-${process.pid}-${++n}`;
const texts = (id: string) => receiver.of(id).map((r) => r.text);
async function until(done: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
/** Four replies: greeting, menu, "Pick a plan", then the carousel choice → text + end. */
const converse = async (h: ConverseHarness, id: string) => {
  await h.service.accept({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: id }] });
  await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans' });
  await h.service.accept({ conversationId: id, eventType: 'message', text: 'pro' });
};
const EXPECTED = (id: string) => [`Hello ${id}!`, 'What do you need?', 'Pick a plan', `You picked pro. Bye ${id}.`, ''];

describe('Standard Webhooks signature', () => {
  it('matches the spec example (standard-webhooks/standard-webhooks, spec/standard-webhooks.md)', () => {
    // The spec's worked example: secret, id, timestamp and payload → this v1 signature.
    const key = webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const body = '{"test": 2432232314}';
    expect(signWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,bm9ldmVu v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
    expect(verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body, 1614265330)).toBe(true);
    expect(verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body + ' ', 1614265330)).toBe(false);
    expect(verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body, 1614265330 + 301)).toBe(false);
  });
});

describe('retries', () => {
  it('rides out 500s, a 429 with Retry-After and dropped connections: same webhook-id every attempt, fresh valid signatures, order kept', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh('flaky');
    // Per reply: first attempt 500, second dropped, third 429 (Retry-After: 1 on the greeting only), then accepted.
    let greeting = '';
    receiver.behaviour = (a, seen) => {
      if (a.json.conversationId !== id) return 200;
      if (a.json.text === `Hello ${id}!`) greeting = a.id;
      if (seen === 0) return 500;
      if (seen === 1) return 'drop';
      if (seen === 2) return { status: 429, headers: a.id === greeting ? { 'retry-after': '1' } : ({} as Record<string, string>) };
      return 200;
    };
    await converse(h, id);
    await receiver.waitFor(() => receiver.of(id).length === 5, 8_000);
    expect(texts(id)).toEqual(EXPECTED(id));
    const attempts = receiver.attempts.filter((a) => a.json.conversationId === id);
    expect(attempts).toHaveLength(20);
    expect(attempts.every((a) => a.verified)).toBe(true);
    // Each reply was tried 4 times under one id, and nothing of a later reply came before it was accepted.
    const order = [...new Set(attempts.map((a) => a.id))];
    expect(order).toEqual(receiver.of(id).map((r) => r.messageId));
    for (const [i, mid] of order.entries()) {
      const mine = attempts.filter((a) => a.id === mid);
      expect(mine.map((a) => a.answer)).toEqual([500, 'drop', 429, 200]);
      if (i > 0) expect(attempts.findIndex((a) => a.id === mid)).toBeGreaterThan(attempts.findLastIndex((a) => a.id === order[i - 1]));
    }
    const greet = attempts.filter((a) => a.id === greeting);
    expect(greet[3]!.at - greet[2]!.at).toBeGreaterThanOrEqual(950); // Retry-After: 1 honoured
    // The receiver has answered; the ack of the last reply may still be on its way.
    await until(() => h!.deliverer.stats.delivered === 5);
    expect(h.deliverer.stats).toMatchObject({ delivered: 5, retried: 15, dropped: 0 });
    expect(h.logs.filter((l) => l.msg === 'converse delivery: will retry')).toHaveLength(15);
  });

  it('a reply the receiver refuses for good (4xx) is dropped with an error line; the next one goes on', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh('refused');
    receiver.behaviour = (a) => (a.json.conversationId === id && a.json.text === 'What do you need?' ? 422 : 200);
    await h.service.accept({ conversationId: id, eventType: 'startSession' });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans' });
    await receiver.waitFor(() => receiver.of(id).length === 2);
    expect(texts(id)).toEqual(['Hello !', 'Pick a plan']);
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'converse delivery: reply dropped', error: 'HTTP 422', conversation: `converse:${id}` }));
  });

  it.each([301, 401, 403, 404])('a webhook answering %i (moved, its secret or route not set up yet) keeps the reply until it is fixed: nothing dropped, order kept', async (status) => {
    h = await startConverseHarness({ receiver });
    const id = fresh(`misconfigured-${status}`);
    let fixed = false;
    receiver.behaviour = (a) => (a.json.conversationId === id && !fixed ? (status === 301 ? { status, headers: { location: 'https://elsewhere.example/hooks' } } : status) : 200);
    await converse(h, id);
    await receiver.waitFor(() => receiver.attempts.filter((a) => a.json.conversationId === id).length >= 3, 3_000, 'attempts refused');
    expect(new Set(receiver.attempts.filter((a) => a.json.conversationId === id).map((a) => a.json.text))).toEqual(new Set(['Hello ' + id + '!']));
    fixed = true;
    await receiver.waitFor(() => receiver.of(id).length === 5, 5_000, 'delivered once fixed');
    expect(texts(id)).toEqual(EXPECTED(id));
    expect(h.logs.filter((l) => l.msg === 'converse delivery: reply dropped')).toEqual([]);
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'converse delivery: will retry', error: `HTTP ${status}`, conversation: `converse:${id}` }));
  });

  it('a webhook down for a while is one warning (with the messageId and the status), its retries counted at debug, and one line when it takes replies again', async () => {
    h = await startConverseHarness({ receiver });
    // One conversation: its replies go one at a time, so no answer from before the fix lands after one from after it.
    const ids = [fresh('down')];
    let down = true;
    receiver.behaviour = (a) => (ids.includes(a.json.conversationId as string) && down ? 503 : 200);
    for (const id of ids) await converse(h, id);
    await receiver.waitFor(() => receiver.attempts.filter((a) => ids.includes(a.json.conversationId as string)).length >= 4, 5_000, 'retries');
    down = false;
    await receiver.waitFor(() => ids.every((id) => receiver.of(id).length === 5), 5_000, 'delivered once back');
    const retries = h.logs.filter((l) => l.msg === 'converse delivery: will retry' && ids.some((id) => l.conversation === `converse:${id}`));
    expect(retries.filter((l) => l.level === 40)).toEqual([expect.objectContaining({ status: 503, error: 'HTTP 503', messageId: expect.stringMatching(/^msg_/), attempts: 1 })]);
    expect(retries.slice(1).every((l) => l.level === 20 && l.status === 503 && typeof l.messageId === 'string')).toBe(true);
    const back = h.logs.filter((l) => l.msg === 'converse delivery: the webhook takes replies again');
    expect(back).toEqual([expect.objectContaining({ level: 30, failures: retries.length, down_ms: expect.any(Number) })]);
    // At debug, each reply's delivery is there by its messageId; its body (the visitor's or the bot's words) in no delivery line.
    const deliveredLines = () => h!.logs.filter((l) => l.msg === 'converse delivery: delivered' && ids.some((id) => l.conversation === `converse:${id}`));
    // The receiver has answered the last one; its line comes once the answer is back here.
    await until(() => deliveredLines().length === 5);
    const delivered = deliveredLines();
    expect(new Set(delivered.map((l) => l.messageId))).toEqual(new Set(ids.flatMap((id) => receiver.of(id).map((r) => r.messageId))));
    expect(JSON.stringify([...retries, ...delivered])).not.toContain('What do you need?');
  });

  it('a receiver that fails one conversation (500s, then a hung request) does not delay the others', async () => {
    h = await startConverseHarness({ receiver, deliverer: { timeoutMs: 3_000, concurrency: 4 } });
    const dead = fresh('dead');
    let failing = true;
    receiver.behaviour = (a, seen) => (a.json.conversationId === dead && failing ? (seen === 2 ? 'hang' : 500) : 200);
    await converse(h, dead);
    await receiver.waitFor(() => receiver.attempts.some((a) => a.json.conversationId === dead && a.answer === 'hang'), 3_000, 'the dead conversation hangs');
    const others = Array.from({ length: 6 }, () => fresh('alive'));
    for (const id of others) await converse(h, id);
    await receiver.waitFor(() => others.every((id) => receiver.of(id).length === 5), 10_000, 'the others delivered');
    // Delivered while the dead conversation's request still hangs: no attempt of it came after the hang.
    expect(receiver.attempts.filter((a) => a.json.conversationId === dead).map((a) => a.answer)).toEqual([500, 500, 'hang']);
    for (const id of others) expect(texts(id)).toEqual(EXPECTED(id));
    expect(receiver.of(dead)).toEqual([]);
    // The receiver recovers: the dead conversation's replies arrive, all, in order.
    failing = false;
    await receiver.waitFor(() => receiver.of(dead).length === 5, 8_000, 'the dead conversation recovered');
    expect(texts(dead)).toEqual(EXPECTED(dead));
  });

  it('reads Retry-After as seconds or an HTTP date, capped at an hour', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('86400', now)).toBe(3_600_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('restart in the middle of delivery (SQLite on a temporary file)', () => {
  it('stops with replies in flight and pending; a new process on the same file delivers the rest: no loss, no duplicate, order kept', async () => {
    const file = join(dir, 'restart.db');
    const ids = Array.from({ length: 4 }, () => fresh('restart'));
    receiver.delayMs = 40; // slow receiver: the stop lands while replies are in flight
    h = await startConverseHarness({ receiver, store: new SqliteStore(file), deliverer: { concurrency: 2 } });
    for (const id of ids) await converse(h, id);
    await settled(h.service);
    await receiver.waitFor(() => receiver.accepted.filter((a) => ids.includes(a.json.conversationId)).length >= 3, 5_000, 'a few delivered');
    await h.stop(); // lets the requests in flight finish and acks them
    const first = receiver.accepted.filter((a) => ids.includes(a.json.conversationId)).length;
    expect(first).toBeGreaterThanOrEqual(3);
    expect(first).toBeLessThan(20);
    await h.store.close();

    const reopened = new SqliteStore(file);
    expect((await reopened.outboxPending()).length).toBeGreaterThan(0);
    h = await startConverseHarness({ receiver, store: reopened });
    await receiver.waitFor(() => ids.every((id) => receiver.of(id).length === 5), 5_000, 'all delivered after the restart');
    for (const id of ids) expect(texts(id)).toEqual(EXPECTED(id));
    const all = receiver.attempts.filter((a) => ids.includes(a.json.conversationId));
    expect(all).toHaveLength(20); // every attempt was accepted once: no duplicate
    expect(new Set(all.map((a) => a.id)).size).toBe(20);
    await until(async () => (await reopened.outboxPending()).length === 0); // the last acks
    expect(await reopened.outboxPending()).toEqual([]);
    await h.stop();
    await reopened.close();
    h = undefined;
  });
});

describe('a store outbox shared with other users', () => {
  it('delivers replies left in the store even when more than a poll\'s worth of other queues (autopilot, inboxes) are due first', async () => {
    const store = new MemoryStore();
    const early = Date.now() - 60_000;
    // 1,500 autopilot-style queues and a few converse inboxes, all due before the reply: more than the 1,000 one poll reads.
    for (let i = 0; i < 1_500; i++) await store.savePosition(`website-1/session_${i}`, 'echo', 0, { expectedVersion: 0, outbox: [{ payload: { i }, notBefore: early + i }] });
    for (let i = 0; i < 3; i++) await store.savePosition(`converse-in:x${i}`, 'converse-inbox', 0, { expectedVersion: 0, outbox: [{ payload: { i }, notBefore: early }] });
    const id = fresh('crowded');
    await store.savePosition(`converse:${id}`, 'converse-test', 0, { expectedVersion: 0, outbox: [{ payload: { conversationId: id, type: 'text', text: 'left over' } }] });
    // Nobody kicks it: only the poll can find it.
    const deliverer = new ReplyDeliverer({ store, url: receiver.url, secret: TEST_SECRET, pollMs: 50, timeoutMs: 2_000 });
    deliverer.start();
    try {
      await receiver.waitFor(() => receiver.of(id).length === 1, 3_000, 'the reply behind the crowd');
      expect(texts(id)).toEqual(['left over']);
      await until(() => deliverer.stats.delivered === 1);
    } finally {
      await deliverer.stop();
    }
    // The other users' queues were left alone.
    expect(await store.outboxPending({ prefix: 'website-1/', limit: 2_000 })).toHaveLength(1_500);
    expect(await store.outboxPending({ prefix: 'converse-in:' })).toHaveLength(3);
    expect(deliverer.stats).toEqual({ delivered: 1, retried: 0, dropped: 0 });
  });
});

describe('a crash between the receiver\'s 2xx and the outbox ack', () => {
  it('the reply comes again under the same webhook-id, and every reply arrives in order: at least once, none lost', async () => {
    const file = join(dir, 'ack-crash.db');
    const sqlite = new SqliteStore(file);
    // The store as a process that dies right after a 2xx would leave it: the first reply's ack never written.
    let failed = false;
    const store = new Proxy(sqlite, {
      get(target, prop, receiverArg) {
        if (prop === 'outboxAck') {
          return (conversation: string, seq: number) => {
            if (!failed && conversation.startsWith('converse:')) {
              failed = true;
              return Promise.reject(new Error('killed before the ack'));
            }
            return target.outboxAck(conversation, seq);
          };
        }
        const value = Reflect.get(target, prop, receiverArg) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const id = fresh('ack-crash');
    h = await startConverseHarness({ receiver, store });
    await converse(h, id);
    await settled(h.service);
    await receiver.waitFor(() => receiver.of(id).length === 6, 5_000, 'every reply delivered, the unacked one twice');
    const attempts = receiver.attempts.filter((a) => a.json.conversationId === id);
    expect(failed).toBe(true);
    // The greeting twice (same webhook-id), then the rest once each, in order.
    expect(attempts.map((a) => a.json.text)).toEqual([`Hello ${id}!`, ...EXPECTED(id)]);
    expect(attempts[0]!.id).toBe(attempts[1]!.id);
    // What a receiver deduping on webhook-id keeps: each reply once.
    expect([...new Map(attempts.map((a) => [a.id, a.json.text])).values()]).toEqual(EXPECTED(id));
    await until(async () => (await sqlite.outboxPending()).length === 0);
    await h.stop();
    h = undefined;
    await sqlite.close();
  });
});
