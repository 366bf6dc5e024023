// The converse API's sessions and replies: every event type through ConverseService, its replies
// POSTed by ReplyDeliverer to a real node:http receiver whose own Standard Webhooks verifier checks
// every signature; dedupe by messageId; sessions that start over, end, and time out.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENDED_SESSION_RETENTION_MS, INBOX_PREFIX, inboxKey, parseConverseInput } from '../../src/converse/converse.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBacking, MemoryStore, type Store } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { converseScenario, settled, startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { Receiver } from '../helpers/receiver.js';
import { sqliteRows } from '../helpers/sqlite-file.js';

let receiver: Receiver;
let h: ConverseHarness;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await h?.stop();
  receiver.behaviour = () => 200;
});

let n = 0;
const fresh = () => `conv-${process.pid}-${++n}`;

/** `store` with some methods replaced (the others bound to it: MemoryStore has private fields). */
function overriding(store: Store, methods: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name in methods) return methods[name as keyof Store];
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** What a test reads of a reply: type and text, plus whatever else it has. */
const brief = (r: Record<string, unknown>) => ({ type: r.type, text: r.text });

describe('ConverseService + ReplyDeliverer, one conversation through every event type', () => {
  it('startSession (with metadata) → message (button text) → message (cardIndex) → end; replies in order, signed, with stable ids', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh();
    expect((await h.service.accept({ platformConversationId: id, eventType: 'startSession', messageId: 'e1', userId: 'u-7', metaData: [{ key: 'user_name', value: 'Ann' }] })).status).toBe(202);
    expect((await h.service.accept({ conversationId: id, eventType: 'message', text: 'Plans', messageId: 'e2' })).status).toBe(202);
    expect((await h.service.accept({ conversationId: id, eventType: 'message', text: 'Pro', cardIndex: 1, messageId: 'e3' })).status).toBe(202);
    await receiver.waitFor(() => receiver.of(id).length === 5);

    const replies = receiver.of(id);
    expect(replies.map(brief)).toEqual([
      { type: 'text', text: 'Hello Ann!' },
      { type: 'choice', text: 'What do you need?' },
      { type: 'carousel', text: 'Pick a plan' },
      { type: 'text', text: 'You picked pro. Bye Ann.' },
      { type: 'end', text: '' },
    ]);
    expect(replies[1]!.buttons).toEqual([
      { type: 'button', text: 'Plans', value: 'plans' },
      { type: 'button', text: 'Book', value: 'book' },
      { type: 'button', text: 'Human', value: 'human' },
      { type: 'button', text: 'Bye', value: 'bye' },
    ]);
    expect(replies[2]!.carouselCards).toEqual([
      { title: 'Basic', description: '5 EUR a month', buttons: [{ type: 'button', text: 'Basic', value: 'basic' }] },
      { title: 'Pro', imageUrl: 'https://example.com/pro.png', buttons: [{ type: 'button', text: 'Pro', value: 'pro' }] },
    ]);
    expect(replies.map((r) => r.replyTo)).toEqual(['e1', 'e1', 'e2', 'e3', 'e3']);
    expect(replies[4]).toMatchObject({ conversationId: id, reason: 'completed', userId: 'u-7', buttons: [], carouselCards: [] });
    // Stable ids: the webhook-id header is the messageId, all distinct; every signature verifies.
    const attempts = receiver.attempts.filter((a) => a.json.conversationId === id);
    expect(attempts.every((a) => a.verified && a.id === a.json.messageId)).toBe(true);
    expect(new Set(replies.map((r) => r.messageId)).size).toBe(5);
    expect(replies[0]!.messageId).toMatch(/^msg_[\w-]{22}$/);
  });

  it('a cardIndex past the last card: the button text sent with it is read (or, without text, the carousel comes again), and a warning names the index', async () => {
    h = await startConverseHarness({ receiver });
    const withText = fresh();
    const withoutText = fresh();
    for (const id of [withText, withoutText]) {
      await h.service.accept({ conversationId: id, eventType: 'startSession' });
      await h.service.accept({ conversationId: id, eventType: 'message', text: 'Plans' });
    }
    await h.service.accept({ conversationId: withText, eventType: 'message', text: 'Pro', cardIndex: 7 });
    await h.service.accept({ conversationId: withoutText, eventType: 'message', cardIndex: 7 });
    await receiver.waitFor(() => receiver.of(withText).length === 5 && receiver.of(withoutText).length === 4);
    expect(receiver.of(withText).slice(3).map(brief)).toEqual([{ type: 'text', text: 'You picked pro. Bye .' }, { type: 'end', text: '' }]);
    expect(receiver.of(withoutText).slice(3).map(brief)).toEqual([{ type: 'carousel', text: 'Pick a plan' }]);
    const warnings = h.logs.filter((l) => String(l.msg).startsWith('cardIndex 7 is past the last card (2 at block plans)'));
    expect(warnings.map((l) => [l.conversation, l.level])).toEqual([[withText, 40], [withoutText, 40]]);
  });

  it('metadata before the first message is kept on the session and read by the scenario; the session then ends on endSession', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh();
    await h.service.accept({ conversationId: id, eventType: 'metadata', metadata: [{ key: 'user_name', value: 'Bo' }, { key: 'plan_hint', value: 3 }] });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'hi there' });
    await receiver.waitFor(() => receiver.of(id).length === 2);
    expect(receiver.of(id).map(brief)).toEqual([
      { type: 'text', text: 'Hello Bo!' },
      { type: 'choice', text: 'What do you need?' },
    ]);
    await h.service.accept({ conversationId: id, eventType: 'metadata', metadata: [{ key: 'user_name', value: 'Bob' }] });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans' });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'basic' });
    await receiver.waitFor(() => receiver.of(id).length === 5);
    expect(receiver.of(id).slice(3).map(brief)).toEqual([
      { type: 'text', text: 'You picked basic. Bye Bob.' },
      { type: 'end', text: '' },
    ]);
    const saved = await h.store.getPosition('converse:' + id, 'converse-test');
    // The session is the converse part of the conversation's record.
    expect(saved?.value).toMatchObject({ v: 2, channels: { converse: { metadata: { user_name: 'Bob', plan_hint: 3 }, status: 'ended', endReason: 'completed' } } });
  });

  it('handoff carries the reason, note and assignee; the bot is then silent until endSession, which answers `end`', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh();
    await h.service.accept({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Cy' }] });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'Human', messageId: 'h1' });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'hello? anyone?' });
    await h.service.accept({ conversationId: id, eventType: 'endSession', messageId: 'h3' });
    await h.service.accept({ conversationId: id, eventType: 'endSession' }); // no live session: nothing
    await settled(h.service);
    await receiver.waitFor(() => receiver.of(id).length === 5);
    const replies = receiver.of(id);
    expect(replies.map(brief)).toEqual([
      { type: 'text', text: 'Hello Cy!' },
      { type: 'choice', text: 'What do you need?' },
      { type: 'text', text: 'A human will take it from here.' },
      { type: 'handoff', text: '' },
      { type: 'end', text: '' },
    ]);
    expect(replies[3]).toMatchObject({ reason: 'asked_for_human', note: 'Wants a human (Cy).', assignTo: { email: 'billing@example.com' }, replyTo: 'h1' });
    expect(replies[4]).toMatchObject({ reason: 'end_session', replyTo: 'h3' });
  });

  it('startSession on a live conversation starts it over (a new session, the greeting again)', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh();
    await h.service.accept({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Di' }] });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans' });
    await h.service.accept({ conversationId: id, eventType: 'startSession' });
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'bye' });
    await receiver.waitFor(() => receiver.of(id).length === 7);
    expect(receiver.of(id).map((r) => r.text)).toEqual(['Hello Di!', 'What do you need?', 'Pick a plan', 'Hello Di!', 'What do you need?', 'Bye!', '']);
    const saved = await h.store.getPosition('converse:' + id, 'converse-test');
    expect(saved?.value).toMatchObject({ channels: { converse: { session: 2 } } });
  });

  it('a messageId seen before is a no-op, sent again at once or later', async () => {
    h = await startConverseHarness({ receiver });
    const id = fresh();
    const start = { conversationId: id, eventType: 'startSession', messageId: 'same' };
    const atOnce = await Promise.all(Array.from({ length: 5 }, () => h.service.accept(start)));
    // The 202 tells a duplicate from the event run: exactly one of the five was run.
    expect(atOnce.map((a) => a.body.duplicate === true).sort()).toEqual([false, true, true, true, true]);
    expect((await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans', messageId: 'm2' })).body).toEqual({ status: 'accepted', conversationId: id, messageId: 'm2' });
    await settled(h.service);
    await h.service.accept(start);
    // The same event again after it ran is not run again, and the 202 says so; another text under that messageId is refused (the first body stands).
    expect((await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans', messageId: 'm2' })).body).toEqual({ status: 'accepted', conversationId: id, messageId: 'm2', duplicate: true });
    expect(await h.service.accept({ conversationId: id, eventType: 'message', text: 'bye', messageId: 'm2' })).toMatchObject({ status: 409, body: { error: 'message_id_reused', field: 'messageId' } });
    expect(await h.service.handle({ conversationId: id, type: 'message', text: 'basic', messageId: 'm2', metadata: {} })).toEqual({ status: 'conflict' });
    expect(await h.service.handle({ conversationId: id, type: 'message', text: 'plans', messageId: 'm2', metadata: {} })).toEqual({ status: 'duplicate' });
    await settled(h.service);
    // A later event's replies come after any the duplicates could have caused: wait for them, not for a time.
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'basic', messageId: 'm3' });
    await receiver.waitFor(() => receiver.of(id).length >= 5);
    expect(receiver.of(id).map((r) => r.type)).toEqual(['text', 'choice', 'carousel', 'text', 'end']);
    // The same messageId in another conversation is another event.
    const other = fresh();
    await h.service.accept({ ...start, conversationId: other });
    await receiver.waitFor(() => receiver.of(other).length === 2);
  });

  it('dedupes exactly when the inbox was written elsewhere: by the previous release, or by another process on the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'converse-dedupe-'));
    const file = join(dir, 'state.db');
    const first = new SqliteStore(file);
    const second = new SqliteStore(file);
    let other: ConverseHarness | undefined;
    try {
      // An inbox record as the current release writes it, with a messageId seen a minute ago.
      const id = fresh();
      await first.savePosition(inboxKey(id), 'converse-inbox', { kind: 'converse_inbox', seen: { old: Date.now() - 60_000 } }, { expectedVersion: 0 });
      h = await startConverseHarness({ receiver, store: first });
      other = await startConverseHarness({ receiver, store: second });
      expect(await h.service.handle({ conversationId: id, type: 'startSession', messageId: 'old', metadata: {} })).toEqual({ status: 'duplicate' });
      // Two processes take turns on one conversation: each sees what the other appended.
      const services = [h.service, other.service];
      const outcomes: string[] = [];
      for (const [i, messageId] of ['a', 'a', 'b', 'a', 'b', 'c', 'c', 'old'].entries()) {
        const outcome = await services[i % 2]!.handle({ conversationId: id, type: 'message', text: 'plans', messageId, metadata: {} });
        outcomes.push(`${messageId}:${outcome.status}`);
      }
      expect(outcomes).toEqual(['a:saved', 'a:duplicate', 'b:saved', 'a:duplicate', 'b:duplicate', 'c:saved', 'c:duplicate', 'old:duplicate']);
    } finally {
      await other?.stop();
      await h.stop();
      await first.close();
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dedupes across a restart, and still on a messageId the previous release accepted within a day (not on one older)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'converse-restart-'));
    const file = join(dir, 'state.db');
    let store = new SqliteStore(file);
    try {
      const id = fresh();
      // Inbox records as the previous release wrote them: one id seen an hour ago, one two days ago.
      await store.savePosition(inboxKey(id), 'converse-inbox', { kind: 'converse_inbox', seen: { recent: Date.now() - 3_600_000, stale: Date.now() - 2 * 86_400_000 } }, { expectedVersion: 0 });
      h = await startConverseHarness({ receiver, store });
      expect(await h.service.handle({ conversationId: id, type: 'message', text: 'plans', messageId: 'recent', metadata: {} })).toEqual({ status: 'duplicate' });
      expect(await h.service.handle({ conversationId: id, type: 'startSession', messageId: 'stale', metadata: {} })).toMatchObject({ status: 'saved' });
      expect(await h.service.handle({ conversationId: id, type: 'message', text: 'plans', messageId: 'new', metadata: {} })).toMatchObject({ status: 'saved' });
      await h.stop();
      await store.close();
      // The next process on the same file.
      store = new SqliteStore(file);
      h = await startConverseHarness({ receiver, store });
      for (const messageId of ['recent', 'new']) {
        expect(await h.service.handle({ conversationId: id, type: 'message', text: 'plans', messageId, metadata: {} })).toEqual({ status: 'duplicate' });
      }
      expect(await h.service.handle({ conversationId: id, type: 'startSession', messageId: 'stale', metadata: {} })).toEqual({ status: 'duplicate' });
      // Kept with its event across the restart: another event under it is refused.
      expect(await h.service.handle({ conversationId: id, type: 'message', text: 'plans', messageId: 'stale', metadata: {} })).toEqual({ status: 'conflict' });
      expect((await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans', messageId: 'new' })).status).toBe(202);
      expect(await h.service.handle({ conversationId: id, type: 'message', text: 'basic', messageId: 'newer', metadata: {} })).toMatchObject({ status: 'saved' });
      // The messageIds now live beside the inbox; nothing more is written to the old records.
      expect(await store.getPosition(inboxKey(id), 'converse-inbox')).toMatchObject({ version: 1 });
    } finally {
      await h.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a session left at a carousel goes on there after a restart on an edited scenario file (reworded, a block added before it, a new version)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'converse-edit-'));
    const file = join(dir, 'state.db');
    let store = new SqliteStore(file);
    try {
      const id = fresh();
      h = await startConverseHarness({ receiver, store });
      await h.service.accept({ conversationId: id, eventType: 'startSession', metaData: [{ key: 'user_name', value: 'Ann' }] });
      await h.service.accept({ conversationId: id, eventType: 'message', text: 'Plans' });
      await receiver.waitFor(() => receiver.of(id).length === 3);
      await h.stop();
      await store.close();

      const edited = JSON.parse(converseScenario().source) as { version: number; start: string; blocks: Record<string, Record<string, unknown>> };
      edited.version = 2;
      edited.blocks = { intro: { type: 'message', text: 'Welcome to ACME.', next: 'hello' }, ...edited.blocks };
      edited.start = 'intro';
      edited.blocks.picked = { type: 'end', text: 'Great choice: {{plan}}, {{user_name}}.' };
      store = new SqliteStore(file);
      h = await startConverseHarness({ receiver, store, library: scenarioLibraryFromTexts([{ file: 'converse-test.json', source: JSON.stringify(edited) }]) });
      await h.service.accept({ conversationId: id, eventType: 'message', text: 'Pro', cardIndex: 1 });
      await receiver.waitFor(() => receiver.of(id).length === 5);
      expect(receiver.of(id).slice(3).map(brief)).toEqual([{ type: 'text', text: 'Great choice: pro, Ann.' }, { type: 'end', text: '' }]);
    } finally {
      await h.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 503 while the previous release\'s records cannot be read, and reads them at the next event', async () => {
    const store = new MemoryStore();
    const id = fresh();
    await store.savePosition(inboxKey(id), 'converse-inbox', { kind: 'converse_inbox', seen: { old: Date.now() - 1_000 } }, { expectedVersion: 0 });
    let failReads = 1;
    const flaky = overriding(store, {
      listPositions: async (...args: Parameters<Store['listPositions']>) => {
        if (failReads-- > 0) throw new Error('store down');
        return store.listPositions(...args);
      },
    });
    h = await startConverseHarness({ receiver, store: flaky });
    expect(await h.service.accept({ conversationId: id, eventType: 'startSession', messageId: 'old' })).toMatchObject({ status: 503 });
    expect(await h.service.handle({ conversationId: id, type: 'startSession', messageId: 'old', metadata: {} })).toEqual({ status: 'duplicate' });
  });

  it('an inbox item whose session was saved but not acked (a crash in between) is only acked when run again: no reply twice', async () => {
    const store = new MemoryStore();
    let failAcks = 1;
    // The first inbox ack fails after the save, as a crash between the two would leave it.
    const flaky = overriding(store, {
      outboxAck: async (conversation: string, seq: number) => {
        if (conversation.startsWith(INBOX_PREFIX) && failAcks-- > 0) throw new Error('store down');
        return store.outboxAck(conversation, seq);
      },
    });
    h = await startConverseHarness({ receiver, store: flaky });
    const id = fresh();
    const accepted = await h.service.accept({ conversationId: id, eventType: 'startSession', messageId: 'k1', metadata: [{ key: 'user_name', value: 'Kit' }] });
    expect(accepted.status).toBe(202);
    await settled(h.service);
    // The inbox runs in order: a later event's reply comes after anything the re-run could have sent.
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans', messageId: 'k2' });
    await receiver.waitFor(() => receiver.of(id).length >= 3);
    expect(receiver.of(id).map(brief)).toEqual([{ type: 'text', text: 'Hello Kit!' }, { type: 'choice', text: 'What do you need?' }, { type: 'carousel', text: 'Pick a plan' }]);
    expect(await store.outboxHead(inboxKey(id))).toBeUndefined();
    expect((await store.getPosition('converse:' + id, 'converse-test'))?.version).toBe(2); // one save per event
  });

  it("runs inbox events left in the store even when more than a poll's worth of other queues (autopilot, replies) are due first", async () => {
    const store = new MemoryStore();
    const early = Date.now() - 60_000;
    for (let i = 0; i < 1_500; i++) await store.savePosition(`website-1/session_${i}`, 'echo', 0, { expectedVersion: 0, outbox: [{ payload: { i }, notBefore: early + i }] });
    // A first process accepts the event but cannot run it (its inbox reads fail), then stops: the event stays in the inbox.
    const id = fresh();
    const failing = overriding(store, {
      outboxHead: async () => {
        throw new Error('store down');
      },
    });
    h = await startConverseHarness({ receiver, store: failing });
    expect(await h.service.accept({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Lou' }] })).toMatchObject({ status: 202 });
    await receiver.waitFor(() => h.logs.some((l) => l.msg === 'converse: cannot read the inbox'), 2_000, 'the failed run');
    await h.stop();
    expect(await store.outboxHead(inboxKey(id))).toBeDefined();

    // The next process finds it by its poll alone, behind the 1,500 others.
    h = await startConverseHarness({ receiver, store });
    await h.service.resume();
    await receiver.waitFor(() => receiver.of(id).length === 2, 3_000, 'the replies to the left-over event');
    expect(receiver.of(id).map(brief)).toEqual([{ type: 'text', text: 'Hello Lou!' }, { type: 'choice', text: 'What do you need?' }]);
    expect(await store.outboxPending({ prefix: 'website-1/', limit: 2_000 })).toHaveLength(1_500);
  });

  it('forgets an event it accepted that another process ran first: its count of events waiting goes back to 0', async () => {
    // Two replicas on one store: the second's resume() finds the first's event in the inbox and runs
    // it while the first's own drain is held up; the first then finds its inbox empty.
    const backing = new MemoryBacking();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = new MemoryStore(backing);
    const first = overriding(slow, {
      outboxHead: async (conversation: string) => {
        if (conversation.startsWith(INBOX_PREFIX)) await held;
        return slow.outboxHead(conversation);
      },
    });
    h = await startConverseHarness({ receiver, store: first });
    const other = await startConverseHarness({ receiver, store: new MemoryStore(backing) });
    try {
      const ids = Array.from({ length: 20 }, () => fresh());
      for (const id of ids) expect((await h.service.accept({ conversationId: id, eventType: 'startSession', messageId: 'e1' })).status).toBe(202);
      // And one whose caller waits for its outcome (handle()): it is told where it ran.
      const awaited = fresh();
      const outcome = h.service.handle({ conversationId: awaited, type: 'startSession', messageId: 'e1', metadata: {} });
      await receiver.waitFor(() => h.service.queued === 21, 1_000, 'the awaited event accepted');
      ids.push(awaited);
      await other.service.resume();
      await settled(other.service);
      await receiver.waitFor(() => ids.every((id) => receiver.of(id).length === 2), 3_000, 'the replies, from the other process');
      release();
      // Before, each of these stayed counted for good, and /converse answered 503 once maxQueued were.
      await settled(h.service);
      expect(h.service.queued).toBe(0);
      expect(await outcome).toEqual({ status: 'elsewhere' });
      // Each ran once, by the other process.
      expect(ids.map((id) => receiver.of(id).length)).toEqual(ids.map(() => 2));
    } finally {
      release();
      await other.stop();
    }
  });

  it('answers 503 with Retry-After when the event cannot be stored, and runs nothing', async () => {
    const store = new MemoryStore();
    const down = overriding(store, {
      outboxAppend: async () => {
        throw new Error('store down');
      },
    });
    h = await startConverseHarness({ receiver, store: down });
    const answer = await h.service.accept({ conversationId: fresh(), eventType: 'startSession' });
    expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    expect(h.service.queued).toBe(0);
  });

  it("a webhook block calls the booking system (allow-listed origin, Idempotency-Key) and answers with what it returned", async () => {
    const calls: Array<{ body: string; key: string | undefined }> = [];
    const booking = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls.push({ body, key: req.headers['idempotency-key'] as string | undefined });
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ booking: { ref: 'R-42' } }));
      });
    });
    await new Promise<void>((resolve) => booking.listen(0, '127.0.0.1', resolve));
    try {
      const origin = `http://127.0.0.1:${(booking.address() as AddressInfo).port}`;
      h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([converseScenario(origin)]) });
      const id = fresh();
      await h.service.accept({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Eve' }] });
      await h.service.accept({ conversationId: id, eventType: 'message', text: 'book' });
      await h.service.accept({ conversationId: id, eventType: 'message', text: '2026-01-02' });
      await receiver.waitFor(() => receiver.of(id).length === 5);
      expect(receiver.of(id).slice(2).map((r) => r.text)).toEqual(['Which date?', 'Booked R-42 for 2026-01-02.', 'What do you need?']);
      expect(calls).toHaveLength(1);
      expect(JSON.parse(calls[0]!.body)).toEqual({ date: '2026-01-02', who: 'Eve' });
      expect(calls[0]!.key).toMatch(/^[\w-]{32}$/);
    } finally {
      booking.closeAllConnections();
      await new Promise((resolve) => booking.close(resolve));
    }
  });
});

