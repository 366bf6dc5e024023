// Crisp's live events: their names and payloads as zod schemas — shared with the
// Web Hook receiver (hooks.ts), whose `data` is the same payload — and an RTM connection over
// Socket.IO: endpoint discovery, `authentication` with the events wanted, re-authentication on
// every reconnect, backoff, `socket:bind`. It knows nothing of MCP, scenarios or bots.
import { setTimeout as sleep } from 'node:timers/promises';
import type { io as Connect, Socket } from 'socket.io-client';
import { z } from 'zod';
import { CrispClient } from './client.js';
import { CrispError } from './errors.js';
import type { CrispCredentials } from './http.js';
import { ConversationState, Sender } from './vocabulary.js';
import { backoffDelay } from './retry.js';

// ---------------------------------------------------------------- event names and payloads

/** Every RTM event name (node-crisp-api `DEFAULT_RTM_EVENTS` + go-crisp-api's `widget:action:processed`). */
export const RTM_EVENTS = [
  'session:update_availability', 'session:update_verify', 'session:request:initiated', 'session:set_email',
  'session:set_phone', 'session:set_address', 'session:set_subject', 'session:set_avatar', 'session:set_nickname',
  'session:set_origin', 'session:set_data', 'session:sync:pages', 'session:sync:events', 'session:sync:capabilities',
  'session:sync:geolocation', 'session:sync:system', 'session:sync:network', 'session:sync:timezone',
  'session:sync:locales', 'session:sync:rating', 'session:sync:topic', 'session:set_state', 'session:set_block',
  'session:set_segments', 'session:set_opened', 'session:set_closed', 'session:set_participants',
  'session:set_mentions', 'session:set_routing', 'session:set_inbox', 'session:removed', 'session:error',
  'message:updated', 'message:send', 'message:received', 'message:removed', 'message:compose:send',
  'message:compose:receive', 'message:acknowledge:read:send', 'message:acknowledge:read:received',
  'message:acknowledge:unread:send', 'message:acknowledge:delivered', 'message:acknowledge:ignored',
  'message:notify:unread:send', 'message:notify:unread:received',
  'spam:message', 'spam:decision',
  'people:profile:created', 'people:profile:updated', 'people:profile:removed', 'people:bind:session',
  'people:sync:profile', 'people:import:progress', 'people:import:done',
  'campaign:progress', 'campaign:dispatched', 'campaign:running',
  'browsing:request:initiated', 'browsing:request:rejected', 'call:request:initiated', 'call:request:rejected',
  'identity:verify:request', 'widget:action:processed', 'status:health:changed',
  'website:update_visitors_count', 'website:update_operators_availability', 'website:users:available',
  'bucket:url:upload:generated', 'bucket:url:avatar:generated', 'bucket:url:website:generated',
  'bucket:url:campaign:generated', 'bucket:url:helpdesk:generated', 'bucket:url:status:generated',
  'bucket:url:processing:generated', 'media:animation:listed', 'email:subscribe', 'email:track:view',
  'plugin:channel', 'plugin:event', 'plugin:subscription:updated', 'plugin:settings:saved', 'plan:subscription:updated',
] as const;
export type RtmEventName = (typeof RTM_EVENTS)[number];
const EVENT_NAMES: ReadonlySet<string> = new Set(RTM_EVENTS);

export function isRtmEventName(name: string): name is RtmEventName {
  return EVENT_NAMES.has(name);
}

// Payload schemas keep fields they do not name (loose objects), so nothing Crisp adds is lost,
// and type only what a consumer relies on (node-crisp-api `Events.ts`).
const WebsiteScoped = z.looseObject({ website_id: z.string() });
const SessionScoped = z.looseObject({
  website_id: z.string(),
  session_id: z.string(),
  inbox_id: z.string().nullable().optional(),
  routing_ids: z.array(z.string()).optional(),
});
const EventUser = z.looseObject({
  type: z.string().optional(),
  user_id: z.string().optional(),
  nickname: z.string().optional(),
  avatar: z.string().nullable().optional(),
});

