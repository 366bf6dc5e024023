// 2025-era clients over HTTP: sessionful Streamable HTTP, so the server can ask them questions
// mid-call (elicitation/create for --send-mode confirm) and keep a GET stream open. A session is
// one McpServer + transport in this process's memory, found by an Mcp-Session-Id from a CSPRNG
// and bound to the principal that opened it: the same id with anyone else's credentials is a 404,
// as is an unknown or expired id, which tells the client to initialize again (spec 2025-11-25).
import { randomBytes } from 'node:crypto';
import { isInitializeRequest, WebStandardStreamableHTTPServerTransport, type AuthInfo, type McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';

export interface LegacySessionOptions {
  /** Builds the server of a new session, for the principal that opens it. */
  build: (auth: AuthInfo) => McpServer;
  log: Logger;
  /** A session with no request for this long is closed. Default 30 min. */
  idleMs?: number;
  /** At most this many open sessions; the least recently used idle one makes room. Default 1000. */
  max?: number;
  maxBodyBytes: number;
  /** The clock idle time is measured on (tests move their own). Default Date.now. */
  now?: () => number;
}

interface Session {
  id: string;
  principal: string;
  server: McpServer;
  transport: WebStandardStreamableHTTPServerTransport;
  /** Requests (and open streams) in flight. */
  active: number;
  lastSeen: number;
  /** Ids of requests in flight that came in a batch: their event stream is shared with the others'. */
  batched: Set<string | number>;
}

export class LegacySessions {
  readonly #sessions = new Map<string, Session>();
  readonly #options: Required<Omit<LegacySessionOptions, 'log' | 'build'>> & Pick<LegacySessionOptions, 'log' | 'build'>;
  readonly #sweeper: NodeJS.Timeout;
  /** Sessions being opened: counted against the cap from the first moment, before any await. */
  #opening = 0;

  constructor(options: LegacySessionOptions) {
    this.#options = { idleMs: 30 * 60_000, max: 1000, now: Date.now, ...options };
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, Math.max(1000, this.#options.idleMs / 2))).unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Serves one 2025-era request. `finished` resolves when its HTTP exchange is over (the response,
   * or its SSE stream, has ended), so a session with a call or stream in flight never expires.
   */
  async handle(request: Request, parsedBody: unknown, auth: AuthInfo, finished: Promise<void>): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id !== null) {
      const session = this.#sessions.get(id);
      // Idle past idleMs is expired now, whether or not the sweeper has come by yet.
      if (session && this.#expired(session, this.#options.now() - this.#options.idleMs)) void this.#close(session, 'idle'); // #close never rejects
      // Another principal's session, or an expired one, is answered exactly like one that does not exist.
      if (!session || session.principal !== auth.clientId || !this.#sessions.has(id)) return jsonRpcError(404, -32001, 'Session not found: initialize a new session');
      this.#track(session, finished);
      if (Array.isArray(parsedBody)) trackBatch(session.batched, parsedBody, finished);
      const response = await session.transport.handleRequest(request, { parsedBody, authInfo: auth });
      // The SDK drops a cancelled request's answer, as MCP says, but leaves the POST's event stream
      // open with nothing more to come: the client's connection, and the session's "busy" mark, would
      // be held until shutdown. Its stream ends here instead, unless it also carries the answers of
      // the other requests of a batch (which closing it would drop).
      for (const id of cancelledRequestIds(parsedBody)) if (!session.batched.has(id)) session.transport.closeSSEStream(id);
      return response;
    }
    if (request.method !== 'POST' && (request.headers.get('mcp-protocol-version') ?? '') >= '2026-07-28') {
      // A body-less GET/DELETE looks 2025-era; one that names a 2026 revision gets that revision's answer.
      return jsonRpcError(405, -32000, 'Method not allowed: 2026-07-28 requests are POSTs; there are no sessions to GET or DELETE', { allow: 'POST' });
    }
    // A GET that cannot take an event stream is a person's browser opening the URL a log line printed.
    if (request.method === 'GET' && !(request.headers.get('accept') ?? '').includes('text/event-stream')) {
      return jsonRpcError(406, -32000, 'Not Acceptable: /mcp is an MCP endpoint, not a web page; point an MCP client (Claude Desktop, Cursor, the MCP Inspector) at this URL');
    }
    // MCP 2025-03-26 let a batch carry requests, but initialize opens the session the others need:
    // the SDK refuses such a batch too, and "send initialize first" read as nonsense to a client that had.
    if (request.method === 'POST' && Array.isArray(parsedBody) && parsedBody.some((message) => isInitializeRequest(message))) {
      return jsonRpcError(400, -32600, 'Invalid Request: initialize must be sent alone, not in a JSON-RPC batch; send the rest with the Mcp-Session-Id its answer carries');
    }
    if (request.method !== 'POST' || !isInitializeRequest(parsedBody)) {
      // A GET event stream without a session is how a client of the older HTTP+SSE transport starts:
      // told only to initialize, its user (who set it up as "sse") would not know what to change.
      const sse = request.method === 'GET' ? '; a client set up for the older HTTP+SSE transport (2024-11-05) must be set up for Streamable HTTP instead, which is all /mcp serves' : '';
      return jsonRpcError(400, -32000, `Bad Request: a 2025-era client must send initialize first, then the Mcp-Session-Id it gets back${sse}`);
    }
    // The slot is taken before the first await: concurrent initializes each see the others, so the cap holds.
    this.#opening++;
    try {
      if (this.#sessions.size + this.#opening > this.#options.max && !(await this.#evictOne())) {
        return jsonRpcError(503, -32000, `Service Unavailable: ${this.#options.max} sessions are open and busy; retry later`, { 'retry-after': '5' });
      }
      return await this.#open(request, parsedBody, auth, finished);
    } finally {
      this.#opening--;
    }
  }

  async #open(request: Request, parsedBody: unknown, auth: AuthInfo, finished: Promise<void>): Promise<Response> {
    const server = this.#options.build(auth);
    const session: Session = { id: '', principal: auth.clientId, server, transport: undefined as never, active: 0, lastSeen: this.#options.now(), batched: new Set() };
    session.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(24).toString('base64url'),
      onsessioninitialized: (id) => {
        session.id = id;
        this.#sessions.set(id, session);
      },
      onsessionclosed: (id) => void this.#sessions.delete(id),
      maxRequestBodySize: this.#options.maxBodyBytes,
    });
    await server.connect(session.transport);
    const onclose = session.transport.onclose;
    session.transport.onclose = () => {
      this.#sessions.delete(session.id);
      onclose?.();
    };
    this.#track(session, finished);
    const response = await session.transport.handleRequest(request, { parsedBody, authInfo: auth });
    if (!session.id) await server.close();
    else this.#options.log.debug({ principal: auth.clientId, sessions: this.#sessions.size }, 'legacy session opened');
    return response;
  }

  #track(session: Session, finished: Promise<void>): void {
    session.active++;
    session.lastSeen = this.#options.now();
    // `finished` resolves on the response's close and never rejects.
    void finished.then(() => {
      session.active--;
      session.lastSeen = this.#options.now();
    });
  }

  /** Closes the least recently used session that has nothing in flight; false when every one is busy. */
  async #evictOne(): Promise<boolean> {
    let oldest: Session | undefined;
    for (const session of this.#sessions.values()) {
      if (session.active === 0 && (!oldest || session.lastSeen < oldest.lastSeen)) oldest = session;
    }
    if (!oldest) return false;
    await this.#close(oldest, 'evicted to make room');
    return true;
  }

  #sweep(): void {
    const before = this.#options.now() - this.#options.idleMs;
    for (const session of this.#sessions.values()) {
      if (this.#expired(session, before)) void this.#close(session, 'idle'); // #close never rejects
    }
  }

  /** No request or stream in flight, and none since `before`. */
  #expired(session: Session, before: number): boolean {
    return session.active === 0 && session.lastSeen < before;
  }

  async #close(session: Session, why: string): Promise<void> {
    this.#sessions.delete(session.id);
    this.#options.log.debug({ principal: session.principal, why }, 'legacy session closed');
    await session.server.close().catch(() => undefined);
  }

  /** Closes every session (their GET streams end); for shutdown, once calls in flight are done. */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.values()].map((session) => this.#close(session, 'shutdown')));
  }
}

const NONE: readonly (string | number)[] = [];

/** Adds the ids of a batch's requests to `batched` until its exchange is over. */
function trackBatch(batched: Set<string | number>, batch: unknown[], finished: Promise<void>): void {
  const ids: (string | number)[] = [];
  for (const message of batch) {
    const { id, method } = (message ?? {}) as { id?: unknown; method?: unknown };
    if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) ids.push(id);
  }
  for (const id of ids) batched.add(id);
  void finished.then(() => {
    for (const id of ids) batched.delete(id);
  });
}

/** The request ids a body's `notifications/cancelled` (one message, or within a batch) name. */
function cancelledRequestIds(body: unknown): readonly (string | number)[] {
  if (!Array.isArray(body) && (body as { method?: unknown } | null)?.method !== 'notifications/cancelled') return NONE;
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  const ids: (string | number)[] = [];
  for (const message of messages) {
    if (typeof message !== 'object' || message === null || (message as { method?: unknown }).method !== 'notifications/cancelled') continue;
    const id = (message as { params?: { requestId?: unknown } }).params?.requestId;
    if (typeof id === 'string' || typeof id === 'number') ids.push(id);
  }
  return ids;
}

export function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status, headers });
}
