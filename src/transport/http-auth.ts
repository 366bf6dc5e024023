// Who is calling /mcp: a bearer token (compared in constant time), or Crisp's AI agent (Hugo)
// proving itself with a signature over `{timestamp}.{website_id}.{raw body}`.
// Each check answers a Principal, or a Refusal whose message says what is wrong (never a secret).
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Who a request acts for; legacy sessions are bound to it. */
export interface Principal {
  /** `anonymous` (loopback, no token configured), `token:<sha256 prefix>`, or `crisp-agent:<website_id>`. */
  id: string;
  /** Set for Crisp's agent: the one website this request may act on. */
  website?: string;
  /** Crisp's agent: the conversation it is working on (`X-Crisp-Session-Id`, as `session_<uuid>`). */
  crispSession?: string;
}

export interface Refusal {
  status: 400 | 401 | 403;
  message: string;
  /** The `WWW-Authenticate` challenge of a 401. */
  challenge?: string;
}

export const isRefusal = (value: Principal | Refusal): value is Refusal => 'status' in value;

const sha256 = (text: string | Buffer): Buffer => hash('sha256', text, 'buffer');

/** How many accepted Authorization header values are remembered: a client sends the same one on every request. */
const ACCEPTED_CACHE_SIZE = 64;

/**
 * Bearer tokens, each its own principal. Hashing both sides first makes the compare length-independent.
 * A header value once accepted is remembered (at most ACCEPTED_CACHE_SIZE of them, the oldest
 * forgotten first), so a client's later requests cost a map lookup instead of a SHA-256; the tokens
 * are fixed for the object's life, so a remembered verdict cannot go stale. A refused value is never
 * remembered: every guess goes through the hash and the constant-time compare.
 */