/** `message:send` (by the visitor, `from: "user"`) and `message:received` (by an operator or a bot). */
export const MessageEventData = SessionScoped.extend({
  type: z.string(),
  from: Sender,
  origin: z.string(),
  content: z.unknown(),
  fingerprint: z.number(),
  timestamp: z.number(),
  user: EventUser.optional(),
  mentions: z.array(z.string()).optional(),
  stamped: z.boolean().optional(),
  automated: z.boolean().optional(),
  edited: z.boolean().optional(),
  translated: z.boolean().optional(),
});
export type MessageEventData = z.infer<typeof MessageEventData>;

const ComposeEventData = SessionScoped.extend({
  type: z.enum(['start', 'stop']),
  excerpt: z.string().optional(),
  timestamp: z.number(),
  automated: z.boolean().optional(),
  user: EventUser.optional(),
});
const AcknowledgeEventData = SessionScoped.extend({ origin: z.string().optional(), fingerprints: z.array(z.number()) });
const PeopleEventData = WebsiteScoped.extend({ people_id: z.string(), email: z.string().optional() });
/** Events without a schema of their own: an object, with `website_id` when Crisp sends one. */
const GenericEventData = z.looseObject({ website_id: z.string().optional() });
export type GenericEventData = z.infer<typeof GenericEventData>;

const TYPED = {
  'message:send': MessageEventData,
  'message:received': MessageEventData,
  'message:updated': SessionScoped.extend({ fingerprint: z.number(), content: z.unknown() }),
  'message:removed': SessionScoped.extend({ fingerprint: z.number() }),
  'message:compose:send': ComposeEventData,
  'message:compose:receive': ComposeEventData,
  'message:acknowledge:read:send': AcknowledgeEventData,
  'message:acknowledge:read:received': AcknowledgeEventData,
  'message:acknowledge:unread:send': AcknowledgeEventData,
  'message:acknowledge:delivered': AcknowledgeEventData,
  'message:acknowledge:ignored': AcknowledgeEventData,
  'session:request:initiated': SessionScoped,
  'session:removed': SessionScoped,
  'session:set_state': SessionScoped.extend({ state: ConversationState }),
  // A routing (assignment) id, not `assigned.user_id` (NODE).
  'session:set_routing': SessionScoped.extend({ routing_id: z.string().nullable(), previous_routing_id: z.string().nullable().optional() }),
  'session:set_block': SessionScoped.extend({ is_blocked: z.boolean() }),
  'session:set_segments': SessionScoped.extend({ segments: z.array(z.string()) }),
  'session:set_data': SessionScoped.extend({ data: z.record(z.string(), z.unknown()) }),
  'people:profile:created': PeopleEventData,
  'people:profile:updated': PeopleEventData.extend({ update: z.unknown().optional() }),
  'people:profile:removed': PeopleEventData,
} satisfies Partial<Record<RtmEventName, z.ZodType>>;
type Typed = typeof TYPED;

export type RtmEventData<K extends RtmEventName> = K extends keyof Typed ? z.infer<Typed[K]> : GenericEventData;

/** One Crisp event, discriminated on its name: `if (e.event === 'message:send') e.data.fingerprint`. */
export type CrispEvent = { [K in RtmEventName]: { event: K; data: RtmEventData<K> } }[RtmEventName];

export type CrispEventErrorCode =
  | 'malformed_json' // a hook body that is not JSON
  | 'malformed_payload' // not `{event, data}` with an object `data`
  | 'unknown_event' // a name Crisp's libraries do not list
  | 'invalid_event'; // a known name whose payload lacks a field we rely on

/** An event that could not be read. Carries the event name, never the payload (it may hold visitor text). */
export class CrispEventError extends Error {
  override readonly name = 'CrispEventError';
  constructor(
    readonly code: CrispEventErrorCode,
    message: string,
    readonly event?: string,
  ) {
    super(message);
  }
}

