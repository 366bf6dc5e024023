// An oversized body gets its 413, never a connection reset, on every route with a body limit:
// /mcp, /converse and /hooks/crisp of `serve --http`, and /hooks/crisp of `bot --events hooks`.
// The server answers early and then drains the rest of the upload (a lingering close); closing
// under the upload instead makes the client's kernel drop the answer. Each case is tried 20 times
// with fetch and with node:http, on a fresh connection and on one that already served a
// keep-alive request, at 2 MB and at 20 MB (the limit is 1 MiB).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { TEST_SECRET } from '../helpers/receiver.js';

const TOKEN = 'body-limit-token-0123456789abcdef';
const SCENARIOS = fileURLToPath(new URL('../../scenarios', import.meta.url));
const TRIES = 20;
/** Tries in flight at once: enough to load the server, few enough for 2 CPU cores. */
const PARALLEL = 4;
const SIZES = [2_000_000, 20_000_000];
const BODIES = new Map(SIZES.map((size) => [size, Buffer.alloc(size, 0x20)]));

// Servers in processes of their own, as deployed: in one process with the client, the reset
// that loses the answer does not show.
let serve: HttpCli;
let bot: ChildProcess;
let botHooks: string;

beforeAll(async () => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
  serve = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', SCENARIOS, '--bot-scenario', 'gdpr'], {
    CRISP_MCP_HTTP_TOKEN: TOKEN,
    // Nothing is ever delivered there: every body this test sends is refused.
    CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://127.0.0.1:9/unused',
    CRISP_MCP_CONVERSE_SECRET: TEST_SECRET,
    CRISP_MCP_CONVERSE_SCENARIO: 'gdpr',
  });
  bot = spawn(process.execPath, [CLI, 'bot', '--scenario', 'gdpr', '--scenarios', SCENARIOS, '--sandbox', '--events', 'hooks', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  botHooks = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    bot.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const running = /"msg":"autopilot running"/.test(stderr) && /"url":"(http:[^"]+\/hooks\/crisp)"/.exec(stderr);
      if (running) resolve(running[1]!);
    });
    bot.once('exit', (code) => reject(new Error(`the bot exited with ${code}: ${stderr}`)));
  });
});
afterAll(() => {
  if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
  if (bot?.exitCode === null) bot.kill('SIGKILL');
});

type Outcome = number | string;

/**
 * Node's own fetch (its bundled undici: the one that got resets) on a connection pool of its own:
 * one POST, or a GET /healthz first and the POST on the same kept-alive socket.
 */
async function viaFetch(url: string, size: number, warm: boolean): Promise<Outcome> {
  const dispatcher = new Agent({ connections: 1 });
  const init = (more: RequestInit = {}) => ({ ...more, dispatcher }) as unknown as RequestInit;
  try {
    if (warm) await (await fetch(health(url), init())).arrayBuffer();
    const res = await fetch(url, init({ method: 'POST', body: BODIES.get(size)!, headers: headers() }));
    await res.arrayBuffer();
    return res.status;
  } catch (error) {
    return errorCode(error);
  } finally {
    await dispatcher.destroy();
  }
}

/** node:http with a one-socket keep-alive agent, the same two ways. */
async function viaNodeHttp(url: string, size: number, warm: boolean): Promise<Outcome> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    if (warm) await nodeRequest(health(url), agent, 'GET');
    return await nodeRequest(url, agent, 'POST', BODIES.get(size)!);
  } catch (error) {
    return errorCode(error);
  } finally {
    agent.destroy();
  }
}

function nodeRequest(url: string, agent: HttpAgent, method: string, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: body ? headers() : {} }, (res) => {
      res.resume();
      res.on('error', reject);
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
        // The answer is in: a client may stop uploading now (and the test stays quick).
        if (!req.writableFinished) req.destroy();
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function headers(): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, accept: 'application/json, text/event-stream' };
}

function health(url: string): string {
  return new URL('/healthz', url).href;
}

function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(error);
}

async function tries(run: () => Promise<Outcome>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let left = TRIES;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (left-- > 0) {
        const outcome = String(await run());
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

const ROUTES: [string, () => string][] = [
  ['serve --http /mcp', () => serve.url],
  ['serve --http /converse', () => serve.url.replace(/\/mcp$/, '/converse')],
  ['serve --http /hooks/crisp', () => serve.url.replace(/\/mcp$/, '/hooks/crisp')],
  ['bot --events hooks /hooks/crisp', () => botHooks],
];

describe.each(ROUTES)('%s: an oversized body is answered 413, never reset', (_name, url) => {
  for (const size of SIZES) {
    for (const [client, run] of [['fetch', viaFetch], ['node:http', viaNodeHttp]] as const) {
      it.each([false, true])(`${size / 1e6} MB with ${client}, after a keep-alive request: %s`, async (warm) => {
        expect(await tries(() => run(url(), size, warm))).toEqual({ 413: TRIES });
      });
    }
  }
  it('still serves a small request on the same server afterwards', async () => {
    const res = await fetch(health(url()));
    expect(res.status).toBe(200);
  });
});
