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
  const deadline = performance.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    const token = await store.acquireLock(key, ttlMs);
    if (token !== undefined) return token;
    const left = deadline - performance.now();
    if (left <= 0) throw new StoreError('store_lock_busy', `the lock "${key}" is held by another worker; gave up after ${waitMs} ms`);
    const backoff = Math.min(2 * 2 ** attempt, 100);
    await sleep(Math.min(left, backoff / 2 + Math.random() * backoff / 2));
  }
}

export interface HeldLocksOptions {
  /** How long a lock lives without being extended (default 30 s). */
  ttlMs?: number;
  /** How long to wait for a lock another worker holds (default 10 s). */
  waitMs?: number;
  /** How long a lock is kept after its last work ended (default ttl / 20, at most 250 ms): work arriving meanwhile reuses it. */
  idleMs?: number;
}

interface Held {
  token: string;
  /** When the lock expires in the store at the latest (measured from before the write that set it). */
  expiresAt: number;
  lastUsed: number;
  running: boolean;
  extending: boolean;
  lost: AbortController;
  /** What the last piece of work left to do before the lock goes. */
  beforeRelease: (() => Promise<void>) | undefined;
}

/**
 * Locks held as leases across pieces of work, for a worker that works the same keys again and
 * again (the autopilot, one conversation after each visitor message): a key's lock is taken once,
 * kept alive while work keeps coming, and released once it has been idle for `idleMs` or on
 * close(). Work under a held lock costs no store write; withLock costs two (take and release) and a
 * timer. One timer keeps every held lock alive (extended once a third of its ttl has passed) and
 * releases the idle ones. A lock that could not be extended aborts its lease's signal, as withLock's.
 * The caller runs one piece of work per key at a time (a keyed queue): the lease is the process's.
 * Its times are performance.now()'s, which the wall clock's steps do not move: with Date.now(), a
 * clock set back (NTP, a VM resumed) made a held lock look fresh for as long as the step, so it was
 * not extended, expired in the store, and a replica worked the conversation beside this one.
 */
export class HeldLocks {
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #idleMs: number;
  readonly #held = new Map<string, Held>();
  /** Releases under way: a key's next lock waits for its release instead of finding it busy. */
  readonly #releasing = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, options: HeldLocksOptions = {}) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    this.#waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.#idleMs = options.idleMs ?? Math.min(250, Math.floor(this.#ttlMs / 20));
  }

  /**
   * Runs `fn` under the key's lock: the one held already, else taken now (waiting for it as withLock
   * does). `beforeRelease` runs while the lock is still held, just before it is released (idle, or
   * on close): writes that must come before anyone else works the key.
   */
  async run<R>(key: string, fn: (lease: Lease) => Promise<R>, beforeRelease?: () => Promise<void>): Promise<R> {
    const held = await this.#take(key);
    held.running = true;
    held.beforeRelease = beforeRelease;
    try {
      return await fn({ key, token: held.token, signal: held.lost.signal });
    } finally {
      held.running = false;
      held.lastUsed = performance.now();
    }
  }

  /** Releases every lock held whose work is over (call it once the queue is idle); one still working expires by itself. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#held].filter(([, held]) => !held.running).map(([key]) => this.#release(key)));
    await Promise.all(this.#releasing.values());
  }

  async #take(key: string): Promise<Held> {
    await this.#releasing.get(key);
    const held = this.#held.get(key);
    if (held && !held.lost.signal.aborted) {
      if (held.running) throw new Error(`HeldLocks: work on "${key}" is already running`);
      // Kept alive by the timer; checked here too, in case the timer could not run in time.
      if (held.expiresAt - performance.now() > this.#ttlMs / 2) return held;
      // Marked as working meanwhile, so that the timer does not release it under this extension.
      held.running = true;
      const from = performance.now();
      const kept = await this.#store.extendLock(key, held.token, this.#ttlMs).catch(() => false);
      held.running = false;
      if (kept) {
        held.expiresAt = from + this.#ttlMs;
        return held;
      }
      this.#lose(key, held);
    }
    const from = performance.now();
    const token = await acquire(this.#store, key, this.#ttlMs, this.#waitMs);
    const taken: Held = { token, expiresAt: from + this.#ttlMs, lastUsed: from, running: false, extending: false, lost: new AbortController(), beforeRelease: undefined };
    this.#held.set(key, taken);
    this.#timer ??= setInterval(() => this.#tick(), Math.max(10, Math.min(Math.floor(this.#idleMs / 2), Math.floor(this.#ttlMs / 6)))).unref();
    return taken;
  }

  #tick(): void {
    const now = performance.now();
    for (const [key, held] of this.#held) {
      if (!held.running && now - held.lastUsed >= this.#idleMs) {
        void this.#release(key);
      } else if (!held.extending && held.expiresAt - now <= (this.#ttlMs * 2) / 3) {
        held.extending = true;
        this.#store.extendLock(key, held.token, this.#ttlMs).then(
          (kept) => {
            held.extending = false;
            if (kept) held.expiresAt = now + this.#ttlMs;
            else this.#lose(key, held);
          },
          (error: unknown) => {
            held.extending = false;
            this.#lose(key, held, error);
          },
        );
      }
    }
    if (this.#held.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #lose(key: string, held: Held, cause?: unknown): void {
    if (this.#held.get(key) === held) this.#held.delete(key);
    if (!held.lost.signal.aborted) held.lost.abort(new StoreError('store_lock_lost', `lost the lock "${key}" while holding it`, cause));
  }

  #release(key: string): Promise<void> {
    const held = this.#held.get(key);
    if (!held) return Promise.resolve();
    this.#held.delete(key);
    const done = (async () => {
      // A failure here is not the work's: the writes are tried again later, and the lock expires by itself.
      await held.beforeRelease?.().catch(() => undefined);
      await this.#store.releaseLock(key, held.token).catch(() => false);
    })().finally(() => this.#releasing.delete(key));
    this.#releasing.set(key, done);
    return done;
  }
}
