// `serve --http`: Streamable HTTP on node:http. `/mcp` serves 2026-07-28 requests
// statelessly, one McpServer per request from the same factory as stdio, and 2025-era clients in
// sessions (legacy-sessions.ts); `/converse` takes converse API events when given a handler
// (src/converse/converse.ts); `/hooks/crisp` takes Crisp's signed Web Hooks for the autopilot when given
// a receiver (src/transport/hook-receiver.ts; the signature is its auth, not the bearer token); `/healthz`
// answers load balancers; everything else is a 404.
// Every /mcp request passes, in order: Host and Origin (403, against DNS rebinding), the method,
// the bearer token or Crisp's agent signature (401), Content-Type (415), the body size (413),
// valid JSON (400); only then does the SDK see it.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, isJsonContentType, isLegacyRequest, type AuthInfo } from '@modelcontextprotocol/server';
import { Guard } from '../mcp/guard.js';
import { buildServer } from '../mcp/server.js';
import type { AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';
import { serveConverse, type ConverseHandler, type RouteGate } from './converse-route.js';
import { createHookHandler, type HookHandlerOptions } from './hook-receiver.js';
import { HostCheck } from './host-check.js';
import { allowedHostnames, charsetRefusal, encodedBodyRefusal, readBody, repeatedHeader, send, sendJson, toRequest, urlHost, utf8Text } from './http-io.js';
import { BearerTokens, CrispAgentVerifier, isRefusal, signatureSingleUse, type Principal, type Refusal } from './http-auth.js';
import { LegacySessions, jsonRpcError } from './legacy-sessions.js';
import { withCachedJsonSchemas } from './schema-cache.js';

/** Crisp's Web Hooks route, on `serve --http` and on `bot --events hooks`' own server alike. */
export const HOOKS_PATH = '/hooks/crisp';

/** The 404 of a route this server has but was not told to turn on: what turns it on. */
const OFF_ROUTES: ReadonlyMap<string, string> = new Map([
  ['/converse', 'Not found: /converse is off; serve --http turns it on when CRISP_MCP_CONVERSE_WEBHOOK_URL, CRISP_MCP_CONVERSE_SECRET and CRISP_MCP_CONVERSE_SCENARIO are set'],
  [HOOKS_PATH, `Not found: ${HOOKS_PATH} is off; serve --http turns it on with --bot-scenario NAME (or CRISP_MCP_BOT_SCENARIO) and CRISP_HOOK_SECRET`],
]);

/** How long a client may take: the headers, the whole request, and an idle keep-alive connection. */
export interface ServerTimeouts {
  headersMs?: number;
  requestMs?: number;
  keepAliveMs?: number;
}

/**
 * node:http's timeouts for a server the network reaches (serve --http, the bot's Web Hooks): a
 * client that sends its headers or its body slowly is answered 408 and let go within seconds,
 * where Node's defaults (60 s, 300 s, checked every 30 s) let each hold a socket for minutes.
 */
export function networkTimeouts(timeouts: ServerTimeouts = {}): ServerOptions {
  const headersTimeout = timeouts.headersMs ?? 15_000;
  const requestTimeout = Math.max(headersTimeout, timeouts.requestMs ?? 30_000);
  // Node checks both timeouts on this interval (30 s by default, which would let a slow client hold a socket that long).
  const connectionsCheckingInterval = Math.min(1_000, headersTimeout);
  // Longer than the idle timeout of the proxies put in front (60 s for nginx's upstream keepalive and
  // AWS's load balancers): a proxy must never reuse a connection the moment this side closes it,
  // which its client sees as a 502. Node's default is 5 s.
  const keepAliveTimeout = timeouts.keepAliveMs ?? 65_000;
  return { headersTimeout, requestTimeout, connectionsCheckingInterval, keepAliveTimeout };
}

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; `url` tells which. */
  port: number;
  tools: readonly AnyTool<ToolDeps>[];
  deps: ToolDeps;
  /** Accepted bearer tokens, each its own principal; empty: no token needed (loopback only; config.ts enforces it). */
  tokens?: readonly string[];
  /** Host names accepted in Host and Origin, besides the bound host and localhost. */
  allowedHosts?: readonly string[];
  /** Accept requests signed by Crisp's AI agent, each bound to the website it names. */
  crispAgent?: { secret: string; windowSeconds?: number; now?: () => number };
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
  sessions?: { idleMs?: number; max?: number; now?: () => number };
  /** How long close() waits for calls in flight before cutting connections. Default 10 s. */
  shutdownGraceMs?: number;
  /**
   * Time allowed to receive the headers (default 15 s) and the whole request (default 30 s); a slow
   * client gets a 408. `keepAliveMs`: how long an idle connection stays open (default 65 s).
   */
  timeouts?: ServerTimeouts;
  /** Serves `POST /converse` (behind the same Host/Origin checks, bearer tokens and body limit as /mcp); 404 without it. */
  converse?: ConverseHandler;
  /**
   * Serves `POST /hooks/crisp`: Crisp's Web Hooks, checked by their HMAC signature (bearer tokens do not
   * apply), behind the same Host/Origin checks and body limit as /mcp; 404 without it. Until `ready()`
   * (and while shutting down) deliveries get a 503, so the sender retries.
   */
  hooks?: Pick<HookHandlerOptions, 'secret' | 'events' | 'skip' | 'onEvent' | 'onError'> & { ready?: () => boolean };
}

