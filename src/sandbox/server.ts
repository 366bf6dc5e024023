// The sandbox: a real HTTP server that answers Crisp's REST routes in Crisp's wire format, over
// an in-memory inbox seeded with demo data, with a visitor side and seeded fault injection.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TIERS, type Tier } from '../crisp/schemas.js';
import { FaultInjector, type FaultSpec } from './faults.js';
import type { HookOptions, SandboxHooks } from './hooks.js';
import { Router, SandboxHttpError, readJson, sendEnvelope, sendError, type Match } from './http.js';
import { fromThisMachine, serveConsole } from './console-page.js';
import { findCredential, maySee, type RestContext, type SandboxCredential } from './routes/context.js';
import { consoleRoutes } from './routes/console.js';
import { serveAppLink, serveHelpdeskPage } from './routes/app-links.js';
import { conversationRoutes } from './routes/conversations.js';
import { helpdeskRoutes } from './routes/helpdesk.js';
import { peopleRoutes } from './routes/people.js';
import { controlRoutes, type ControlContext } from './routes/visitor.js';
import { rtmEndpoint, websiteRoutes } from './routes/website.js';
import { SandboxRtm, type RtmServerOptions } from './rtm.js';
import { SandboxState } from './state.js';

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
  now?: () => number;
  /** Signed Web Hook deliveries of every event to one URL. Off when absent. */
  hooks?: HookOptions;
  rtm?: RtmServerOptions;
}

export interface Sandbox {
  url: string;
  websiteId: string;
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

export interface SandboxStats {
  total: number;
  /** Requests that reached a handler, by `METHOD pattern`. */
  handled: Record<string, number>;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
}

/** A fixed demo identifier: the sandbox prints it, a user pastes it. Keys are random per run. */
export const SANDBOX_IDENTIFIER = 'c0ffee00-5a4d-4b0c-8000-000000000001';

const restRouter = new Router<RestContext>().add(...conversationRoutes, ...peopleRoutes, ...websiteRoutes, ...helpdeskRoutes);
const controlRouter = new Router<ControlContext>().add(...controlRoutes);
// Tried first, so GET .../conversations is the console's inbox while POST there stays the visitor's.
const consoleRouter = new Router<ControlContext>().add(...consoleRoutes);

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const state = new SandboxState({ seed: options.seed ?? 42, now: options.now, websiteId: options.websiteId });
  const credentials = options.credentials ?? [{ identifier: SANDBOX_IDENTIFIER, key: randomBytes(24).toString('hex'), tier: 'plugin' as Tier }];
  const faults = new FaultInjector(options.faults);
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit.perSecond, options.rateLimit.burst ?? options.rateLimit.perSecond) : undefined;
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  let stats: SandboxStats = { total: 0, handled: {}, faults: {} };
  let baseUrl = '';

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendEnvelope(res, 500, 'error', { message: 'sandbox internal error' });
      else res.destroy();
      console.error('sandbox: unexpected error', error);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    if (await serveConsole(req, res, url, state)) return;
    if (url.pathname.startsWith('/_sandbox/')) return handleControl(req, res, url, method);
    if (method === 'GET' && (serveAppLink(url.pathname, res) || serveHelpdeskPage(state, url.pathname, res))) return;
    stats.total++;
    const head = method === 'HEAD';

    try {
      const delay = faults.latency();
      if (delay > 0) await sleep(delay);
      const fault = faults.next(method, url.pathname);
      if (fault) {
        const kind = fault.status ? String(fault.status) : fault.kind;
        stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
      }
      if (fault?.kind === 'drop') return void req.socket.destroy();
      if (fault?.kind === 'status') throw faultError(fault.status!, fault.retryAfterSeconds ?? 1);

      const credential = authenticate(req, credentials, url.pathname);
      if (limiter && !limiter.take(credential.identifier)) {
        throw new SandboxHttpError(429, 'rate_limited', 'too many requests; slow down', { 'retry-after': String(limiter.retryAfterSeconds(credential.identifier)) });
      }

      const tierMatch = /^\/v1\/(plugin|website|user)\/connect\/endpoints$/.exec(url.pathname);
      if (tierMatch) {
        if (tierMatch[1] !== credential.tier) throw new SandboxHttpError(403, 'restricted_route_tier', `this route is for the ${tierMatch[1]} tier; the token is ${credential.tier}`);
        return sendEnvelope(res, 200, 'resolved', rtmEndpoint(baseUrl), {}, head);
      }

      const match = restRouter.match(method, url.pathname);
      if (!('route' in match)) {
        throw match.methodMismatch
          ? new SandboxHttpError(405, 'method_not_allowed', `${method} is not allowed on this route`)
          : new SandboxHttpError(404, 'not_found', 'the route does not exist');
      }
      const found = state.websites.get(match.params.website_id ?? '');
      const site = found && maySee(credential, found.website_id) ? found : undefined;
      if (!site) {
        throw credential.tier === 'plugin'
          ? new SandboxHttpError(404, 'not_subscribed', 'the website is not subscribed to the plugin')
          : new SandboxHttpError(403, 'not_allowed', 'the token is not allowed on this website');
      }
      const body = method === 'GET' || head ? undefined : await readJson(req, maxBody);
      const key = `${match.route.method} ${match.route.pattern}`;
      stats.handled[key] = (stats.handled[key] ?? 0) + 1;
      const reply = await match.route.handler({ state, site, query: url.searchParams, body, credential, baseUrl, dedupe: faults.dedupe }, match.params);
      if (fault?.kind === 'drop-after') return void req.socket.destroy();
      if (fault?.kind === 'status-after') throw faultError(fault.status!, 1);
      sendEnvelope(res, reply.status ?? 200, reply.reason ?? 'resolved', reply.data, {}, head);
    } catch (error) {
      if (!(error instanceof SandboxHttpError)) throw error;
      if (error.status === 413) res.setHeader('connection', 'close');
      sendError(res, error, head);
    }
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    try {
      const forConsole = consoleRouter.match(method, url.pathname);
      if ('route' in forConsole) checkConsoleRequest(req, method);
      const match = 'route' in forConsole ? forConsole : (controlRouter.match(method, url.pathname) as Match<ControlContext> | { methodMismatch: boolean });
      if (!('route' in match)) throw new SandboxHttpError(404, 'not_found', 'the route does not exist');
      const body = method === 'GET' ? undefined : await readJson(req, maxBody);
      const reply = await match.route.handler(
        {
          state,
          faults,
          body,
          query: url.searchParams,
          rtm,
          hooks,
          stats: () => structuredClone(stats) as unknown as Record<string, unknown>,
          resetStats: () => (stats = { total: 0, handled: {}, faults: {} }),
        },
        match.params,
      );
      sendEnvelope(res, reply.status ?? 200, reply.reason ?? 'resolved', reply.data);
    } catch (error) {
      if (!(error instanceof SandboxHttpError)) throw error;
      sendError(res, error);
    }
  }

  const rtm = await SandboxRtm.start(server, state, credentials, options.rtm);
  // The hook sender (and undici with it) is loaded only when hooks are asked for: `serve --sandbox` starts without them.
  const hooks = options.hooks ? new (await import('./hooks.js')).SandboxHooks(state, options.hooks) : undefined;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
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
    credentials,
    state,
    faults,
    server,
    rtm,
    hooks,
    stats: () => structuredClone(stats),
    resetStats: () => (stats = { total: 0, handled: {}, faults: {} }),
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