/** Checks an event's payload against its schema; throws CrispEventError. */
export function parseCrispEvent(event: string, data: unknown): CrispEvent {
  if (!isRtmEventName(event)) throw new CrispEventError('unknown_event', `"${event.slice(0, 100)}" is not a Crisp event name`, event.slice(0, 100));
  const schema: z.ZodType = (TYPED as Partial<Record<RtmEventName, z.ZodType>>)[event] ?? GenericEventData;
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? `${issue.path.length ? `data.${issue.path.join('.')}` : 'data'}: ${issue.message}` : 'data';
    throw new CrispEventError('invalid_event', `the ${event} event is malformed (${where})`, event);
  }
  return { event, data: result.data } as CrispEvent;
}

// ---------------------------------------------------------------- the RTM connection

export type RtmState =
  | { status: 'discovering' }
  | { status: 'connecting'; endpoint: string; attempt: number }
  | { status: 'authenticated'; endpoint: string }
  | { status: 'disconnected'; reason: string }
  /** Given up for good: credentials refused, or discovery answered with a permanent error. */
  | { status: 'failed'; error: Error }
  | { status: 'closed' };

export interface RtmBackoff {
  /** First reconnect delay (NODE: 5 s). */
  delayMs?: number;
  /** Longest reconnect delay (NODE: 10 s). */
  maxDelayMs?: number;
  /** Jitter, 0–1 (NODE: 0.75). */
  randomization?: number;
}

export interface RtmOptions {
  /** Used for endpoint discovery. Without it, one is made from `baseUrl` + `credentials` and closed with the connection. */
  client?: CrispClient;
  /** Default `https://api.crisp.chat`; ignored when `client` is given. */
  baseUrl?: string;
  /** Sent in `authentication`; the same pair the REST client uses. */
  credentials: CrispCredentials;
  events: readonly RtmEventName[];
  /** Called in arrival order with each parsed event; a throw or rejection goes to `onError`. */
  onEvent: (event: CrispEvent) => void | Promise<void>;
  /**
   * Events the consumer can tell from their raw payload it has no use for — the autopilot's own
   * replies coming back — are dropped before their schema is checked: true drops the event.
   */
  skip?: (name: string, payload: unknown) => boolean;
  onState?: (state: RtmState) => void;
  /** A malformed event, or an `onEvent` failure. Default: a process warning. */
  onError?: (error: Error) => void;
  /** Aborting closes the connection. */
  signal?: AbortSignal;
  /** The socket URL, skipping discovery (NODE `setRtmHost`). */
  endpoint?: string;
  reconnect?: RtmBackoff;
  /** Time allowed to open the socket (NODE: 10 s). */
  connectTimeoutMs?: number;
  /** Time allowed for the answer to `authentication` before reconnecting. */
  authTimeoutMs?: number;
}

export interface RtmConnection {
  /** Resolves at the first `authenticated`; rejects if the connection fails or is closed before. */
  readonly ready: Promise<void>;
  readonly state: RtmState;
  /** Emits `socket:bind` so websites that installed the plugin since are bound (node #57/#58). */
  rebind(): void;
  close(): Promise<void>;
  /**
   * Resolves once the connection is closed for good — by close(), the signal, or a failure retrying
   * cannot fix: its socket is released, its timers are cleared and nothing of it will reconnect.
   */
  readonly closed: Promise<void>;
}

/** Connects to Crisp's RTM API and keeps the connection up until `close()` or the signal. */
export function connectRtm(options: RtmOptions): RtmConnection {
  return new Rtm(options);
}

/** Discovery errors that retrying will not fix. */
const PERMANENT = new Set(['crisp_unauthorized', 'crisp_forbidden', 'crisp_invalid', 'crisp_not_found', 'crisp_not_subscribed', 'crisp_bad_response']);

