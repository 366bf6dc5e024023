// Shared by the scenario tests: the example library (plus test-only scenarios), a visitor that
// writes into the sandbox, and a local booking system for webhook scenarios.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type ScenarioLibrary } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import type { Message } from '../../src/crisp/schemas.js';
import type { Sandbox } from '../../src/sandbox/server.js';

export const SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

/** Saturday 12:00 in Paris: weekend-support takes its closed path. */
export const SATURDAY_NOON_PARIS = Date.parse('2025-06-14T10:00:00Z');

export function exampleSources(): Array<{ file: string; source: string }> {
  return readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: `${SCENARIOS_DIR}${f}`, source: readFileSync(`${SCENARIOS_DIR}${f}`, 'utf8') }));
}

/** A test scenario: "sales" questions are assigned to the operator with this email, tagged, and resolved. */
export function assignScenario(email: string): { file: string; source: string } {
  const scenario = {
    name: 'route-sales',
    version: 1,
    description: 'Sales questions go to a named operator.',
    start: 'route',
    blocks: {
      route: { type: 'match', rules: [{ contains: ['sales', 'quote'], next: 'tag' }], otherwise: 'bye' },
      tag: { type: 'set', conversation_data: { team: 'sales' }, segments: { add: ['sales'] }, next: 'to_sales' },
      to_sales: { type: 'handoff', text: 'Passing you to our sales team.', assign: { email }, note: 'Sales lead from the bot.', reason: 'sales' },
      bye: { type: 'end', text: 'Thanks, bye!', resolve: true },
    },
  };
  return { file: 'route-sales.json', source: JSON.stringify(scenario) };
}

/** A booking scenario whose webhook calls `origin` (a local server in tests). */
export function bookingScenario(origin: string): { file: string; source: string } {
  const scenario = {
    name: 'book-local',
    version: 1,
    description: 'Books through a local booking system.',
    start: 'route',
    webhook_origins: [origin],
    blocks: {
      route: { type: 'match', rules: [{ contains: ['book'], next: 'ask_name' }], otherwise: 'human' },
      ask_name: { type: 'ask', text: 'Which name?', save: { var: 'name' }, next: 'book' },
      book: {
        type: 'webhook',
        url: `${origin}/api/bookings`,
        body: { name: '{{name}}', source: 'crisp-chat' },
        map: { booking_id: 'booking.id' },
        next: 'booked',
        on_error: 'failed',
      },
      booked: { type: 'end', text: 'Booked, {{name}}: reference {{booking_id}}.', resolve: true },
      failed: { type: 'handoff', text: 'The booking system is down; a human will finish this.', note: 'Booking failed for {{name}}.', reason: 'booking_failed' },
      human: { type: 'handoff', text: 'Let me get someone.', reason: 'unmatched' },
    },
  };
  return { file: 'book-local.json', source: JSON.stringify(scenario) };
}

export function testLibrary(extra: Array<{ file: string; source: string }> = []): ScenarioLibrary {
  return scenarioLibraryFromTexts([...exampleSources(), ...extra]);
}

/** The visitor side of the sandbox. */
export function visitor(sandbox: Sandbox, website = sandbox.websiteId) {
  const site = () => sandbox.state.websites.get(website)!;
  return {
    site,
    thread: (session: string): Message[] => site().messages.get(session)!,
    conversation: (session: string) => site().conversations.get(session)!,
    /** A new conversation whose visitor wrote `text` (if given). */
    open(text?: string, visitorInfo: { nickname?: string; email?: string } = { nickname: 'Ada' }): string {
      const session = sandbox.state.createConversation(site(), visitorInfo).session_id;
      if (text !== undefined) this.says(session, text);
      return session;
    },
    says(session: string, text: string): number {
      return sandbox.state.addMessage(site(), session, { type: 'text', from: 'user', origin: 'chat', content: text }, { user_id: session, nickname: 'Ada' }).message.fingerprint;
    },
    /** Operator-side messages after the visitor's last one. */
    botMessages(session: string): Message[] {
      return site().messages.get(session)!.filter((m) => m.from === 'operator');
    },
  };
}

export interface BookingServer {
  origin: string;
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: unknown }>;
  /** What the next calls answer: 'ok' (201 with a booking), 'fail' (503). */
  mode: 'ok' | 'fail';
  close(): Promise<void>;
}

export async function startBookingServer(): Promise<BookingServer> {
  const state: BookingServer = { origin: '', requests: [], mode: 'ok', close: async () => {} };
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw ? (JSON.parse(raw) as unknown) : null });
      if (state.mode === 'fail') {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"down"}');
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ booking: { id: `BK-${state.requests.length}` } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
