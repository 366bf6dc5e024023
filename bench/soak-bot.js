// bench/soak-bot: `crisp-mcp bot` (the autopilot, SQLite store) against `crisp-mcp sandbox` in its own
// process, over RTM or Web Hooks, for rounds of distinct visitors: each round opens new
// conversations (a visitor message each, a second message in half of them), drops the RTM sockets
// once, and makes Crisp fail for a while (a burst of 503s, then dropped connections). After each
// round, once the bot is quiet: its RSS, heap used after a forced GC, open fds, active handles
// (bench/soak-probe.js), and the store's row counts. Not part of `npm run bench` (minutes).
//   node bench/soak-bot.js [rounds=5] [conversations per round=200] [rtm|hooks]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { freePort } from './net.js';
import { HEADER, measure, probeInto, row } from './soak-probe.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('../scenarios/', import.meta.url));
const SECRET = 'soak-hook-secret-0123456789abcdef';
const ROUNDS = Number(process.argv[2] ?? 5);
const PER_ROUND = Number(process.argv[3] ?? 200);
const EVENTS = process.argv[4] ?? 'rtm';

async function startSandbox(hooksPort) {
  const hooks = hooksPort ? ['--hooks', `http://127.0.0.1:${hooksPort}/hooks/crisp`, '--hook-events', 'message:send,message:received,session:set_state'] : [];
  const child = spawn(process.execPath, [CLI, 'sandbox', '--port', '0', '--json', ...hooks], { env: { PATH: process.env.PATH, CRISP_HOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  return { ...JSON.parse(line), child };
}

async function startBot(dir, sandbox, hooksPort) {
  const probe = probeInto(dir);
  const db = join(dir, 'state.db');
  const args = [...probe.args, CLI, 'bot', '--scenario', 'cancel-account', '--scenarios', SCENARIOS, '--store', `sqlite:${db}`, '--events', EVENTS, '--catch-up', '2m',
    ...(hooksPort ? ['--port', String(hooksPort)] : [])];
  const env = { PATH: process.env.PATH, CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: sandbox.identifier, CRISP_KEY: sandbox.key, CRISP_TIER: sandbox.tier, CRISP_WEBSITE_ID: sandbox.website_id,
    CRISP_HOOK_SECRET: SECRET, CRISP_MCP_LOG_LEVEL: 'info', ...probe.env };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  const warnings = new Map();
  for await (const line of lines) {
    if (line.includes('"msg":"autopilot running"')) {
      lines.on('line', (l) => {
        if (!l.startsWith('{')) return;
        const { level, msg } = JSON.parse(l);
        if (level >= 40) warnings.set(msg, (warnings.get(msg) ?? 0) + 1);
      });
      return { child, warnings, measure: () => measure(child.pid, probe.out, db) };
    }
  }
  throw new Error('the bot exited before it was running');
}

function control(dispatcher, sandbox, method, path, body) {
  return request(`${sandbox.url}${path}`, { method, dispatcher, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    .then(async (res) => (await res.body.json().catch(() => undefined))?.data, () => undefined);
}

async function round(dispatcher, sandbox, n) {
  const base = `/_sandbox/websites/${sandbox.website_id}/conversations`;
  let next = 0;
  const sessions = [];
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) {
      const i = next++;
      if (i === Math.floor(n / 3)) await control(dispatcher, sandbox, 'POST', '/_sandbox/rtm/drop', {});
      if (i === Math.floor(n / 2)) await control(dispatcher, sandbox, 'POST', '/_sandbox/faults', { burst: { fault: '503', count: 40 } });
      if (i === Math.floor((2 * n) / 3)) await control(dispatcher, sandbox, 'POST', '/_sandbox/faults', { burst: { fault: 'drop', count: 20 } });
      const created = await control(dispatcher, sandbox, 'POST', base, { text: 'I want to cancel my account' });
      if (created?.session_id) sessions.push(created.session_id);
    }
  }));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const [i, session] of sessions.entries()) {
    if (i % 2 === 0) await control(dispatcher, sandbox, 'POST', `${base}/${session}/messages`, { content: i % 4 === 0 ? 'Yes' : 'hello?' });
  }
  return sessions.length;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-soak-bot-'));
  const hooksPort = EVENTS === 'hooks' ? await freePort() : undefined;
  const sandbox = await startSandbox(hooksPort);
  let bot;
  const dispatcher = new Agent({ connections: 8 });
  const rows = [];
  try {
    bot = await startBot(dir, sandbox, hooksPort);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    rows.push(['start', 0, await bot.measure()]);
    let total = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      total += await round(dispatcher, sandbox, PER_ROUND);
      await new Promise((resolve) => setTimeout(resolve, 10_000)); // retries (backoff up to 30 s) mostly done
      const m = await bot.measure();
      rows.push([`round ${r}`, total, m]);
      console.error(`round ${r}: ${total} conversations rss ${m.rss.toFixed(1)} MB heap ${m.heap.toFixed(1)} MB fds ${m.fds} rows ${JSON.stringify(m.rows)} handles ${JSON.stringify(m.handleKinds)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.SOAK_REST_MS ?? 70_000)));
    rows.push(['rest 70 s', total, await bot.measure()]);
  } finally {
    await dispatcher.close();
    for (const child of [bot?.child, sandbox.child]) {
      if (!child || child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`bot --events ${EVENTS}`);
  console.log(HEADER);
  for (const [label, total, m] of rows) console.log(row(label, `${total} conversations`, m));
  if (bot.warnings.size) console.log(`\nwarnings and errors logged: ${JSON.stringify(Object.fromEntries(bot.warnings))}`);
}

await main();
