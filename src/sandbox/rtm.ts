// The sandbox's RTM endpoint: a Socket.IO v4 server on the sandbox's own HTTP
// server, at the path `GET /v1/{tier}/connect/endpoints` names (`<sandbox>/rtm`). A client
// connects over WebSocket, sends `authentication` {tier, username, password, events} and gets
// `authenticated` (true) or `unauthorized` ({message}); from then on it receives the events it
// listed, for the websites its token may see, exactly as SandboxState announces them.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Server as IoServer, Socket } from 'socket.io';
import { z } from 'zod';
import { findCredential, maySee, type SandboxCredential } from './routes/context.js';
import type { SandboxEvent, SandboxState } from './state.js';

/** The Socket.IO path; the endpoints answer is `<sandbox url>` + this. */
export const RTM_PATH = '/rtm';

export interface RtmServerOptions {
  /** How long a socket may stay connected without authenticating (a 10 s window is claimed, [U]). */
  authTimeoutMs?: number;
  /**
   * Load Socket.IO (engine.io, ws: most of the sandbox's code) and attach it when the first request
   * for the RTM path, or the first upgrade, reaches the HTTP server, not at start: for
   * `serve --sandbox`, which an MCP host waits on and which seldom gets an RTM client. That request
   * waits for it and is then handled as if Socket.IO had been attached all along.
   */
  attachOnFirstUse?: boolean;
}

export interface RtmStats {
  /** Sockets connected now. */
  connected: number;
  /** Sockets authenticated now. */
  authenticated: number;
  /** Successful `authentication` events since start (re-authentications included). */
  authentications: number;
  /** `unauthorized` answers since start. */
  refused: number;
  /** Events emitted to sockets since start. */
  emitted: number;
}

/** How the sandbox drops sockets, for tests: `transport` = the connection breaks (the client reconnects on its own); `server` = a server-side disconnect. */
export type RtmDropMode = 'transport' | 'server';

interface Subscription {
  credential: SandboxCredential;
  events: Set<string>;
  /** The websites bound at authentication or at the last `socket:bind` (node #57: new ones need a rebind). */
  websites: Set<string>;
}

const Authentication = z.looseObject({
  username: z.string().min(1),
  password: z.string().min(1),
  tier: z.string().optional(),
  events: z.array(z.string()).optional(),
});

const BindEvents = z.looseObject({ events: z.array(z.string()) });

export class SandboxRtm {
  #io: IoServer | undefined;
  #attaching: Promise<IoServer | undefined> | undefined;
  #closed = false;
  #stopIntercepting: (() => void) | undefined;
  readonly #server: HttpServer;
  readonly #state: SandboxState;
  readonly #credentials: readonly SandboxCredential[];
  readonly #authTimeoutMs: number;
  readonly #subscriptions = new Map<Socket, Subscription>();
  readonly #relay = (event: SandboxEvent) => this.#deliver(event);
  #stats = { authentications: 0, refused: 0, emitted: 0 };

  /** The RTM endpoint on `server`, attached before this resolves unless `attachOnFirstUse`. */
  static async start(server: HttpServer, state: SandboxState, credentials: readonly SandboxCredential[], options: RtmServerOptions = {}): Promise<SandboxRtm> {
    const rtm = new SandboxRtm(server, state, credentials, options);
    if (options.attachOnFirstUse) rtm.#attachOnFirstRequest();
    else await rtm.attach();
    return rtm;
  }

