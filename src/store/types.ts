// The one interface every scenario/bot state store implements (memory, SQLite, Redis), and the
// few helpers they share. Values are opaque JSON to a store: it saves what it is given, verbatim,
// and never looks inside. Every method is async so that Redis fits the same shape.
import { randomFillSync } from 'node:crypto';

export type StoreKind = 'memory' | 'sqlite' | 'redis';

/** A conversation's saved position in one scenario, as the store returns it. */
export interface SavedPosition<T = unknown> {
  value: T;
  /** 1 after the first save, +1 per save, never reused while the position lasts. "No position" (none yet, or expired) is version 0. */
  version: number;
  /** When it was last saved (ms since the epoch, the store's writer clock). */
  updatedAt: number;
}

/** An item to append to a conversation's outbox together with a position save. */
export interface OutboxInput {
  /** Stable id for the receiver to dedupe on (a webhook `messageId`, a Crisp fingerprint); random when omitted. */
  id?: string;
  payload: unknown;
  /** Earliest delivery time (ms since the epoch); now when omitted. */
  notBefore?: number;
}

export interface SaveOptions {
  /** The version read before the turn (0 when there was none): the save happens only if it is still current. */
  expectedVersion: number;
  /** Items appended, in this order, to the conversation's outbox in the same atomic step as the save. */
  outbox?: readonly OutboxInput[];
  /** Seqs of the conversation's outbox items delivered since, removed (as `outboxAck` would) in the same atomic step, only if the save happens. */
  ack?: readonly number[];
  /** Report this position in `listIdle` until a later save without this flag (converse sessions). */
  trackIdle?: boolean;
  /**
   * Delete the position once this many ms pass with no later save (a later save without it keeps
   * the position for good): for a conversation that is over, whose record would otherwise stay
   * forever. Not with `trackIdle`. An expired position reads as none, and its next save is version 1.
   */
  expireAfterMs?: number;
}

export interface AppendOptions {
  /**
   * Append only if `key` was not appended to the same conversation within the last `ttlMs`;
   * otherwise nothing is written. The key is remembered by the store (across restarts, by every
   * instance on the same state) for `ttlMs`. `digest`, when given, is kept with the key and handed
   * back with a duplicate, so the caller can tell a retry of the same item from another item sent
   * under a key already used.
   */
  once?: { key: string; ttlMs: number; digest?: string };
}

export type AppendResult =
  | { ok: true; seq: number; id: string }
  /**
   * `once.key` was appended before, within its time to live: nothing was written. `digest` is the
   * one that append gave, if it gave one.
   */
  | { ok: false; duplicate: true; digest?: string };

/** A saved position, with the conversation it belongs to. */
export interface ListedPosition<T = unknown> extends SavedPosition<T> {
  conversation: string;
}

export interface PositionPage<T = unknown> {
  positions: Array<ListedPosition<T>>;
  /** Pass it back as `cursor` for the next page; undefined once there is none. A page may be empty while a cursor remains. */
  cursor: string | undefined;
}

export interface ListPositionsOptions {
  /** Only positions last saved at or after this time (ms since the epoch). */
  since?: number;
  /** Where the previous page ended. */
  cursor?: string;
  /** About this many per page (default 100; Redis takes it as a hint). */
  limit?: number;
}

export type SaveResult =
  | { ok: true; version: number; outbox: Array<{ seq: number; id: string }> }
  /** Someone else saved first (or the position is gone): nothing was written or enqueued. */
  | { ok: false; current: number };

export interface OutboxItem<P = unknown> {
  conversation: string;
  /** Increasing across the whole store, so increasing within a conversation: the delivery order. */
  seq: number;
  id: string;
  payload: P;
  createdAt: number;
  /** Failed attempts so far (`outboxRetry` calls). */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | undefined;
}

/** A conversation whose outbox is not empty, with when its head item is next due. */
export interface PendingConversation {
  conversation: string;
  nextAttemptAt: number;
}

export interface OutboxPendingOptions {
  /** Only conversations whose head is due at or before this time (ms since the epoch). */
  dueBy?: number;
  /** At most this many (default 100), counted after the other filters. */
  limit?: number;
  /** Only conversations whose key starts with this (e.g. `converse:`, `<website_id>/`). */
  prefix?: string;
}

export interface IdlePosition {
  conversation: string;
  scenario: string;
  updatedAt: number;
}

export interface DraftInput<T = unknown> {
  value: T;
  ttlMs: number;
  /** Random (128 bits from the CSPRNG, base64url) when omitted; an existing id is overwritten. */
  id?: string;
  conversation?: string;
}

export interface Draft<T = unknown> {
  id: string;
  conversation: string | undefined;
  value: T;
  createdAt: number;
  expiresAt: number;
}

export interface Store {
  readonly kind: StoreKind;
  /** Where the state lives, for logs: a file path, `redis://host:port/db` (never a password), or `memory`. */
  readonly where: string;

  // Positions: conversation × scenario → JSON, compare-and-set on `version`.
  getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined>;
  /** Saves `value` if the version is still `expectedVersion`, and appends `outbox` items, atomically. */
  savePosition(conversation: string, scenario: string, value: unknown, opts: SaveOptions): Promise<SaveResult>;
  /** Positions saved with `trackIdle` whose last save is older than `before`, oldest first. */
  listIdle(before: number, limit?: number): Promise<IdlePosition[]>;
  /** Every saved position of one scenario (of any conversation), a page at a time, in no set order: for migrations, not for hot paths. */
  listPositions<T = unknown>(scenario: string, opts?: ListPositionsOptions): Promise<PositionPage<T>>;

