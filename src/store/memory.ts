// The in-process store, for tests and `--store memory`. Values are kept as JSON text, so a caller
// mutating what it saved or read changes nothing here, exactly as with the other stores. Every
// method body runs without awaiting, so each one is atomic. Two MemoryStores built on one
// MemoryBacking share their state, as two SQLite connections on one file do.
import {
  checkExpiry, checkLimit, checkTtl, checkVersion, newId, toJson,
  type AppendOptions, type AppendResult, type Draft, type DraftInput, type Forgotten, type IdlePosition, type ListPositionsOptions, type OutboxInput,
  type OutboxItem, type OutboxPendingOptions, type PendingConversation, type PositionPage, type SavedPosition, type SaveOptions,
  type SaveResult, type Store,
} from './types.js';

/** Expired locks, drafts, append keys and positions are dropped on every SWEEP_EVERY-th draft, lock, keyed append or expiring save written. */
const SWEEP_EVERY = 1000;

interface PositionRow { json: string; version: number; updatedAt: number; trackIdle: boolean; expiresAt: number | undefined }
interface DraftRow { conversation: string | undefined; json: string; createdAt: number; expiresAt: number }
interface OutboxRow { seq: number; id: string; json: string; createdAt: number; attempts: number; nextAttemptAt: number; lastError: string | undefined }

export class MemoryBacking {
  /** conversation → scenario → row */
  readonly positions = new Map<string, Map<string, PositionRow>>();
  readonly drafts = new Map<string, DraftRow>();
  readonly locks = new Map<string, { token: string; expiresAt: number }>();
  /** conversation → items in seq order; a conversation with no items has no entry. */
  readonly outbox = new Map<string, OutboxRow[]>();
  /** `outboxAppend`'s once-keys: conversation + "\0" + key → when it expires, and the digest it was given. */
  readonly appendKeys = new Map<string, { expiresAt: number; digest: string | undefined }>();
  seq = 0;
  /** Drafts, locks, keyed appends and expiring saves written since the expired ones were last swept. */
  writes = 0;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly where = 'memory';
  readonly #b: MemoryBacking;

  readonly #now: () => number;

  /** `now` is the clock expiries are read against (tests pass one they move). */
  constructor(backing: MemoryBacking = new MemoryBacking(), options: { now?: () => number } = {}) {
    this.#b = backing;
    this.#now = options.now ?? Date.now;
  }

  async getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined> {
    const row = this.#livePosition(conversation, scenario);
    return row && { value: JSON.parse(row.json) as T, version: row.version, updatedAt: row.updatedAt };
  }

  async savePosition(conversation: string, scenario: string, value: unknown, opts: SaveOptions): Promise<SaveResult> {
    checkVersion(opts.expectedVersion);
    const ttl = checkExpiry(opts);
    const json = toJson(value, 'position');
    const items = (opts.outbox ?? []).map((item) => ({ id: item.id ?? newId(), json: toJson(item.payload, 'outbox payload'), notBefore: item.notBefore }));
    const current = this.#livePosition(conversation, scenario)?.version ?? 0;
    if (current !== opts.expectedVersion) return { ok: false, current };
    const now = this.#now();
    if (ttl !== undefined) this.#wrote(now);
    const scenarios = this.#b.positions.get(conversation) ?? new Map<string, PositionRow>();
    scenarios.set(scenario, { json, version: current + 1, updatedAt: now, trackIdle: opts.trackIdle === true, expiresAt: ttl === undefined ? undefined : now + ttl });
    this.#b.positions.set(conversation, scenarios);
    if (opts.ack?.length) this.#removeItems(conversation, opts.ack);
    const queued: Array<{ seq: number; id: string }> = [];
    if (items.length > 0) {
      const queue = this.#b.outbox.get(conversation) ?? [];
      for (const item of items) {
        const seq = ++this.#b.seq;
        queue.push({ seq, id: item.id, json: item.json, createdAt: now, attempts: 0, nextAttemptAt: item.notBefore ?? now, lastError: undefined });
        queued.push({ seq, id: item.id });
      }
      this.#b.outbox.set(conversation, queue);
    }
    return { ok: true, version: current + 1, outbox: queued };
  }

