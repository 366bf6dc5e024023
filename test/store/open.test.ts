// Choosing a store (`--store` / CRISP_MCP_STORE), its default file, and SQLite shared by processes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import type { StoreConfig } from '../../src/config.js';
import { MemoryStore, openStore, parseStoreSpec, StoreError, type Store } from '../../src/store/index.js';
import { redactRedisUrl } from '../../src/store/redis-connection.js';
import { defaultSqlitePath, SqliteStore } from '../../src/store/sqlite.js';

const tmp: string[] = [];
const stores: Store[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-open-'));
  tmp.push(dir);
  return dir;
};
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const dir of tmp.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('parseStoreSpec', () => {
  test.each([
    [undefined, { kind: 'sqlite' }],
    ['', { kind: 'sqlite' }],
    ['sqlite', { kind: 'sqlite' }],
    ['sqlite:/var/lib/crisp/state.db', { kind: 'sqlite', path: '/var/lib/crisp/state.db' }],
    ['sqlite:./state.db', { kind: 'sqlite', path: './state.db' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['memory', { kind: 'memory' }],
    [' memory ', { kind: 'memory' }],
    ['redis://localhost:6379', { kind: 'redis', url: 'redis://localhost:6379' }],
    ['rediss://user:pw@cache.example:6380/2', { kind: 'redis', url: 'rediss://user:pw@cache.example:6380/2' }],
  ])('%j → %j', (spec, parsed) => {
    expect(parseStoreSpec(spec)).toEqual(parsed);
  });

  test.each(['sqlite:', 'postgres://db', 'redis://', 'redis:///x', 'mem', 'file:state.db', 'http://localhost:6379'])('"%s" is refused in one line naming the accepted forms', (spec) => {
    let error: unknown;
    try {
      parseStoreSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_bad_spec');
    expect((error as Error).message).toBe(
      `--store (or CRISP_MCP_STORE) must be sqlite (the default file), sqlite:PATH, redis://HOST:PORT, rediss://HOST:PORT or memory, got "${spec}"`,
    );
  });
});

describe('defaultSqlitePath', () => {
  test('follows each platform\'s state directory', () => {
    expect(defaultSqlitePath({ XDG_STATE_HOME: '/x/state' }, 'linux', '/home/u')).toBe('/x/state/crisp-mcp/state.db');
    expect(defaultSqlitePath({}, 'linux', '/home/u')).toBe('/home/u/.local/state/crisp-mcp/state.db');
    expect(defaultSqlitePath({ XDG_STATE_HOME: 'relative/ignored' }, 'linux', '/home/u')).toBe('/home/u/.local/state/crisp-mcp/state.db');
    expect(defaultSqlitePath({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Application Support/crisp-mcp/state.db');
    expect(defaultSqlitePath({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\crisp-mcp\\state.db');
    expect(defaultSqlitePath({}, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\crisp-mcp\\state.db');
  });
});

describe('openStore', () => {
  test('memory, sqlite:PATH, and config.ts\'s StoreConfig as is', async () => {
    const memory = await openStore('memory');
    stores.push(memory);
    expect(memory).toBeInstanceOf(MemoryStore);
    const file = join(tempDir(), 'a', 'b', 'state.db');
    const fromConfig: StoreConfig = { kind: 'sqlite', path: file };
    const sqlite = await openStore(fromConfig);
    stores.push(sqlite);
    expect(sqlite).toBeInstanceOf(SqliteStore);
    expect(sqlite.where).toBe(file);
    expect(existsSync(file)).toBe(true);
  });

  test('bare sqlite opens the default file under XDG_STATE_HOME', async () => {
    const dir = tempDir();
    const saved = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = dir;
    try {
      const store = await openStore('sqlite');
      stores.push(store);
      expect(store.where).toBe(join(dir, 'crisp-mcp', 'state.db'));
    } finally {
      if (saved === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = saved;
    }
  });

  test('an unreachable Redis fails with one line, without the password', async () => {
    const error = await openStore('redis://user:s3cret@127.0.0.1:1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_unavailable');
    expect((error as Error).message).toMatch(/^cannot reach the Redis store at redis:\/\/127\.0\.0\.1:1: \S/);
    expect((error as Error).message).not.toContain('s3cret');
    expect((error as Error).message).not.toContain('\n');
  });

  test('an unopenable SQLite file fails with one line', async () => {
    const dir = tempDir();
    const error = await openStore(`sqlite:${dir}`).catch((e: unknown) => e); // a directory, not a file
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(new RegExp(`^cannot open the SQLite store at ${dir}: `));
  });

  test('a file that is not a database, or a newer schema, fails with one line', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'junk.db'), 'this is not sqlite '.repeat(100));
    await expect(openStore(`sqlite:${join(dir, 'junk.db')}`)).rejects.toThrow(/^cannot open the SQLite store at .*junk\.db: file is not a database$/);
    // No retry mends these: the tools say an operator must act, not "try again later".
    await expect(openStore(`sqlite:${join(dir, 'junk.db')}`)).rejects.toMatchObject({ code: 'store_misconfigured' });
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => { pragma(s: string): unknown; close(): void };
    const newer = new Database(join(dir, 'newer.db'));
    newer.pragma('user_version = 99');
    newer.close();
    await expect(openStore(`sqlite:${join(dir, 'newer.db')}`)).rejects.toThrow(/was written by a newer crisp-mcp \(schema 99, this one knows 2\)$/);
    await expect(openStore(`sqlite:${join(dir, 'newer.db')}`)).rejects.toMatchObject({ code: 'store_misconfigured' });
  });

  test('a file of the previous schema (1) opens with its data, and gets the append keys\' table', async () => {
    const dir = tempDir();
    const file = join(dir, 'v1.db');
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => { exec(s: string): void; pragma(s: string, o?: { simple: boolean }): unknown; close(): void };
    const v1 = new Database(file);
    // Schema 1 as the previous release created it (the tables this test reads), with one position and one outbox item.
    v1.exec(`
      CREATE TABLE positions (conversation TEXT NOT NULL, scenario TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
        updated_at INTEGER NOT NULL, track_idle INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (conversation, scenario)) WITHOUT ROWID;
      CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
        created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT);
      INSERT INTO positions VALUES ('converse-in:c1', 'converse-inbox', 3, '{"kind":"converse_inbox","seen":{"m1":1}}', 1, 0);
      INSERT INTO outbox (conversation, id, payload, created_at, next_attempt_at) VALUES ('converse-in:c1', 'i1', '{"n":1}', 1, 1);
    `);
    v1.pragma('user_version = 1');
    v1.close();
    const store = new SqliteStore(file);
    stores.push(store);
    expect(await store.getPosition('converse-in:c1', 'converse-inbox')).toEqual({ value: { kind: 'converse_inbox', seen: { m1: 1 } }, version: 3, updatedAt: 1 });
    expect((await store.listPositions('converse-inbox')).positions).toEqual([{ conversation: 'converse-in:c1', value: { kind: 'converse_inbox', seen: { m1: 1 } }, version: 3, updatedAt: 1 }]);
    expect(await store.outboxAppend('converse-in:c1', { payload: { n: 2 } }, { once: { key: 'm2', ttlMs: 60_000 } })).toMatchObject({ ok: true, seq: 2 });
    expect(await store.outboxAppend('converse-in:c1', { payload: { n: 3 } }, { once: { key: 'm2', ttlMs: 60_000 } })).toEqual({ ok: false, duplicate: true });
    expect(await store.outboxHead('converse-in:c1')).toMatchObject({ id: 'i1', payload: { n: 1 } });
  });

  describe('a file written with positions as a WITHOUT ROWID table (schema 2 before this release)', () => {
    type Db = { exec(s: string): void; prepare(s: string): { get(...a: unknown[]): unknown; all(...a: unknown[]): unknown[] }; pragma(s: string, o?: { simple: boolean }): unknown; close(): void };
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => Db;
    /** The positions table and its index exactly as the release before created them, with two rows. */
    function writeEarlierFile(file: string, extra = ''): void {
      const db = new Database(file);
      db.exec(`
        CREATE TABLE positions (
          conversation TEXT NOT NULL, scenario TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
          updated_at INTEGER NOT NULL, track_idle INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (conversation, scenario)) WITHOUT ROWID;
        CREATE INDEX positions_idle ON positions (updated_at) WHERE track_idle = 1;
        INSERT INTO positions VALUES ('w/s1', 'echo', 7, '{"v":2,"scenario":null,"channels":{}}', 100, 1);
        INSERT INTO positions VALUES ('w/s2', 'echo', 2, '${JSON.stringify({ big: 'x'.repeat(3000) })}', 200, 0);
        ${extra}
      `);
      db.pragma('user_version = 2');
      db.close();
    }
    const positionsSql = (file: string): string => {
      const db = new Database(file);
      try {
        return (db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'positions'").get() as { sql: string }).sql;
      } finally {
        db.close();
      }
    };

    test('is migrated to a rowid table when opened: the same rows, versions and idle index, still schema 2', async () => {
      const file = join(tempDir(), 'v2.db');
      writeEarlierFile(file);
      const store = new SqliteStore(file, { now: () => 1000 });
      stores.push(store);
      expect(positionsSql(file)).not.toMatch(/WITHOUT\s+ROWID/i);
      expect(await store.getPosition('w/s1', 'echo')).toEqual({ value: { v: 2, scenario: null, channels: {} }, version: 7, updatedAt: 100 });
      expect(await store.getPosition('w/s2', 'echo')).toEqual({ value: { big: 'x'.repeat(3000) }, version: 2, updatedAt: 200 });
      expect(await store.listIdle(150)).toEqual([{ conversation: 'w/s1', scenario: 'echo', updatedAt: 100 }]);
      expect(await store.savePosition('w/s1', 'echo', { n: 1 }, { expectedVersion: 6 })).toEqual({ ok: false, current: 7 });
      expect(await store.savePosition('w/s1', 'echo', { n: 1 }, { expectedVersion: 7 })).toMatchObject({ ok: true, version: 8 });
      expect(await store.savePosition('w/s3', 'echo', { n: 1 }, { expectedVersion: 0 })).toMatchObject({ ok: true, version: 1 });
      const db = new Database(file);
      expect(db.pragma('user_version', { simple: true })).toBe(2); // an earlier release still opens it: its statements work on either layout
      expect(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'positions_idle'").get()).toEqual({ name: 'positions_idle' });
      db.close();
      // Opened again: nothing left to migrate.
      const again = new SqliteStore(file);
      stores.push(again);
      expect((await again.listPositions('echo')).positions.map((p) => [p.conversation, p.version])).toEqual([['w/s1', 8], ['w/s2', 2], ['w/s3', 1]]);
    });

    test('a migration that fails leaves the file as it was (one transaction)', async () => {
      const file = join(tempDir(), 'v2-blocked.db');
      writeEarlierFile(file, 'CREATE TABLE positions_rowid (x);');
      await expect(openStore(`sqlite:${file}`)).rejects.toThrow(/^cannot open the SQLite store at .*v2-blocked\.db: table positions_rowid already exists$/);
      expect(positionsSql(file)).toMatch(/WITHOUT ROWID$/);
      const db = new Database(file);
      expect(db.prepare('SELECT conversation, version FROM positions ORDER BY conversation').all()).toEqual([{ conversation: 'w/s1', version: 7 }, { conversation: 'w/s2', version: 2 }]);
      db.close();
    });
  });

  test("a file whose append keys have no digest column (before this release) gets it when opened; a key an earlier release rewrites does not keep another's digest", async () => {
    type Db = { exec(s: string): void; prepare(s: string): { run(...a: unknown[]): unknown; all(...a: unknown[]): unknown[] }; pragma(s: string, o?: { simple: boolean }): unknown; close(): void };
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => Db;
    const file = join(tempDir(), 'once.db');
    const earlier = new Database(file);
    earlier.exec(`
      CREATE TABLE outbox_once (conversation TEXT NOT NULL, key TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (conversation, key)) WITHOUT ROWID;
      INSERT INTO outbox_once VALUES ('c1', 'm1', 5000);
    `);
    earlier.pragma('user_version = 2');
    earlier.close();
    let now = 1000;
    const store = new SqliteStore(file, { now: () => now });
    stores.push(store);
    // The earlier release's key still dedupes, with no digest to hand back.
    expect(await store.outboxAppend('c1', { payload: 1 }, { once: { key: 'm1', ttlMs: 60_000, digest: 'x' } })).toEqual({ ok: false, duplicate: true });
    expect(await store.outboxAppend('c1', { payload: 2 }, { once: { key: 'm2', ttlMs: 1000, digest: 'first' } })).toMatchObject({ ok: true });
    expect(await store.outboxAppend('c1', { payload: 3 }, { once: { key: 'm2', ttlMs: 1000, digest: 'other' } })).toEqual({ ok: false, duplicate: true, digest: 'first' });
    // An earlier release (same schema version: it opens this file) reuses the expired key with its own upsert, which sets expires_at only.
    const db = new Database(file);
    expect((db.prepare('SELECT name FROM pragma_table_info(?)').all('outbox_once') as Array<{ name: string }>).map((c) => c.name)).toContain('digest');
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.prepare(`INSERT INTO outbox_once (conversation, key, expires_at) VALUES ('c1', 'm2', 9000)
      ON CONFLICT (conversation, key) DO UPDATE SET expires_at = excluded.expires_at WHERE outbox_once.expires_at <= 3000`).run();
    db.close();
    now = 3000;
    expect(await store.outboxAppend('c1', { payload: 4 }, { once: { key: 'm2', ttlMs: 1000, digest: 'other' } })).toEqual({ ok: false, duplicate: true });
  });

  test('a file deleted or replaced under an open store is refused, once, in words, instead of written to where no one will read it', async () => {
    const dir = tempDir();
    const file = join(dir, 'state.db');
    const store = new SqliteStore(file);
    stores.push(store);
    expect(await store.savePosition('c1', 's', { n: 1 }, { expectedVersion: 0 })).toMatchObject({ ok: true }); // the file is where it was opened
    const deleted = new SqliteStore(join(dir, 'other.db'));
    stores.push(deleted);
    rmSync(join(dir, 'other.db'));
    await expect(deleted.savePosition('c1', 's', { n: 1 }, { expectedVersion: 0 })).rejects.toMatchObject({
      code: 'store_misconfigured',
      message: expect.stringMatching(/^the SQLite store at .*other\.db was deleted while this process had it open; nothing more is written to it\. Restart crisp-mcp/),
    });
    const replaced = new SqliteStore(join(dir, 'third.db'));
    stores.push(replaced);
    writeFileSync(join(dir, 'elsewhere.db'), '');
    renameSync(join(dir, 'elsewhere.db'), join(dir, 'third.db'));
    await expect(replaced.outboxAppend('c1', { payload: 1 })).rejects.toThrow(/third\.db was replaced by another file while this process had it open/);
  });

  test("the file, its -wal and the folder made for it are the owner's only, whatever the umask lets through; a file an earlier release left world-readable is taken out of other users' reach", async () => {
    const mode = (path: string) => statSync(path).mode & 0o777;
    const before = process.umask(0o022); // the usual umask, which made every new file 0644
    try {
      const dir = join(tempDir(), 'state');
      const path = join(dir, 'state.db');
      const store = new SqliteStore(path);
      stores.push(store);
      await store.savePosition('w/s1', 'newsletter', { email: 'visitor@example.com' }, { expectedVersion: 0 });
      expect(mode(path).toString(8)).toBe('600');
      expect(mode(`${path}-wal`).toString(8)).toBe('600');
      expect(mode(dir).toString(8)).toBe('700');

      const old = join(tempDir(), 'old.db');
      writeFileSync(old, '');
      chmodSync(old, 0o664);
      const reopened = new SqliteStore(old);
      stores.push(reopened);
      expect(mode(old).toString(8)).toBe('660');
    } finally {
      process.umask(before);
    }
  });

  test('redactRedisUrl keeps host, port and db only', () => {
    expect(redactRedisUrl('rediss://user:pw@cache.example:6380/2?x=1')).toBe('rediss://cache.example:6380/2');
    expect(redactRedisUrl('redis://localhost:6379')).toBe('redis://localhost:6379');
  });
});

describe('SQLite shared by several processes', () => {
  const built = fileURLToPath(new URL('../../dist/store/index.js', import.meta.url));
  const builtSqlite = fileURLToPath(new URL('../../dist/store/sqlite.js', import.meta.url));

  // Four processes run 50 locked turns each on one conversation.
  test.runIf(existsSync(built))('turns under the lock from 4 processes: no lost update', async () => {
    const file = join(tempDir(), 'state.db');
    const worker = `
      const { withLock } = await import(${JSON.stringify(built)});
      const { SqliteStore } = await import(${JSON.stringify(builtSqlite)});
      const store = new SqliteStore(process.argv[1]);
      for (let i = 0; i < 50; i++) {
        await withLock(store, 'lock:c', async () => {
          const cur = await store.getPosition('c', 'demo');
          const r = await store.savePosition('c', 'demo', (cur?.value ?? 0) + 1, { expectedVersion: cur?.version ?? 0, outbox: [{ payload: process.pid }] });
          if (!r.ok) throw new Error('conflict under the lock');
        }, { ttlMs: 5000, waitMs: 20000 });
      }
      await store.close();
    `;
    const runs = Array.from({ length: 4 }, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', worker, file], { stdio: ['ignore', 'ignore', 'inherit'] });
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    });
    await Promise.all(runs);
    const store = new SqliteStore(file);
    stores.push(store);
    expect(await store.getPosition('c', 'demo')).toMatchObject({ value: 200, version: 200 });
    expect(await store.outboxPending()).toHaveLength(1);
  });
});
