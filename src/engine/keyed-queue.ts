// The one keyed work queue of the application, used by the autopilot's conversations, the
// converse inbox and the converse reply delivery: work is queued per key (a conversation) and run
// in order per key, one run at a time per key, at most `concurrency` keys at once. Work queued for
// a key while its earlier work waits may be merged into it (`merge`), so a burst of events becomes
// one run. A key can be woken at a time (its next retry is due), on an injected clock and timer
// functions; a run that throws is handed to `failed`, which says when to run it again (by
// src/retry.ts's backoff) or to drop it. Work that must let more urgent work go first names a
// `Priority` (`yieldTo`): while it is busy, the queue runs at most `concurrencyWhileBusy` at once,
// each started after the I/O pending in its turn of the event loop (the priority work's requests),
// and none at all during the first `pauseMs` of each busy period (a capped pause).
// What a run does is the caller's; the queue keeps nothing beyond this process.

/** The timer functions the queue arms its wake-ups with (tests pass fake ones). */
export interface Timers {
  set(fire: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Node's timers, unref'd: a pending wake-up never keeps the process alive. */
export const NODE_TIMERS: Timers = {
  set: (fire, ms) => setTimeout(fire, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Work that goes first (accepting requests), by its rate: each piece calls `arrived()`. It is busy
 * from the moment `busyAt` pieces have arrived within `windowMs` (a burst, not the odd request) until
 * none has for `windowMs`. The rate, not the pieces in progress: a piece may be done within the
 * turn of the event loop it arrived in (the memory store), and a commit answers a batch of them at
 * once, leaving gaps while their clients send the next. Queues that yield to it start fewer runs
 * while it is busy, and catch up once it is quiet. With `pauseMs`, they start none during the first
 * `pauseMs` of each busy period: a short burst gets the process to itself, while under a sustained
 * one the work yielding waits at most that long before it runs again (a few at a time).
 */
export class Priority {
  readonly #busyAt: number;
  readonly #windowMs: number;
  readonly #pauseMs: number;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #listeners = new Set<() => void>();
  #windowStart = -Infinity;
  #inWindow = 0;
  /** When a piece last arrived while busy. */
  #lastBusy = -Infinity;
  /** When the current busy period began. */
  #busySince = -Infinity;
  #timer: unknown;

  constructor(options: { busyAt?: number; windowMs?: number; pauseMs?: number; now?: () => number; timers?: Timers } = {}) {
    this.#busyAt = Math.max(1, options.busyAt ?? 1);
    this.#windowMs = options.windowMs ?? 20;
    this.#pauseMs = Math.max(0, options.pauseMs ?? 0);
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? NODE_TIMERS;
  }

  get busy(): boolean {
    return this.#now() - this.#lastBusy < this.#windowMs;
  }

  /** How much longer work yielding to this pauses (ms; 0: it may run, at the reduced cap while busy). */
  get pausedFor(): number {
    if (this.#pauseMs === 0 || !this.busy) return 0;
    return Math.max(0, this.#busySince + this.#pauseMs - this.#now());
  }

  /** A piece of priority work has arrived. */
  arrived(): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (++this.#inWindow < this.#busyAt) return;
    if (now - this.#lastBusy >= this.#windowMs) this.#busySince = now;
    this.#lastBusy = now;
    if (this.#timer === undefined) this.#timer = this.#timers.set(() => this.#quiet(), this.#windowMs);
  }

  /** Calls `listener` each time it goes quiet; returns the unsubscribe. */
  onIdle(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #quiet(): void {
    const left = this.#windowMs - (this.#now() - this.#lastBusy);
    if (left > 0) {
      this.#timer = this.#timers.set(() => this.#quiet(), left);
      return;
    }
    this.#timer = undefined;
    for (const listener of this.#listeners) listener();
  }
}

export interface KeyedQueueOptions<W> {
  /** Keys run at once, at most (Infinity: no cap). */
  concurrency: number;
  /** Runs one piece of a key's work; never two of the same key at once. A throw goes to `failed`. */
  run?: (key: string, work: W) => Promise<void>;
  /**
   * Combines work queued for a key with more work queued after it, before either runs (`queued`
   * first); undefined keeps them apart (each runs on its own, in order). Absent: never combined.
   */
  merge?: (queued: W, more: W) => W | undefined;
  /**
   * A run threw after `failures` failures in a row: the delay before its work runs again (say
   * src/retry.ts's backoffDelay), or undefined to drop it. Absent: dropped.
   */
  failed?: (key: string, work: W, error: unknown, failures: number) => number | undefined;
  /** Yield to this: while it is busy, start at most `concurrencyWhileBusy` runs (default 1). */
  yieldTo?: Priority;
  concurrencyWhileBusy?: number;
  /** The clock wake-up times are read on (default Date.now). */
  now?: () => number;
  timers?: Timers;
}

/** A task given to `submit` fails with this when the queue was closed before it could run. */
export class QueueClosedError extends Error {
  constructor() {
    super('the queue is closed');
    this.name = 'QueueClosedError';
  }
}

type Item<W> = { kind: 'work'; work: W } | { kind: 'task'; task: () => Promise<void>; drop: () => void };

interface Entry<W> {
  readonly key: string;
  /** Waiting work, in order. */
  items: Item<W>[];
  running: boolean;
  /** In the ready list. */
  ready: boolean;
  timer: unknown;
  timerAt: number;
  /** What the timer queues when it fires (nothing: it only lets waiting work run again). */
  timerWork: W | undefined;
  /** Runs that threw in a row. */
  failures: number;
}

export class KeyedQueue<W = never> {
  readonly #o: KeyedQueueOptions<W>;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #entries = new Map<string, Entry<W>>();
  /** Keys with work and no run, in the order they became ready (from #head on). */
  #ready: Entry<W>[] = [];
  #head = 0;
  readonly #idle: Array<() => void> = [];
  readonly #unsubscribe: (() => void) | undefined;
  #active = 0;
  #closed = false;
  /** The start of runs put off to the end of this turn of the event loop (while yielding). */
  #deferred: NodeJS.Immediate | undefined;
  /** The end of the priority's pause (while paused). */
  #pauseTimer: unknown;

  constructor(options: KeyedQueueOptions<W>) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? NODE_TIMERS;
    this.#unsubscribe = options.yieldTo?.onIdle(() => this.#pump());
  }

  /** Runs being worked now. */
  get running(): number {
    return this.#active;
  }

  /** Keys waiting for a run slot. */
  get waiting(): number {
    return this.#ready.length - this.#head;
  }

  /** Queues `work` for `key` (merged into its waiting work where `merge` allows), to run after what the key has queued. Ignored once closed. */
  add(key: string, work: W): void {
    if (this.#closed) return;
    const e = this.#entry(key);
    const last = e.items.at(-1);
    const merged = last?.kind === 'work' && this.#o.merge ? this.#o.merge(last.work, work) : undefined;
    if (last?.kind === 'work' && merged !== undefined) last.work = merged;
    else e.items.push({ kind: 'work', work });
    this.#makeReady(e);
  }

  /** Runs `task` in `key`'s order (after its queued work, under the same cap) and resolves with its result; rejects with QueueClosedError once closed. */
  submit<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new QueueClosedError());
    return new Promise<T>((resolve, reject) => {
      const e = this.#entry(key);
      e.items.push({ kind: 'task', task: () => task().then(resolve, reject), drop: () => reject(new QueueClosedError()) });
      this.#makeReady(e);
    });
  }

  /**
   * Lets `key` run again at `at`, queueing `work` then if given (an earlier wake-up wins over a
   * later one). Until then, work the key has waiting after a failure stays waiting.
   */
  wake(key: string, at: number, work?: W): void {
    if (this.#closed) return;
    const e = this.#entry(key);
    if (e.timer !== undefined && e.timerAt <= at) return;
    if (e.timer !== undefined) this.#timers.clear(e.timer);
    e.timerAt = at;
    e.timerWork = work ?? e.timerWork; // a replaced wake-up's work is still queued, earlier
    e.timer = this.#timers.set(() => {
      e.timer = undefined;
      const queued = e.timerWork;
      e.timerWork = undefined;
      if (queued !== undefined) this.add(key, queued);
      else this.#makeReady(e);
      this.#forget(e);
    }, Math.max(0, at - this.#now()));
  }

  /** Whether the key is being run or waits for a run slot. */
  busy(key: string): boolean {
    const e = this.#entries.get(key);
    return !!e && (e.running || e.ready);
  }

  /** Whether a wake-up is armed for the key. */
  waking(key: string): boolean {
    return this.#entries.get(key)?.timer !== undefined;
  }

  /** Resolves when nothing runs and nothing waits for a slot (wake-ups aside). */
  idle(): Promise<void> {
    if (this.#active === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Takes no more work and drops the wake-ups. With `drain`, the work already queued still runs;
   * without, work not started is dropped (submitted tasks reject). Resolves once nothing runs.
   */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    if (this.#pauseTimer !== undefined) this.#timers.clear(this.#pauseTimer);
    this.#pauseTimer = undefined;
    for (const e of this.#entries.values()) {
      if (e.timer !== undefined) this.#timers.clear(e.timer);
      e.timer = undefined;
      if (!options.drain) {
        for (const item of e.items) if (item.kind === 'task') item.drop();
        e.items = [];
      } else this.#makeReady(e);
    }
    if (!options.drain) {
      for (const e of this.#ready.splice(0)) e.ready = false;
      this.#head = 0;
    }
    this.#pump();
    await this.idle();
  }

  #entry(key: string): Entry<W> {
    let e = this.#entries.get(key);
    if (!e) {
      e = { key, items: [], running: false, ready: false, timer: undefined, timerAt: 0, timerWork: undefined, failures: 0 };
      this.#entries.set(key, e);
    }
    return e;
  }

  /** Puts the key in line for a slot if it has work and is neither running nor in line already. */
  #makeReady(e: Entry<W>): void {
    if (e.running || e.ready || e.items.length === 0) return;
    e.ready = true;
    this.#ready.push(e);
    this.#pump();
  }

  get #cap(): number {
    if (!this.#o.yieldTo?.busy) return this.#o.concurrency;
    return this.#paused() ? 0 : Math.min(this.#o.concurrency, this.#o.concurrencyWhileBusy ?? 1);
  }

  /** Whether the priority's pause holds every start now; if so, a pump is armed for its end (going quiet pumps too: onIdle). */
  #paused(): boolean {
    const left = this.#closed ? 0 : (this.#o.yieldTo?.pausedFor ?? 0);
    if (left > 0) {
      this.#pauseTimer ??= this.#timers.set(() => {
        this.#pauseTimer = undefined;
        this.#pump();
      }, left);
    }
    return left > 0;
  }

  #pump(): void {
    if (this.#paused()) return;
    if (this.#o.yieldTo?.busy) {
      // Yielding: runs start after the pending I/O (the priority work's requests) of this turn of
      // the event loop has been served, at most the reduced cap per turn.
      if (this.#deferred === undefined) {
        this.#deferred = setImmediate(() => {
          this.#deferred = undefined;
          this.#start();
        });
      }
      return;
    }
    this.#start();
  }

  #start(): void {
    while (this.#active < this.#cap && this.#head < this.#ready.length) {
      const e = this.#ready[this.#head++]!;
      e.ready = false;
      const item = e.items.shift();
      if (!item) continue;
      this.#active++;
      e.running = true;
      // #run settles every outcome itself (the task's own promise, or `failed`).
      void this.#run(e, item);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#head);
      this.#head = 0;
    }
    this.#settle();
  }

  async #run(e: Entry<W>, item: Item<W>): Promise<void> {
    let retryLater = false;
    try {
      if (item.kind === 'task') await item.task();
      else if (this.#o.run) await this.#o.run(e.key, item.work);
      e.failures = 0;
    } catch (error) {
      // Only `run` throws here: a task's outcome goes to its own promise.
      const delay = item.kind === 'work' ? this.#o.failed?.(e.key, item.work, error, ++e.failures) : undefined;
      if (item.kind === 'work' && delay !== undefined && !this.#closed) {
        const next = e.items[0];
        const merged = next?.kind === 'work' && this.#o.merge ? this.#o.merge(item.work, next.work) : undefined;
        if (next?.kind === 'work' && merged !== undefined) next.work = merged;
        else e.items.unshift(item);
        this.wake(e.key, this.#now() + delay);
        retryLater = true;
      }
    } finally {
      e.running = false;
      this.#active--;
      // After a failure, the key's work waits for its wake-up (or for new work to be added).
      if (!retryLater || this.#closed) this.#makeReady(e);
      this.#forget(e);
      this.#pump();
    }
  }

  #forget(e: Entry<W>): void {
    if (!e.running && !e.ready && e.items.length === 0 && e.timer === undefined) this.#entries.delete(e.key);
  }

  #settle(): void {
    if (this.#active === 0 && this.waiting === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
