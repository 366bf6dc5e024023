// The embedded store: one SQLite file (better-sqlite3, WAL) that several processes on one machine
// may share. Statements are prepared once. Times are the writers' clock (Date.now() unless a test
// passes `now`), which processes on one machine share.
//
// Group commit: a commit costs far more than the statements in it, so every write (position save
// with its outbox items, ack, retry, lock, draft) runs at once inside a shared BEGIN IMMEDIATE
// transaction (a single statement is atomic on its own, so a failing one undoes only itself; a save
// is several, and one failing part-way — which takes a full disk or an I/O error, none of its
// statements can break a constraint — rolls the whole transaction back and rejects all its writes,
// rather than paying a savepoint on every save), and that transaction
// commits once the current turn of the event loop is done (setImmediate): the writes of concurrent
// requests share one commit. A write's promise settles only after its commit, so a caller never
// acts on (or answers 202 for) a write that is not on disk; if the commit fails, every write in it
// is rejected. The write lock is held for at most one turn of the event loop. Reads go through a
// second connection, so they too see only committed writes.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, posix, win32 } from 'node:path';
import {
  checkExpiry, checkLimit, checkTtl, checkVersion, newId, StoreError, toJson,
  type AppendOptions, type AppendResult, type Draft, type DraftInput, type IdlePosition, type ListPositionsOptions, type OutboxInput,
  type OutboxItem, type OutboxPendingOptions, type PendingConversation, type PositionPage, type SavedPosition, type SaveOptions,
  type SaveResult, type Store,
} from './types.js';

// better-sqlite3 ships no types and @types/better-sqlite3 is not a dependency: the little we use.
interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  readonly inTransaction: boolean;
  close(): void;
}
type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => Database;
const requireHere = createRequire(import.meta.url);
const BetterSqlite3 = requireHere('better-sqlite3') as DatabaseConstructor;

// better-sqlite3 12's connections and statements are node::ObjectWrap objects. On Node 24.21.0
// (not 20, 22 or 24.22.3) an ObjectWrap's destructor aborts the whole process ("Assertion failed:
// (env) != nullptr", SIGABRT) when V8 collects one in a GC that runs outside JavaScript, at any time
// after it became garbage: a server died at start-up, a store's user mid-run
// (test/cli/node-lts.test.ts). So none ever becomes garbage: every connection and statement this
// process makes stays reachable from here until it exits, when Node deletes them itself. That
// costs a closed connection's few dozen small objects per store opened. pragma() prepares a
// statement it then drops: exec() and a kept statement take its place.
const keptForProcessLife: object[] = [];
function kept<T extends object>(native: T): T {
  keptForProcessLife.push(native);
  return native;
}

// 2: outbox_once (outboxAppend's keys). A file of schema 1 gets the table when opened.
// `positions` was a WITHOUT ROWID table up to this release and is migrated when opened (see
// migratePositions); the statements are the same for both layouts, so the version stays 2 and an
// earlier release still opens a migrated file. The same holds for outbox_once's `digest` column,
// added when missing (migrateOnce): an earlier release's statements do not name it; and of
// positions' `expires_at` (migrateExpiry), which an earlier release neither sets nor reads.
const SCHEMA_VERSION = 2;
/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;
/** How often a writer checks that its file is still the one at its path. */
const FILE_CHECK_EVERY_MS = 1_000;
/** Expired locks, drafts, append keys and positions are deleted on every SWEEP_EVERY-th write of those kinds (an expiring save for positions). */
const SWEEP_EVERY = 1000;

/**
 * A rowid table: a row keeps up to about 4,000 bytes in its page, where a WITHOUT ROWID table's
 * spills past about 1,000 into an overflow page — one more page written on every save of a
 * record that size (an autopilot conversation's record is about 1 KB).
 */
