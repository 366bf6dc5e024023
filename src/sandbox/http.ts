// The sandbox's HTTP plumbing: a tiny path router, Crisp's envelope, body reading with limits.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeIssues } from '../crisp/schemas.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A failure the sandbox answers the way Crisp does: status, `reason`, `data.message`. */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new SandboxHttpError(400, 'invalid_data', message);
export const notFound = (message: string) => new SandboxHttpError(404, 'not_found', message);

export interface Reply {
  status?: number;
  reason?: string;
  data?: unknown;
}

export interface Route<C> {
  method: Method;
  pattern: string;
  handler: (ctx: C, params: Record<string, string>) => Reply | Promise<Reply>;
}

interface CompiledRoute<C> extends Route<C> {
  parts: string[];
}

export interface Match<C> {
  route: CompiledRoute<C>;
  params: Record<string, string>;
}

/**
 * Matches `/v1/website/:website_id/...` patterns segment by segment. A last part `*name` takes the
 * rest of the path, one segment or more, joined with `/` (helpdesk tree paths).
 */
export class Router<C> {
  // By segment count: a path is only tried against the patterns as long as it.
  readonly #routes = new Map<number, CompiledRoute<C>[]>();
  readonly #tails: CompiledRoute<C>[] = [];

  add(...routes: Route<C>[]): this {
    for (const route of routes) {
      const parts = route.pattern.split('/').filter(Boolean);
      if (parts.at(-1)?.startsWith('*')) {
        this.#tails.push({ ...route, parts });
        continue;
      }
      const sameLength = this.#routes.get(parts.length) ?? [];
      sameLength.push({ ...route, parts });
      this.#routes.set(parts.length, sameLength);
    }
    return this;
  }

  /** The route for a path; `methodMismatch` when the path exists under another method. */
  match(method: string, path: string): Match<C> | { methodMismatch: boolean } {
    const segments = path.split('/').filter(Boolean);
    let methodMismatch = false;
    for (const route of this.#routes.get(segments.length) ?? []) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      methodMismatch = true;
    }
    for (const route of this.#tails) {
      if (segments.length < route.parts.length) continue;
      const head = route.parts.length - 1;
      const params = matchParts(route.parts.slice(0, head), segments.slice(0, head));
      const rest = params && decodeAll(segments.slice(head));
      if (!params || rest === undefined) continue;
      params[route.parts[head]!.slice(1)] = rest;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      methodMismatch = true;
    }
    return { methodMismatch };
  }
}

function decodeAll(segments: string[]): string | undefined {
  try {
    return segments.map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

function matchParts(parts: string[], segments: string[]): Record<string, string> | undefined {
  // Literal segments first: most patterns are ruled out without decoding anything.
  for (let i = 0; i < parts.length; i++) if (parts[i]![0] !== ':' && parts[i] !== segments[i]) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part[0] !== ':') continue;
    try {
      params[part.slice(1)] = decodeURIComponent(segments[i]!);
    } catch {
      return undefined;
    }
  }
  return params;
}

export function sendEnvelope(res: ServerResponse, status: number, reason: string, data: unknown, headers: Record<string, string> = {}, head = false): void {
  const body = JSON.stringify({ error: status >= 400, reason, data: data ?? {} });
  // HEAD answers with the length the GET would have, and no body (RFC 9110 §9.3.2).
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

/**
 * An error's body is `{error: true, reason, data: {message}}`: the `namespace` and "Got response
 * error: " that node-crisp-api shows are added by that client when it wraps the body, not sent by Crisp.
 */
export function sendError(res: ServerResponse, error: SandboxHttpError, head = false): void {
  sendEnvelope(res, error.status, error.reason, { message: error.message }, error.headers, head);
}

/** Reads a JSON body up to `limit` bytes; an empty body is `undefined`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new SandboxHttpError(413, 'invalid_data', `request body is ${declared} bytes; the limit is ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SandboxHttpError(413, 'invalid_data', `request body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalid('data should be valid JSON');
  }
}

/** Validates a body with a wire schema, answering 400 `invalid_data` with Crisp-like wording. */
export function validate<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {}, { reportInput: true });
  if (!result.success) throw invalid(describeIssues(result.error));
  return result.data;
}

/** Reads a 0|1 query flag; anything else is a 400 naming the parameter. */
export function flag(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw invalid(`query.${name} should be 0 or 1`);
}

export function intParam(value: string | null | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalid(max === Number.MAX_SAFE_INTEGER ? `${name} should be an integer >= ${min}` : `${name} should be an integer between ${min} and ${max}`);
  }
  return n;
}
