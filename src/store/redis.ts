// The shared store: several server replicas on one Redis (node-redis v5). Single-key steps use plain
// commands (SET NX PX for locks); the multi-key ones are Lua scripts (redis-scripts.ts),
// so they are atomic. All keys live under one prefix (default "crisp-mcp:"):
//
//   pos:{c}:{s}        hash  v (version), d (position JSON), t (updated at, ms); PX = its expireAfterMs, when saved with one
//   pos-idle           zset  "{c}:{s}" scored by updated at, for positions saved with trackIdle
//   draft:{id}         string draft JSON, PX = its time to live
//   drafts, drafts:{c} zset  draft ids scored by expiry (all, per conversation), PX = its last draft's
//   lock:{key}         string owner token, PX = ttl
//   outbox-seq         counter for item seqs (one sequence for the whole store)
//   outbox:{c}         zset  seqs of a conversation's pending items
//   outbox-items:{c}   hash  {seq} item JSON, {seq}:a attempts, {seq}:n next attempt, {seq}:e last error
//   outbox-due         zset  conversations with pending items, scored by their head's next attempt
//   once:{c}:{k}       string outboxAppend's once-key k of conversation c, PX = its ttl: "d:" + its digest, or "1"
//   format             string the layout of these keys and of the records they hold (REDIS_FORMAT), set when connecting
//
// {c} and {s} are the conversation key and scenario name with "%" and ":" escaped. The scripts touch
// several keys at once, so this store wants one Redis server (or a prefix with a {hash tag} on a cluster).
// forget() erases a conversation's pos, outbox, draft and once keys, and its members of the shared indexes.
import { setMaxListeners } from 'node:events';
import { AbortError, createClient } from 'redis';
import { ACK, APPEND, CLAIM_FORMAT, EXTEND_LOCK, FORGET, HEAD, PUT_DRAFT, RELEASE_LOCK, RETRY, SAVE, type Script } from './redis-scripts.js';
import {
  checkExpiry, checkLimit, checkTtl, checkVersion, newId, StoreError, toJson,
  type AppendOptions, type AppendResult, type Draft, type DraftInput, type Forgotten, type IdlePosition, type ListPositionsOptions, type OutboxInput,
  type OutboxItem, type OutboxPendingOptions, type PendingConversation, type PositionPage, type SavedPosition, type SaveOptions,
  type SaveResult, type Store,
} from './types.js';

export const DEFAULT_REDIS_PREFIX = 'crisp-mcp:';

export interface RedisStoreOptions {
  /** Prepended to every key; tests use a fresh one each. */
  prefix?: string;
  /**
   * Told of a connection error after the first connect: the first of each outage (node-redis
   * reconnects by itself, every 2 s at most, and each failed try is an error: one line per outage,
   * not one per try), and any error while connected.
   */
  onError?: (err: Error) => void;
  /** Told when Redis answers again after an outage: how long it was unreachable, and how many connection errors it saw meanwhile. */
  onReconnected?: (outage: RedisOutage) => void;
  /** How long Redis may stay unreachable before the calls waiting for it fail (default 5 s; tests shorten it). */
  offlineGraceMs?: number;
}

export interface RedisOutage {
  downMs: number;
  /** Connection errors during the outage, the first (the one onError was told) included. */
  errors: number;
}

type RedisClient = ReturnType<typeof createClient>;

/**
 * The format these keys and the records in them are written in: 2 is the one-record-per-conversation
 * layout (engine/record.ts, v 2) with outbox once-keys, as SQLite's schema 2. A Redis an earlier
 * release wrote has no `format` key and is taken as it is (records are migrated on read). One written
 * by a later release (a higher number) is refused at connect, where an earlier release read such
 * records as unreadable and started the conversations again, silently; bump this when a later
 * release writes what this one would misread.
 */
const REDIS_FORMAT = 2;