  // Drafts: id → JSON with a time to live.
  putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>>;
  getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined>;
  /** Live drafts, soonest to expire first; only one conversation's when given. */
  listDrafts(conversation?: string, limit?: number): Promise<Draft[]>;

  // Locks: one owner at a time; an expired lock can be taken over.
  /** An owner token, or undefined when someone else holds a live lock. See `withLock`. */
  acquireLock(key: string, ttlMs: number): Promise<string | undefined>;
  /** Pushes the expiry to now + ttlMs if `token` still owns the lock. */
  extendLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock if `token` still owns it. */
  releaseLock(key: string, token: string): Promise<boolean>;

  // Outbox: per-conversation ordered queue, filled by `savePosition`.
  /**
   * Appends one item to a conversation's outbox, with no position save: unless `once.key` was
   * appended there within its time to live (then nothing is written). The check, the key and the
   * item are written atomically; appends made one after another get increasing seqs.
   */
  outboxAppend(conversation: string, item: OutboxInput, opts?: AppendOptions): Promise<AppendResult>;
  outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined>;
  /**
   * Conversations with undelivered items, head due soonest first, at most `limit` (default 100);
   * only those due by `dueBy` when given, and only those whose key starts with `prefix` when given
   * (the limit applies after that filter, so one user of the outbox cannot starve another; an empty
   * prefix filters nothing).
   */
  outboxPending(opts?: OutboxPendingOptions): Promise<PendingConversation[]>;
  /** Removes a delivered item; false if it was not there. */
  outboxAck(conversation: string, seq: number): Promise<boolean>;
  /** Counts a failed attempt and sets when to try again; false if the item is not there. */
  outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean>;

  /**
   * Erases what is kept under one conversation key — its positions (every scenario), drafts, outbox
   * items and once-keys — at once, whatever their time to live: a visitor's right to erasure
   * (`crisp-mcp store forget`). Locks hold no visitor data and go by their own expiry. A process
   * working the conversation meanwhile finds its position gone at its next save (a conflict) and
   * reads the conversation afresh.
   */
  forget(conversation: string): Promise<Forgotten>;
  /** Conversations whose every position was last saved before `before` (ms since the epoch), in no set order: for a retention period (`store forget --idle-for`), not for hot paths. */
  conversationsSavedBefore(before: number): Promise<string[]>;

  close(): Promise<void>;
}

/** How many of each kind `forget` erased. */
export interface Forgotten {
  positions: number;
  drafts: number;
  outboxItems: number;
  onceKeys: number;
}

export type StoreErrorCode =
  | 'store_bad_spec' // --store / CRISP_MCP_STORE is not one of the accepted forms
  | 'store_unavailable' // the file cannot be opened, or Redis cannot be reached
  | 'store_misconfigured' // cannot work as installed or configured, whatever the retries: an operator must act (the message says what)
  | 'store_lock_busy' // withLock waited its whole waitMs
  | 'store_lock_lost'; // withLock could not extend its lock (expired and taken, or the store failed)

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/**
 * A failure of the store as a StoreError: ours as it is, or the SQLite file's own (busy past its
 * timeout, disk full, I/O), which the SQLite store passes on as better-sqlite3 raises them;
 * undefined for anything else.
 */
export function asStoreError(error: unknown): StoreError | undefined {
  if (error instanceof StoreError) return error;
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? new StoreError('store_unavailable', `the SQLite store failed (${code})`, error) : undefined;
}

export const DEFAULT_LIST_LIMIT = 100;

/** Random bytes drawn from the CSPRNG 4 KiB at a time: one call per id cost more than the write it names. */
const ID_POOL = Buffer.alloc(4096);
let idPoolUsed = ID_POOL.length;

/** 128 bits from the CSPRNG, URL-safe (ids end up in `crisp://drafts/{id}`). */
export function newId(): string {
  if (idPoolUsed + 16 > ID_POOL.length) {
    randomFillSync(ID_POOL);
    idPoolUsed = 0;
  }
  const id = ID_POOL.toString('base64url', idPoolUsed, idPoolUsed + 16);
  idPoolUsed += 16;
  return id;
}

export function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} must be JSON-serialisable, got ${typeof value}`);
  return text;
}

export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** The time to live of a save (undefined: none), checked against its other options. */
export function checkExpiry(opts: SaveOptions): number | undefined {
  if (opts.expireAfterMs === undefined) return undefined;
  if (opts.trackIdle) throw new RangeError('expireAfterMs and trackIdle cannot be given together: a position tracked as idle is one that goes on');
  if (!Number.isFinite(opts.expireAfterMs) || opts.expireAfterMs <= 0) throw new RangeError(`expireAfterMs must be a positive number of milliseconds, got ${opts.expireAfterMs}`);
  return Math.ceil(opts.expireAfterMs);
}

export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`expectedVersion must be a whole number ≥ 0, got ${version}`);
}

export function checkLimit(limit: number | undefined): number {
  const n = limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`limit must be a whole number ≥ 1, got ${limit}`);
  return n;
}
