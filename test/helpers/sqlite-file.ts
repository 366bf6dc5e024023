// Reads a SQLite store's file from outside the store, as another process would: what its tables
// hold, expired rows included (a store hides those from its own reads).
import { createRequire } from 'node:module';

type Database = new (path: string, options: { readonly: boolean }) => { prepare(sql: string): { all(): unknown[] }; close(): void };
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as Database;

/** The rows `sql` selects from the file at `path`, read on a connection of its own. */
export function sqliteRows(path: string, sql: string): unknown[] {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}
