// How the sandbox answers a request: the console, the visitor side and control panel under
// /_sandbox/, the app's links, and Crisp's REST routes behind Basic auth, fault injection and the
// rate limit. Its own module, which server.ts builds (routes, schemas and all) before it listens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { TIERS } from '../crisp/schemas.js';
import { foreignPageRefusal, fromThisMachine, serveConsole } from './console-page.js';
import type { FaultInjector } from './faults.js';
import type { SandboxHooks } from './hooks.js';
import { Router, SandboxHttpError, readJson, sendEnvelope, sendError, type Match } from './http.js';
import { serveAppLink, serveHelpdeskPage } from './routes/app-links.js';
import { consoleRoutes } from './routes/console.js';
import { findCredential, maySee, type RestContext, type SandboxCredential } from './routes/context.js';
import { conversationRoutes } from './routes/conversations.js';
import { helpdeskRoutes } from './routes/helpdesk.js';
import { peopleRoutes } from './routes/people.js';
import { controlRoutes, type ControlContext } from './routes/visitor.js';
import { rtmEndpoint, websiteRoutes } from './routes/website.js';
import type { SandboxRtm } from './rtm.js';
import type { SandboxState } from './state.js';

export interface SandboxStats {
  total: number;
  /** Requests that reached a handler, by `METHOD pattern`. */
  handled: Record<string, number>;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Requests whose caller closed the connection before the answer (a client timing out during a latency fault). */
  abandoned: number;
}

/** What the handler works on: the sandbox's parts, built at start. */
export interface SandboxParts {
  state: SandboxState;
  credentials: readonly SandboxCredential[];
  faults: FaultInjector;
  rtm: SandboxRtm;
  hooks: SandboxHooks | undefined;
  /** Requests per second allowed per identifier before 429 (token bucket); off when absent. */
  rateLimit: { perSecond: number; burst?: number } | undefined;
  maxBodyBytes: number;
  /** The sandbox's URL, once it listens. */
  baseUrl: () => string;
  /** The counters the sandbox's `stats()` reports. */
  counters: { stats: SandboxStats };
  resetStats: () => void;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const restRouter = new Router<RestContext>().add(...conversationRoutes, ...peopleRoutes, ...websiteRoutes, ...helpdeskRoutes);
const controlRouter = new Router<ControlContext>().add(...controlRoutes);
// Tried first, so GET .../conversations is the console's inbox while POST there stays the visitor's.
const consoleRouter = new Router<ControlContext>().add(...consoleRoutes);

export function createRequestHandler(parts: SandboxParts): RequestHandler {
  const { state, credentials, faults, rtm, hooks, counters, resetStats } = parts;
  const limiter = parts.rateLimit ? new RateLimiter(parts.rateLimit.perSecond, parts.rateLimit.burst ?? parts.rateLimit.perSecond) : undefined;
  const maxBody = parts.maxBodyBytes;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    if (await serveConsole(req, res, url, state)) return;
    if (url.pathname.startsWith('/_sandbox/')) return handleControl(req, res, url, method);
    if (method === 'GET' && (serveAppLink(url.pathname, res) || serveHelpdeskPage(state, url.pathname, res))) return;
    const stats = counters.stats;
    stats.total++;
    const head = method === 'HEAD';
    // A caller that hangs up before its answer gave up waiting: counted, so a test can tell an
    // answer held by `latency-after` was lost to the caller, not merely late. A drop is the sandbox's own.
    let dropping = false;
    res.once('close', () => {
      if (!res.writableFinished && !dropping) stats.abandoned++;
    });

    try {
      const delay = faults.latency();
      if (delay > 0) await sleep(delay);
      const fault = faults.next(method, url.pathname);
      if (fault) {
        const kind = fault.status ? String(fault.status) : fault.kind;
        stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
      }
      if (fault?.kind === 'latency') await hold(fault.delayMs!);
      if (fault?.kind === 'drop') {
        dropping = true;
        return void req.socket.destroy();
      }
      if (fault?.kind === 'status') throw faultError(fault.status!, fault.retryAfterSeconds ?? 1);

      const credential = authenticate(req, credentials, url.pathname);
      if (limiter && !limiter.take(credential.identifier)) {
        throw new SandboxHttpError(429, 'rate_limited', 'too many requests; slow down', { 'retry-after': String(limiter.retryAfterSeconds(credential.identifier)) });
      }

      const tierMatch = /^\/v1\/(plugin|website|user)\/connect\/endpoints$/.exec(url.pathname);
      if (tierMatch) {
        if (tierMatch[1] !== credential.tier) throw new SandboxHttpError(403, 'restricted_route_tier', `this route is for the ${tierMatch[1]} tier; the token is ${credential.tier}`);
        return sendEnvelope(res, 200, 'resolved', rtmEndpoint(parts.baseUrl()), {}, head);
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
      const reply = await match.route.handler({ state, site, query: url.searchParams, body, credential, baseUrl: parts.baseUrl(), dedupe: faults.dedupe }, match.params);
      if (fault?.kind === 'latency-after') await hold(fault.delayMs!);
      if (fault?.kind === 'drop-after') {
        dropping = true;
        return void req.socket.destroy();
      }
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
      const foreign = foreignPageRefusal(req);
      if (foreign) {
        req.resume();
        throw new SandboxHttpError(403, 'not_allowed', foreign);
      }
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
          stats: () => structuredClone(counters.stats) as unknown as Record<string, unknown>,
          resetStats,
        },
        match.params,
      );
      sendEnvelope(res, reply.status ?? 200, reply.reason ?? 'resolved', reply.data);
    } catch (error) {
      if (!(error instanceof SandboxHttpError)) throw error;
      sendError(res, error);
    }
  }

  return handle;
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

/** A burst's delay; it keeps no process alive (a held request may outlive a test's sandbox). */
const hold = (ms: number) => sleep(ms, undefined, { ref: false });

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
function authenticate(req: IncomingMessage, credentials: readonly SandboxCredential[], path: string): SandboxCredential {
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
