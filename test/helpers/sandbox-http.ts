// Raw-HTTP helpers for tests that drive the sandbox over a real socket (undici's `request`,
// which, unlike fetch, adds no User-Agent of its own, so the "no User-Agent" case is testable).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import type { SandboxCredential } from '../../src/sandbox/routes/context.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import type { WebsiteState } from '../../src/sandbox/state.js';

export const TEST_USER_AGENT = 'crisp-mcp-tests/1.0';

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** Crisp's `{error, reason, data}` envelope. */
export interface CrispEnvelope<T> {
  error: boolean;
  reason: string;
  data: T;
}

export interface CrispReply<T> {
  status: number;
  headers: IncomingHttpHeaders;
  /** The raw body text ('' for HEAD). */
  text: string;
  /** The parsed envelope, or undefined when the body is empty. */
  body: CrispEnvelope<T> | undefined;
}

export interface CrispInit {
  method?: HttpMethod;
  /** Serialised as JSON with `content-type: application/json`. */
  json?: unknown;
  /** Sent as is (e.g. malformed JSON, or a stream for a chunked body). */
  rawBody?: string | Buffer | Readable;
  /** Extra headers; `undefined` removes a default one (authorization, user-agent, x-crisp-tier). */
  headers?: Record<string, string | undefined>;
  /** Defaults to `sandbox.credentials[0]`. */
  credential?: SandboxCredential;
}

export function basicAuth(credential: SandboxCredential): string {
  return `Basic ${Buffer.from(`${credential.identifier}:${credential.key}`).toString('base64')}`;
}

/** One authenticated request, the way an official Crisp library sends it. */
export async function crisp<T = unknown>(sandbox: Pick<Sandbox, 'url' | 'credentials'>, path: string, init: CrispInit = {}): Promise<CrispReply<T>> {
  const credential = init.credential ?? sandbox.credentials[0]!;
  const merged: Record<string, string | undefined> = {
    authorization: basicAuth(credential),
    'user-agent': TEST_USER_AGENT,
    'x-crisp-tier': credential.tier,
    accept: 'application/json',
    ...(init.json !== undefined || init.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
    ...init.headers,
  };
  const headers = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.rawBody;
  const res = await request(`${sandbox.url}${path}`, { method: init.method ?? 'GET', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: text ? (JSON.parse(text) as CrispEnvelope<T>) : undefined };
}

export const crispGet = <T = unknown>(sandbox: Pick<Sandbox, 'url' | 'credentials'>, path: string, init: Omit<CrispInit, 'method'> = {}) =>
  crisp<T>(sandbox, path, { ...init, method: 'GET' });

/** `/v1/website/{website_id}` + rest, for the sandbox's demo website. */
export const site = (sandbox: Sandbox, rest = ''): string => `/v1/website/${sandbox.websiteId}${rest}`;

/** `/v1/website/{w}/conversation/{session_id}` + rest. */
export const conv = (sandbox: Sandbox, sessionId: string, rest = ''): string => site(sandbox, `/conversation/${encodeURIComponent(sessionId)}${rest}`);

/** The sandbox's control panel (`/_sandbox/...`): no credentials. */
export async function control<T = unknown>(sandbox: Pick<Sandbox, 'url'>, method: HttpMethod, path: string, json?: unknown): Promise<CrispReply<T>> {
  const res = await request(`${sandbox.url}${path}`, {
    method,
    headers: json === undefined ? {} : { 'content-type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: text ? (JSON.parse(text) as CrispEnvelope<T>) : undefined };
}

/** `data.message` of an error envelope ('' when absent). */
export function messageOf(reply: CrispReply<unknown>): string {
  const data = reply.body?.data as { message?: unknown } | undefined;
  return typeof data?.message === 'string' ? data.message : '';
}

/** A fault burst (the sandbox's `/_sandbox/faults` route): the next `count` requests that match get `fault`. */
export interface FaultBurst {
  fault: string;
  count: number;
  method?: HttpMethod;
  path_includes?: string;
  retry_after?: number;
  delay_ms?: number;
}

/** Sets a fault burst on the sandbox; throws unless it took it. */
export async function faultBurst(sandbox: Pick<Sandbox, 'url'>, burst: FaultBurst): Promise<void> {
  const reply = await control(sandbox, 'POST', '/_sandbox/faults', { burst });
  if (reply.status !== 200) throw new Error(`the sandbox refused the fault burst: ${reply.status} ${reply.text}`);
}

/** Clears the sandbox's faults; throws unless it did. */
export async function clearFaults(sandbox: Pick<Sandbox, 'url'>): Promise<void> {
  const reply = await control(sandbox, 'POST', '/_sandbox/faults', { clear: true });
  if (reply.status !== 200) throw new Error(`the sandbox did not clear its faults: ${reply.status} ${reply.text}`);
}

/** The in-memory state of the demo website, for oracles and set-up. */
export function demoSite(sandbox: Sandbox): WebsiteState {
  const found = sandbox.state.websites.get(sandbox.websiteId);
  if (!found) throw new Error('the demo website is missing from the sandbox state');
  return found;
}

/** Starts a sandbox before the enclosing describe's tests and closes it after them. */
export function useSandbox(options: SandboxOptions = { seed: 42 }): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(options);
  });
  afterAll(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });
  return () => {
    if (!sandbox) throw new Error('the sandbox is not running (useSandbox must be called inside describe)');
    return sandbox;
  };
}
