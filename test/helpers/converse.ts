// The converse API put together as `serve --http` does it — ConverseService, ReplyDeliverer and
// (optionally) the HTTP server's /converse route — over a chosen store, with a real receiver.
import { Writable } from 'node:stream';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import { ConverseService, type ConverseOptions } from '../../src/converse/converse.js';
import { ReplyDeliverer, type DelivererOptions } from '../../src/converse/delivery.js';
import { type ScenarioLibrary } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { CrispClient } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { toolsFor } from '../../src/mcp/server.js';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { startHttpServer, type HttpServerHandle, type HttpServerOptions } from '../../src/transport/http.js';
import { Receiver, TEST_SECRET } from './receiver.js';

export const CONVERSE_TOKEN = 'converse-token-0123456789abcdef';
const WEBSITE = '11111111-2222-4333-8444-555555555555';

/**
 * Every reply type: a greeting that reads metadata, buttons, a carousel (cardIndex), free text, a
 * webhook (to `webhookOrigin`), a handoff with an assignment, and ends.
 */
export function converseScenario(webhookOrigin = 'http://127.0.0.1:9'): { file: string; source: string } {
  const scenario = {
    name: 'converse-test',
    version: 1,
    start: 'hello',
    webhook_origins: [webhookOrigin],
    blocks: {
      hello: { type: 'message', text: 'Hello {{user_name}}!', next: 'menu' },
      menu: {
        type: 'choice',
        text: 'What do you need?',
        choices: [
          { label: 'Plans', value: 'plans', next: 'plans' },
          { label: 'Book', value: 'book', next: 'ask_date' },
          { label: 'Human', value: 'human', next: 'human' },
          { label: 'Bye', value: 'bye', next: 'bye' },
        ],
      },
      plans: {
        type: 'choice',
        display: 'carousel',
        text: 'Pick a plan',
        choices: [
          { label: 'Basic', value: 'basic', description: '5 EUR a month', next: 'picked' },
          { label: 'Pro', value: 'pro', image: 'https://example.com/pro.png', next: 'picked' },
        ],
        save: 'plan',
      },
      picked: { type: 'end', text: 'You picked {{plan}}. Bye {{user_name}}.' },
      ask_date: { type: 'ask', text: 'Which date?', save: { var: 'date' }, next: 'book' },
      book: { type: 'webhook', url: `${webhookOrigin}/book`, body: { date: '{{date}}', who: '{{user_name}}' }, map: { ref: 'booking.ref' }, next: 'booked', on_error: 'human' },
      booked: { type: 'message', text: 'Booked {{ref}} for {{date}}.', next: 'menu' },
      human: { type: 'handoff', text: 'A human will take it from here.', assign: { email: 'billing@example.com' }, note: 'Wants a human ({{user_name}}).', reason: 'asked_for_human' },
      bye: { type: 'end', text: 'Bye!' },
    },
  };
  return { file: 'converse-test.json', source: JSON.stringify(scenario) };
}

export interface ConverseHarnessOptions {
  store?: Store;
  library?: ScenarioLibrary;
  receiver?: Receiver;
  service?: Partial<ConverseOptions>;
  deliverer?: Partial<DelivererOptions>;
  /** Serve /converse over HTTP too (with these options). */
  http?: Partial<HttpServerOptions> | false;
}

export interface ConverseHarness {
  store: Store;
  receiver: Receiver;
  service: ConverseService;
  deliverer: ReplyDeliverer;
  server: HttpServerHandle | undefined;
  /** http://…/converse when served. */
  url: string;
  logs: Record<string, unknown>[];
  /** POSTs a JSON body (a string is sent as is) to /converse with the token. */
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  /** Stops HTTP, service and deliverer, keeping the store and receiver open. */
  stop(): Promise<void>;
  /** stop(), then the receiver and the store. */
  close(): Promise<void>;
}

export async function startConverseHarness(options: ConverseHarnessOptions = {}): Promise<ConverseHarness> {
  const store = options.store ?? new MemoryStore();
  const receiver = options.receiver ?? (await Receiver.start());
  const library = options.library ?? scenarioLibraryFromTexts([converseScenario()]);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('debug', sink);
  const deliverer = new ReplyDeliverer({ store, url: receiver.url, secret: TEST_SECRET, log, pollMs: 50, timeoutMs: 2_000, retry: { baseMs: 20, maxMs: 200 }, ...options.deliverer });
  const service = new ConverseService({ store, library, scenario: 'converse-test', log, onReplies: (key) => deliverer.kick(key), ...options.service });
  deliverer.start();
  let server: HttpServerHandle | undefined;
  let crisp: CrispClient | undefined;
  if (options.http !== false && options.http !== undefined) {
    const config = resolveConfig(parseServeFlags(['--http', '--port', '0']), { env: { CRISP_IDENTIFIER: 'id', CRISP_KEY: 'key', CRISP_WEBSITE_ID: WEBSITE } });
    crisp = new CrispClient({ baseUrl: 'http://127.0.0.1:9', credentials: { identifier: 'id', key: 'key', tier: 'plugin' } });
    const tools = toolsFor({ readOnly: true, toolsets: undefined, tools: undefined, exclude: [] });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, tools, deps: { crisp, guard: new Guard([WEBSITE]), config, log }, tokens: [CONVERSE_TOKEN], converse: service, ...options.http });
  }
  const url = server ? server.url.replace(/\/mcp$/, '/converse') : '';
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await server?.close();
      await service.close();
      await deliverer.stop();
      await crisp?.close();
    })());
  return {
    store,
    receiver,
    service,
    deliverer,
    server,
    url,
    logs,
    async post(body, headers = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CONVERSE_TOKEN}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    stop,
    async close() {
      await stop();
      await receiver.close();
      await store.close();
    },
  };
}

/** Resolves once every event accepted so far has been run. */
export async function settled(service: ConverseService, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (service.queued > 0) {
    if (Date.now() > deadline) throw new Error(`${service.queued} converse events still queued after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