export interface HttpServerHandle {
  /** The MCP endpoint, e.g. `http://127.0.0.1:8787/mcp`. */
  url: string;
  /** Tool calls and other requests being served now (open streams excluded). */
  readonly inFlight: number;
  /** The node:http server (to hand to code that wants one, e.g. the autopilot's hook server). */
  readonly server: Server;
  /**
   * Accepts these bearer tokens from now on, instead of the ones before (a rotation): a request
   * with a token no longer listed is a 401, and so is its 2025-era session.
   */
  setTokens(tokens: readonly string[]): void;
  /** Stops taking requests, lets calls in flight finish (up to the grace period), then closes everything. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const { deps } = options;
  const log = deps.log;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const tools = withCachedJsonSchemas(options.tools);
  const depsFor = perWebsiteDeps(deps);
  const build = (auth: AuthInfo | undefined) => buildServer(tools, depsFor(auth?.extra?.website_id as string | undefined));
  // A 2026-07-28 tools/call is served by a server holding just that tool and no resources or
  // prompts: registering the rest would be work thrown away with the instance. The SDK has checked
  // Mcp-Name against the body by then.
  const alone = new Map(tools.map((tool) => [tool.name, [tool]]));
  const buildFor = (auth: AuthInfo | undefined, request: Request | undefined) => {
    const one = request?.headers.get('mcp-method') === 'tools/call' ? alone.get(request.headers.get('mcp-name') ?? '') : undefined;
    return one ? buildServer(one, depsFor(auth?.extra?.website_id as string | undefined), { toolsOnly: true }) : build(auth);
  };
  const modern = createMcpHandler(({ authInfo, requestInfo }) => buildFor(authInfo, requestInfo), {
    legacy: 'reject',
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => log.debug({ err: error }, 'MCP request refused'),
  });
  const legacy = new LegacySessions({ build, log, maxBodyBytes, ...options.sessions });
  let bearer = new BearerTokens(options.tokens ?? []);
  const agent = options.crispAgent ? new CrispAgentVerifier({ ...options.crispAgent, websites: deps.guard.websites }) : undefined;
  const hosts = new HostCheck();
  const hookOptions = options.hooks;
  const hooks = hookOptions ? createHookHandler({ ...hookOptions, maxBodyBytes }) : undefined;

  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const gate: RouteGate = {
    hostRefusal: (req) => hosts.refusal(req),
    // Crisp's agent signs /mcp requests only: with --crisp-agent and no token, a caller without its signature has no way in.
    caller: (req) => (agent && !bearer.required ? agentOnly() : bearer.check(req.headers.authorization)),
    get closing() {
      return closing;
    },
    maxBodyBytes,
    log,
  };

  const server = createServer(networkTimeouts(options.timeouts), (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (closing) res.setHeader('connection', 'close');
    if (path === '/healthz') return health(req, res, closing);
    // Two Host (or Authorization) lines: this side would judge the first, a proxy in front may have
    // routed or authenticated on the last. HTTP/1.1 answers two Hosts with a 400; the connection closes.
    const repeated = repeatedHeader(req.rawHeaders);
    if (repeated) {
      req.resume();
      res.setHeader('connection', 'close');
      return sendJson(res, 400, { error: 'bad_request', message: `Bad Request: more than one ${repeated} header; send it once` });
    }
    const converse = options.converse;
    if (path === '/converse' && converse) {
      return void serveConverse(req, res, converse, gate).catch((error: unknown) => {
        if (res.destroyed) return log.debug({ err: error }, 'client left mid-request');
        log.error({ err: error }, 'converse request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'Internal server error' });
        else res.destroy();
      });
    }
    if (path === HOOKS_PATH && hooks) return serveHooks(req, res, hooks);
    if (path !== '/mcp') return sendJson(res, 404, { error: 'not_found', message: OFF_ROUTES.get(path ?? '') ?? notFound(path ?? '') });
    serveMcp(req, res).catch((error: unknown) => {
      // A client that hung up mid-request is not a server failure. Its response tells (its socket is
      // gone); the request does not: node:http destroys it once its body has been read.
      if (res.destroyed) return log.debug({ err: error }, 'client left mid-request');
      log.error({ err: error }, 'HTTP request failed');
      // A JSON body already in memory: send() has nothing left that can fail.
      if (!res.headersSent) void send(res, jsonRpcError(500, -32603, 'Internal server error'));
      else res.destroy();
    });
  });

  /**
   * The 404 for a path served by no route: the routes this server does serve (the converse API and
   * the hook receiver when on), and the likely one when only a trailing slash is in the way.
   */
  function notFound(path: string): string {
    const served = ['/mcp', ...(options.converse ? ['/converse'] : []), ...(hooks ? [HOOKS_PATH] : [])];
    const meant = served.find((route) => path === `${route}/`);
    if (meant) return `Not found: ${path} has a trailing slash; the endpoint is ${meant}`;
    return served.length === 1 ? 'Not found: the MCP endpoint is /mcp' : `Not found: this server's endpoints are ${served.join(', ')}`;
  }

