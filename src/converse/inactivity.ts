// The converse API's inactivity timeout: a session with no event for the idle time ends, with an
// `end` reply (reason inactivity), each in its conversation's order with its events.
import type { Logger } from '../log.js';
import { StoreError, withLock, type Store } from '../store/index.js';
import { CONVERSE_PREFIX, lockKey } from './keys.js';
import { ENDED_SESSION_RETENTION_MS, readSession, withSession } from './session-record.js';
import { ended, inactivityEnd } from './turn.js';

export interface InactivityOptions {
  store: Store;
  /** A session with no event for this long ends. */
  idleMs: number;
  /** The clock a session is judged idle on and its ending stamped with. */
  now: () => number;
  log?: Logger;
  /** Called after a save that queued the `end` reply (the deliverer's `kick`). */
  onReplies?: (conversationKey: string) => void;
  /** Runs a conversation's time-out in its order with its events (the service's keyed queue). */
  submit: (conversationId: string, task: () => Promise<boolean>) => Promise<boolean>;
  /** Whether the service is closing: the sweep stops after the batch it is at. */
  closed: () => boolean;
}

export class InactivitySweep {
  readonly #o: InactivityOptions;
  #sweeping: Promise<number> | undefined;

  constructor(options: InactivityOptions) {
    this.#o = options;
  }

  /** Ends every session idle since before now − idle time; how many. A sweep asked for while one runs is that one. */
  run(): Promise<number> {
    this.#sweeping ??= this.#sweepAll().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Resolves once the sweep running (if any) is over, however it ended. */
  async settled(): Promise<void> {
    await this.#sweeping?.catch(() => undefined);
  }

  async #sweepAll(): Promise<number> {
    const { store } = this.#o;
    let count = 0;
    for (;;) {
      const before = this.#o.now() - this.#o.idleMs; // against the store's save stamps: the same clock (ConverseOptions.now)
      const idle = (await store.listIdle(before, 100)).filter((p) => p.conversation.startsWith(CONVERSE_PREFIX));
      const done = await Promise.all(idle.map((p) => this.#o.submit(p.conversation.slice(CONVERSE_PREFIX.length), () => this.#timeOut(p.conversation, p.scenario, before))));
      count += done.filter(Boolean).length;
      if (idle.length < 100 || this.#o.closed() || !done.some(Boolean)) return count;
    }
  }

  /** Ends one idle session, unless an event came meanwhile. True when it ended it. */
  async #timeOut(key: string, scenario: string, before: number): Promise<boolean> {
    const { store } = this.#o;
    const id = key.slice(CONVERSE_PREFIX.length);
    try {
      return await withLock(store, lockKey(id), async () => {
        const found = await store.getPosition(key, scenario);
        if (!found || found.updatedAt >= before) return false;
        const prior = readSession(found.value, id, this.#o.log);
        const session = prior.session;
        const now = this.#o.now();
        const replies = session?.status === 'active' ? [inactivityEnd(session, scenario, found.version + 1, now)] : [];
        const value = session ? withSession(prior.record, session.status === 'active' ? ended(session, 'inactivity', now) : session, prior.inboxSeq) : found.value;
        const saved = await store.savePosition(key, scenario, value, { expectedVersion: found.version, outbox: replies.map((r) => ({ id: r.messageId, payload: r })), expireAfterMs: ENDED_SESSION_RETENTION_MS });
        if (saved.ok && replies.length > 0) this.#o.onReplies?.(key);
        return saved.ok && replies.length > 0;
      }, { waitMs: 0 });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'store_lock_busy') return false; // an event is running: not idle
      throw err;
    }
  }
}