/**
 * The console's routes read the whole inbox and write as an operator: only for a browser on this
 * machine, and a POST must say it is JSON, which a page on another site cannot send without a
 * CORS preflight the sandbox never grants.
 */
function checkConsoleRequest(req: IncomingMessage, method: string): void {
  if (!fromThisMachine(req)) throw new SandboxHttpError(403, 'not_allowed', 'the console routes answer only a browser on this machine (loopback)');
  if (method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new SandboxHttpError(415, 'invalid_data', 'send the body as JSON (content-type: application/json)');
  }
}

function faultError(status: number, retryAfterSeconds: number): SandboxHttpError {
  if (status === 429 || status === 420) {
    return new SandboxHttpError(status, 'rate_limited', 'too many requests; slow down', { 'retry-after': String(retryAfterSeconds) });
  }
  return new SandboxHttpError(status, 'error', 'the server encountered an internal error');
}

/**
 * Basic auth against the configured pairs, compared in constant time. Like Crisp (reportedly),
 * a request without a User-Agent is refused; a tier header that does not match the token is too.
 */
function authenticate(req: IncomingMessage, credentials: SandboxCredential[], path: string): SandboxCredential {
  const refuse = (message: string) => new SandboxHttpError(401, 'invalid_session', message);
  if (!req.headers['user-agent']) throw refuse('a User-Agent header is required');
  const header = req.headers.authorization ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match) throw refuse('missing or malformed Authorization header (expected Basic)');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const identifier = decoded.slice(0, colon);
  const key = decoded.slice(colon + 1);
  const credential = colon > 0 ? findCredential(credentials, identifier, key) : undefined;
  if (!credential) throw refuse('the identifier and key pair is not valid');
  const tierHeader = req.headers['x-crisp-tier'];
  const tier = typeof tierHeader === 'string' ? tierHeader : 'user';
  if (!(TIERS as readonly string[]).includes(tier)) throw new SandboxHttpError(400, 'invalid_data', `X-Crisp-Tier should be one of ${TIERS.join(', ')}`);
  if (tier !== credential.tier && !path.endsWith('/connect/endpoints')) throw refuse(`the token belongs to the ${credential.tier} tier, not ${tier}`);
  return credential;
}

/** A token bucket per identifier. */
class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(id: string, now = Date.now()): boolean {
    const bucket = this.#buckets.get(id) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(id, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  retryAfterSeconds(id: string): number {
    const bucket = this.#buckets.get(id);
    return Math.max(1, Math.ceil((1 - (bucket?.tokens ?? 0)) / this.perSecond));
  }
}
