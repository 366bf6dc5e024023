// The converse API's inbox: each conversation's accepted events, an outbox queue of the store under
// `converse-in:<id>`, appended to and deduped on the messageId by ONE atomic outboxAppend (the
// previous release's messageIds too, legacy-inbox.ts); and who waits here for the outcome of each
// item accepted here, until the drain settles it or finds another process ran it.
import { eventDigest, type ConverseEvent } from './input.js';
import type { Store } from '../store/index.js';
import { DEDUPE_TTL_MS, inboxKey } from './keys.js';
import { legacyDuplicate, loadLegacySeen, type LegacySeen } from './legacy-inbox.js';

export type HandleOutcome =
  | { status: 'saved'; version: number; replies: number }
  | { status: 'duplicate' }
  /** Its messageId was accepted before for a different event: not run. */
  | { status: 'conflict' }
  | { status: 'nothing' }
  /** Run by another process on the same store (what it did is that process's). */
  | { status: 'elsewhere' };

/** What an inbox item carries. */
export interface InboxPayload {
  event: ConverseEvent;
}

export type Enqueued = { status: 'queued'; seq: number } | { status: 'duplicate' } | { status: 'conflict' };

export interface InboxOptions {
  store: Store;
  /** The service's clock: an item is due from its append on it, and the previous release's messageIds are remembered on it. */
  now: () => number;
  /** An item was appended: its conversation's inbox is to be drained. */
  queued: (conversationId: string) => void;
}

export class ConverseInbox {
  readonly #o: InboxOptions;
  /** Inbox items accepted here and not yet run: `<id>\0<seq>` → who waits for the outcome. */
  readonly #pending = new Map<string, Array<(outcome: HandleOutcome | Error) => void>>();
  /** Per conversation, the seqs of its items in #pending, lowest first. */
  readonly #pendingHere = new Map<string, number[]>();
  /** The previous release's messageIds: read at the first append (loading until then). */
  #legacy: LegacySeen | Promise<LegacySeen> | undefined;
  /** Appends in flight, and who waits for there to be none (close). */
  #appending = 0;
  readonly #appendsDone: Array<() => void> = [];

  constructor(options: InboxOptions) {
    this.#o = options;
  }

  /** Events being appended, or appended here and not yet run. */
  get queued(): number {
    return this.#appending + this.#pending.size;
  }

  /** Resolves once no append is in flight. */
  async appended(): Promise<void> {
    if (this.#appending > 0) await new Promise<void>((resolve) => this.#appendsDone.push(resolve));
  }

  /** Appends the event to its conversation's inbox (after the ones accepted before it here), unless its messageId was seen; then kicks the drain. */
  async enqueue(event: ConverseEvent, waiter?: (outcome: HandleOutcome | Error) => void): Promise<Enqueued> {
    this.#appending++;
    try {
      const result = await this.#append(event);
      if (result.status === 'queued') {
        this.#pending.set(this.#itemKey(event.conversationId, result.seq), waiter ? [waiter] : []);
        const seqs = this.#pendingHere.get(event.conversationId);
        if (!seqs) this.#pendingHere.set(event.conversationId, [result.seq]);
        else if (seqs.push(result.seq) > 1 && seqs.at(-2)! > result.seq) seqs.sort((a, b) => a - b);
        this.#o.queued(event.conversationId);
      }
      return result;
    } finally {
      if (--this.#appending === 0) for (const done of this.#appendsDone.splice(0)) done();
    }
  }

  /**
   * One outboxAppend: the inbox item, deduped on the messageId by the store in the same atomic
   * write. The store orders appends as they are called, and this calls it without awaiting anything
   * first (but the one read of the previous release's records, which every append waits for alike),
   * so a conversation's events are appended in the order they were accepted here.
   */
  async #append(event: ConverseEvent): Promise<Enqueued> {
    let legacy = (this.#legacy ??= this.#loadLegacy());
    if (legacy instanceof Promise) legacy = await legacy;
    const { conversationId, messageId } = event;
    const now = this.#o.now();
    if (legacyDuplicate(legacy, conversationId, messageId, now)) return { status: 'duplicate' };
    const payload: InboxPayload = { event };
    const once = messageId === undefined ? undefined : { key: messageId, ttlMs: DEDUPE_TTL_MS, digest: eventDigest(event) };
    const appended = await this.#o.store.outboxAppend(inboxKey(conversationId), { payload, notBefore: now }, once ? { once } : {});
    if (appended.ok) return { status: 'queued', seq: appended.seq };
    // No digest kept (an earlier release's key): taken for the same event, as that release did.
    return appended.digest === undefined || appended.digest === once?.digest ? { status: 'duplicate' } : { status: 'conflict' };
  }

  /** Reads the previous release's messageIds once; a failed read is tried again by the next append. */
  #loadLegacy(): Promise<LegacySeen> {
    return loadLegacySeen(this.#o.store, this.#o.now()).then(
      (legacy) => (this.#legacy = legacy),
      (err: unknown) => {
        this.#legacy = undefined;
        throw err;
      },
    );
  }

  #itemKey(conversationId: string, seq: number): string {
    return `${conversationId}\0${seq}`;
  }

  /**
   * Tells who waits for the conversation's item `seq` its outcome. True when that item was accepted here and was
   * the last of its conversation's accepted here: the drain stops without reading the inbox again
   * (an item appended meanwhile kicks a drain of its own; one left by a crash or another process
   * comes with the next resume()). An item not accepted here (resumed) lets the drain read on.
   */
  settle(conversationId: string, seq: number, outcome: HandleOutcome | Error): boolean {
    const key = this.#itemKey(conversationId, seq);
    const waiters = this.#pending.get(key);
    if (!waiters) return false;
    this.#pending.delete(key);
    for (const waiter of waiters) waiter(outcome);
    const seqs = this.#pendingHere.get(conversationId) ?? [];
    const at = seqs.indexOf(seq);
    if (at >= 0) seqs.splice(at, 1);
    if (seqs.length > 0) return false;
    this.#pendingHere.delete(conversationId);
    return true;
  }

  /**
   * Settles the items accepted here below the inbox's head seq (every one, when it is empty): seqs
   * only grow within an inbox, so those have left it, run and acked by another process.
   */
  ranElsewhere(conversationId: string, head: number | undefined): void {
    const seqs = this.#pendingHere.get(conversationId);
    if (!seqs || (head !== undefined && seqs[0]! >= head)) return;
    for (const seq of head === undefined ? [...seqs] : seqs.filter((seq) => seq < head)) this.settle(conversationId, seq, { status: 'elsewhere' });
  }
}
