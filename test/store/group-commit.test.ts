// The SQLite store's group commit: the writes of concurrent callers share one transaction, and none
// of them resolves before that transaction is committed (another connection sees it). Through
// ConverseService too: a burst of accepted events takes far fewer commits than events, and each
// 202 comes after its event is readable from another connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inboxKey } from '../../src/converse/converse.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { Receiver } from '../helpers/receiver.js';

let dir: string;
let n = 0;
const file = () => join(dir, `state-${++n}.db`);
const opened: SqliteStore[] = [];
const open = (path: string) => {
  const store = new SqliteStore(path);
  opened.push(store);
  return store;
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-group-commit-'));
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteStore group commit', () => {
  it('50 concurrent saves with their outbox items: one commit, every save applied', async () => {
    const store = open(file());
    const before = store.stats;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.savePosition(`c${i}`, 's', { step: i }, { expectedVersion: 0, outbox: [{ payload: { i } }] })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(store.stats.writes - before.writes).toBe(50);
    expect(store.stats.commits - before.commits).toBe(1);
    expect((await store.getPosition('c49', 's'))?.value).toEqual({ step: 49 });
    expect((await store.outboxHead('c7'))?.payload).toEqual({ i: 7 });
  });

  it('a write resolves only once committed: another connection reads it then, not before', async () => {
    const path = file();
    const store = open(path);
    const other = open(path);
    const saving = store.savePosition('seen', 's', { v: 1 }, { expectedVersion: 0, outbox: [{ payload: 'reply' }] });
    expect(await other.getPosition('seen', 's')).toBeUndefined(); // not committed yet
    // Nor through the writing store itself: nobody acts on (delivers) a write that is not on disk.
    expect(await store.getPosition('seen', 's')).toBeUndefined();
    expect(await store.outboxHead('seen')).toBeUndefined();
    expect(await store.outboxPending()).toEqual([]);
    let resolved = false;
    void saving.then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    expect(await saving).toMatchObject({ ok: true, version: 1 });
    expect((await other.getPosition('seen', 's'))?.value).toEqual({ v: 1 });
    expect((await store.outboxHead('seen'))?.payload).toBe('reply');
  });

  it('a save that loses its compare-and-set does not undo the others in the same commit', async () => {
    const store = open(file());
    await store.savePosition('x', 's', 1, { expectedVersion: 0 });
    const [stale, fresh, other] = await Promise.all([
      store.savePosition('x', 's', 'stale', { expectedVersion: 0, outbox: [{ payload: 'lost' }] }),
      store.savePosition('x', 's', 2, { expectedVersion: 1 }),
      store.savePosition('y', 's', 'y', { expectedVersion: 0, outbox: [{ payload: 'kept' }] }),
    ]);
    expect(stale).toEqual({ ok: false, current: 1 });
    expect(fresh).toMatchObject({ ok: true, version: 2 });
    expect(other).toMatchObject({ ok: true, version: 1 });
    expect((await store.getPosition('x', 's'))?.value).toBe(2);
    expect(await store.outboxHead('x')).toBeUndefined();
    expect((await store.outboxHead('y'))?.payload).toBe('kept');
  });

  it('a save failing part-way keeps nothing of itself: the shared transaction is rolled back and every write in it rejected', async () => {
    const path = file();
    const store = open(path);
    await store.savePosition('x', 's', 1, { expectedVersion: 0 });
    // A statement that fails after the save's first one (the position's update) — as a full disk would.
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => { exec(s: string): void; close(): void };
    const db = new Database(path);
    db.exec(`CREATE TRIGGER boom BEFORE INSERT ON outbox WHEN NEW.payload = '"boom"' BEGIN SELECT RAISE(ABORT, 'disk full, say'); END`);
    db.close();
    const [before, failing] = await Promise.allSettled([
      store.savePosition('y', 's', 'y', { expectedVersion: 0, outbox: [{ payload: 'kept?' }] }),
      store.savePosition('x', 's', 2, { expectedVersion: 1, outbox: [{ payload: 'boom' }] }),
    ]);
    expect(failing).toMatchObject({ status: 'rejected', reason: { message: 'disk full, say' } });
    expect(before.status).toBe('rejected');
    const other = open(path);
    expect(await other.getPosition('x', 's')).toMatchObject({ value: 1, version: 1 });
    expect(await other.getPosition('y', 's')).toBeUndefined();
    expect(await other.outboxHead('y')).toBeUndefined();
    // The next write opens a new transaction.
    expect(await store.savePosition('x', 's', 2, { expectedVersion: 1, outbox: [{ payload: 'fine' }] })).toMatchObject({ ok: true, version: 2 });
    expect((await other.outboxHead('x'))?.payload).toBe('fine');
  });

  it('two stores of one process on one file do not wait on each other (the open transaction commits first)', async () => {
    const path = file();
    const a = open(path);
    const b = open(path);
    const [x, y] = await Promise.all([a.savePosition('a', 's', 1, { expectedVersion: 0 }), b.savePosition('b', 's', 1, { expectedVersion: 0 })]);
    expect([x.ok, y.ok]).toEqual([true, true]);
    expect(await a.acquireLock('k', 1_000)).toBeDefined();
    expect(await b.acquireLock('k', 1_000)).toBeUndefined();
  });
});

describe('ConverseService on SQLite: accepting is one durable append, group-committed', () => {
  let receiver: Receiver;
  let h: ConverseHarness | undefined;
  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('64 concurrent events: all 202, each in the store (read from another connection) when its 202 comes, in far fewer commits than events', async () => {
    const path = file();
    const store = open(path);
    const peek = open(path);
    h = await startConverseHarness({ receiver, store });
    const ids = Array.from({ length: 64 }, (_, i) => `burst-${process.pid}-${i}`);
    const before = store.stats;
    const seenAt202 = await Promise.all(
      ids.map(async (id) => {
        const answer = await h!.service.accept({ conversationId: id, eventType: 'startSession', messageId: `${id}-m`, metadata: [{ key: 'user_name', value: 'Bo' }] });
        expect(answer.status).toBe(202);
        // Durable before the 202: the inbox item, or (already run) the session, is on disk.
        const item = await peek.outboxHead(inboxKey(id));
        const session = await peek.getPosition(`converse:${id}`, 'converse-test');
        return item !== undefined || session !== undefined;
      }),
    );
    expect(seenAt202.every(Boolean)).toBe(true);
    const commits = store.stats.commits - before.commits;
    // Only the appends are counted here when the turns have not run yet; with them, still a fraction.
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(ids.length / 2);
    await receiver.waitFor(() => ids.every((id) => receiver.of(id).length >= 1), 10_000, 'a reply per conversation');
  });
});
