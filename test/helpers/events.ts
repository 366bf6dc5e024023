// Helpers for the event-wire tests (RTM and Web Hooks): a raw Socket.IO client of the sandbox, a
// node:http hook receiver that records what it gets, and polling with a deadline.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import type { Sandbox } from '../../src/sandbox/server.js';
import { control } from './sandbox-http.js';

/** Polls `check` until it returns something other than undefined/false, or fails after `ms`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms = 5_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A Socket.IO client opened the way node-crisp-api opens it: URL origin + pathname as the path, WebSocket only. */
export function openSocket(endpoint: string): Socket {
  const url = new URL(endpoint);
  return io(url.origin, { path: url.pathname, transports: ['websocket'], forceNew: true, reconnection: false });
}

/** Resolves with the first `name` event's payload. */
export function next<T = unknown>(socket: Socket, name: string, ms = 3_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
    socket.once(name, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** Opens a socket and authenticates; resolves once `authenticated` arrives. */
export async function authenticatedSocket(sandbox: Pick<Sandbox, 'url' | 'credentials'>, events: string[], credential = sandbox.credentials[0]!): Promise<Socket> {
  const socket = openSocket(`${sandbox.url}/rtm`);
  const answer = next(socket, 'authenticated');
  socket.emit('authentication', { tier: credential.tier, username: credential.identifier, password: credential.key, events });
  await answer;
  return socket;
}

/** Everything after the events already queued on this socket: a `socket:bind` round trip (its ack comes after them). */
export function barrier(socket: Socket): Promise<unknown> {
  return socket.timeout(3_000).emitWithAck('socket:bind', {});
}

/** The visitor starts a conversation with a first message; returns its session_id. */
export async function visitorStarts(sandbox: Pick<Sandbox, 'url' | 'websiteId'>, text: string): Promise<string> {
  const reply = await control<{ session_id: string }>(sandbox, 'POST', `/_sandbox/websites/${sandbox.websiteId}/conversations`, { text });
  if (reply.status !== 200) throw new Error(`visitor start failed: ${reply.status} ${reply.text}`);
  return reply.body!.data.session_id;
}

/** The visitor writes into a conversation; returns the message's fingerprint. */
export async function visitorWrites(sandbox: Sandbox, sessionId: string, content: string): Promise<number> {
  const reply = await control<{ fingerprint: number }>(sandbox, 'POST', `/_sandbox/websites/${sandbox.websiteId}/conversations/${sessionId}/messages`, { content });
  if (reply.status !== 200) throw new Error(`visitor write failed: ${reply.status} ${reply.text}`);
  return reply.body!.data.fingerprint;
}

/** An operator writes in Crisp's app (the sandbox's operator route, not the REST API); returns the message's fingerprint. */
export async function operatorWrites(sandbox: Sandbox, sessionId: string, content: string): Promise<number> {
  const reply = await control<{ fingerprint: number }>(sandbox, 'POST', `/_sandbox/websites/${sandbox.websiteId}/conversations/${sessionId}/operator/messages`, { content });
  if (reply.status !== 200) throw new Error(`operator write failed: ${reply.status} ${reply.text}`);
  return reply.body!.data.fingerprint;
}

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  /** The status the receiver answered (0 when it dropped the connection). */
  status: number;
}

/** How the receiver answers the n-th request (1-based): a status, or 'drop' to destroy the socket, or 'hang'. */
export type Answer = number | 'drop' | 'hang';

export interface HookReceiver {
  url: string;
  received: Received[];
  /** Successfully answered (2xx) deliveries, parsed. */
  delivered(): { raw: string; headers: IncomingHttpHeaders; body: { website_id: string; event: string; data: Record<string, unknown>; timestamp: number } }[];
  close(): Promise<void>;
}

/** A node:http server on port 0 that records every request and answers as `answer` says. */
export async function startReceiver(answer: (n: number, req: IncomingMessage) => Answer = () => 200): Promise<HookReceiver> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const what = answer(++n, req);
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, status: typeof what === 'number' ? what : 0 });
      if (what === 'drop') return void req.socket.destroy();
      if (what === 'hang') return void hanging.push(res);
      res.writeHead(what, { 'content-type': 'text/plain' }).end(String(what));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/crisp`,
    received,
    delivered: () =>
      received
        .filter((r) => r.status >= 200 && r.status < 300)
        .map((r) => ({ raw: r.raw, headers: r.headers, body: JSON.parse(r.raw) as ReturnType<HookReceiver['delivered']>[number]['body'] })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
