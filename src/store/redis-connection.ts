// The Redis store's connection (node-redis v5): connecting and logging in, claiming the key format,
// living through outages (a lost connection, or a server that stopped answering) so that calls fail
// with a clear StoreError within the grace instead of waiting forever, and running the Lua scripts.
// The store's operations (redis.ts) send their commands through it.
import { setMaxListeners } from 'node:events';
import { AbortError, createClient } from 'redis';
import type { RedisKeys } from './redis-keys.js';
import { CLAIM_FORMAT, type Script } from './redis-scripts.js';
import { StoreError } from './types.js';

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
type Report = Pick<RedisStoreOptions, 'onError' | 'onReconnected'>;

/**
 * The format these keys and the records in them are written in: 2 is the one-record-per-conversation
 * layout (engine/record.ts, v 2) with outbox once-keys, as SQLite's schema 2. A Redis an earlier
 * release wrote has no `format` key and is taken as it is (records are migrated on read). One written
 * by a later release (a higher number) is refused at connect, where an earlier release read such
 * records as unreadable and started the conversations again, silently; bump this when a later
 * release writes what this one would misread.
 */
const REDIS_FORMAT = 2;

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

export class RedisConnection {
  readonly where: string;
  readonly #client: RedisClient;
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
  readonly #report: Report;
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

  private constructor(client: RedisClient, where: string, offlineGraceMs: number, report: Report) {
    this.#client = client;
    this.#commands = client.withAbortSignal(this.#offline.signal);
    this.where = where;
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
   * Connects to `url` (redis:// or rediss://) and claims `keys`' format; fails with one line if the
   * server cannot be reached or refuses the login.
   */
  static async open(url: string, keys: RedisKeys, options: RedisStoreOptions = {}): Promise<RedisConnection> {
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
    await claimFormat(client, where, keys);
    return new RedisConnection(client, where, graceMs, options);
  }

  /** The client to send commands with: they fail once Redis has been unreachable for the grace. */
  get commands(): RedisClient {
    return this.#commands;
  }

  /** EVALSHA, loading the script with EVAL the first time the server has not seen it. */
  async run(s: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.#commands.evalSha(s.sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.#commands.eval(s.lua, { keys, arguments: args });
    }
  }

  /** Every key matching `pattern`, the whole keyspace scanned. */
  async scanAll(pattern: string): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const page = await this.#commands.scan(cursor, { MATCH: pattern, COUNT: 1000 });
      for (const key of page.keys) found.add(String(key));
      cursor = String(page.cursor);
    } while (cursor !== '0');
    return [...found];
  }

  close(): void {
    clearTimeout(this.#offlineTimer);
    clearInterval(this.#silenceCheck);
    // Not node-redis's close(): it waits for an answer to every command sent, and resolves only on
    // data from the server, so a Redis that is down, or dies while it waits, left it pending
    // forever (and the process with it). The store is closed once its users are done; a command
    // still queued fails at once instead, and a write already sent is applied by Redis anyway.
    if (this.#client.isOpen) this.#client.destroy();
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

/** Marks the keys as REDIS_FORMAT; refuses (and disconnects) when a later release has marked them with a higher one. */
async function claimFormat(client: RedisClient, where: string, keys: RedisKeys): Promise<void> {
  let found: number;
  try {
    found = Number(await client.eval(CLAIM_FORMAT.lua, { keys: [keys.format], arguments: [String(REDIS_FORMAT)] }));
  } catch (err) {
    client.destroy();
    throw new StoreError('store_unavailable', `cannot read the Redis store at ${where}: ${(err as Error).message}`, err);
  }
  if (found > REDIS_FORMAT) {
    client.destroy();
    throw new StoreError('store_misconfigured', `the Redis store at ${where} (keys ${keys.prefix}*) was written by a newer crisp-mcp (format ${found}, this one knows ${REDIS_FORMAT}): run that release or a later one`);
  }
}

/** Every rejection of `target`'s methods as a StoreError naming the store (never the URL's password). */
export function failingAsStoreErrors<T extends object>(store: T, connection: RedisConnection): T {
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
          const why = err instanceof AbortError ? `unreachable for more than ${connection.offlineGraceMs} ms` : err instanceof Error ? err.message : String(err);
          throw new StoreError('store_unavailable', `the Redis store at ${connection.where} failed: ${why}`, err);
        });
      };
    },
  });
}