describe('an articles block on the converse API', () => {
  const docs = JSON.stringify({
    name: 'docs',
    version: 1,
    start: 'route',
    blocks: {
      route: { type: 'match', rules: [{ contains: 'refund', next: 'find' }], otherwise: 'route_again' },
      route_again: { type: 'message', text: 'Ask me about refunds.', next: 'route' },
      find: { type: 'articles', next: 'route', none: 'nothing' },
      nothing: { type: 'message', text: 'No article for that.', next: 'route' },
    },
  });

  it('without a helpdesk, takes the none path and logs why', async () => {
    h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([{ file: 'docs.json', source: docs }]), service: { scenario: 'docs' } });
    const id = fresh();
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'a refund please' });
    await receiver.waitFor(() => receiver.of(id).length === 1);
    expect(receiver.of(id).map(brief)).toEqual([{ type: 'text', text: 'No article for that.' }]);
    expect(h.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('helpdesk search: no Crisp helpdesk here'))).toBe(true);
  });

  it('with a helpdesk, offers what it found as link buttons', async () => {
    const port = { search: (_website: string, question: string) => Promise.resolve({ articles: question.includes('refund') ? [{ title: 'Refund policy', url: 'https://help.example.com/en/article/refund-policy/' }] : [] }) };
    h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([{ file: 'docs.json', source: docs }]), service: { scenario: 'docs', helpdesk: { port, website: 'site' } } });
    const id = fresh();
    await h.service.accept({ conversationId: id, eventType: 'message', text: 'a refund please' });
    await receiver.waitFor(() => receiver.of(id).length === 1);
    expect(receiver.of(id)[0]).toMatchObject({ type: 'choice', text: 'These articles may help:', buttons: [{ type: 'link', text: 'Refund policy', url: 'https://help.example.com/en/article/refund-policy/' }] });
  });
});

