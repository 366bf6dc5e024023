// node:http ⇄ web Request/Response for the HTTP server, and the host names it answers to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { localhostAllowedHostnames } from '@modelcontextprotocol/server';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  // A known length: the headers and the body leave in one write, without chunked framing.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers }).end(text);
}

/** The 415 message for a compressed request body, which is never decoded here; undefined for a plain one. */
export function encodedBodyRefusal(req: IncomingMessage): string | undefined {
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (!encoding || encoding === 'identity') return undefined;
  return `Unsupported Media Type: Content-Encoding ${encoding} is not accepted; send the body uncompressed`;
}

/**
 * A Content-Type naming a charset other than UTF-8 is refused: JSON between systems is UTF-8
 * (RFC 8259), and a Latin-1 or Shift_JIS body read as UTF-8 would lose every accented letter or kana to U+FFFD.
 */
export function charsetRefusal(req: IncomingMessage): string | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1];
  if (charset === undefined || /^utf-?8$/i.test(charset)) return undefined;
  return `Unsupported Media Type: charset ${charset} is not accepted; send the JSON body in UTF-8`;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or undefined if it is not UTF-8 (a byte sequence that is no character is refused, never replaced). */
export function utf8Text(body: Buffer): string | undefined {
  try {
    return UTF8.decode(body);
  } catch {
    return undefined;
  }
}

/**
 * Reads the body up to `limit` bytes. A declared or actual larger one is refused: nothing more is
 * kept, and the rest is read and dropped (see `discardRest`), so the caller answers 413 on a
 * connection that stays open (never with `Connection: close`, which makes node:http close it at once).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => onBody(req, limit, (error, body) => (error ? reject(error) : resolve(body!))));
}

/**
 * `readBody` with a callback, called once: for a route that runs on every request and has no use
 * for a promise (the hook route). Plain events, not an async iterator: the iterator's machinery
 * costs more than the body (typically one chunk) takes to arrive.
 */
export function onBody(req: IncomingMessage, limit: number, done: (error: Error | undefined, body?: Buffer | 'too_large') => void): void {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    discardRest(req);
    return done(undefined, 'too_large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      cleanup();
      discardRest(req, size);
      done(undefined, 'too_large');
    } else chunks.push(chunk);
  };
  const onEnd = () => {
    cleanup();
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onError = (error: Error) => {
    cleanup();
    done(error);
  };
  const onClose = () => {
    cleanup();
    done(new Error('the client closed the connection before the body was read'));
  };
  const cleanup = () => {
    req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
  };
  req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
}

/** How much of a refused body is still read and dropped, and for how long, before the connection is cut. */
export const DISCARD_LIMITS = { bytes: 64 * 1024 * 1024, ms: 10_000 };

/**
 * A lingering close: after a refusal, the rest of the body is read and dropped instead of the socket
 * being closed under the upload. Closing a socket with unread data makes the kernel send a reset,
 * and the client's kernel then throws away our 413 before the client has read it. Past
 * `DISCARD_LIMITS` (bytes, counting `seen` already read, or time) the connection is cut after all.
 */
export function discardRest(req: IncomingMessage, seen = 0, limits = DISCARD_LIMITS): void {
  if (req.complete) return;
  let size = seen;
  const cut = () => {
    done();
    req.socket.destroy();
  };
  const timer = setTimeout(cut, limits.ms).unref();
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limits.bytes) cut();
  };
  const done = () => {
    clearTimeout(timer);
    req.off('data', onData).off('end', done).off('close', done).off('error', done);
  };
  // A client that gives up mid-upload is no error of ours: 'error' is listened to so it is not thrown.
  req.on('data', onData).once('end', done).once('close', done).once('error', done);
  req.resume();
}

/** The web Request the SDK routes on. Without the body: every SDK entry point is handed the parsed one. */
export function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  // Name/value pairs, not a Headers object: Request copies its init headers anyway.
  const headers: [string, string][] = [];
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value === undefined || name === 'content-length' || name === 'transfer-encoding') continue;
    if (Array.isArray(value)) for (const item of value) headers.push([name, item]);
    else headers.push([name, value]);
  }
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/mcp'}`, { method: req.method, headers, signal });
}

/** Writes a web Response to Node: a JSON body in one write, an SSE stream chunk by chunk with backpressure; a client that leaves cancels the stream. */
export async function send(res: ServerResponse, response: Response, gone?: AbortSignal): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  if (!response.body || !headers['content-type']?.startsWith('text/event-stream')) {
    const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    // A known length: one plain write instead of chunked framing.
    if (body && !headers['content-length']) headers['content-length'] = String(body.length);
    res.writeHead(response.status, headers).end(body);
    return;
  }
  // An SSE stream may stay quiet for a while: the client gets its status and headers now.
  res.writeHead(response.status, headers).flushHeaders();
  const left = new Promise<void>((resolve) => res.once('close', resolve));
  try {
    for await (const chunk of response.body) {
      if (gone?.aborted || res.destroyed) break;
      if (!res.write(chunk)) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), left]);
    }
  } catch {
    // The stream failed or the client left; either way there is nothing more to write.
  }
  res.end();
}

/** Host names accepted in Host and Origin: localhost, the bound host (every local address when bound to all), and `extra`. */
export function allowedHostnames(bound: string, extra: readonly string[]): string[] {
  const names = new Set(localhostAllowedHostnames());
  const add = (host: string) => names.add(isIP(host) === 6 ? `[${host.toLowerCase()}]` : host.toLowerCase());
  const bare = bound.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::') {
    // Bound to every interface: the machine's own addresses are the names it is reached by.
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) add(a.address.split('%')[0]!);
  } else add(bare);
  for (const name of extra) names.add(name);
  return [...names];
}

/** The host to put in the URL we print: a wildcard bind is reached through 127.0.0.1. */
export function urlHost(bound: string): string {
  const bare = bound.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::') return '127.0.0.1';
  return isIP(bare) === 6 ? `[${bare}]` : bare;
}

/** Headers a request may carry once: node:http keeps the first of two, while a proxy in front may act on the last. */
const SINGLE_HEADERS = new Set(['host', 'authorization']);

/** The name of a header in SINGLE_HEADERS that `rawHeaders` (name, value, name, value…) holds more than once. */
export function repeatedHeader(rawHeaders: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) return name === 'host' ? 'Host' : 'Authorization';
    seen.add(name);
  }
  return undefined;
}
