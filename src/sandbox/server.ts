// The sandbox: a real HTTP server that answers Crisp's REST routes in Crisp's wire format, over
// an in-memory inbox seeded with demo data, with a visitor side and seeded fault injection.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { FaultInjector, type FaultSpec } from './faults.js';
import type { HookOptions, SandboxHooks } from './hooks.js';
import { sendEnvelope } from './http.js';
import { createRequestHandler, type RequestHandler, type SandboxStats } from './requests.js';
import type { SandboxCredential } from './routes/context.js';
import { SandboxRtm, type RtmServerOptions } from './rtm.js';
import { defaultCredentials } from './seed.js';
import { SandboxState } from './state.js';

export type { SandboxStats } from './requests.js';

export interface SandboxOptions {
  port?: number;
  host?: string;
  /** Seed of the demo data and of everything random in the sandbox. */
  seed?: number;
  /** The pairs the sandbox accepts. Default: one plugin-tier pair with a random key. */
  credentials?: SandboxCredential[];
  faults?: FaultSpec | string;
  /** Requests per second allowed per identifier before 429 (token bucket); off by default. */
  rateLimit?: { perSecond: number; burst?: number };
  /** Largest request body, in bytes (413 above). */
  maxBodyBytes?: number;
  websiteId?: string;
  /** How many demo websites (default 1); the first is `websiteId`. */
  websites?: number;
  now?: () => number;
  /** Signed Web Hook deliveries of every event to one URL. Off when absent. */
  hooks?: HookOptions;
  /** The RTM endpoint's options; `attachOnFirstUse` keeps Socket.IO out of a start-up that may never need it. */
  rtm?: RtmServerOptions;
  /**
   * A server already bound (listen-first.ts): the sandbox takes over its listening socket instead
   * of binding its own, so the address stays the same; `port` and `host` are then unused.
   */
  listenOn?: NetServer;
}

export interface Sandbox {
  url: string;
  websiteId: string;
  /** Every demo website's id, the default first. */
  websiteIds: string[];
  credentials: SandboxCredential[];
  state: SandboxState;
  faults: FaultInjector;
  /** The HTTP server, for the RTM endpoint to attach to. */
  server: Server;
  /** The RTM (Socket.IO) endpoint at `url + '/rtm'`. */
  rtm: SandboxRtm;
  /** The Web Hook sender, when `hooks` was given. */
  hooks: SandboxHooks | undefined;
  stats(): SandboxStats;
  resetStats(): void;
  close(): Promise<void>;
}

const noStats = (): SandboxStats => ({ total: 0, handled: {}, faults: {}, abandoned: 0 });

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const state = new SandboxState({ seed: options.seed ?? 42, now: options.now, websiteId: options.websiteId, websites: options.websites });
  const credentials = options.credentials ?? defaultCredentials();
  const faults = new FaultInjector(options.faults);
  const counters = { stats: noStats() };
  const resetStats = () => void (counters.stats = noStats());
  let baseUrl = '';

  // The request handler (the routes and their schemas) needs the RTM endpoint, which needs this
  // server, whose listener must be in place before the RTM endpoint wraps it: the listener reaches
  // the handler through `routes`, filled in below, before the server listens.
  const routes: { handle?: RequestHandler } = {};
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => void routes.handle!(req, res).catch((error: unknown) => failed(res, error)));

  const rtm = await SandboxRtm.start(server, state, credentials, options.rtm);
  // The hook sender (and undici with it) is loaded only when hooks are asked for: `serve --sandbox` starts without them.
  const hooks = options.hooks ? new (await import('./hooks.js')).SandboxHooks(state, options.hooks) : undefined;
  routes.handle = createRequestHandler({ state, credentials, faults, rtm, hooks, rateLimit: options.rateLimit, maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024, baseUrl: () => baseUrl, counters, resetStats });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (options.listenOn) server.listen(options.listenOn, () => resolve());
      else server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await hooks?.close();
    await rtm.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  return {
    url: baseUrl,
    websiteId: state.defaultWebsiteId,
    websiteIds: [...state.websites.keys()],
    credentials,
    state,
    faults,
    server,
    rtm,
    hooks,
    stats: () => structuredClone(counters.stats),
    resetStats,
    close: async () => {
      await hooks?.close();
      await rtm.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function failed(res: ServerResponse, error: unknown): void {
  if (!res.headersSent) sendEnvelope(res, 500, 'error', { message: 'sandbox internal error' });
  else res.destroy();
  console.error('sandbox: unexpected error', error);
}