describe('a session saved by the previous release (a bare session value under converse:<id>)', () => {
  it('is read as the record\'s converse part: the conversation goes on where it was, and is saved back as a record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-converse-migrate-'));
    const store = new SqliteStore(join(dir, 'state.db'));
    try {
      h = await startConverseHarness({ receiver, store });
      const id = fresh();
      const key = 'converse:' + id;
      await h.service.accept({ conversationId: id, eventType: 'startSession', messageId: 'm1', metadata: [{ key: 'user_name', value: 'Old' }] });
      await settled(h.service);
      await receiver.waitFor(() => receiver.of(id).length === 2);
      // Rewrite it the way the previous release saved it: the session, its position inside, the inbox seq beside.
      const saved = await store.getPosition<{ scenario: unknown; channels: { converse: Record<string, unknown> } }>(key, 'converse-test');
      const previous = { ...saved!.value.channels.converse, position: saved!.value.scenario };
      expect(previous).toMatchObject({ kind: 'converse_session', status: 'active', session: 1, inboxSeq: expect.any(Number) });
      expect((await store.savePosition(key, 'converse-test', previous, { expectedVersion: saved!.version, trackIdle: true })).ok).toBe(true);

      await h.service.accept({ conversationId: id, eventType: 'message', text: 'plans', messageId: 'm2' });
      await h.service.accept({ conversationId: id, eventType: 'message', text: 'Pro', cardIndex: 1, messageId: 'm3' });
      await receiver.waitFor(() => receiver.of(id).length === 5);
      expect(receiver.of(id).map(brief).slice(2)).toEqual([
        { type: 'carousel', text: 'Pick a plan' },
        { type: 'text', text: 'You picked pro. Bye Old.' },
        { type: 'end', text: '' },
      ]);
      const after = await store.getPosition(key, 'converse-test');
      expect(after?.value).toMatchObject({ v: 2, channels: { converse: { kind: 'converse_session', session: 1, status: 'ended', metadata: { user_name: 'Old' } } } });
      expect(after?.value).not.toHaveProperty('position');
    } finally {
      await h.stop(); // the receiver is shared by the other tests
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a business-hours condition at the start of the scenario', () => {
  const hoursScenario = {
    file: 'hours.json',
    source: JSON.stringify({
      name: 'converse-test',
      version: 1,
      start: 'open',
      blocks: {
        open: {
          type: 'condition',
          when: { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' }] } },
          then: 'weekday',
          else: 'closed',
        },
        weekday: { type: 'handoff', text: 'An operator will answer you shortly.', reason: 'open' },
        closed: { type: 'end', text: 'We are closed.' },
      },
    }),
  };
  const mondayTenInParis = Date.parse('2026-12-07T09:00:00Z');
  const saturdayTenInParis = Date.parse('2026-12-05T09:00:00Z');

  it.each([
    ['startSession', { eventType: 'startSession' }],
    ['the first message', { eventType: 'message', text: 'hello' }],
  ])('reads the service clock when %s opens the session: open on a Monday morning, closed on a Saturday', async (_what, event) => {
    let now = mondayTenInParis;
    h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([hoursScenario]), service: { now: () => now } });
    const weekday = fresh();
    await h.service.accept({ conversationId: weekday, ...event });
    await receiver.waitFor(() => receiver.of(weekday).length === 2);
    expect(receiver.of(weekday).map(brief)).toEqual([{ type: 'text', text: 'An operator will answer you shortly.' }, { type: 'handoff', text: '' }]);
    now = saturdayTenInParis;
    const weekend = fresh();
    await h.service.accept({ conversationId: weekend, ...event });
    await receiver.waitFor(() => receiver.of(weekend).length === 2);
    expect(receiver.of(weekend).map(brief)).toEqual([{ type: 'text', text: 'We are closed.' }, { type: 'end', text: '' }]);
    expect(h.logs.filter((l) => String(l.msg).includes('no_clock'))).toEqual([]);
  });
});

