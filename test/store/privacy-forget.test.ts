// Store.forget, a visitor's erasure, on the three stores (Redis a real server, SQLite a real file):
// everything kept under one conversation key goes — positions of every scenario, drafts, outbox
// items, once-keys, its place in the idle and due indexes — and nothing of a neighbour whose key
// shares a prefix or holds the characters the Redis keys escape. On SQLite, nothing of it is left
// readable in the file.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

const VISITOR = 'website-1/session:50%';
/** Shares VISITOR's prefix, and ":" / "%" that the Redis keys escape. */
const NEIGHBOURS = ['website-1/session:50%0', 'website-1/session', 'website-1/session%3A50%25'];
const EMAIL = 'jane.forgotten@example.org';

/** What the conversation holds: two scenarios' positions (one tracked as idle), two drafts, two outbox items (one keyed), a once-key. */
async function fill(store: Store, conversation: string, secret: string): Promise<void> {
  await store.savePosition(conversation, 'newsletter', { vars: { email: secret } }, { expectedVersion: 0, outbox: [{ payload: { text: `Done: ${secret}` } }] });
  await store.savePosition(conversation, 'booking', { vars: { email: secret } }, { expectedVersion: 0, trackIdle: true });
  await store.putDraft({ value: { messages: [secret] }, ttlMs: 3_600_000, conversation });
  await store.putDraft({ value: { messages: [secret] }, ttlMs: 3_600_000, conversation });
  await store.outboxAppend(conversation, { payload: { text: secret } }, { once: { key: 'm-1', ttlMs: 86_400_000, digest: 'd' } });
}

async function expectGone(store: Store, conversation: string): Promise<void> {
  expect(await store.getPosition(conversation, 'newsletter')).toBeUndefined();
  expect(await store.getPosition(conversation, 'booking')).toBeUndefined();
  expect(await store.listDrafts(conversation)).toEqual([]);
  expect(await store.outboxHead(conversation)).toBeUndefined();
  expect((await store.outboxPending()).map((p) => p.conversation)).not.toContain(conversation);
  expect((await store.listIdle(Number.MAX_SAFE_INTEGER)).map((p) => p.conversation)).not.toContain(conversation);
  // The once-key went too: the same key appends again.
  expect(await store.outboxAppend(conversation, { payload: 'again' }, { once: { key: 'm-1', ttlMs: 1000 } })).toMatchObject({ ok: true });
}

async function expectKept(store: Store, conversation: string): Promise<void> {
  expect(await store.getPosition(conversation, 'newsletter')).toBeDefined();
  expect(await store.getPosition(conversation, 'booking')).toBeDefined();
  expect(await store.listDrafts(conversation)).toHaveLength(2);
  expect(await store.outboxHead(conversation)).toBeDefined();
  expect((await store.listIdle(Number.MAX_SAFE_INTEGER)).map((p) => p.conversation)).toContain(conversation);
  expect(await store.outboxAppend(conversation, { payload: 'again' }, { once: { key: 'm-1', ttlMs: 1000 } })).toMatchObject({ ok: false, duplicate: true });
}

function forgetContract(open: () => Promise<Store>): void {
  test('erases one conversation whole, and only it', async () => {
    const store = await open();
    try {
      await fill(store, VISITOR, EMAIL);
      for (const other of NEIGHBOURS) await fill(store, other, 'kept@example.org');
      expect(await store.forget(VISITOR)).toEqual({ positions: 2, drafts: 2, outboxItems: 2, onceKeys: 1 });
      await expectGone(store, VISITOR);
      for (const other of NEIGHBOURS) await expectKept(store, other);
      expect((await store.listDrafts()).flatMap((d) => d.value as { messages: string[] }).join()).not.toContain(EMAIL);
      // Nothing left to erase: a second forget finds nothing but the item appended above.
      expect(await store.forget(VISITOR)).toEqual({ positions: 0, drafts: 0, outboxItems: 1, onceKeys: 1 });
      // The conversation starts afresh: version 1 again.
      expect(await store.savePosition(VISITOR, 'newsletter', {}, { expectedVersion: 0 })).toMatchObject({ ok: true, version: 1 });
    } finally {
      await store.close();
    }
  });
}