  async listIdle(before: number, limit?: number): Promise<IdlePosition[]> {
    const max = checkLimit(limit);
    const idle: IdlePosition[] = [];
    for (const [conversation, scenarios] of this.#b.positions) {
      for (const [scenario, row] of scenarios) {
        if (row.trackIdle && row.updatedAt < before) idle.push({ conversation, scenario, updatedAt: row.updatedAt });
      }
    }
    return idle.sort((a, b) => a.updatedAt - b.updatedAt).slice(0, max);
  }

  async listPositions<T = unknown>(scenario: string, opts: ListPositionsOptions = {}): Promise<PositionPage<T>> {
    const max = checkLimit(opts.limit);
    const since = opts.since ?? -Infinity;
    const after = opts.cursor;
    const conversations = [...this.#b.positions.keys()].filter((c) => after === undefined || c > after).sort();
    const positions: PositionPage<T>['positions'] = [];
    for (const conversation of conversations) {
      const row = this.#livePosition(conversation, scenario);
      if (row && row.updatedAt >= since) positions.push({ conversation, value: JSON.parse(row.json) as T, version: row.version, updatedAt: row.updatedAt });
      if (positions.length === max) return { positions, cursor: conversation };
    }
    return { positions, cursor: undefined };
  }

  async putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>> {
    const ttl = checkTtl(draft.ttlMs);
    const json = toJson(draft.value, 'draft');
    const id = draft.id ?? newId();
    const createdAt = this.#now();
    this.#wrote(createdAt);
    this.#b.drafts.set(id, { conversation: draft.conversation, json, createdAt, expiresAt: createdAt + ttl });
    return { id, conversation: draft.conversation, value: JSON.parse(json) as T, createdAt, expiresAt: createdAt + ttl };
  }

  async getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined> {
    const row = this.#liveDraft(id);
    return row && draftOf<T>(id, row);
  }

  async listDrafts(conversation?: string, limit?: number): Promise<Draft[]> {
    const max = checkLimit(limit);
    const now = this.#now();
    const found: Draft[] = [];
    for (const [id, row] of this.#b.drafts) {
      if (row.expiresAt <= now) this.#b.drafts.delete(id);
      else if (conversation === undefined || row.conversation === conversation) found.push(draftOf(id, row));
    }
    return found.sort((a, b) => a.expiresAt - b.expiresAt).slice(0, max);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const ttl = checkTtl(ttlMs);
    const now = this.#now();
    const held = this.#b.locks.get(key);
    if (held && held.expiresAt > now) return undefined;
    this.#wrote(now);
    const token = newId();
    this.#b.locks.set(key, { token, expiresAt: now + ttl });
    return token;
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    const now = this.#now();
    const held = this.#b.locks.get(key);
    if (!held || held.token !== token || held.expiresAt <= now) return false;
    held.expiresAt = now + ttl;
    return true;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    const held = this.#b.locks.get(key);
    if (!held || held.token !== token || held.expiresAt <= this.#now()) return false;
    this.#b.locks.delete(key);
    return true;
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts: AppendOptions = {}): Promise<AppendResult> {
    const json = toJson(item.payload, 'outbox payload');
    const id = item.id ?? newId();
    const now = this.#now();
    if (opts.once) {
      const ttl = checkTtl(opts.once.ttlMs);
      const key = `${conversation}\0${opts.once.key}`;
      const kept = this.#b.appendKeys.get(key);
      if (kept !== undefined && kept.expiresAt > now) return { ok: false, duplicate: true, digest: kept.digest };
      this.#wrote(now);
      this.#b.appendKeys.set(key, { expiresAt: now + ttl, digest: opts.once.digest });
    }
    const seq = ++this.#b.seq;
    const queue = this.#b.outbox.get(conversation) ?? [];
    queue.push({ seq, id, json, createdAt: now, attempts: 0, nextAttemptAt: item.notBefore ?? now, lastError: undefined });
    this.#b.outbox.set(conversation, queue);
    return { ok: true, seq, id };
  }

  async outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined> {
    const row = this.#b.outbox.get(conversation)?.[0];
    return row && {
      conversation, seq: row.seq, id: row.id, payload: JSON.parse(row.json) as P, createdAt: row.createdAt,
      attempts: row.attempts, nextAttemptAt: row.nextAttemptAt, lastError: row.lastError,
    };
  }

  async outboxPending(opts: OutboxPendingOptions = {}): Promise<PendingConversation[]> {
    const max = checkLimit(opts.limit);
    const dueBy = opts.dueBy ?? Infinity;
    const prefix = opts.prefix ?? '';
    const pending: PendingConversation[] = [];
    for (const [conversation, queue] of this.#b.outbox) {
      const head = queue[0];
      if (head && head.nextAttemptAt <= dueBy && conversation.startsWith(prefix)) pending.push({ conversation, nextAttemptAt: head.nextAttemptAt });
    }
    return pending.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt).slice(0, max);
  }

  async outboxAck(conversation: string, seq: number): Promise<boolean> {
    return this.#removeItems(conversation, [seq]) > 0;
  }

  /** Removes the conversation's items with these seqs (an ack, or a save's `ack`); returns how many were there. */
  #removeItems(conversation: string, seqs: readonly number[]): number {
    const queue = this.#b.outbox.get(conversation);
    if (!queue) return 0;
    const left = queue.filter((row) => !seqs.includes(row.seq));
    if (left.length) this.#b.outbox.set(conversation, left);
    else this.#b.outbox.delete(conversation);
    return queue.length - left.length;
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    const row = this.#b.outbox.get(conversation)?.find((r) => r.seq === seq);
    if (!row) return false;
    row.attempts += 1;
    row.nextAttemptAt = retry.nextAttemptAt;
    row.lastError = retry.error;
    return true;
  }

