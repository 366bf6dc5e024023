// The shared store: several server replicas on one Redis. The Store's operations on positions,
// drafts, locks and outboxes: single-key steps use plain commands (SET NX PX for locks); the
// multi-key ones are Lua scripts (redis-scripts.ts), so they are atomic. The keys are named in
// redis-keys.ts; the connection, its outages and its errors are redis-connection.ts's, the erasure
// scans redis-erasure.ts's. The scripts touch several keys at once, so this store wants one Redis
// server (or a prefix with a {hash tag} on a cluster).
import { failingAsStoreErrors, RedisConnection, type RedisStoreOptions } from './redis-connection.js';
import { conversationsSavedBefore, forgetConversation } from './redis-erasure.js';
import { DEFAULT_REDIS_PREFIX, RedisKeys } from './redis-keys.js';
import { ACK, APPEND, EXTEND_LOCK, HEAD, PUT_DRAFT, RELEASE_LOCK, RETRY, SAVE } from './redis-scripts.js';
import {
  checkExpiry, checkLimit, checkTtl, checkVersion, newId, toJson,
  type AppendOptions, type AppendResult, type Draft, type DraftInput, type Forgotten, type IdlePosition, type ListPositionsOptions, type OutboxInput,
  type OutboxItem, type OutboxPendingOptions, type PendingConversation, type PositionPage, type SavedPosition, type SaveOptions,
  type SaveResult, type Store,
} from './types.js';

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly where: string;
  readonly #connection: RedisConnection;
  readonly #keys: RedisKeys;

  private constructor(connection: RedisConnection, keys: RedisKeys) {
    this.#connection = connection;
    this.where = connection.where;
    this.#keys = keys;
  }

  /** Connects to `url` (redis:// or rediss://); fails with one line if the server cannot be reached or refuses the login. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const keys = new RedisKeys(options.prefix ?? DEFAULT_REDIS_PREFIX);
    const connection = await RedisConnection.open(url, keys, options);
    return failingAsStoreErrors(new RedisStore(connection, keys), connection);
  }

  async getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined> {
    return positionOf<T>(await this.#commands.hmGet(this.#keys.position(conversation, scenario), ['v', 'd', 't']));
  }

  async savePosition(conversation: string, scenario: string, value: unknown, opts: SaveOptions): Promise<SaveResult> {
    checkVersion(opts.expectedVersion);
    const ttl = checkExpiry(opts);
    const json = toJson(value, 'position');
    const now = Date.now();
    const ids: string[] = [];
    const itemArgs: string[] = [];
    for (const item of opts.outbox ?? []) {
      const id = item.id ?? newId();
      ids.push(id);
      itemArgs.push(outboxItemJson(id, now, item.payload), String(item.notBefore ?? now));
    }
    const k = this.#keys;
    const reply = await this.#run(SAVE,
      [k.position(conversation, scenario), k.idle, k.outboxSeq, ...k.queue(conversation)],
      [String(opts.expectedVersion), json, String(now), k.idleMember(conversation, scenario), opts.trackIdle ? '1' : '0', conversation, String(ids.length), ...itemArgs, ...ackArgs(opts.ack, ttl !== undefined), ...(ttl === undefined ? [] : [String(ttl)])]) as number[];
    if (reply[0] !== 1) return { ok: false, current: Number(reply[1]) };
    return { ok: true, version: Number(reply[1]), outbox: ids.map((id, i) => ({ seq: Number(reply[i + 2]), id })) };
  }

  async listIdle(before: number, limit?: number): Promise<IdlePosition[]> {
    const rows = await this.#commands.zRangeByScoreWithScores(this.#keys.idle, '-inf', `(${before}`, { LIMIT: { offset: 0, count: checkLimit(limit) } });
    return rows.map(({ value, score }) => ({ ...this.#keys.fromIdleMember(String(value)), updatedAt: score }));
  }

  async listPositions<T = unknown>(scenario: string, opts: ListPositionsOptions = {}): Promise<PositionPage<T>> {
    const since = opts.since ?? -Infinity;
    const { cursor, keys } = await this.#commands.scan(opts.cursor ?? '0', { MATCH: this.#keys.positionsIn(scenario), COUNT: checkLimit(opts.limit) });
    const rows = await Promise.all(keys.map((key) => this.#commands.hmGet(key, ['v', 'd', 't'])));
    const positions: PositionPage<T>['positions'] = [];
    rows.forEach((row, i) => {
      const position = positionOf<T>(row);
      if (position === undefined || position.updatedAt < since) return;
      positions.push({ conversation: this.#keys.conversationOf(keys[i]!), ...position });
    });
    return { positions, cursor: String(cursor) === '0' ? undefined : String(cursor) };
  }

  async putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>> {
    const ttl = checkTtl(draft.ttlMs);
    const json = toJson(draft.value, 'draft');
    const id = draft.id ?? newId();
    const createdAt = Date.now();
    const record = { id, conversation: draft.conversation, createdAt, expiresAt: createdAt + ttl };
    const indexes = [this.#keys.allDrafts, ...(draft.conversation === undefined ? [] : [this.#keys.drafts(draft.conversation)])];
    await this.#run(PUT_DRAFT, [this.#keys.draft(id), ...indexes], [`${JSON.stringify(record).slice(0, -1)},"value":${json}}`, String(ttl), String(record.expiresAt), String(createdAt), id]);
    return { ...record, value: JSON.parse(json) as T };
  }

  async getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined> {
    const text = await this.#commands.get(this.#keys.draft(id));
    return text == null ? undefined : (JSON.parse(text) as Draft<T>);
  }

  async listDrafts(conversation?: string, limit?: number): Promise<Draft[]> {
    const now = Date.now();
    const ids = await this.#commands.zRangeByScore(this.#keys.drafts(conversation), `(${now}`, '+inf', { LIMIT: { offset: 0, count: checkLimit(limit) } });
    if (ids.length === 0) return [];
    const texts = await this.#commands.mGet(ids.map((id) => this.#keys.draft(id)));
    return texts
      .flatMap((text) => (text == null ? [] : [JSON.parse(text) as Draft]))
      .filter((d) => conversation === undefined || d.conversation === conversation);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const ttl = checkTtl(ttlMs);
    const token = newId();
    const ok = await this.#commands.set(this.#keys.lock(key), token, { condition: 'NX', expiration: { type: 'PX', value: ttl } });
    return ok === 'OK' ? token : undefined;
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    return Number(await this.#run(EXTEND_LOCK, [this.#keys.lock(key)], [token, String(ttl)])) === 1;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    return Number(await this.#run(RELEASE_LOCK, [this.#keys.lock(key)], [token])) === 1;
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts: AppendOptions = {}): Promise<AppendResult> {
    const id = item.id ?? newId();
    const now = Date.now();
    const json = outboxItemJson(id, now, item.payload);
    const once = opts.once;
    const reply = await this.#run(APPEND,
      [this.#keys.once(conversation, once?.key ?? ''), this.#keys.outboxSeq, ...this.#keys.queue(conversation)],
      [once ? '1' : '0', String(once ? checkTtl(once.ttlMs) : 0), json, String(item.notBefore ?? now), conversation, once?.digest === undefined ? '1' : `d:${once.digest}`]) as [number, number | string | null];
    if (reply[0] === 1) return { ok: true, seq: Number(reply[1]), id };
    // An earlier release's key holds '1': no digest to hand back.
    const kept = typeof reply[1] === 'string' && reply[1].startsWith('d:') ? reply[1].slice(2) : undefined;
    return { ok: false, duplicate: true, digest: kept };
  }

  async outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined> {
    const reply = await this.#run(HEAD, this.#keys.queue(conversation).slice(0, 2), []) as Array<string | null> | null;
    if (!reply) return undefined;
    const [seq, json, attempts, next, error] = reply;
    const item = JSON.parse(json ?? 'null') as { id: string; createdAt: number; payload: P };
    return {
      conversation, seq: Number(seq), id: item.id, payload: item.payload, createdAt: item.createdAt,
      attempts: Number(attempts ?? 0), nextAttemptAt: Number(next), lastError: error ?? undefined,
    };
  }

  async outboxPending(opts: OutboxPendingOptions = {}): Promise<PendingConversation[]> {
    const limit = checkLimit(opts.limit);
    const key = this.#keys.due;
    const dueBy = opts.dueBy ?? '+inf';
    const prefix = opts.prefix ?? '';
    if (!prefix) {
      const rows = await this.#commands.zRangeByScoreWithScores(key, '-inf', dueBy, { LIMIT: { offset: 0, count: limit } });
      return rows.map(({ value, score }) => ({ conversation: String(value), nextAttemptAt: score }));
    }
    // The due zset holds every user's conversations: page through it in due order, keeping the
    // matches, until there are `limit` of them or the range ends. Each page starts at the last score
    // read, past the members with that score already read (ties come in member order), so no page
    // walks the earlier ones again. Like any paged read, it is not one snapshot: an item acked or
    // retried meanwhile may be missed or seen twice, and the next poll sees it as it is.
    const page = Math.max(limit, 500);
    const found: PendingConversation[] = [];
    let min: number | '-inf' = '-inf';
    let skip = 0;
    for (;;) {
      const rows = await this.#commands.zRangeByScoreWithScores(key, min, dueBy, { LIMIT: { offset: skip, count: page } });
      for (const { value, score } of rows) {
        const conversation = String(value);
        if (conversation.startsWith(prefix) && found.push({ conversation, nextAttemptAt: score }) === limit) return found;
      }
      if (rows.length < page) return found;
      const last = rows[rows.length - 1]!.score;
      skip = (last === min ? skip : 0) + rows.filter((r) => r.score === last).length;
      min = last;
    }
  }

  async outboxAck(conversation: string, seq: number): Promise<boolean> {
    return Number(await this.#run(ACK, this.#keys.queue(conversation), [String(seq), conversation])) === 1;
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    const args = [String(seq), String(retry.nextAttemptAt), retry.error === undefined ? '0' : '1', retry.error ?? '', conversation];
    return Number(await this.#run(RETRY, this.#keys.queue(conversation), args)) === 1;
  }

  async forget(conversation: string): Promise<Forgotten> {
    return forgetConversation(this.#connection, this.#keys, conversation);
  }

  async conversationsSavedBefore(before: number): Promise<string[]> {
    return conversationsSavedBefore(this.#connection, this.#keys, before);
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  /** The client to send commands with (redis-connection.ts). */
  get #commands(): RedisConnection['commands'] {
    return this.#connection.commands;
  }

  #run(...call: Parameters<RedisConnection['run']>): Promise<unknown> {
    return this.#connection.run(...call);
  }
}

/** The SAVE script's arguments for the seqs a save acknowledges: none when there are none, unless an argument follows (`more`), which needs the count 0 before it. */
function ackArgs(ack: readonly number[] | undefined, more = false): string[] {
  return ack?.length ? [String(ack.length), ...ack.map(String)] : more ? ['0'] : [];
}

/** An outbox item as the SAVE and APPEND scripts store it. */
function outboxItemJson(id: string, createdAt: number, payload: unknown): string {
  return `{"id":${JSON.stringify(id)},"createdAt":${createdAt},"payload":${toJson(payload, 'outbox payload')}}`;
}

/** A position read back from its hash's v, d and t fields; undefined when it is gone. */
function positionOf<T>([v, d, t]: Array<string | null>): SavedPosition<T> | undefined {
  if (v == null || d == null) return undefined;
  return { value: JSON.parse(d) as T, version: Number(v), updatedAt: Number(t) };
}
