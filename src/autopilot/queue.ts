// Which conversation the autopilot works next, in this process: the application's keyed queue
// (src/engine/keyed-queue.ts) keyed by conversation — one run at a time per conversation (events
// arriving meanwhile are merged into its next run), at most `concurrency` conversations at once,
// wake-ups for retries, and a backoff after a failed run. What a run does is the caller's; what
// this module adds is the autopilot's Work and how two of them merge.
import type { ThreadMessage } from './plan.js';
import { conversationKey } from '../engine/turn.js';
import { KeyedQueue, type Timers } from '../engine/keyed-queue.js';

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
  /**
   * The conversation was deleted in Crisp (`session:removed`): its run erases what the store keeps
   * of it, after any run in flight, and does nothing else (there is no thread left to read).
   */
  removed?: true;
}

/**
 * Hints one run carries at most, the newest kept: as many messages as a run reads of the thread
 * (turns.ts reads at most 10 pages of 20 back). A hint only stands in for a message the thread
 * does not show yet, which it does moments later; without a cap, the hints of a conversation whose
 * runs keep failing (retried with backoff, for as long as that lasts) would grow with every event.
 */
export const MAX_HINTS = 200;

/** Only deliver what the outbox holds. */
export const DELIVER_ONLY: Work = { reconcile: false, firstContact: false, hints: [], resolvedAt: undefined };

export interface QueuedConversation {
  readonly key: string;
  readonly website: string;
  readonly session: string;
}

export interface QueueOptions {
  concurrency: number;
  now: () => number;
  run: (c: QueuedConversation, work: Work) => Promise<void>;
  /** A run threw: the delay before trying its work again, or undefined to drop it. */
  failed: (c: QueuedConversation, work: Work, error: unknown, failures: number) => number | undefined;
  timers?: Timers;
}

export class ConversationQueue {
  readonly #queue: KeyedQueue<Work>;

  constructor(options: QueueOptions) {
    this.#queue = new KeyedQueue<Work>({
      concurrency: options.concurrency,
      now: options.now,
      ...(options.timers ? { timers: options.timers } : {}),
      merge,
      run: (key, work) => options.run(conversationOf(key), work),
      failed: (key, work, error, failures) => options.failed(conversationOf(key), work, error, failures),
    });
  }

  /** Adds `work` to the conversation's next run (deliver-only when absent) and queues it unless it runs or waits already. */
  schedule(website: string, session: string, work: Work = DELIVER_ONLY): void {
    this.#queue.add(conversationKey(website, session), work);
  }

  /** Works the conversation again at `at` (its outbox head is due then); an earlier wake-up wins. */
  wake(c: QueuedConversation, at: number): void {
    this.#queue.wake(c.key, at, DELIVER_ONLY);
  }

  /** Whether the conversation is being worked or waits for a worker. */
  busy(key: string): boolean {
    return this.#queue.busy(key);
  }

  /** Conversations being worked now, and waiting for a worker. */
  get pending(): { running: number; waiting: number } {
    return { running: this.#queue.running, waiting: this.#queue.waiting };
  }

  /** Resolves when no conversation is being worked or waiting for a worker (timers aside). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Takes no more work and drops the timers; runs in progress finish (see idle()). */
  close(): void {
    // close() resolves with idle(), which the autopilot awaits itself (with its own time limit).
    void this.#queue.close();
  }
}

/** The conversation of a queue key: `conversationKey` joins a website id (which holds no "/") and a session id. */
function conversationOf(key: string): QueuedConversation {
  const slash = key.indexOf('/');
  return { key, website: key.slice(0, slash), session: key.slice(slash + 1) };
}

function merge(a: Work, b: Work): Work {
  return {
    reconcile: a.reconcile || b.reconcile,
    firstContact: a.firstContact || b.firstContact,
    hints: a.hints.length + b.hints.length > MAX_HINTS ? [...a.hints, ...b.hints].slice(-MAX_HINTS) : [...a.hints, ...b.hints],
    resolvedAt: a.resolvedAt === undefined ? b.resolvedAt : b.resolvedAt === undefined ? a.resolvedAt : Math.max(a.resolvedAt, b.resolvedAt),
    ...(a.removed || b.removed ? { removed: true } : {}),
  };
}
