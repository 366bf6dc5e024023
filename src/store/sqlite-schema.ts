// The SQLite store's tables: the schema a file is brought to when opened (earlier layouts migrated
// in place) and every statement the store runs, prepared once per connection.
import { StoreError } from './types.js';
import { kept, type Database, type Statement } from './sqlite-binding.js';

// 2: outbox_once (outboxAppend's keys). A file of schema 1 gets the table when opened.
// `positions` was a WITHOUT ROWID table up to this release and is migrated when opened (see
// migratePositions); the statements are the same for both layouts, so the version stays 2 and an
// earlier release still opens a migrated file. The same holds for outbox_once's `digest` column,
// added when missing (migrateOnce): an earlier release's statements do not name it; and of
// positions' `expires_at` (migrateExpiry), which an earlier release neither sets nor reads.
const SCHEMA_VERSION = 2;

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
  // forget(): everything under one conversation key, whatever its expiry.
  erasePositions: 'DELETE FROM positions WHERE conversation = ?',
  eraseDrafts: 'DELETE FROM drafts WHERE conversation = ?',
  eraseOutbox: 'DELETE FROM outbox WHERE conversation = ?',
  eraseOnce: 'DELETE FROM outbox_once WHERE conversation = ?',
  savedBefore: 'SELECT conversation FROM positions GROUP BY conversation HAVING MAX(updated_at) < ?',
  sweepLocks: 'DELETE FROM locks WHERE expires_at <= ?',
  sweepDrafts: 'DELETE FROM drafts WHERE expires_at <= ?',
  sweepOnce: 'DELETE FROM outbox_once WHERE expires_at <= ?',
  sweepPositions: 'DELETE FROM positions WHERE expires_at <= ?',
} as const;
export type Queries = { readonly [K in keyof typeof SQL]: Statement };

/** What opening a file changed in it, for the log: the schema it had, and each step taken (none: it was current). */
export interface SqliteMigration {
  fromSchema: number;
  toSchema: number;
  steps: string[];
}

/** Brings the file's schema up to SCHEMA_VERSION in one transaction, refusing a file a newer release wrote. */
export function migrate(db: Database, path: string): SqliteMigration {
  const found = (kept(db.prepare('PRAGMA user_version')).get() as { user_version: number }).user_version;
  if (found > SCHEMA_VERSION) {
    throw new StoreError('store_misconfigured', `the SQLite store at ${path} was written by a newer crisp-mcp (schema ${found}, this one knows ${SCHEMA_VERSION})`);
  }
  const steps: string[] = [];
  db.transaction(() => {
    // Read inside the transaction: another process may have migrated the file while this one waited for it.
    const fresh = !hasTable(db, 'positions');
    const rewritten = migratePositions(db);
    if (rewritten !== undefined) steps.push(`positions rewritten as a rowid table (${rewritten} rows)`);
    const hadOnce = fresh || hasTable(db, 'outbox_once');
    db.exec(SCHEMA);
    if (!hadOnce) steps.push('outbox_once table added');
    if (migrateOnce(db)) steps.push('outbox_once.digest column added');
    if (migrateExpiry(db)) steps.push('positions.expires_at column added');
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  return { fromSchema: found, toSchema: SCHEMA_VERSION, steps };
}

function hasTable(db: Database, name: string): boolean {
  return kept(db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")).get(name) !== undefined;
}

/**
 * Rewrites a `positions` table of the WITHOUT ROWID layout (files written before this release) as a
 * rowid table with the same rows, inside the opening transaction: another process opening the
 * file waits for it, and a failure leaves the file as it was. Its index is recreated with SCHEMA.
 */
function migratePositions(db: Database): number | undefined {
  const table = kept(db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'positions'")).get() as { sql: string } | undefined;
  if (!table || !/WITHOUT\s+ROWID\s*$/i.test(table.sql)) return undefined;
  db.exec(`
    CREATE TABLE positions_rowid (${POSITIONS_COLUMNS});
    INSERT INTO positions_rowid (conversation, scenario, version, data, updated_at, track_idle)
      SELECT conversation, scenario, version, data, updated_at, track_idle FROM positions ORDER BY conversation, scenario;
    DROP TABLE positions;
    ALTER TABLE positions_rowid RENAME TO positions;
  `);
  return (kept(db.prepare('SELECT count(*) AS n FROM positions')).get() as { n: number }).n;
}

/** Adds outbox_once's `digest` column to a file written before it existed (its rows keep none); true when it did. */
function migrateOnce(db: Database): boolean {
  const columns = kept(db.prepare('SELECT name FROM pragma_table_info(?)')).all('outbox_once') as Array<{ name: string }>;
  if (columns.some((c) => c.name === 'digest')) return false;
  db.exec('ALTER TABLE outbox_once ADD COLUMN digest TEXT');
  return true;
}

/** Adds positions' `expires_at` column (and its index) to a file written before it existed: its rows never expire. */
function migrateExpiry(db: Database): boolean {
  const columns = kept(db.prepare('SELECT name FROM pragma_table_info(?)')).all('positions') as Array<{ name: string }>;
  const added = !columns.some((c) => c.name === 'expires_at');
  if (added) db.exec('ALTER TABLE positions ADD COLUMN expires_at INTEGER');
  db.exec('CREATE INDEX IF NOT EXISTS positions_expiry ON positions (expires_at) WHERE expires_at IS NOT NULL');
  return added;
}

export function prepareAll(db: Database): Queries {
  return Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, kept(db.prepare(text))])) as Queries;
}