export class BearerTokens {
  readonly #digests: Buffer[];
  readonly #accepted = new Map<string, Principal>();

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map((token) => sha256(token));
  }

  get required(): boolean {
    return this.#digests.length > 0;
  }

  check(authorization: string | undefined): Principal | Refusal {
    if (!this.required) return { id: 'anonymous' };
    const known = authorization === undefined ? undefined : this.#accepted.get(authorization);
    if (known) return { ...known };
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      return { status: 401, message: 'Unauthorized: send Authorization: Bearer <token> (CRISP_MCP_HTTP_TOKEN)', challenge: 'Bearer realm="crisp-mcp"' };
    }
    const given = sha256(match[1]!);
    let found = -1;
    // Every configured token is compared, so the time taken says nothing about which one matched.
    for (const [index, digest] of this.#digests.entries()) {
      if (timingSafeEqual(given, digest) && found < 0) found = index;
    }
    if (found < 0) return { status: 401, message: 'Unauthorized: the bearer token is not valid', challenge: 'Bearer realm="crisp-mcp", error="invalid_token"' };
    const principal = { id: `token:${this.#digests[found]!.subarray(0, 8).toString('hex')}` };
    if (this.#accepted.size >= ACCEPTED_CACHE_SIZE) this.#accepted.delete(this.#accepted.keys().next().value!);
    this.#accepted.set(authorization!, principal);
    return { ...principal };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

export interface CrispAgentOptions {
  secret: string;
  /** The allow-list (CRISP_WEBSITE_ID): a signed request for another website is refused. */
  websites: readonly string[];
  /** How far X-Crisp-Timestamp may be from now, either way. Default 300 s, as in Crisp's own example. */
  windowSeconds?: number;
  now?: () => number;
}

/**
 * Verifies Hugo's request signatures. The signature of a request that reads or changes the inbox
 * (tools/call and the like) is accepted once: it is remembered until its timestamp leaves the
 * window, so a captured request cannot be sent again. Protocol chatter that carries no inbox data
 * (initialize, ping, tools/list…) is exempt, because every Hugo connection sends it byte for byte
 * alike. The memory is per process: behind several replicas, a replay that reaches another replica
 * inside the window is not caught.
 */
export class CrispAgentVerifier {
  readonly #secret: string;
  readonly #websites: ReadonlySet<string>;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Signature → when it leaves the window (ms). Insertion order is roughly expiry order. */
  readonly #seen = new Map<string, number>();

  constructor(options: CrispAgentOptions) {
    this.#secret = options.secret;
    this.#websites = new Set(options.websites.map((w) => w.toLowerCase()));
    this.#windowMs = (options.windowSeconds ?? 300) * 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the request claims to come from Crisp's agent (then it must verify; there is no fallback). */
  static claims(headers: IncomingHttpHeaders): boolean {
    return headers['x-crisp-signature'] !== undefined;
  }

  verify(headers: IncomingHttpHeaders, rawBody: Buffer, options: { singleUse: boolean }): Principal | Refusal {
    const signature = one(headers['x-crisp-signature']);
    const timestamp = one(headers['x-crisp-timestamp']);
    const website = one(headers['x-crisp-website-id']);
    const challenge = 'Crisp-Signature';
    if (!signature || !timestamp || !website) {
      return { status: 401, message: 'Unauthorized: a signed Crisp request needs X-Crisp-Signature, X-Crisp-Timestamp and X-Crisp-Website-Id', challenge };
    }
    const hex = SIGNATURE.exec(signature)?.[1];
    if (!hex || !/^\d{1,16}$/.test(timestamp) || !UUID.test(website)) {
      return { status: 401, message: 'Unauthorized: malformed Crisp signature headers (X-Crisp-Signature: sha256=<hex>, X-Crisp-Timestamp: unix time, X-Crisp-Website-Id: uuid)', challenge };
    }
    const expected = createHmac('sha256', this.#secret).update(`${timestamp}.${website}.`).update(rawBody).digest();
    if (!timingSafeEqual(Buffer.from(hex, 'hex'), expected)) {
      return { status: 401, message: 'Unauthorized: X-Crisp-Signature does not match (check CRISP_MCP_AGENT_SECRET)', challenge };
    }
    // Crisp documents seconds; milliseconds are accepted too, so a unit change cannot lock Hugo out.
    const atMs = timestamp.length > 11 ? Number(timestamp) : Number(timestamp) * 1000;
    const now = this.#now();
    if (Math.abs(now - atMs) > this.#windowMs) {
      return { status: 401, message: `Unauthorized: X-Crisp-Timestamp is outside the ${this.#windowMs / 1000} s window (check the server clock)`, challenge };
    }
    if (options.singleUse) {
      this.#forgetExpired(now);
      const key = hex.toLowerCase();
      if (this.#seen.has(key)) return { status: 401, message: 'Unauthorized: replayed request (this X-Crisp-Signature was already used)', challenge };
      this.#seen.set(key, atMs + this.#windowMs);
    }
    const site = website.toLowerCase();
    if (!this.#websites.has(site)) return { status: 403, message: `Forbidden: website ${site} is not in CRISP_WEBSITE_ID` };
    const session = one(headers['x-crisp-session-id']);
    const crispSession = session ? crispSessionId(session) : undefined;
    if (crispSession === null) return { status: 400, message: 'Bad Request: X-Crisp-Session-Id must be a Crisp session id (a UUID, with or without the session_ prefix)' };
    return { id: `crisp-agent:${site}`, website: site, ...(crispSession ? { crispSession } : {}) };
  }

  #forgetExpired(now: number): void {
    for (const [key, expires] of this.#seen) {
      if (expires >= now) break;
      this.#seen.delete(key);
    }
    // Timestamps arrive slightly out of order; a full sweep now and then catches the stragglers.
    if (this.#seen.size > 50_000) for (const [key, expires] of this.#seen) if (expires < now) this.#seen.delete(key);
  }
}

/** Hugo sends the bare UUID; Crisp's REST API names the conversation `session_<uuid>`. Null when it is neither. */
export function crispSessionId(value: string): string | null {
  const bare = value.startsWith('session_') ? value.slice('session_'.length) : value;
  return UUID.test(bare) ? `session_${bare.toLowerCase()}` : null;
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const CONTENT_FREE = new Set(['initialize', 'ping', 'server/discover', 'tools/list', 'prompts/list']);

/** Whether a signed request's signature must be single-use: anything but content-free protocol chatter. */
export function signatureSingleUse(httpMethod: string, body: unknown): boolean {
  if (httpMethod !== 'POST') return false;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return true;
  const method = (body as { method?: unknown }).method;
  if (typeof method !== 'string') return true;
  return !(CONTENT_FREE.has(method) || (method.startsWith('notifications/') && !('id' in body)));
}