const POSITIONS_COLUMNS = `conversation TEXT NOT NULL, scenario TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
  updated_at INTEGER NOT NULL, track_idle INTEGER NOT NULL DEFAULT 0, expires_at INTEGER, PRIMARY KEY (conversation, scenario)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS positions (${POSITIONS_COLUMNS});
CREATE INDEX IF NOT EXISTS positions_idle ON positions (updated_at) WHERE track_idle = 1;
CREATE TABLE IF NOT EXISTS drafts (
  id TEXT PRIMARY KEY, conversation TEXT, data TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS drafts_conversation ON drafts (conversation, expires_at);
CREATE INDEX IF NOT EXISTS drafts_expiry ON drafts (expires_at);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
  created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox (conversation, seq);
CREATE TABLE IF NOT EXISTS outbox_once (
  conversation TEXT NOT NULL, key TEXT NOT NULL, expires_at INTEGER NOT NULL, digest TEXT, PRIMARY KEY (conversation, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_once_expiry ON outbox_once (expires_at);
`;

// A position whose expires_at has passed is none: read as absent until the sweep deletes it. The last parameter of each is now.
const LIVE = '(expires_at IS NULL OR expires_at > ?)';

const SQL = {
  position: `SELECT data, version, updated_at FROM positions WHERE conversation = ? AND scenario = ? AND ${LIVE}`,
  version: `SELECT version FROM positions WHERE conversation = ? AND scenario = ? AND ${LIVE}`,
  // The compare-and-set of a save, each one statement: a first save (expected version 0) inserts
  // unless a live row is there (an expired one is written over); a later one updates only the live
  // version it read. Nothing changed = conflict. The last parameter of each is now.
  insertPosition: `INSERT INTO positions (conversation, scenario, version, data, updated_at, track_idle, expires_at) VALUES (?, ?, 1, ?, ?, ?, ?)
    ON CONFLICT (conversation, scenario) DO UPDATE SET version = 1, data = excluded.data, updated_at = excluded.updated_at,
      track_idle = excluded.track_idle, expires_at = excluded.expires_at WHERE positions.expires_at <= ?`,
  updatePosition: `UPDATE positions SET version = version + 1, data = ?, updated_at = ?, track_idle = ?, expires_at = ?
    WHERE conversation = ? AND scenario = ? AND version = ? AND ${LIVE}`,
  // By the primary key from the cursor on: one pass over the table however many pages. Params: cursor, scenario, since, now, limit.
  positionsOf: `SELECT conversation, data, version, updated_at FROM positions WHERE conversation > ? AND scenario = ? AND updated_at >= ? AND ${LIVE}
    ORDER BY conversation LIMIT ?`,
  idle: 'SELECT conversation, scenario, updated_at FROM positions WHERE track_idle = 1 AND updated_at < ? ORDER BY updated_at LIMIT ?',
  // Written (changes = 1) unless the key is there and not expired. Params: conversation, key, expires at, digest, now.
  once: `INSERT INTO outbox_once (conversation, key, expires_at, digest) VALUES (?, ?, ?, ?)
    ON CONFLICT (conversation, key) DO UPDATE SET expires_at = excluded.expires_at, digest = excluded.digest WHERE outbox_once.expires_at <= ?`,
  onceDigest: 'SELECT digest, expires_at FROM outbox_once WHERE conversation = ? AND key = ?',
  forgetOnce: 'DELETE FROM outbox_once WHERE conversation = ? AND key = ?',
  enqueue: 'INSERT INTO outbox (conversation, id, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)',
  putDraft: 'INSERT OR REPLACE INTO drafts (id, conversation, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  draft: 'SELECT id, conversation, data, created_at, expires_at FROM drafts WHERE id = ? AND expires_at > ?',
  drafts: 'SELECT id, conversation, data, created_at, expires_at FROM drafts WHERE expires_at > ? ORDER BY expires_at LIMIT ?',
  draftsOf: 'SELECT id, conversation, data, created_at, expires_at FROM drafts WHERE conversation = ? AND expires_at > ? ORDER BY expires_at LIMIT ?',
  lock: `INSERT INTO locks (key, owner, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE locks.expires_at <= ?`,
  extendLock: 'UPDATE locks SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?',
  unlock: 'DELETE FROM locks WHERE key = ? AND owner = ? RETURNING expires_at',
  head: `SELECT seq, id, payload, created_at, attempts, next_attempt_at, last_error FROM outbox
    WHERE conversation = ? ORDER BY seq LIMIT 1`,
  // Conversations whose key starts with a prefix ('' = all), head due by a time: a range on
  // outbox_conversation. Keys are UTF-8 text compared bytewise, so every key starting with P lies in
  // [P, P || 0xFF): no valid UTF-8 has an 0xFF byte, so no successor to compute and no LIKE
  // wildcards (%, _) to escape. Params: P, P, dueBy, limit.
  pending: `SELECT conversation, next_attempt_at FROM outbox
    WHERE seq IN (SELECT MIN(seq) FROM outbox WHERE conversation >= ? AND conversation < ? || CAST(x'FF' AS TEXT) GROUP BY conversation)
    AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?`,
  ack: 'DELETE FROM outbox WHERE conversation = ? AND seq = ?',
  retry: 'UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE conversation = ? AND seq = ?',
  sweepLocks: 'DELETE FROM locks WHERE expires_at <= ?',
  sweepDrafts: 'DELETE FROM drafts WHERE expires_at <= ?',
  sweepOnce: 'DELETE FROM outbox_once WHERE expires_at <= ?',
  sweepPositions: 'DELETE FROM positions WHERE expires_at <= ?',
} as const;
type Queries = { readonly [K in keyof typeof SQL]: Statement };