  private constructor(server: HttpServer, state: SandboxState, credentials: readonly SandboxCredential[], options: RtmServerOptions) {
    this.#server = server;
    this.#state = state;
    this.#credentials = credentials;
    this.#authTimeoutMs = options.authTimeoutMs ?? 10_000;
    state.on('event', this.#relay);
  }

  /** Loads Socket.IO and attaches it to the HTTP server (once; later calls wait for the first). */
  async attach(): Promise<void> {
    this.#attaching ??= this.#attachSocketIo();
    await this.#attaching;
  }

  async #attachSocketIo(): Promise<IoServer | undefined> {
    const { Server } = await import('socket.io');
    // The server's own request listeners back in place, for Socket.IO to wrap as it does at start.
    this.#stopIntercepting?.();
    if (this.#closed) return undefined;
    // WebSocket only, as Crisp; EIO3 accepted because go-crisp-api forces it.
    this.#io = new Server(this.#server, { path: RTM_PATH, transports: ['websocket'], allowEIO3: true, serveClient: false });
    this.#io.on('connection', (socket) => this.#accept(socket));
    return this.#io;
  }

  /**
   * Until Socket.IO is attached, takes the server's requests for the RTM path and every upgrade
   * (as Socket.IO would); the first one attaches it, then each is emitted again, to the listeners
   * Socket.IO has put in place. The sandbox's own requests pass straight through.
   */
  #attachOnFirstRequest(): void {
    const server = this.#server;
    const routes = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if ((req.url ?? '').startsWith(`${RTM_PATH}/`)) void this.#onceAttached(() => server.emit('request', req, res), () => res.destroy());
      else for (const route of routes) route.call(server, req, res);
    };
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.#onceAttached(() => server.emit('upgrade', req, socket, head), () => socket.destroy());
    };
    server.removeAllListeners('request').on('request', onRequest).on('upgrade', onUpgrade);
    this.#stopIntercepting = () => {
      server.off('request', onRequest).off('upgrade', onUpgrade);
      for (const route of routes) server.on('request', route);
    };
  }

  async #onceAttached(handOver: () => void, drop: () => void): Promise<void> {
    try {
      await this.attach();
      if (this.#io) return handOver();
    } catch (error) {
      console.error('sandbox: the RTM endpoint could not start', error);
    }
    drop();
  }

  stats(): RtmStats {
    return { connected: this.#io?.sockets.sockets.size ?? 0, authenticated: this.#subscriptions.size, ...this.#stats };
  }

  /** Drops every socket; returns how many. */
  drop(mode: RtmDropMode = 'transport'): number {
    const sockets = [...(this.#io?.sockets.sockets.values() ?? [])];
    for (const socket of sockets) {
      if (mode === 'server') socket.disconnect(true);
      else socket.conn.close();
    }
    return sockets.length;
  }

  /** Disconnects every socket and stops relaying. Leaves the HTTP server to its owner. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#state.off('event', this.#relay);
    this.#io?.disconnectSockets(true);
    this.#io?.engine.close();
    this.#subscriptions.clear();
  }

  #accept(socket: Socket): void {
    // The channel stays silent until authenticated, as Crisp's RTM quick start says; idle unauthenticated sockets are shed.
    const timer = setTimeout(() => {
      if (!this.#subscriptions.has(socket)) socket.disconnect(true);
    }, this.#authTimeoutMs);
    timer.unref();

    socket.on('authentication', (payload: unknown) => this.#authenticate(socket, payload));
    socket.on('socket:bind', (payload: unknown, ack?: unknown) => this.#bind(socket, payload, 'replace', ack));
    socket.on('socket:bind:push', (payload: unknown, ack?: unknown) => this.#bind(socket, payload, 'push', ack));
    socket.on('socket:bind:pop', (payload: unknown, ack?: unknown) => this.#bind(socket, payload, 'pop', ack));
    socket.on('disconnect', () => {
      clearTimeout(timer);
      this.#subscriptions.delete(socket);
    });
  }

  #authenticate(socket: Socket, payload: unknown): void {
    const parsed = Authentication.safeParse(payload);
    const refuse = (message: string) => {
      this.#stats.refused++;
      this.#subscriptions.delete(socket);
      socket.emit('unauthorized', { message });
      // Whether Crisp closes the socket after refusing is not documented; closing stops a retry loop ([I]).
      socket.disconnect(true);
    };
    if (!parsed.success) return refuse('authentication needs {username, password, tier, events}');
    const { username, password, events } = parsed.data;
    const credential = findCredential(this.#credentials, username, password);
    if (!credential) return refuse('the identifier and key pair is not valid');
    // Without a tier, node-crisp-api's default ("user") applies, as on REST.
    const tier = parsed.data.tier ?? 'user';
    if (tier !== credential.tier) return refuse(`the token belongs to the ${credential.tier} tier, not ${tier}`);
    this.#subscriptions.set(socket, { credential, events: new Set(events ?? []), websites: this.#visible(credential) });
    this.#stats.authentications++;
    socket.emit('authenticated', true);
  }

  /**
   * `socket:bind` re-reads the websites the token may see (NODE sends `{}`, GO `""` or
   * `{events}`); with an `events` list it also replaces the events. `socket:bind:push` / `:pop`
   * add / remove event names (GO). An acknowledgement callback, if given, gets the bound events.
   */
  #bind(socket: Socket, payload: unknown, mode: 'replace' | 'push' | 'pop', ack: unknown): void {
    const subscription = this.#subscriptions.get(socket);
    if (!subscription) return;
    const events = BindEvents.safeParse(payload);
    if (mode === 'replace') {
      subscription.websites = this.#visible(subscription.credential);
      if (events.success) subscription.events = new Set(events.data.events);
    } else if (events.success) {
      for (const name of events.data.events) {
        if (mode === 'push') subscription.events.add(name);
        else subscription.events.delete(name);
      }
    }
    if (typeof ack === 'function') (ack as (bound: unknown) => void)({ events: [...subscription.events] });
  }

  #visible(credential: SandboxCredential): Set<string> {
    return new Set([...this.#state.websites.keys()].filter((id) => maySee(credential, id)));
  }

  #deliver(event: SandboxEvent): void {
    for (const [socket, subscription] of this.#subscriptions) {
      if (!subscription.events.has(event.event) || !subscription.websites.has(event.website_id)) continue;
      socket.emit(event.event, event.data);
      this.#stats.emitted++;
    }
  }
}
