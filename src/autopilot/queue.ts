// Which conversation the autopilot works next, in this process: one run at a time per conversation
// (events arriving meanwhile are merged into its next run), at most `concurrency` conversations at
// once, timers for retries, and a backoff after a failed run. What a run does is the caller's.
import type { ThreadMessage } from './plan.js';
import { conversationKey } from '../engine/turn.js';

/** What a run of a conversation has to do: everything its events asked since its last run. */
export interface Work {
  /** Read the thread for new messages. */
  reconcile: boolean;
  /** The bot may start on this conversation if it never worked it. */
  firstContact: boolean;
  /** Messages live events announced (in case the thread does not show them yet). */
  hints: ThreadMessage[];
  /** The conversation was resolved at this time. */
  resolvedAt: number | undefined;
}

/** Only deliver what the outbox holds. */
export const DELIVER_ONLY: Work = { reconcile: false, firstContact: false, hints: [], resolvedAt: undefined };

export interface QueuedConversation {
  readonly key: string;
  readonly website: string;
  readonly session: string;
}

interface Entry extends QueuedConversation {
  work: Work | undefined;
  running: boolean;
  queued: boolean;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  failures: number;
}

export interface QueueOptions {
  concurrency: number;
  now: () => number;
  run: (c: QueuedConversation, work: Work) => Promise<void>;
  /** A run threw: the delay before trying its work again, or undefined to drop it. */
  failed: (c: QueuedConversation, work: Work, error: unknown, failures: number) => number | undefined;
}

export class ConversationQueue {
  readonly #o: QueueOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #ready: Entry[] = [];
  readonly #idle: Array<() => void> = [];
  #active = 0;
  #closed = false;

  constructor(options: QueueOptions) {
    this.#o = options;
  }

  /** Adds `work` to the conversation's next run (deliver-only when absent) and queues it unless it runs or waits already. */
  schedule(website: string, session: string, work: Work = DELIVER_ONLY): void {
    if (this.#closed) return;
    const key = conversationKey(website, session);
    let e = this.#entries.get(key);
    if (!e) {
      e = { key, website, session, work: undefined, running: false, queued: false, timer: undefined, timerAt: 0, failures: 0 };
      this.#entries.set(key, e);
    }
    e.work = merge(e.work, work);
    if (e.running || e.queued) return; // taken when its current run ends
    e.queued = true;
    this.#ready.push(e);
    this.#pump();
  }

  /** Works the conversation again at `at` (its outbox head is due then); an earlier wake-up wins. */
  wake(c: QueuedConversation, at: number): void {
    const e = this.#entries.get(c.key);
    if (this.#closed || !e || (e.timer && e.timerAt <= at)) return;
    clearTimeout(e.timer);
    e.timerAt = at;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.schedule(e.website, e.session);
    }, Math.max(0, at - this.#o.now()));
    e.timer.unref();
  }

  /** Whether the conversation is being worked or waits for a worker. */
  busy(key: string): boolean {
    const e = this.#entries.get(key);
    return !!e && (e.running || e.queued);
  }

  /** Resolves when no conversation is being worked or waiting for a worker (timers aside). */
  idle(): Promise<void> {
    if (this.#active === 0 && this.#ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Takes no more work and drops the timers; runs in progress finish (see idle()). */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) clearTimeout(e.timer);
    for (const e of this.#ready.splice(0)) e.queued = false;
    this.#settle();
  }

  #pump(): void {
    while (this.#active < this.#o.concurrency && this.#ready.length > 0) {
      const e = this.#ready.shift()!;
      e.queued = false;
      const work = e.work;
      e.work = undefined;
      if (!work) continue;
      this.#active++;
      e.running = true;
      // #run catches the work's failure and hands it to the `failed` option.
      void this.#run(e, work);
    }
    this.#settle();
  }

  async #run(e: Entry, work: Work): Promise<void> {
    try {
      await this.#o.run(e, work);
      e.failures = 0;
    } catch (error) {
      const delay = this.#o.failed(e, work, error, ++e.failures);
      if (delay !== undefined) {
        e.work = merge(work, e.work);
        this.wake(e, this.#o.now() + delay);
      }
    } finally {
      e.running = false;
      this.#active--;
      if (e.work && !e.queued && !e.timer && !this.#closed) {
        e.queued = true;
        this.#ready.push(e);
      }
      if (!e.work && !e.queued && !e.timer) this.#entries.delete(e.key);
      this.#pump();
    }
  }

  #settle(): void {
    if (this.#active === 0 && this.#ready.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}

function merge(a: Work | undefined, b: Work | undefined): Work | undefined {
  if (!a) return b;
  if (!b) return a;
  return {
    reconcile: a.reconcile || b.reconcile,
    firstContact: a.firstContact || b.firstContact,
    hints: [...a.hints, ...b.hints],
    resolvedAt: a.resolvedAt === undefined ? b.resolvedAt : b.resolvedAt === undefined ? a.resolvedAt : Math.max(a.resolvedAt, b.resolvedAt),
  };
}