  async function serveMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const forbidden = hosts.refusal(req);
    if (forbidden) return refuse(res, { status: 403, message: forbidden }, log);
    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return send(res, jsonRpcError(405, -32000, 'Method not allowed: /mcp takes POST (GET and DELETE for 2025-era sessions)', { allow: 'GET, POST, DELETE' }));
    }

    // A request that claims to be Crisp's agent is judged by its signature alone, once the body is in.
    const signed = agent !== undefined && CrispAgentVerifier.claims(req.headers);
    let principal: Principal | undefined;
    if (!signed) {
      const checked = gate.caller(req);
      if (isRefusal(checked)) return refuse(res, checked, log);
      principal = checked;
    }

    let raw: Buffer = Buffer.alloc(0);
    let parsed: unknown;
    let json = true;
    if (method === 'POST') {
      if (!isJsonContentType(req.headers['content-type'] ?? null)) return send(res, jsonRpcError(415, -32000, 'Unsupported Media Type: Content-Type must be application/json'));
      const encoded = encodedBodyRefusal(req) ?? charsetRefusal(req);
      if (encoded) return send(res, jsonRpcError(415, -32000, encoded));
      const body = await readBody(req, maxBodyBytes);
      // readBody drops the rest of the upload: the answer must not close the connection under it.
      if (body === 'too_large') return send(res, jsonRpcError(413, -32000, `Payload Too Large: the request body is over ${maxBodyBytes} bytes`));
      raw = body;
      // Bytes that are no UTF-8 are no JSON either.
      const text = utf8Text(raw);
      try {
        if (text === undefined) json = false;
        else parsed = JSON.parse(text);
      } catch {
        json = false;
      }
    }
    if (signed) {
      const checked = agent.verify(req.headers, raw, { singleUse: !json || signatureSingleUse(method, parsed) });
      if (isRefusal(checked)) return refuse(res, checked, log);
      principal = checked;
    }
    if (!json) return send(res, jsonRpcError(400, -32700, 'Parse error: the request body is not valid JSON'));
    const stream = method === 'GET' || rpcMethod(parsed) === 'subscriptions/listen';
    if (closing && !(req.headers['mcp-session-id'] && isAnswer(parsed))) {
      return send(res, jsonRpcError(503, -32000, 'Service Unavailable: the server is shutting down; retry', { 'retry-after': '1' }));
    }

    const auth = authInfo(principal!);
    const abort = new AbortController();
    const finished = new Promise<void>((resolve) => res.once('close', resolve));
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    if (!stream) {
      inFlight++;
      void finished.then(() => {
        if (--inFlight === 0) drained?.();
      });
    }
    if (log.isLevelEnabled('debug')) {
      // One line per request at debug, once it is over: who, what, how it ended. Never a header or an argument.
      const started = performance.now();
      const rpc = rpcMethod(parsed);
      void finished.then(() =>
        log.debug({ principal: auth.clientId, http: method, rpc, tool: rpc === 'tools/call' ? toolName(parsed) : undefined, status: res.statusCode, ms: Math.round(performance.now() - started), ...(res.writableFinished ? {} : { client_left: true }) }, 'MCP request'),
      );
    }
    if (auth.extra?.website_id && rpcMethod(parsed) === 'tools/call') {
      log.info({ principal: auth.clientId, website_id: auth.extra.website_id, crisp_session: auth.extra.crisp_session_id, tool: toolName(parsed) }, 'Crisp agent tool call');
    }
    const request = toRequest(req, abort.signal);
    const response = (await legacyEra(request, parsed, maxBodyBytes))
      ? await legacy.handle(request, parsed, auth, finished)
      : await modern.fetch(request, { authInfo: auth, parsedBody: parsed });
    await send(res, response, abort.signal);
  }

  /** `POST /hooks/crisp`: Host and Origin (403), then the hook receiver (405, 413, 403 on a bad signature, 400, 200). */
  function serveHooks(req: IncomingMessage, res: ServerResponse, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
    const refuseHook = (status: number, error: string, message: string, headers: Record<string, string> = {}) => {
      log.debug({ status, reason: message }, 'web hook delivery refused');
      req.resume();
      sendJson(res, status, { error, message }, headers);
    };
    const forbidden = hosts.refusal(req);
    if (forbidden) return refuseHook(403, 'forbidden', forbidden);
    if (closing) return refuseHook(503, 'unavailable', 'Service Unavailable: the server is shutting down; retry', { 'retry-after': '1' });
    if (hookOptions?.ready && !hookOptions.ready()) return refuseHook(503, 'unavailable', 'Service Unavailable: the autopilot is starting; retry', { 'retry-after': '1' });
    handler(req, res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  hosts.allow(allowedHostnames(options.host, options.allowedHosts ?? []));
  const url = `http://${urlHost(options.host)}:${port}/mcp`;

  let closed: Promise<void> | undefined;
  return {
    url,
    server,
    get inFlight() {
      return inFlight;
    },
    setTokens(tokens) {
      // A server started without tokens binds loopback only (config.ts): it cannot be given some later, nor can one that has them lose them all.
      if (tokens.length === 0 || !bearer.required) throw new Error('setTokens replaces a non-empty set of bearer tokens with another');
      bearer = new BearerTokens(tokens);
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          const grace = options.shutdownGraceMs ?? 10_000;
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, grace).unref();
          });
          // Their clients get a closed connection, and a write among them may or may not have reached Crisp: the operator hears of it.
          if (inFlight > 0) log.warn({ in_flight: inFlight, grace_ms: grace }, `${inFlight} call${inFlight > 1 ? 's' : ''} still in flight after the ${grace / 1000} s grace period cut off`);
        }
        await legacy.closeAll();
        await modern.close();
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}