  async forget(conversation: string): Promise<Forgotten> {
    const positions = this.#b.positions.get(conversation)?.size ?? 0;
    this.#b.positions.delete(conversation);
    let drafts = 0;
    for (const [id, row] of this.#b.drafts) if (row.conversation === conversation && this.#b.drafts.delete(id)) drafts++;
    const outboxItems = this.#b.outbox.get(conversation)?.length ?? 0;
    this.#b.outbox.delete(conversation);
    let onceKeys = 0;
    for (const key of this.#b.appendKeys.keys()) if (key.startsWith(`${conversation}\0`) && this.#b.appendKeys.delete(key)) onceKeys++;
    return { positions, drafts, outboxItems, onceKeys };
  }

  async conversationsSavedBefore(before: number): Promise<string[]> {
    return [...this.#b.positions].filter(([, scenarios]) => scenarios.size > 0 && [...scenarios.values()].every((row) => row.updatedAt < before)).map(([conversation]) => conversation);
  }

  async close(): Promise<void> {}

  #wrote(now: number): void {
    if (++this.#b.writes % SWEEP_EVERY === 0) this.#sweep(now);
  }

  #sweep(now: number): void {
    for (const [key, held] of this.#b.locks) if (held.expiresAt <= now) this.#b.locks.delete(key);
    for (const [id, row] of this.#b.drafts) if (row.expiresAt <= now) this.#b.drafts.delete(id);
    for (const [key, kept] of this.#b.appendKeys) if (kept.expiresAt <= now) this.#b.appendKeys.delete(key);
    for (const [conversation, scenarios] of this.#b.positions) {
      for (const [scenario, row] of scenarios) if (row.expiresAt !== undefined && row.expiresAt <= now) scenarios.delete(scenario);
      if (scenarios.size === 0) this.#b.positions.delete(conversation);
    }
  }

  /** The conversation's position in the scenario; one past its expiry is deleted, and undefined. */
  #livePosition(conversation: string, scenario: string): PositionRow | undefined {
    const scenarios = this.#b.positions.get(conversation);
    const row = scenarios?.get(scenario);
    if (row?.expiresAt === undefined || row.expiresAt > this.#now()) return row;
    scenarios!.delete(scenario);
    if (scenarios!.size === 0) this.#b.positions.delete(conversation);
    return undefined;
  }

  #liveDraft(id: string): DraftRow | undefined {
    const row = this.#b.drafts.get(id);
    if (row && row.expiresAt <= this.#now()) {
      this.#b.drafts.delete(id);
      return undefined;
    }
    return row;
  }
}

function draftOf<T>(id: string, row: DraftRow): Draft<T> {
  return { id, conversation: row.conversation, value: JSON.parse(row.json) as T, createdAt: row.createdAt, expiresAt: row.expiresAt };
}
