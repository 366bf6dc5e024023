// Choosing and opening a store: `--store` / CRISP_MCP_STORE → one of memory, SQLite, Redis.
import { hideUserinfo } from '../credentials/redact.js';
import { MemoryStore } from './memory.js';
import type { RedisStoreOptions } from './redis-connection.js';
import type { SqliteMigration } from './sqlite-schema.js';
import { StoreError, type Store } from './types.js';

export * from './types.js';
export { HeldLocks, withLock, type Lease } from './lock.js';
export { MemoryBacking, MemoryStore } from './memory.js';
// SQLite (a native addon) and Redis (node-redis) are loaded by openStore, only for the store it opens;
// import SqliteStore from './sqlite.js' and RedisStore from './redis.js' directly.
export type { RedisStoreOptions } from './redis-connection.js';
export type { SqliteMigration } from './sqlite-schema.js';

/** Redis's connection reports, and what opening a SQLite file an earlier release wrote changed in it. */
export interface StoreOpenOptions extends RedisStoreOptions {
  onMigrated?: (migration: SqliteMigration) => void;
}

/** What `--store` names. Structurally the same as config.ts's StoreConfig, so that one can be passed as is. */
export type StoreSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path?: string }
  | { kind: 'redis'; url: string };

export const STORE_FORMS = 'sqlite (the default file), sqlite:PATH, redis://HOST:PORT, rediss://HOST:PORT or memory';

/** Parses `sqlite`, `sqlite:PATH`, `redis://…`, `rediss://…` or `memory`; undefined or '' means SQLite at its default path. */
export function parseStoreSpec(spec: string | undefined): StoreSpec {
  const text = spec?.trim() ?? '';
  if (text === '' || text === 'sqlite') return { kind: 'sqlite' };
  if (text === 'memory') return { kind: 'memory' };
  if (text.startsWith('sqlite:') && text.length > 'sqlite:'.length) return { kind: 'sqlite', path: text.slice('sqlite:'.length) };
  if (/^rediss?:\/\/[^/\s?#]+/.test(text)) {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      // falls through to the error below
    }
    if (url) {
      // The Redis client decodes the user name and password: a stray "%" would throw from deep inside it.
      try {
        decodeURIComponent(url.username + url.password);
      } catch {
        throw new StoreError('store_bad_spec', '--store (or CRISP_MCP_STORE): the user name or password of the Redis URL holds a "%" that starts no percent-escape; write a literal "%" as %25');
      }
      return { kind: 'redis', url: text };
    }
  }
  throw new StoreError('store_bad_spec', `--store (or CRISP_MCP_STORE) must be ${STORE_FORMS}, got "${hideUserinfo(spec ?? '')}"`);
}

/** Opens the store `spec` names (see parseStoreSpec). Callers `close()` it when done. */
export async function openStore(spec: string | StoreSpec | undefined, options: StoreOpenOptions = {}): Promise<Store> {
  const s = typeof spec === 'object' ? spec : parseStoreSpec(spec);
  switch (s.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite': {
      const { defaultSqlitePath, SqliteStore } = await import('./sqlite.js');
      return new SqliteStore(s.path ?? defaultSqlitePath(), { onMigrated: options.onMigrated });
    }
    case 'redis': {
      const { RedisStore } = await import('./redis.js');
      return RedisStore.connect(s.url, options);
    }
  }
}