const escape = (part: string): string => part.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
/** Literal text in a SCAN MATCH pattern. */
const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');
const unescape = (part: string): string => part.replace(/%(25|3A)/g, (_m, hex: string) => (hex === '25' ? '%' : ':'));

/** `redis://host:port/db` for logs: no user name, no password, no query. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/**
 * How long Redis may stay unreachable before the calls waiting for it fail: a Redis that dies after
 * start makes calls fail with a clear StoreError within this, instead of queueing them forever,
 * while a reconnection within it loses no call.
 */
const OFFLINE_GRACE_MS = 5_000;

/** Redis's answers to AUTH (sent on connecting when the URL has a user name or password) that refuse it. */
const REFUSED_LOGIN = /^(WRONGPASS|NOAUTH|NOPERM|ERR AUTH)\b/;

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly where: string;
  readonly #client: RedisClient;
  readonly #p: string;
  /** How long Redis may stay unreachable before the calls waiting for it fail. */
  readonly offlineGraceMs: number;
  /**
   * Every command carries this controller's signal (one signal shared by all, not a timer per
   * command: node-redis's per-command timeout costs an AbortSignal.timeout, its timer and its
   * firing, more CPU than the rest of the command). It aborts once Redis has been unreachable for
   * the grace: the commands queued for the reconnection fail, and later ones fail at once until
   * Redis is back, when a fresh controller replaces it.
   */
  #offline = offlineController();
  /** The client with #offline's signal on every command. */
  #commands: RedisClient;
  #offlineTimer: NodeJS.Timeout | undefined;
  readonly #report: Pick<RedisStoreOptions, 'onError' | 'onReconnected'>;
  /** The outage under way: since when, and its connection errors so far. */
  #outage: { since: number; errors: number } | undefined;
  /**
   * When Redis last answered node-redis's PING (performance.now(): a wall-clock jump is no silence),
   * and the timer that checks it. The socket's own timeout does not see a server that stopped
   * answering while the store keeps writing to it: Node counts a write as activity, so a bot whose
   * sweeps and lock renewals write more often than the grace hung on a frozen Redis for good,
   * every call pending and nothing logged. The PINGs are sent one at a time, each after the last
   * answer: one unanswered for the grace is a silent server, whatever else is written.
   */
  #lastAnswerAt = performance.now();
  readonly #silenceCheck: NodeJS.Timeout;

  private constructor(client: RedisClient, where: string, prefix: string, offlineGraceMs: number, report: Pick<RedisStoreOptions, 'onError' | 'onReconnected'>) {
    this.#client = client;
    this.#commands = client.withAbortSignal(this.#offline.signal);
    this.where = where;
    this.#p = prefix;
    this.offlineGraceMs = offlineGraceMs;
    this.#report = report;
    client.on('error', (err: Error) => {
      this.#connectionError(err);
      this.#wentOffline();
    });
    client.on('reconnecting', () => this.#wentOffline());
    client.on('ready', () => this.#backOnline());
    client.on('ping-interval', () => {
      this.#lastAnswerAt = performance.now();
      // Redis answers again on the same connection: the silence is over.
      if (this.#offline.signal.aborted && client.isReady) this.#backOnline();
    });
    this.#silenceCheck = setInterval(() => this.#checkSilence(), pingIntervalOf(offlineGraceMs)).unref();
  }

  /**
   * A connected Redis that has not answered a PING for the grace (plus the wait before that PING)
   * is an outage like a lost connection: the calls waiting fail, the next ones fail at once, so
   * nothing more is written and the socket's timeout drops the connection for a reconnection.
   */
  #checkSilence(): void {
    const silentMs = performance.now() - this.#lastAnswerAt;
    if (!this.#client.isReady || this.#offline.signal.aborted || silentMs <= this.offlineGraceMs + pingIntervalOf(this.offlineGraceMs)) return;
    this.#outageError(new Error(`Redis has not answered for ${Math.round(silentMs)} ms`));
    this.#offline.abort();
  }

  /** Connects to `url` (redis:// or rediss://); fails with one line if the server cannot be reached or refuses the login. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const where = redactRedisUrl(url);
    const graceMs = options.offlineGraceMs ?? OFFLINE_GRACE_MS;
    let connected = false;
    let client: RedisClient;
    // Inside the try: node-redis parses the URL as it builds the client, and throws what it rejects.
    try {
      client = createClient({
        url,
        // A Redis that stops answering without closing the connection (frozen, a paused VM, a
        // partition without a reset) sends no error: silence for the grace drops the socket, so the
        // calls sent fail and the client reconnects; a PING keeps a healthy idle connection talking.
        pingInterval: pingIntervalOf(graceMs),
        socket: {
          socketTimeout: graceMs,
          connectTimeout: 5000,
          // Before the first connection: give up after 3 tries so start-up fails with a reason. After: back off, up to 2 s.
          reconnectStrategy: (retries, cause) => (connected ? Math.min(50 * 2 ** retries, 2000) : retries >= 3 ? cause : 100 * (retries + 1)),
        },
      });
      // Before the first connection its errors are start-up's (thrown below); after, the store reports them.
      client.on('error', () => undefined);
      await client.connect();
    } catch (err) {
      const why = (err as Error).message || String(err);
      // Redis answered, and said no: retrying with the same URL cannot help.
      if (REFUSED_LOGIN.test(why)) throw new StoreError('store_misconfigured', `the Redis store at ${where} refused the user name or password in the URL: ${why}`, err);
      throw new StoreError('store_unavailable', `cannot reach the Redis store at ${where}: ${why}`, err);
    }
    connected = true;
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    await claimFormat(client, where, prefix);
    return failingAsStoreErrors(new RedisStore(client, where, prefix, graceMs, options));
  }

  async getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined> {
    const [v, d, t] = await this.#commands.hmGet(this.#posKey(conversation, scenario), ['v', 'd', 't']);
    if (v == null || d == null) return undefined;
    return { value: JSON.parse(d) as T, version: Number(v), updatedAt: Number(t) };
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
      itemArgs.push(`{"id":${JSON.stringify(id)},"createdAt":${now},"payload":${toJson(item.payload, 'outbox payload')}}`, String(item.notBefore ?? now));
    }
    const c = escape(conversation);
    const reply = await this.#run(SAVE,
      [this.#posKey(conversation, scenario), `${this.#p}pos-idle`, `${this.#p}outbox-seq`, `${this.#p}outbox:${c}`, `${this.#p}outbox-items:${c}`, `${this.#p}outbox-due`],
      [String(opts.expectedVersion), json, String(now), `${c}:${escape(scenario)}`, opts.trackIdle ? '1' : '0', conversation, String(ids.length), ...itemArgs, ...ackArgs(opts.ack, ttl !== undefined), ...(ttl === undefined ? [] : [String(ttl)])]) as number[];
    if (reply[0] !== 1) return { ok: false, current: Number(reply[1]) };
    return { ok: true, version: Number(reply[1]), outbox: ids.map((id, i) => ({ seq: Number(reply[i + 2]), id })) };
  }

  async listIdle(before: number, limit?: number): Promise<IdlePosition[]> {
    const rows = await this.#commands.zRangeByScoreWithScores(`${this.#p}pos-idle`, '-inf', `(${before}`, { LIMIT: { offset: 0, count: checkLimit(limit) } });
    return rows.map(({ value, score }) => {
      const [c = '', s = ''] = String(value).split(':');
      return { conversation: unescape(c), scenario: unescape(s), updatedAt: score };
    });
  }

  async listPositions<T = unknown>(scenario: string, opts: ListPositionsOptions = {}): Promise<PositionPage<T>> {
    const since = opts.since ?? -Infinity;
    const head = `${this.#p}pos:`;
    const { cursor, keys } = await this.#commands.scan(opts.cursor ?? '0', { MATCH: `${globLiteral(head)}*:${globLiteral(escape(scenario))}`, COUNT: checkLimit(opts.limit) });
    const rows = await Promise.all(keys.map((key) => this.#commands.hmGet(key, ['v', 'd', 't'])));
    const positions: PositionPage<T>['positions'] = [];
    rows.forEach(([v, d, t], i) => {
      if (v == null || d == null || Number(t) < since) return;
      positions.push({ conversation: unescape(keys[i]!.slice(head.length).split(':')[0]!), value: JSON.parse(d) as T, version: Number(v), updatedAt: Number(t) });
    });
    return { positions, cursor: String(cursor) === '0' ? undefined : String(cursor) };
  }

  async putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>> {
    const ttl = checkTtl(draft.ttlMs);
    const json = toJson(draft.value, 'draft');
    const id = draft.id ?? newId();
    const createdAt = Date.now();
    const record = { id, conversation: draft.conversation, createdAt, expiresAt: createdAt + ttl };
    const indexes = [`${this.#p}drafts`, ...(draft.conversation === undefined ? [] : [`${this.#p}drafts:${escape(draft.conversation)}`])];
    await this.#run(PUT_DRAFT, [`${this.#p}draft:${id}`, ...indexes], [`${JSON.stringify(record).slice(0, -1)},"value":${json}}`, String(ttl), String(record.expiresAt), String(createdAt), id]);
    return { ...record, value: JSON.parse(json) as T };
  }

  async getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined> {
    const text = await this.#commands.get(`${this.#p}draft:${id}`);
    return text == null ? undefined : (JSON.parse(text) as Draft<T>);
  }

  async listDrafts(conversation?: string, limit?: number): Promise<Draft[]> {
    const key = conversation === undefined ? `${this.#p}drafts` : `${this.#p}drafts:${escape(conversation)}`;
    const now = Date.now();
    const ids = await this.#commands.zRangeByScore(key, `(${now}`, '+inf', { LIMIT: { offset: 0, count: checkLimit(limit) } });
    if (ids.length === 0) return [];
    const texts = await this.#commands.mGet(ids.map((id) => `${this.#p}draft:${id}`));
    return texts
      .flatMap((text) => (text == null ? [] : [JSON.parse(text) as Draft]))
      .filter((d) => conversation === undefined || d.conversation === conversation);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const ttl = checkTtl(ttlMs);
    const token = newId();
    const ok = await this.#commands.set(`${this.#p}lock:${key}`, token, { condition: 'NX', expiration: { type: 'PX', value: ttl } });
    return ok === 'OK' ? token : undefined;
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    return Number(await this.#run(EXTEND_LOCK, [`${this.#p}lock:${key}`], [token, String(ttl)])) === 1;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    return Number(await this.#run(RELEASE_LOCK, [`${this.#p}lock:${key}`], [token])) === 1;
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts: AppendOptions = {}): Promise<AppendResult> {
    const id = item.id ?? newId();
    const now = Date.now();
    const json = `{"id":${JSON.stringify(id)},"createdAt":${now},"payload":${toJson(item.payload, 'outbox payload')}}`;
    const once = opts.once;
    const c = escape(conversation);
    const [queue, items, due] = this.#queueKeys(conversation);
    const reply = await this.#run(APPEND,
      [`${this.#p}once:${c}:${escape(once?.key ?? '')}`, `${this.#p}outbox-seq`, queue, items, due],
      [once ? '1' : '0', String(once ? checkTtl(once.ttlMs) : 0), json, String(item.notBefore ?? now), conversation, once?.digest === undefined ? '1' : `d:${once.digest}`]) as [number, number | string | null];
    if (reply[0] === 1) return { ok: true, seq: Number(reply[1]), id };
    // An earlier release's key holds '1': no digest to hand back.
    const kept = typeof reply[1] === 'string' && reply[1].startsWith('d:') ? reply[1].slice(2) : undefined;
    return { ok: false, duplicate: true, digest: kept };
  }

  async outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined> {
    const reply = await this.#run(HEAD, this.#queueKeys(conversation).slice(0, 2), []) as Array<string | null> | null;
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
    const key = `${this.#p}outbox-due`;
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
    return Number(await this.#run(ACK, this.#queueKeys(conversation), [String(seq), conversation])) === 1;
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    const args = [String(seq), String(retry.nextAttemptAt), retry.error === undefined ? '0' : '1', retry.error ?? '', conversation];
    return Number(await this.#run(RETRY, this.#queueKeys(conversation), args)) === 1;
  }

  async forget(conversation: string): Promise<Forgotten> {
    const c = escape(conversation);
    // The escaped key holds no ":", so "pos:{c}:" starts this conversation's keys and no other's.
    const positionKeys = await this.#scanAll(`${globLiteral(`${this.#p}pos:${c}:`)}*`);
    const onceKeys = await this.#scanAll(`${globLiteral(`${this.#p}once:${c}:`)}*`);
    const idleMembers = positionKeys.map((key) => `${c}:${key.slice(`${this.#p}pos:${c}:`.length)}`);
    const [queue, items, due] = this.#queueKeys(conversation);
    const [positions, drafts, outboxItems, onces] = await this.#run(FORGET,
      [queue, items, due, `${this.#p}drafts`, `${this.#p}drafts:${c}`, `${this.#p}pos-idle`, ...positionKeys, ...onceKeys],
      [conversation, String(positionKeys.length), `${this.#p}draft:`, ...idleMembers]) as number[];
    return { positions: Number(positions), drafts: Number(drafts), outboxItems: Number(outboxItems), onceKeys: Number(onces) };
  }

  async conversationsSavedBefore(before: number): Promise<string[]> {
    const head = `${this.#p}pos:`;
    const keys = await this.#scanAll(`${globLiteral(head)}*`);
    const latest = new Map<string, number>();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const times = await Promise.all(batch.map((key) => this.#commands.hGet(key, 't')));
      batch.forEach((key, j) => {
        if (times[j] == null) return; // expired since the scan
        const conversation = unescape(key.slice(head.length).split(':')[0]!);
        latest.set(conversation, Math.max(latest.get(conversation) ?? -Infinity, Number(times[j])));
      });
    }
    return [...latest].filter(([, at]) => at < before).map(([conversation]) => conversation);
  }

  /** Every key matching `pattern`, the whole keyspace scanned. */
  async #scanAll(pattern: string): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const page = await this.#commands.scan(cursor, { MATCH: pattern, COUNT: 1000 });
      for (const key of page.keys) found.add(String(key));
      cursor = String(page.cursor);
    } while (cursor !== '0');
    return [...found];
  }

  #wentOffline(): void {
    // An error while still connected (a reply node-redis could not decode) is not an outage.
    if (this.#client.isReady || this.#offlineTimer || this.#offline.signal.aborted) return;
    this.#offlineTimer = setTimeout(() => {
      this.#offlineTimer = undefined;
      if (!this.#client.isReady) this.#offline.abort();
    }, this.offlineGraceMs).unref();
  }

  /** Any error while connected is told; one while down is an outage's (#outageError). */
  #connectionError(err: Error): void {
    if (this.#client.isReady) return this.#report.onError?.(err);
    this.#outageError(err);
  }

  /** The first error of an outage is told; the others are counted, and told with the reconnection. */
  #outageError(err: Error): void {
    if (this.#outage) {
      this.#outage.errors++;
      return;
    }
    this.#outage = { since: Date.now(), errors: 1 };
    this.#report.onError?.(err);
  }

  #backOnline(): void {
    this.#lastAnswerAt = performance.now();
    const outage = this.#outage;
    this.#outage = undefined;
    if (outage) this.#report.onReconnected?.({ downMs: Date.now() - outage.since, errors: outage.errors });
    clearTimeout(this.#offlineTimer);
    this.#offlineTimer = undefined;
    if (!this.#offline.signal.aborted) return;
    this.#offline = offlineController();
    this.#commands = this.#client.withAbortSignal(this.#offline.signal);
  }

  async close(): Promise<void> {
    clearTimeout(this.#offlineTimer);
    clearInterval(this.#silenceCheck);
    // Not node-redis's close(): it waits for an answer to every command sent, and resolves only on
    // data from the server, so a Redis that is down, or dies while it waits, left it pending
    // forever (and the process with it). The store is closed once its users are done; a command
    // still queued fails at once instead, and a write already sent is applied by Redis anyway.
    if (this.#client.isOpen) this.#client.destroy();
  }

  #posKey(conversation: string, scenario: string): string {
    return `${this.#p}pos:${escape(conversation)}:${escape(scenario)}`;
  }

  /** The conversation's queue zset, its items hash, and the due zset. */
  #queueKeys(conversation: string): [string, string, string] {
    const c = escape(conversation);
    return [`${this.#p}outbox:${c}`, `${this.#p}outbox-items:${c}`, `${this.#p}outbox-due`];
  }

  /** EVALSHA, loading the script with EVAL the first time the server has not seen it. */
  async #run(s: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.#commands.evalSha(s.sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.#commands.eval(s.lua, { keys, arguments: args });
    }
  }
}

