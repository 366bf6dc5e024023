// A real webhook receiver on node:http for the converse API's replies, with its own Standard
// Webhooks verifier written from the spec (not src/converse/delivery.ts): every attempt is recorded
// with whether its signature holds, and a test decides per request what the receiver answers.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export const TEST_SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

/** Standard Webhooks v1 verification, from the spec: HMAC-SHA256 over `{id}.{timestamp}.{body}` keyed with the base64 part of the secret. */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, nowSeconds = Date.now() / 1000, toleranceSeconds = 300): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const key = Buffer.from(secret.split('_')[1]!, 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'));
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || signature === undefined) return false;
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface Attempt {
  id: string;
  timestamp: number;
  body: string;
  json: Record<string, unknown> & { conversationId: string; messageId: string; type: string; text: string };
  verified: boolean;
  at: number;
  /** What the receiver did with it. */
  answer: number | 'drop' | 'hang';
}

/** What the receiver does with one attempt: a status (2xx accepts), a status with headers, drop the connection, or never answer. */
export type Answer = number | { status: number; headers: Record<string, string> } | 'drop' | 'hang';
export type Behaviour = (attempt: Omit<Attempt, 'answer'>, seen: number) => Answer;

export class Receiver {
  readonly attempts: Attempt[] = [];
  behaviour: Behaviour = () => 200;
  /** How long to wait before answering (every request). */
  delayMs = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #hanging = new Map<ServerResponse, Attempt>();
  url = '';

  private constructor(readonly secret: string) {
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        const base = {
          id,
          timestamp: Number(req.headers['webhook-timestamp']),
          body,
          json: JSON.parse(body) as Attempt['json'],
          verified: verifyStandardWebhook(this.secret, req.headers, body),
          at: Date.now(),
        };
        const answer = this.behaviour(base, this.attempts.filter((a) => a.id === id).length);
        const record: Attempt = { ...base, answer: typeof answer === 'object' ? answer.status : answer };
        const reply = () => {
          this.attempts.push(record);
          if (answer === 'hang') return void this.#hanging.set(res, record);
          if (answer === 'drop') return void req.socket.destroy();
          const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
          res.writeHead(status, headers).end();
        };
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(secret = TEST_SECRET): Promise<Receiver> {
    const receiver = new Receiver(secret);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as AddressInfo).port}/hooks/converse`;
    return receiver;
  }

  /** Attempts answered 2xx. */
  get accepted(): Attempt[] {
    return this.attempts.filter((a) => typeof a.answer === 'number' && a.answer >= 200 && a.answer < 300);
  }

  /** The accepted replies of one conversation, in arrival order. */
  of(conversationId: string): Attempt['json'][] {
    return this.accepted.filter((a) => a.json.conversationId === conversationId).map((a) => a.json);
  }

  async waitFor(what: () => boolean, timeoutMs = 5_000, label = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!what()) {
      if (Date.now() > deadline) throw new Error(`receiver: ${label} not met within ${timeoutMs} ms; ${this.attempts.length} attempts: ${this.attempts.map((a) => `${a.json.conversationId}/${a.json.type}:${a.answer}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Answers 200 to every request left hanging. */
  release(): void {
    for (const [res, record] of this.#hanging) {
      if (res.destroyed) continue;
      record.answer = 200;
      res.writeHead(200).end();
    }
    this.#hanging.clear();
  }

  async close(): Promise<void> {
    for (const res of this.#hanging.keys()) res.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