/** Opens the file in WAL mode with the schema in place; any failure is one StoreError line. */
function openDatabase(path: string): Database {
  let db: Database | undefined;
  try {
    if (path !== ':memory:' && path !== '') createForOwnerOnly(path);
    db = kept(new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS }));
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL'); // WAL + NORMAL: a commit survives a process crash (kill -9), not a power cut
    const found = (kept(db.prepare('PRAGMA user_version')).get() as { user_version: number }).user_version;
    if (found > SCHEMA_VERSION) {
      throw new StoreError('store_misconfigured', `the SQLite store at ${path} was written by a newer crisp-mcp (schema ${found}, this one knows ${SCHEMA_VERSION})`);
    }
    const init = db;
    init.transaction(() => {
      migratePositions(init);
      init.exec(SCHEMA);
      migrateOnce(init);
      migrateExpiry(init);
      init.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }).immediate();
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof StoreError) throw err;
    const unbuilt = compiledModuleProblem(err);
    if (unbuilt) throw new StoreError('store_misconfigured', `cannot open the SQLite store at ${path}: ${unbuilt}`, err);
    const code = PERMANENT_OPEN_FAILURES.has((err as { code?: unknown }).code as string) ? 'store_misconfigured' : 'store_unavailable';
    throw new StoreError(code, `cannot open the SQLite store at ${path}: ${(err as Error).message}`, err);
  }
}

/**
 * The file holds what visitors answered (emails, phone numbers), drafts and replies not yet sent:
 * it is made readable by its owner only (0600, in a folder made 0700), where the umask alone left
 * it readable by every user of the machine. SQLite gives the -wal and -shm files it creates the
 * database file's mode. A file an earlier release made is taken out of other users' reach (its
 * group bits kept: a group shared on purpose stays shared).
 */
function createForOwnerOnly(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600)); // the mode applies only when this call creates the file
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const { mode } = statSync(file);
      if (mode & 0o007) chmodSync(file, mode & 0o770);
    } catch {
      // no such file (-wal, -shm), or not ours to change: SQLite's own open tells what matters
    }
  }
}

/** Failures to open the file that no retry mends: it is no SQLite database, or this process may not write there. */
const PERMANENT_OPEN_FAILURES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'EACCES', 'EROFS']);

/**
 * Why better-sqlite3's compiled module does not load, in one line that says how to build it, or
 * undefined for any other failure. Its install script builds it (or fetches a prebuilt one); npm
 * skips that script when the install is not allowed to run it — by default from npm 12 on, always
 * with --ignore-scripts — and a module built for another Node.js version or platform fails to load.
 * Left as it is, the error is bindings' list of thirteen paths it looked in.
 */