/** How often node-redis PINGs an open connection: a third of the grace. */
function pingIntervalOf(graceMs: number): number {
  return Math.max(1, Math.floor(graceMs / 3));
}

/**
 * The controller of the signal every command carries. Each command waiting to be written holds a
 * listener on it, so more than ten at once (the autopilot saves many conversations concurrently)
 * is normal, not the leak Node's MaxListenersExceededWarning would report on stderr.
 */
function offlineController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** The SAVE script's arguments for the seqs a save acknowledges: none when there are none, unless an argument follows (`more`), which needs the count 0 before it. */
function ackArgs(ack: readonly number[] | undefined, more = false): string[] {
  return ack?.length ? [String(ack.length), ...ack.map(String)] : more ? ['0'] : [];
}

/** Marks the keys under `prefix` as REDIS_FORMAT; refuses (and disconnects) when a later release has marked them with a higher one. */
async function claimFormat(client: RedisClient, where: string, prefix: string): Promise<void> {
  let found: number;
  try {
    found = Number(await client.eval(CLAIM_FORMAT.lua, { keys: [`${prefix}format`], arguments: [String(REDIS_FORMAT)] }));
  } catch (err) {
    client.destroy();
    throw new StoreError('store_unavailable', `cannot read the Redis store at ${where}: ${(err as Error).message}`, err);
  }
  if (found > REDIS_FORMAT) {
    client.destroy();
    throw new StoreError('store_misconfigured', `the Redis store at ${where} (keys ${prefix}*) was written by a newer crisp-mcp (format ${found}, this one knows ${REDIS_FORMAT}): run that release or a later one`);
  }
}

/** Every rejection of the store's methods as a StoreError naming the store (never the URL's password). */
function failingAsStoreErrors(store: RedisStore): RedisStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          // Our own refusals of bad arguments stay as they are; everything else is the store failing.
          if (err instanceof StoreError || err instanceof TypeError || err instanceof RangeError) throw err;
          // The only signal the commands carry is the store's own, aborted once Redis has been unreachable for the grace.
          const why = err instanceof AbortError ? `unreachable for more than ${target.offlineGraceMs} ms` : err instanceof Error ? err.message : String(err);
          throw new StoreError('store_unavailable', `the Redis store at ${target.where} failed: ${why}`, err);
        });
      };
    },
  });
}