describe('inactivity timeout', () => {
  it('ends an idle session with an `end` reply (reason inactivity, replyTo null); activity keeps it alive; the next message starts anew', async () => {
    h = await startConverseHarness({ receiver, service: { idleMs: 500 } });
    h.service.startSweeper(50);
    const idle = fresh();
    const busy = fresh();
    const quiet = fresh(); // metadata alone opens no session: nothing to time out
    await h.service.accept({ conversationId: quiet, eventType: 'metadata', metadata: [{ key: 'user_name', value: 'Gus' }] });
    await h.service.accept({ conversationId: idle, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Flo' }] });
    await h.service.accept({ conversationId: busy, eventType: 'startSession' });
    const started = Date.now();
    // `busy` sends an event every 100 ms, well within its 500 ms.
    // accept() answers store failures with a 503 and never rejects, so nothing is dropped by the `void`.
    const keepAlive = setInterval(() => void h.service.accept({ conversationId: busy, eventType: 'metadata', metadata: [{ key: 'tick', value: Date.now() }] }), 100);
    try {
      await receiver.waitFor(() => receiver.of(idle).length === 3, 3_000, 'the idle session ended');
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(receiver.of(idle)[2]).toMatchObject({ type: 'end', reason: 'inactivity', replyTo: null });
      expect(receiver.of(busy).map((r) => r.type)).toEqual(['text', 'choice']);
    } finally {
      clearInterval(keepAlive);
    }
    await h.service.accept({ conversationId: idle, eventType: 'message', text: 'hello again' });
    await receiver.waitFor(() => receiver.of(idle).length === 5);
    expect(receiver.of(idle).slice(3).map((r) => r.text)).toEqual(['Hello Flo!', 'What do you need?']);
    const saved = await h.store.getPosition('converse:' + idle, 'converse-test');
    expect(saved?.value).toMatchObject({ channels: { converse: { session: 2, status: 'active' } } });
    await receiver.waitFor(() => receiver.of(busy).length === 3, 3_000, 'busy ended after its keep-alive stopped');
    // An ended session is no longer tracked: one `end` per session (the second session may have timed out by now too).
    const types = receiver.of(idle).map((r) => r.type);
    expect(types.slice(0, 5)).toEqual(['text', 'choice', 'end', 'text', 'choice']);
    expect(types.slice(5)).toEqual(types.length > 5 ? ['end'] : []);
    expect(receiver.attempts.filter((a) => a.json.conversationId === quiet)).toEqual([]);
  });
});

describe('a conversation whose session ended', () => {
  it('keeps its record ENDED_SESSION_RETENTION_MS, then the SQLite store holds it no more; a live one is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-converse-retention-'));
    let offset = 0;
    const now = () => Date.now() + offset;
    const file = join(dir, 'state.db');
    const store = new SqliteStore(file, { now });
    try {
      h = await startConverseHarness({ receiver, store, service: { now, idleMs: 300 } });
      const [ended, completed, timedOut, metadataOnly, live] = [fresh(), fresh(), fresh(), fresh(), fresh()];
      await h.service.accept({ conversationId: ended, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Eve' }] });
      await h.service.accept({ conversationId: ended, eventType: 'endSession' });
      await h.service.accept({ conversationId: completed, eventType: 'startSession' });
      await h.service.accept({ conversationId: completed, eventType: 'message', text: 'Bye' });
      await h.service.accept({ conversationId: timedOut, eventType: 'startSession' });
      await h.service.accept({ conversationId: metadataOnly, eventType: 'metadata', metadata: [{ key: 'user_name', value: 'Gus' }] });
      await settled(h.service);
      await receiver.waitFor(() => receiver.of(ended).at(-1)?.type === 'end' && receiver.of(completed).at(-1)?.type === 'end');
      // timedOut ends once idle past 300 ms on the clock, which the service's sweep and the store's save stamps share.
      offset += 301;
      expect(await h.service.sweep()).toBe(1);
      await receiver.waitFor(() => receiver.of(timedOut).at(-1)?.type === 'end');
      await h.service.accept({ conversationId: live, eventType: 'startSession' });
      await settled(h.service);
      const conversations = async () => (await store.listPositions('converse-test')).positions.map((p) => p.conversation.slice('converse:'.length)).sort();
      expect(await conversations()).toEqual([ended, completed, timedOut, metadataOnly, live].sort());

      offset += ENDED_SESSION_RETENTION_MS - 60_000;
      expect(await conversations()).toHaveLength(5);
      offset += 60_001;
      // The live session is kept (the sweep would end it, not the store); the others are gone.
      expect(await conversations()).toEqual([live]);
      // Deleted, not only hidden: the file's rows once a store sweeps it (as each one does when it opens, and every 1000 expiring saves).
      await new SqliteStore(file, { now }).close();
      expect(sqliteRows(file, 'SELECT conversation FROM positions')).toEqual([{ conversation: `converse:${live}` }]);
    } finally {
      await h.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseConverseInput', () => {
  it.each([
    [{ eventType: 'message', text: 'x' }, 'conversationId', /expected conversationId \(or platformConversationId\)/],
    [{ conversationId: 'c', eventType: 'chat' }, 'eventType', /expected one of startSession, message, endSession, metadata/],
    [{ conversationId: 'c' }, 'eventType', /expected one of/],
    [{ conversationId: '', eventType: 'startSession' }, 'conversationId', /1-200 characters/],
    [{ conversationId: 'a\nb', eventType: 'startSession' }, 'conversationId', /no control characters/],
    [{ conversationId: 7, eventType: 'startSession' }, 'conversationId', /expected the conversation id/],
    [{ conversationId: 'a', platformConversationId: 'b', eventType: 'startSession' }, 'platformConversationId', /the same value as conversationId/],
    [{ conversationId: 'c', eventType: 'message' }, 'text', /the visitor's text/],
    [{ conversationId: 'c', eventType: 'message', text: ' \n' }, 'text', /not blank/],
    [{ conversationId: 'c', eventType: 'message', text: 'x', cardIndex: -1 }, 'cardIndex', /whole number from 0/],
    [{ conversationId: 'c', eventType: 'message', text: 'x', cardIndex: 1.5 }, 'cardIndex', /whole number from 0/],
    [{ conversationId: 'c', eventType: 'startSession', cardIndex: 1 }, 'cardIndex', /only accepted with eventType "message"/],
    [{ conversationId: 'c', eventType: 'metadata' }, 'metadata', /at least one/],
    [{ conversationId: 'c', eventType: 'metadata', metadata: [{ key: '1st', value: 'x' }] }, 'metadata[0].key', /variable name/],
    [{ conversationId: 'c', eventType: 'metadata', metadata: [{ key: 'a', value: { nested: 1 } }] }, 'metadata[0].value', /a string .* a number, a boolean or null/],
    [{ conversationId: 'c', eventType: 'metadata', metadata: {} }, 'metadata', /an array of \{key, value\}/],
    [{ conversationId: 'c', eventType: 'endSession', metadata: [{ key: 'a', value: 'b' }] }, 'metadata', /not accepted with eventType "endSession"/],
    [{ conversationId: 'c', eventType: 'message', text: 'x'.repeat(10_001) }, 'text', /at most 10000 characters/],
    [{ conversationId: 'c', eventType: 'startSession', messageId: 5 }, 'messageId', /a message id/],
    [[], 'body', /a JSON object/],
    ['text', 'body', /a JSON object/],
  ])('%j → 400 naming %s', (body, field, message) => {
    const parsed = parseConverseInput(body);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe(field);
    expect(parsed.message.startsWith(`${field}: `)).toBe(true);
    expect(parsed.message).toMatch(message);
  });

  it('accepts both spellings of the id and of metadata, and ignores unknown fields (botId…)', () => {
    expect(parseConverseInput({ platformConversationId: 'p', eventType: 'message', text: 'Maybe', botId: 'B', metaData: [{ key: 'a', value: '1', sanitize: true }], metadata: [{ key: 'b', value: true }] })).toEqual({
      ok: true,
      event: { conversationId: 'p', type: 'message', text: 'Maybe', metadata: { a: '1', b: true } },
    });
  });
});