/** Which conversations conversationsSavedBefore names: only those whose every scenario was saved before the cut. */
function savedBeforeContract(open: () => Promise<Store>): void {
  test('conversationsSavedBefore: a conversation counts by its latest save of any scenario', async () => {
    const store = await open();
    const tick = async (): Promise<number> => {
      const at = Date.now();
      while (Date.now() === at) await new Promise((resolve) => setImmediate(resolve));
      return Date.now();
    };
    try {
      await store.savePosition('w/old', 'a', {}, { expectedVersion: 0 });
      await store.savePosition('w/old', 'b', {}, { expectedVersion: 0 });
      await store.savePosition('w/mixed', 'a', {}, { expectedVersion: 0 });
      const cut = await tick();
      await store.savePosition('w/mixed', 'b', {}, { expectedVersion: 0 });
      await store.savePosition('w/new', 'a', {}, { expectedVersion: 0 });
      expect(await store.conversationsSavedBefore(cut)).toEqual(['w/old']);
      expect((await store.conversationsSavedBefore(await tick())).sort()).toEqual(['w/mixed', 'w/new', 'w/old']);
    } finally {
      await store.close();
    }
  });
}

describe('memory store: forget', () => {
  forgetContract(async () => new MemoryStore());
  savedBeforeContract(async () => new MemoryStore());
});

describe('SQLite store: forget', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-forget-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  forgetContract(async () => new SqliteStore(join(dir, `${randomUUID()}.db`)));
  savedBeforeContract(async () => new SqliteStore(join(dir, `${randomUUID()}.db`)));

  test('the erased values are not left readable in the file or its WAL', async () => {
    const path = join(dir, 'bytes.db');
    const store = new SqliteStore(path);
    // Enough of them that whole pages are freed, as a busy file's would be.
    for (let i = 0; i < 200; i++) await fill(store, `${VISITOR}${i}`, `${i}-${EMAIL}`);
    for (let i = 0; i < 200; i++) await store.outboxAck(`${VISITOR}${i}`, (await store.outboxHead(`${VISITOR}${i}`))!.seq);
    await fill(store, 'website-1/kept', 'kept@example.org');
    for (let i = 0; i < 200; i++) await store.forget(`${VISITOR}${i}`);
    const onDisk = (): string => ['', '-wal'].map((suffix) => {
      try {
        return readFileSync(`${path}${suffix}`).toString('latin1');
      } catch {
        return '';
      }
    }).join('');
    expect(onDisk()).not.toContain(EMAIL);
    await store.close();
    const closed = readFileSync(path).toString('latin1');
    expect(closed).not.toContain(EMAIL);
    expect(closed).toContain('kept@example.org');
  });
});

describeWithRedis('Redis store: forget', () => {
  const redis = useRedis();
  forgetContract(async () => RedisStore.connect(redis().url, { prefix: `forget-${randomUUID()}:` }));
  savedBeforeContract(async () => RedisStore.connect(redis().url, { prefix: `forget-${randomUUID()}:` }));

  test('no key of the conversation is left, and no index names it', async () => {
    const prefix = `forget-${randomUUID()}:`;
    const store = await RedisStore.connect(redis().url, { prefix });
    const raw = createClient({ url: redis().url });
    await raw.connect();
    try {
      await fill(store, VISITOR, EMAIL);
      await fill(store, 'website-1/kept', 'kept@example.org');
      await store.forget(VISITOR);
      const left: string[] = [];
      for await (const keys of raw.scanIterator({ MATCH: `${prefix}*` })) left.push(...keys);
      const dump = await Promise.all(left.map(async (key) => {
        const type = await raw.type(key);
        if (type === 'string') return `${key}=${await raw.get(key)}`;
        if (type === 'hash') return `${key}=${JSON.stringify(await raw.hGetAll(key))}`;
        if (type === 'zset') return `${key}=${(await raw.zRange(key, 0, -1)).join(',')}`;
        return key;
      }));
      const text = dump.join('\n');
      expect(text).not.toContain(EMAIL);
      expect(text).not.toContain('session%3A50%25');
      expect(text).toContain('kept@example.org');
    } finally {
      await raw.quit();
      await store.close();
    }
  });
});
