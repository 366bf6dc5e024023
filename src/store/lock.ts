// withLock: run `fn` while holding a store lock, the same way on every store. Waits for a busy lock
// (with a capped, jittered backoff), keeps the lock alive every ttl/3 while `fn` runs, and releases
// it after. If the lock cannot be extended, `lease.signal` aborts: the holder should stop, and its
// next savePosition (compare-and-set on the version) is what actually keeps a late writer out.
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError, type Store } from './types.js';

export interface LockOptions {
  /** How long the lock lives without being extended (default 30 s). */
  ttlMs?: number;
  /** How long to wait for a busy lock before failing with `store_lock_busy` (default 10 s; 0 = try once). */
  waitMs?: number;
}

export interface Lease {
  key: string;
  token: string;
  /** Aborted (reason: a `store_lock_lost` StoreError) when the lock could not be kept. */
  signal: AbortSignal;
}

export const DEFAULT_LOCK_TTL_MS = 30_000;
export const DEFAULT_LOCK_WAIT_MS = 10_000;

export async function withLock<R>(store: Store, key: string, fn: (lease: Lease) => Promise<R>, options: LockOptions = {}): Promise<R> {
  const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const token = await acquire(store, key, ttlMs, options.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  const lost = new AbortController();
  const loseLock = (cause?: unknown): void => {
    if (!lost.signal.aborted) lost.abort(new StoreError('store_lock_lost', `lost the lock "${key}" before the work under it finished`, cause));
  };
  const heartbeat = setInterval(() => {
    store.extendLock(key, token, ttlMs).then((kept) => kept || loseLock(), loseLock);
  }, Math.max(1, Math.floor(ttlMs / 3)));
  heartbeat.unref();
  try {
    return await fn({ key, token, signal: lost.signal });
  } finally {
    clearInterval(heartbeat);
    // A failed release is not the caller's failure: the lock expires by itself after ttlMs.
    await store.releaseLock(key, token).catch(() => false);
  }
}

async function acquire(store: Store, key: string, ttlMs: number, waitMs: number): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    const token = await store.acquireLock(key, ttlMs);
    if (token !== undefined) return token;
    const left = deadline - Date.now();
    if (left <= 0) throw new StoreError('store_lock_busy', `the lock "${key}" is held by another worker; gave up after ${waitMs} ms`);
    const backoff = Math.min(2 * 2 ** attempt, 100);
    await sleep(Math.min(left, backoff / 2 + Math.random() * backoff / 2));
  }
}