function compiledModuleProblem(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : '';
  let what: string;
  if (message.startsWith('Could not locate the bindings file')) {
    what = "better-sqlite3's compiled module is missing: its install script did not run (npm 12 and later skip a dependency's install script unless it is allowed; --ignore-scripts skips them all)";
  } else if ((err as { code?: unknown } | null)?.code === 'ERR_DLOPEN_FAILED') {
    what = `better-sqlite3's compiled module does not load on this Node.js ${process.version} (${message.replace(/\s+/g, ' ').trim()})`;
  } else {
    return undefined;
  }
  return (
    `${what}. Build it with \`npm rebuild better-sqlite3\` in ${installFolder()} — with npm 12 and later, allow it first ` +
    '(`npm install-scripts approve better-sqlite3` in a project; `npm install -g --allow-scripts=better-sqlite3 …` for a global install) — ' +
    'or choose another store: --store memory, or redis://HOST:PORT'
  );
}

/** The folder whose node_modules holds better-sqlite3: where `npm rebuild` finds it. */
function installFolder(): string {
  try {
    return dirname(dirname(dirname(requireHere.resolve('better-sqlite3/package.json'))));
  } catch {
    return 'the folder crisp-mcp is installed in';
  }
}

/**
 * Rewrites a `positions` table of the WITHOUT ROWID layout (files written before this release) as a
 * rowid table with the same rows, inside the opening transaction: another process opening the
 * file waits for it, and a failure leaves the file as it was. Its index is recreated with SCHEMA.
 */
function migratePositions(db: Database): void {
  const table = kept(db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'positions'")).get() as { sql: string } | undefined;
  if (!table || !/WITHOUT\s+ROWID\s*$/i.test(table.sql)) return;
  db.exec(`
    CREATE TABLE positions_rowid (${POSITIONS_COLUMNS});
    INSERT INTO positions_rowid (conversation, scenario, version, data, updated_at, track_idle)
      SELECT conversation, scenario, version, data, updated_at, track_idle FROM positions ORDER BY conversation, scenario;
    DROP TABLE positions;
    ALTER TABLE positions_rowid RENAME TO positions;
  `);
}

/** Adds outbox_once's `digest` column to a file written before it existed (its rows keep none). */
function migrateOnce(db: Database): void {
  const columns = kept(db.prepare('SELECT name FROM pragma_table_info(?)')).all('outbox_once') as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'digest')) db.exec('ALTER TABLE outbox_once ADD COLUMN digest TEXT');
}

/** Adds positions' `expires_at` column (and its index) to a file written before it existed: its rows never expire. */
function migrateExpiry(db: Database): void {
  const columns = kept(db.prepare('SELECT name FROM pragma_table_info(?)')).all('positions') as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'expires_at')) db.exec('ALTER TABLE positions ADD COLUMN expires_at INTEGER');
  db.exec('CREATE INDEX IF NOT EXISTS positions_expiry ON positions (expires_at) WHERE expires_at IS NOT NULL');
}

/**
 * The digest column holds "<expires_at>:<digest>": an earlier release that reuses an expired key
 * (its upsert sets only expires_at) leaves the previous digest behind, and the stamp tells it apart
 * from the key's own.
 */
function keptDigest(stored: string | null, expiresAt: number): string | undefined {
  if (stored === null) return undefined;
  const colon = stored.indexOf(':');
  return stored.slice(0, colon) === String(expiresAt) ? stored.slice(colon + 1) : undefined;
}

/** A second connection on the file `writer` has opened (the schema is in place). */
function openReader(path: string, writer: Database): Database {
  try {
    return kept(new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS }));
  } catch (err) {
    writer.close();
    throw new StoreError('store_unavailable', `cannot open the SQLite store at ${path}: ${(err as Error).message}`, err);
  }
}

function prepareAll(db: Database): Queries {
  return Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, kept(db.prepare(text))])) as Queries;
}

/** $XDG_STATE_HOME/crisp-mcp/state.db (~/.local/state), ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  if (platform === 'win32') return win32.join(env.LOCALAPPDATA || win32.join(home, 'AppData', 'Local'), 'crisp-mcp', 'state.db');
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'crisp-mcp', 'state.db');
  const xdg = env.XDG_STATE_HOME; // the XDG spec says to ignore a relative path
  return posix.join(xdg && posix.isAbsolute(xdg) ? xdg : posix.join(home, '.local', 'state'), 'crisp-mcp', 'state.db');
}

interface PositionRow { data: string; version: number; updated_at: number }
interface DraftRow { id: string; conversation: string | null; data: string; created_at: number; expires_at: number }
interface ListedRow extends PositionRow { conversation: string }
interface OutboxRow { seq: number; id: string; payload: string; created_at: number; attempts: number; next_attempt_at: number; last_error: string | null }
type QueuedItem = { id: string; payload: string; notBefore: number | undefined };

/** Counters of the store's write path (group commit): how many writes, and how many commits they took. */
export interface SqliteWriteStats {
  writes: number;
  commits: number;
}

