// The SQLite store's write path.
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
import { statSync } from 'node:fs';
import { StoreError } from './types.js';
import type { Database } from './sqlite-binding.js';

/** How often a writer checks that its file is still the one at its path. */
const FILE_CHECK_EVERY_MS = 1_000;

/** Counters of the store's write path (group commit): how many writes, and how many commits they took. */
export interface SqliteWriteStats {
  writes: number;
  commits: number;
}

/**
 * The stores of this process with a transaction open. Another connection's BEGIN IMMEDIATE would
 * wait for one of these, which cannot commit while this thread waits: they commit first.
 */
const openTransactions = new Set<GroupCommit>();

interface PendingWrite {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One writing connection's shared transaction: its writes run at once and settle at its commit. */
export class GroupCommit {
  readonly #db: Database;
  /** The writes of the open transaction, settled by its commit; undefined when none is open. */
  #batch: PendingWrite[] | undefined;
  readonly #stats: SqliteWriteStats = { writes: 0, commits: 0 };
  /** The file's identity when opened (undefined in memory), and when it was last checked to be still that file. */
  readonly #file: { path: string; dev: number; ino: number } | undefined;
  #fileCheckedAt = 0;

  /** `file`: the path the connection opened, checked before each transaction (none in memory). */
  constructor(db: Database, file: string | undefined) {
    this.#db = db;
    const opened = file === undefined ? undefined : statSync(file, { throwIfNoEntry: false });
    this.#file = opened && { path: file!, dev: opened.dev, ino: opened.ino };
  }

  /** Writes so far and the commits they took (fewer commits than writes: group commit at work). */
  get stats(): Readonly<SqliteWriteStats> {
    return { ...this.#stats };
  }

  /**
   * Runs `write` now inside the shared transaction (opened if none is), and resolves with its result
   * once that transaction has committed. A write of several statements ('all or none') that fails
   * part-way rolls the shared transaction back: nothing of it, or of the writes before it, is kept.
   */
  write<R>(write: () => R, statements: 'one' | 'all or none' = 'one'): Promise<R> {
    let result: R;
    try {
      if (!this.#batch) {
        this.#checkFile();
        for (const other of openTransactions) other.commit();
        this.#db.exec('BEGIN IMMEDIATE');
        this.#batch = [];
        openTransactions.add(this);
        setImmediate(() => this.commit());
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
  commit(): void {
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
}