/** The tools' dependencies for a request: the process's own, or bound to the one website Crisp's agent signed for. */
function perWebsiteDeps(deps: ToolDeps): (website: string | undefined) => ToolDeps {
  const bound = new Map<string, ToolDeps>();
  return (website) => {
    if (website === undefined) return deps;
    let one = bound.get(website);
    if (!one) bound.set(website, (one = { ...deps, guard: new Guard([website]) }));
    return one;
  };
}

/** What the SDK passes to the factory and to handlers (`ctx.http.authInfo`); never the token itself. */
function authInfo(principal: Principal): AuthInfo {
  const extra: Record<string, unknown> = {};
  if (principal.website) extra.website_id = principal.website;
  if (principal.crispSession) extra.crisp_session_id = principal.crispSession;
  return { token: '', clientId: principal.id, scopes: [], extra };
}

function agentOnly(): Refusal {
  return {
    status: 401,
    message: "Unauthorized: this server takes requests signed by Crisp's AI agent (X-Crisp-Signature); set CRISP_MCP_HTTP_TOKEN to let other clients in",
    challenge: 'Crisp-Signature',
  };
}

function refuse(res: ServerResponse, refusal: Refusal, log?: ToolDeps['log']): Promise<void> {
  log?.debug({ status: refusal.status, reason: refusal.message }, 'request refused');
  const code = refusal.status === 400 ? -32600 : -32000;
  return send(res, jsonRpcError(refusal.status, code, refusal.message, refusal.challenge ? { 'www-authenticate': refusal.challenge } : {}));
}

function health(req: IncomingMessage, res: ServerResponse, closing: boolean): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
  sendJson(res, closing ? 503 : 200, { status: closing ? 'draining' : 'ok' });
}

/**
 * Whether the SDK's modern entry would hand this request to 2025-era serving. A request whose
 * MCP-Protocol-Version header names a 2026 revision never is (isLegacyRequest's documented
 * contract), so the common case skips classifying the body twice.
 */
function legacyEra(request: Request, parsed: unknown, maxRequestBodySize: number): Promise<boolean> | boolean {
  if (MODERN_REVISIONS.has(request.headers.get('mcp-protocol-version') ?? '')) return false;
  return isLegacyRequest(request, parsed, { maxRequestBodySize });
}

const MODERN_REVISIONS = new Set(['2026-07-28']);

function rpcMethod(body: unknown): string | undefined {
  return body && typeof body === 'object' && 'method' in body && typeof body.method === 'string' ? body.method : undefined;
}

function toolName(body: unknown): string | undefined {
  const params = (body as { params?: { name?: unknown } }).params;
  return typeof params?.name === 'string' ? params.name : undefined;
}

/** A JSON-RPC response (the client answering our elicitation), still accepted while draining. */
function isAnswer(body: unknown): boolean {
  return body !== null && typeof body === 'object' && !Array.isArray(body) && !('method' in body) && 'id' in body;
}
