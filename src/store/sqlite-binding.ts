// better-sqlite3 as this store uses it: the little of its API we call (it ships no types), the
// module loaded where it is installed, every native object it makes kept for the process's life,
// and why its compiled module does not load, in one line that says how to mend it.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// better-sqlite3 ships no types and @types/better-sqlite3 is not a dependency: the little we use.
export interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}
export interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  readonly inTransaction: boolean;
  close(): void;
}
type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => Database;
const requireHere = createRequire(import.meta.url);
export const BetterSqlite3 = requireHere('better-sqlite3') as DatabaseConstructor;

// better-sqlite3 12's connections and statements are node::ObjectWrap objects. On Node 24.21.0
// (not 20, 22 or 24.22.3) an ObjectWrap's destructor aborts the whole process ("Assertion failed:
// (env) != nullptr", SIGABRT) when V8 collects one in a GC that runs outside JavaScript, at any time
// after it became garbage: a server died at start-up, a store's user mid-run
// (test/cli/node-lts.test.ts). So none ever becomes garbage: every connection and statement this
// process makes stays reachable from here until it exits, when Node deletes them itself. That
// costs a closed connection's few dozen small objects per store opened. pragma() prepares a
// statement it then drops: exec() and a kept statement take its place.
const keptForProcessLife: object[] = [];
export function kept<T extends object>(native: T): T {
  keptForProcessLife.push(native);
  return native;
}

/**
 * Why better-sqlite3's compiled module does not load, in one line that says how to build it, or
 * undefined for any other failure. Its install script builds it (or fetches a prebuilt one); npm
 * skips that script when the install is not allowed to run it — by default from npm 12 on, always
 * with --ignore-scripts — and a module built for another Node.js version or platform fails to load.
 * Left as it is, the error is bindings' list of thirteen paths it looked in.
 */
export function compiledModuleProblem(err: unknown): string | undefined {
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
