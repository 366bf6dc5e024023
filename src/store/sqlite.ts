// The embedded store: one SQLite file (better-sqlite3, WAL) that several processes on one machine
// may share. Statements are prepared once. Times are the writers' clock (Date.now() unless a test
// passes `now`), which processes on one machine share.
//
// sqlite-open.ts opens the file (its mode, WAL, the schema migrated), sqlite-schema.ts holds the
// tables and statements, and sqlite-commit.ts the write path: every write runs inside a shared
// transaction that commits once the current turn of the event loop is done, and settles only then.
// Reads go through a second connection, so they see only committed writes.
import {
  checkExpiry, checkLimit, checkTtl, checkVersion, newId, toJson,
  type AppendOptions, type AppendResult, type Draft, type DraftInput, type Forgotten, type IdlePosition, type ListPositionsOptions, type OutboxInput,
  type OutboxItem, type OutboxPendingOptions, type PendingConversation, type PositionPage, type SavedPosition, type SaveOptions,
  type SaveResult, type Store,
} from './types.js';
import type { Database } from './sqlite-binding.js';
import { GroupCommit, type SqliteWriteStats } from './sqlite-commit.js';
import { defaultSqlitePath, openDatabase, openReader } from './sqlite-open.js';
import { prepareAll, type Queries, type SqliteMigration } from './sqlite-schema.js';

export { defaultSqlitePath } from './sqlite-open.js';
export type { SqliteWriteStats } from './sqlite-commit.js';
export type { SqliteMigration } from './sqlite-schema.js';

/** Expired locks, drafts, append keys and positions are deleted on every SWEEP_EVERY-th write of those kinds (an expiring save for positions). */
const SWEEP_EVERY = 1000;

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

interface PositionRow { data: string; version: number; updated_at: number }
interface DraftRow { id: string; conversation: string | null; data: string; created_at: number; expires_at: number }
interface ListedRow extends PositionRow { conversation: string }
interface OutboxRow { seq: number; id: string; payload: string; created_at: number; attempts: number; next_attempt_at: number; last_error: string | null }
type QueuedItem = { id: string; payload: string; notBefore: number | undefined };

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
  readonly #commits: GroupCommit;
  #writes = 0;

  /**
   * Opens (creating if needed) the file at `path`; `:memory:` gives a private in-memory database. `now`: see MemoryStore.
   * `onMigrated` is told what opening changed in a file an earlier release wrote (not called when nothing changed).
   */
  constructor(path: string = defaultSqlitePath(), options: { now?: () => number; onMigrated?: (migration: SqliteMigration) => void } = {}) {
    this.where = path;
    this.#now = options.now ?? Date.now;
    const { db: opened, migration } = openDatabase(path);
    this.#db = opened;
    if (migration.steps.length) options.onMigrated?.(migration);
    const db = this.#db;
    this.#q = prepareAll(db);
    // A read on the writing connection would see the open transaction's writes before they are
    // committed, and a caller could act on them (deliver a reply) before they are on disk. A
    // private in-memory database has no second connection (and nothing on disk either).
    this.#reader = path === ':memory:' || path === '' ? undefined : openReader(path, db);
    this.#commits = new GroupCommit(db, this.#reader ? path : undefined);
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
    const saved = this.#commits.write(() => this.#save(conversation, scenario, json, opts.expectedVersion, opts.trackIdle === true, ttl, items, opts.ack ?? []), 'all or none');
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
    await this.#commits.write(() => this.#q.putDraft.run(id, draft.conversation ?? null, json, createdAt, createdAt + ttl));
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
    const { changes } = await this.#commits.write(() => this.#q.lock.run(key, token, now + ttl, now));
    this.#wrote();
    return changes === 1 ? token : undefined;
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    const now = this.#now();
    return (await this.#commits.write(() => this.#q.extendLock.run(now + ttl, key, token, now))).changes === 1;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    const row = (await this.#commits.write(() => this.#q.unlock.get(key, token))) as { expires_at: number } | undefined;
    return row !== undefined && row.expires_at > this.#now();
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts: AppendOptions = {}): Promise<AppendResult> {
    const payload = toJson(item.payload, 'outbox payload');
    const id = item.id ?? newId();
    const once = opts.once;
    const ttl = once && checkTtl(once.ttlMs);
    const now = this.#now();
    const result = await this.#commits.write((): AppendResult => {
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
    return (await this.#commits.write(() => this.#q.ack.run(conversation, seq))).changes === 1;
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    return (await this.#commits.write(() => this.#q.retry.run(retry.nextAttemptAt, retry.error ?? null, conversation, seq))).changes === 1;
  }

  async forget(conversation: string): Promise<Forgotten> {
    // The rows' bytes are zeroed as they go (secure_delete, sqlite-open.ts).
    const erased = await this.#commits.write(() => ({
      positions: this.#q.erasePositions.run(conversation).changes,
      drafts: this.#q.eraseDrafts.run(conversation).changes,
      outboxItems: this.#q.eraseOutbox.run(conversation).changes,
      onceKeys: this.#q.eraseOnce.run(conversation).changes,
    }), 'all or none');
    // The WAL still holds earlier copies of the pages the rows were on: copied back and emptied,
    // unless another connection is reading or writing (then they go at its next checkpoint).
    if (!this.#db.inTransaction) this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return erased;
  }

  async conversationsSavedBefore(before: number): Promise<string[]> {
    return (this.#r.savedBefore.all(before) as Array<{ conversation: string }>).map((row) => row.conversation);
  }

  /** Writes so far and the commits they took (fewer commits than writes: group commit at work). */
  get stats(): Readonly<SqliteWriteStats> {
    return this.#commits.stats;
  }

  async close(): Promise<void> {
    this.#commits.commit();
    this.#reader?.close();
    this.#db.close();
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