/**
 * The stores of this process with a transaction open. Another connection's BEGIN IMMEDIATE would
 * wait for one of these, which cannot commit while this thread waits: they commit first.
 */
const openTransactions = new Set<SqliteStore>();

interface PendingWrite {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly where: string;
  readonly #db: Database;
  readonly #q: Queries;
  /** The same statements on a second connection, for reads: they see only committed writes. */
  readonly #r: Queries;
  readonly #reader: Database | undefined;
  readonly #save: (conversation: string, scenario: string, json: string, expected: number, trackIdle: boolean, ttl: number | undefined, items: QueuedItem[], acks: readonly number[]) => SaveResult;
  readonly #now: () => number;
  /** The writes of the open transaction, settled by its commit; undefined when none is open. */
  #batch: PendingWrite[] | undefined;
  readonly #stats: SqliteWriteStats = { writes: 0, commits: 0 };
  #writes = 0;
  /** The file's identity when opened (undefined in memory), and when it was last checked to be still that file. */
  readonly #file: { path: string; dev: number; ino: number } | undefined;
  #fileCheckedAt = 0;

  /** Opens (creating if needed) the file at `path`; `:memory:` gives a private in-memory database. `now`: see MemoryStore. */
  constructor(path: string = defaultSqlitePath(), options: { now?: () => number } = {}) {
    this.where = path;
    this.#now = options.now ?? Date.now;
    this.#db = openDatabase(path);
    const db = this.#db;
    this.#q = prepareAll(db);
    // A read on the writing connection would see the open transaction's writes before they are
    // committed, and a caller could act on them (deliver a reply) before they are on disk. A
    // private in-memory database has no second connection (and nothing on disk either).
    this.#reader = path === ':memory:' || path === '' ? undefined : openReader(path, db);
    const opened = this.#reader ? statSync(path, { throwIfNoEntry: false }) : undefined;
    this.#file = opened && { path, dev: opened.dev, ino: opened.ino };
    this.#r = this.#reader ? prepareAll(this.#reader) : this.#q;
    this.#save = (conversation, scenario, json, expected, trackIdle, ttl, items, acks): SaveResult => {
      const now = this.#now();
      const idle = trackIdle ? 1 : 0;
      const expiresAt = ttl === undefined ? null : now + ttl;
      const { changes } = expected === 0
        ? this.#q.insertPosition.run(conversation, scenario, json, now, idle, expiresAt, now)
        : this.#q.updatePosition.run(json, now, idle, expiresAt, conversation, scenario, expected, now);
      if (changes !== 1) return { ok: false, current: (this.#q.version.get(conversation, scenario, now) as { version: number } | undefined)?.version ?? 0 };
      for (const seq of acks) this.#q.ack.run(conversation, seq);
      const outbox = items.map((item) => {
        const seq = Number(this.#q.enqueue.run(conversation, item.id, item.payload, now, item.notBefore ?? now).lastInsertRowid);
        return { seq, id: item.id };
      });
      return { ok: true, version: expected + 1, outbox };
    };
    this.#sweep();
  }

  async getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined> {
    const row = this.#r.position.get(conversation, scenario, this.#now()) as PositionRow | undefined;
    return row && { value: JSON.parse(row.data) as T, version: row.version, updatedAt: row.updated_at };
  }

  async savePosition(conversation: string, scenario: string, value: unknown, opts: SaveOptions): Promise<SaveResult> {
    checkVersion(opts.expectedVersion);
    const ttl = checkExpiry(opts);
    const json = toJson(value, 'position');
    const items = (opts.outbox ?? []).map((item) => ({ id: item.id ?? newId(), payload: toJson(item.payload, 'outbox payload'), notBefore: item.notBefore }));
    const saved = this.#write(() => this.#save(conversation, scenario, json, opts.expectedVersion, opts.trackIdle === true, ttl, items, opts.ack ?? []), 'all or none');
    if (ttl !== undefined) this.#wrote();
    return saved;
  }

  async listIdle(before: number, limit?: number): Promise<IdlePosition[]> {
    const rows = this.#r.idle.all(before, checkLimit(limit)) as Array<{ conversation: string; scenario: string; updated_at: number }>;
    return rows.map((r) => ({ conversation: r.conversation, scenario: r.scenario, updatedAt: r.updated_at }));
  }

  async listPositions<T = unknown>(scenario: string, opts: ListPositionsOptions = {}): Promise<PositionPage<T>> {
    const limit = checkLimit(opts.limit);
    const rows = this.#r.positionsOf.all(opts.cursor ?? '', scenario, opts.since ?? Number.MIN_SAFE_INTEGER, this.#now(), limit) as ListedRow[];
    return {
      positions: rows.map((r) => ({ conversation: r.conversation, value: JSON.parse(r.data) as T, version: r.version, updatedAt: r.updated_at })),
      cursor: rows.length === limit ? rows[rows.length - 1]!.conversation : undefined,
    };
  }

  async putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>> {
    const ttl = checkTtl(draft.ttlMs);
    const json = toJson(draft.value, 'draft');
    const id = draft.id ?? newId();
    const createdAt = this.#now();
    await this.#write(() => this.#q.putDraft.run(id, draft.conversation ?? null, json, createdAt, createdAt + ttl));
    this.#wrote();
    return { id, conversation: draft.conversation, value: JSON.parse(json) as T, createdAt, expiresAt: createdAt + ttl };
  }

  async getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined> {
    const row = this.#r.draft.get(id, this.#now()) as DraftRow | undefined;
    return row && draftOf<T>(row);
  }

  async listDrafts(conversation?: string, limit?: number): Promise<Draft[]> {
    const max = checkLimit(limit);
    const now = this.#now();
    const rows = (conversation === undefined ? this.#r.drafts.all(now, max) : this.#r.draftsOf.all(conversation, now, max)) as DraftRow[];
    return rows.map((row) => draftOf(row));
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const ttl = checkTtl(ttlMs);
    const now = this.#now();
    const token = newId();
    const { changes } = await this.#write(() => this.#q.lock.run(key, token, now + ttl, now));
    this.#wrote();
    return changes === 1 ? token : undefined;
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    const now = this.#now();
    return (await this.#write(() => this.#q.extendLock.run(now + ttl, key, token, now))).changes === 1;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    const row = (await this.#write(() => this.#q.unlock.get(key, token))) as { expires_at: number } | undefined;
    return row !== undefined && row.expires_at > this.#now();
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts: AppendOptions = {}): Promise<AppendResult> {
    const payload = toJson(item.payload, 'outbox payload');
    const id = item.id ?? newId();
    const once = opts.once;
    const ttl = once && checkTtl(once.ttlMs);
    const now = this.#now();
    const result = await this.#write((): AppendResult => {
      if (once && this.#q.once.run(conversation, once.key, now + ttl!, once.digest === undefined ? null : `${now + ttl!}:${once.digest}`, now).changes === 0) {
        const kept = this.#q.onceDigest.get(conversation, once.key) as { digest: string | null; expires_at: number } | undefined;
        return { ok: false, duplicate: true, digest: kept && keptDigest(kept.digest, kept.expires_at) };
      }
      try {
        return { ok: true, seq: Number(this.#q.enqueue.run(conversation, id, payload, now, item.notBefore ?? now).lastInsertRowid), id };
      } catch (err) {
        // No savepoint around the two (two more statements on every append): the key goes if its item cannot.
        if (once && this.#db.inTransaction) this.#q.forgetOnce.run(conversation, once.key);
        throw err;
      }
    });
    if (once) this.#wrote();
    return result;
  }

  async outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined> {
    const row = this.#r.head.get(conversation) as OutboxRow | undefined;
    return row && {
      conversation, seq: row.seq, id: row.id, payload: JSON.parse(row.payload) as P, createdAt: row.created_at,
      attempts: row.attempts, nextAttemptAt: row.next_attempt_at, lastError: row.last_error ?? undefined,
    };
  }

  async outboxPending(opts: OutboxPendingOptions = {}): Promise<PendingConversation[]> {
    const dueBy = opts.dueBy ?? Number.MAX_SAFE_INTEGER;
    const limit = checkLimit(opts.limit);
    const prefix = opts.prefix ?? '';
    const rows = this.#r.pending.all(prefix, prefix, dueBy, limit) as Array<{ conversation: string; next_attempt_at: number }>;
    return rows.map((r) => ({ conversation: r.conversation, nextAttemptAt: r.next_attempt_at }));
  }

  async outboxAck(conversation: string, seq: number): Promise<boolean> {
    return (await this.#write(() => this.#q.ack.run(conversation, seq))).changes === 1;
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    return (await this.#write(() => this.#q.retry.run(retry.nextAttemptAt, retry.error ?? null, conversation, seq))).changes === 1;
  }

  /** Writes so far and the commits they took (fewer commits than writes: group commit at work). */
  get stats(): Readonly<SqliteWriteStats> {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#commit();
    this.#reader?.close();
    this.#db.close();
  }

  /**
   * Runs `write` now inside the shared transaction (opened if none is), and resolves with its result
   * once that transaction has committed. A write of several statements ('all or none') that fails
   * part-way rolls the shared transaction back: nothing of it, or of the writes before it, is kept.
   */
  #write<R>(write: () => R, statements: 'one' | 'all or none' = 'one'): Promise<R> {
    let result: R;
    try {
      if (!this.#batch) {
        this.#checkFile();
        for (const other of openTransactions) other.#commit();
        this.#db.exec('BEGIN IMMEDIATE');
        this.#batch = [];
        openTransactions.add(this);
        setImmediate(() => this.#commit());
      }
      result = write();
    } catch (err) {
      // Some errors (busy, I/O, full disk) end the whole transaction: its earlier writes are lost too.
      if (this.#batch && statements === 'all or none') {
        // Never committed: should even the rollback fail, the batch is gone and the next write's BEGIN fails.
        try {
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        } finally {
          this.#fail(err);
        }
      } else if (this.#batch && !this.#db.inTransaction) this.#fail(err);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.#stats.writes++;
    return new Promise<R>((resolve, reject) => this.#batch!.push({ resolve: () => resolve(result), reject }));
  }

  /**
   * Refuses to write once the file this store opened is no longer at its path (deleted, or replaced
   * by another): SQLite would go on writing into the unlinked file, and all of it would be gone at
   * the next start. Checked at most once a second, when a transaction opens.
   */
  #checkFile(): void {
    const file = this.#file;
    if (!file) return;
    const now = Date.now();
    if (now - this.#fileCheckedAt < FILE_CHECK_EVERY_MS) return;
    const current = statSync(file.path, { throwIfNoEntry: false });
    if (current && current.dev === file.dev && current.ino === file.ino) {
      this.#fileCheckedAt = now;
      return;
    }
    throw new StoreError('store_misconfigured', `the SQLite store at ${file.path} was ${current ? 'replaced by another file' : 'deleted'} while this process had it open; nothing more is written to it. Restart crisp-mcp to open the file at that path (what the deleted file held is lost)`);
  }

  /** Commits the shared transaction and settles its writes. */
  #commit(): void {
    const batch = this.#batch;
    if (!batch) return;
    openTransactions.delete(this);
    try {
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#fail(err);
      return;
    }
    this.#batch = undefined;
    this.#stats.commits++;
    for (const pending of batch) pending.resolve();
  }

  #fail(err: unknown): void {
    const batch = this.#batch ?? [];
    this.#batch = undefined;
    openTransactions.delete(this);
    for (const pending of batch) pending.reject(err);
  }

  #wrote(): void {
    if (++this.#writes % SWEEP_EVERY === 0) this.#sweep();
  }

  #sweep(): void {
    const now = this.#now();
    this.#q.sweepLocks.run(now);
    this.#q.sweepDrafts.run(now);
    this.#q.sweepOnce.run(now);
    this.#q.sweepPositions.run(now);
  }
}

function draftOf<T>(row: DraftRow): Draft<T> {
  return { id: row.id, conversation: row.conversation ?? undefined, value: JSON.parse(row.data) as T, createdAt: row.created_at, expiresAt: row.expires_at };
}