class Rtm implements RtmConnection {
  readonly ready: Promise<void>;
  #state: RtmState = { status: 'discovering' };
  readonly #options: RtmOptions;
  readonly #client: CrispClient;
  readonly #ownsClient: boolean;
  readonly #wanted: ReadonlySet<string>;
  readonly #backoff: Required<RtmBackoff>;
  readonly #abort = new AbortController();
  #socket: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  /** Server-side disconnects in a row without an authentication in between. */
  #kicks = 0;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
  readonly #onAbort = () => void this.close();

  constructor(options: RtmOptions) {
    if (options.events.length === 0) throw new TypeError('connectRtm needs at least one event name');
    for (const name of options.events) if (!isRtmEventName(name)) throw new TypeError(`"${name}" is not a Crisp RTM event name`);
    this.#options = options;
    this.#wanted = new Set(options.events);
    this.#backoff = { delayMs: 5_000, maxDelayMs: 10_000, randomization: 0.75, ...options.reconnect };
    this.#ownsClient = !options.client;
    this.#client = options.client ?? new CrispClient({ baseUrl: options.baseUrl, credentials: options.credentials });
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Marked handled: a caller that never awaits `ready` must not crash on its rejection.
    this.ready.catch(() => undefined);
    if (options.signal?.aborted) {
      this.#closeReporting();
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#set({ status: 'discovering' });
    this.#start().catch((error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))));
  }

  get state(): RtmState {
    return this.#state;
  }

  rebind(): void {
    if (this.#state.status === 'authenticated') this.#socket?.emit('socket:bind', {});
  }

  async close(): Promise<void> {
    if (this.#state.status === 'closed') return;
    const failed = this.#state.status === 'failed';
    this.#abort.abort();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    clearTimeout(this.#timer);
    clearTimeout(this.#authTimer);
    this.#socket?.removeAllListeners();
    this.#socket?.offAny();
    this.#socket?.disconnect();
    this.#socket = undefined;
    if (!failed) this.#set({ status: 'closed' });
    this.#rejectReady(new Error('the RTM connection was closed before it authenticated'));
    try {
      if (this.#ownsClient) await this.#client.close();
    } finally {
      this.#resolveClosed();
    }
  }

  get #closed(): boolean {
    return this.#abort.signal.aborted;
  }

  #set(state: RtmState): void {
    if (this.#state.status === 'closed') return;
    this.#state = state;
    try {
      this.#options.onState?.(state);
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #report(error: Error): void {
    if (this.#options.onError) this.#options.onError(error);
    else process.emitWarning(error.message, { type: error.name, code: 'CRISP_RTM' });
  }

  #fail(error: Error): void {
    this.#set({ status: 'failed', error });
    this.#rejectReady(error);
    this.#closeReporting();
  }

  /** close() from a callback that cannot await it: a failure (closing the owned HTTP pool) goes to onError. */
  #closeReporting(): void {
    this.close().catch((error: unknown) => this.#report(error instanceof Error ? error : new Error(String(error))));
  }

  #delay(attempt: number): number {
    return backoffDelay(attempt, { baseDelayMs: this.#backoff.delayMs, maxDelayMs: this.#backoff.maxDelayMs });
  }

  async #start(): Promise<void> {
    let url: URL;
    let io: typeof Connect;
    try {
      url = await this.#discover();
      // socket.io-client is loaded by the connection that uses it: importing this client (its
      // package index re-exports it) must not cost an MCP server's start-up (bench/startup).
      ({ io } = await import('socket.io-client'));
    } catch (error) {
      if (!this.#closed) this.#fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#closed) return;
    this.#open(url, io);
  }

  async #discover(): Promise<URL> {
    const toUrl = (app: string): URL => {
      try {
        return new URL(app);
      } catch {
        throw new TypeError(`the RTM endpoint is not an absolute URL: "${app.slice(0, 200)}"`);
      }
    };
    if (this.#options.endpoint) return toUrl(this.#options.endpoint);
    for (let attempt = 1; ; attempt++) {
      try {
        const endpoints = await this.#client.connect.endpoints({ signal: this.#abort.signal });
        return toUrl(endpoints.socket.app);
      } catch (error) {
        if (this.#closed || (error instanceof CrispError && PERMANENT.has(error.code)) || error instanceof TypeError) throw error;
        this.#set({ status: 'disconnected', reason: `endpoint discovery failed: ${error instanceof Error ? error.message : String(error)}` });
        await sleep(this.#delay(attempt), undefined, { signal: this.#abort.signal });
      }
    }
  }

  #open(url: URL, io: typeof Connect): void {
    const endpoint = url.href;
    // As node-crisp-api: the URL's origin, and its path as the Socket.IO path; WebSocket only.
    const socket = io(url.origin, {
      path: url.pathname || '/',
      transports: ['websocket'],
      forceNew: true,
      timeout: this.#options.connectTimeoutMs ?? 10_000,
      reconnection: true,
      reconnectionDelay: this.#backoff.delayMs,
      reconnectionDelayMax: this.#backoff.maxDelayMs,
      randomizationFactor: this.#backoff.randomization,
    });
    this.#socket = socket;
    this.#set({ status: 'connecting', endpoint, attempt: 1 });

    // `connect` fires on the first connection and on every reconnection: authenticate each time.
    socket.on('connect', () => {
      const { identifier, key, tier } = this.#options.credentials;
      socket.emit('authentication', { tier, username: identifier, password: key, events: [...this.#wanted] });
      clearTimeout(this.#authTimer);
      this.#authTimer = setTimeout(() => {
        // No answer: start over on a fresh connection.
        socket.disconnect();
        this.#reconnectLater('no answer to authentication');
      }, this.#options.authTimeoutMs ?? 10_000);
    });
    socket.on('authenticated', () => {
      clearTimeout(this.#authTimer);
      this.#kicks = 0;
      this.#set({ status: 'authenticated', endpoint });
      this.#resolveReady();
    });
    socket.on('unauthorized', (payload: unknown) => {
      clearTimeout(this.#authTimer);
      const message = typeof (payload as { message?: unknown })?.message === 'string' ? (payload as { message: string }).message : 'authentication refused';
      this.#fail(new CrispError({ code: 'crisp_unauthorized', message: `Crisp RTM refused the credentials: ${message}`, status: 401, reason: 'unauthorized' }));
    });
    socket.on('disconnect', (reason) => {
      clearTimeout(this.#authTimer);
      if (this.#closed) return;
      // socket.io-client reconnects by itself, except after a server-side or our own disconnect.
      if (reason === 'io server disconnect') this.#reconnectLater(reason);
      else if (reason !== 'io client disconnect') this.#set({ status: 'disconnected', reason });
    });
    socket.io.on('reconnect_attempt', (attempt) => this.#set({ status: 'connecting', endpoint, attempt: attempt + 1 }));
    socket.onAny((name: string, payload: unknown) => this.#dispatch(name, payload));
  }

  #reconnectLater(reason: string): void {
    if (this.#closed || !this.#socket) return;
    const socket = this.#socket;
    this.#kicks++;
    clearTimeout(this.#timer);
    this.#set({ status: 'disconnected', reason });
    this.#timer = setTimeout(() => {
      if (!this.#closed && socket.disconnected) socket.connect();
    }, this.#delay(this.#kicks));
  }

  #dispatch(name: string, payload: unknown): void {
    if (!this.#wanted.has(name) || this.#options.skip?.(name, payload)) return;
    let event: CrispEvent;
    try {
      event = parseCrispEvent(name, payload);
    } catch (error) {
      this.#report(error as Error);
      return;
    }
    try {
      const result = this.#options.onEvent(event);
      if (result instanceof Promise) result.catch((error: unknown) => this.#report(error instanceof Error ? error : new Error(String(error))));
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
