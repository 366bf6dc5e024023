// Opening the SQLite store's file: made readable by its owner only, in WAL mode, its schema
// migrated; a second connection on it for reads; where the file is by default; and any failure to
// open it told as one StoreError line.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, posix, win32 } from 'node:path';
import { StoreError } from './types.js';
import { BetterSqlite3, compiledModuleProblem, kept, type Database } from './sqlite-binding.js';
import { migrate, type SqliteMigration } from './sqlite-schema.js';

/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Opens the file in WAL mode with the schema in place, saying what migrating it changed; any failure is one StoreError line. */
export function openDatabase(path: string): { db: Database; migration: SqliteMigration } {
  let db: Database | undefined;
  try {
    if (path !== ':memory:' && path !== '') createForOwnerOnly(path);
    db = kept(new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS }));
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL'); // WAL + NORMAL: a commit survives a process crash (kill -9), not a power cut
    // A deleted or overwritten row (a visitor's answers: expired, forgotten, saved over, a reply
    // delivered) is zeroed, not left readable in the file's free space; a page it frees costs one
    // more page write.
    db.exec('PRAGMA secure_delete = ON');
    return { db, migration: migrate(db, path) };
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

/** A second connection on the file `writer` has opened (the schema is in place). */
export function openReader(path: string, writer: Database): Database {
  try {
    return kept(new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS }));
  } catch (err) {
    writer.close();
    throw new StoreError('store_unavailable', `cannot open the SQLite store at ${path}: ${(err as Error).message}`, err);
  }
}

/** $XDG_STATE_HOME/crisp-mcp/state.db (~/.local/state), ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  if (platform === 'win32') return win32.join(env.LOCALAPPDATA || win32.join(home, 'AppData', 'Local'), 'crisp-mcp', 'state.db');
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'crisp-mcp', 'state.db');
  const xdg = env.XDG_STATE_HOME; // the XDG spec says to ignore a relative path
  return posix.join(xdg && posix.isAbsolute(xdg) ? xdg : posix.join(home, '.local', 'state'), 'crisp-mcp', 'state.db');
}
