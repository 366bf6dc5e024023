// bench/autopilot: visitor messages handled end to end — sandbox → bot → sandbox — by the real
// `crisp-mcp bot` process, with SQLite and with Redis, over RTM and over Web Hooks. Three processes:
// the sandbox (`crisp-mcp sandbox`), the bot (`crisp-mcp bot`) and this driver, which plays the
// visitors through /_sandbox/ (each conversation writes its next message once the previous one
// was answered) and watches the replies arrive on its own RTM socket. Latency is from the
// visitor's POST to the reply's `message:received`. At the end every conversation is read back
// over REST: a message with two replies is a duplicate, one with none a loss.
// CPU per message is each child's user + system time over the measured part (Linux /proc); the
// sandbox does the same work whatever the bot, so bot ÷ sandbox CPU moves less with the machine's load.
// The measured part starts once each conversation has had its first 20 messages answered by the same
// bot process: a bot runs for days, while a fresh process also spends its first seconds on V8
// compiling its hot paths (on V8's own threads, which count in its CPU time) — those first messages
// get a column of their own, so that cost stays in view.
// Run: `npm run build && node bench/autopilot.js` (REDIS_URL to use a running Redis, else redis-server
// is spawned; BENCH_BOT_NODE_ARGS="--cpu-prof" to profile the bot; BENCH_HOOK_CONCURRENCY=N for the
// sandbox's --hook-concurrency, its default window of 8 otherwise, 1 for one delivery at a time;
// BENCH_AUTOPILOT_ONLY="sqlite:rtm,redis:hooks" for some rows only; BENCH_AUTOPILOT_BEFORE=PATH/dist/cli.js
// to run each row's rounds with that build's bot too, alternating with this one, against the same
// sandbox: the before/after figures of one run, under the same load).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io } from 'socket.io-client';
import { Agent, request } from 'undici';
import { CrispClient } from '../dist/crisp/index.js';
import { freePort } from './net.js';
import { cpuMicros } from './proc.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SECRET = 'bench-hook-secret-0123456789abcdef';
const TARGET = 500; // visitor messages/s with SQLite, issue 7 §6
const SCENARIO = JSON.stringify({
  name: 'bench-echo',
  version: 1,
  start: 'listen',
  blocks: {
    listen: { type: 'match', rules: [{ contains: ['human'], next: 'human' }], otherwise: 'echo', save: 'said' },
    echo: { type: 'message', text: 'Got {{said}}', next: 'listen' },
    human: { type: 'handoff', text: 'A human will answer.', reason: 'asked' },
  },
});

/** CPU time a child process has used so far, in ms. */
const cpuMs = (pid) => cpuMicros(pid) / 1000;

async function startRedis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const failed = new Promise((_, reject) => child.once('error', reject));
  const lines = createInterface({ input: child.stdout });
  await Promise.race([failed, (async () => { for await (const line of lines) if (line.includes('Ready to accept connections')) return; })()]);
  return { url: `redis://127.0.0.1:${port}`, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

let runs = 0;
/** Seeds differ between invocations too, so a shared REDIS_URL never holds a previous run's conversations. */
const SEED_BASE = 1000 + Math.floor(Math.random() * 1_000_000);

/** The Web Hook subscriptions compared: the bot's three events, or without our own replies coming back. */
const HOOK_EVENTS = {
  hooks: 'message:send,message:received,session:set_state',
  'hooks (no message:received)': 'message:send,session:set_state',
};

async function startSandbox(hooks, seed) {
  const window = hooks && process.env.BENCH_HOOK_CONCURRENCY ? ['--hook-concurrency', process.env.BENCH_HOOK_CONCURRENCY] : [];
  const args = [CLI, 'sandbox', '--port', '0', '--json', '--seed', String(seed), ...(hooks ? ['--hooks', hooks.url, '--hook-events', hooks.events, ...window] : [])];
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, CRISP_HOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  return { ...JSON.parse(line), child };
}

/** An RTM socket of our own, to see each reply the moment the sandbox records it. */
async function watchReplies(sandbox, onReply) {
  const url = new URL(`${sandbox.url}/rtm`);
  const socket = io(url.origin, { path: url.pathname, transports: ['websocket'], forceNew: true, reconnection: false });
  const ready = once(socket, 'authenticated');
  socket.emit('authentication', { tier: sandbox.tier, username: sandbox.identifier, password: sandbox.key, events: ['message:received'] });
  await ready;
  socket.on('message:received', (m) => {
    if (m.automated && m.type === 'text') onReply(m.content, performance.now());
  });
  return socket;
}

/**
 * One run: `conversations` visitors writing `warm` + `perConversation` messages each, every one waiting
 * for the previous reply; figures are for the last `perConversation` of each (the first `warm`: CPU only).
 */
export async function run({ events: mode, store, conversations, perConversation, warm = 0, label, botCli = CLI }) {
  const events = mode === 'rtm' ? 'rtm' : 'hooks';
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-bench-bot-'));
  writeFileSync(join(dir, 'bench-echo.json'), SCENARIO);
  const port = events === 'hooks' ? await freePort() : 0;
  // A fresh inbox (its own seed, so its own session ids) and a fresh store for every run.
  const n = ++runs;
  const sandbox = await startSandbox(events === 'hooks' ? { url: `http://127.0.0.1:${port}/hooks/crisp`, events: HOOK_EVENTS[mode] } : undefined, SEED_BASE + n);
  const storeSpec = store === 'sqlite' ? `sqlite:${join(dir, 'state.db')}` : `${store}/${n % 16}`;
  const bot = await startBot(sandbox, { events, store: storeSpec, port, dir, cli: botCli });
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  const waiting = new Map(); // marker → { resolve, t0, measured }
  const latencies = [];
  let replies = 0;
  const socket = await watchReplies(sandbox, (content, at) => {
    replies++;
    const marker = /^Got (\S+)$/.exec(content)?.[1];
    const w = marker && waiting.get(marker);
    if (!w) return;
    waiting.delete(marker);
    if (w.measured) latencies.push(at - w.t0);
    w.resolve(true);
  });
  const control = (path, body) => request(`${sandbox.url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (res) => {
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${text}`);
    return JSON.parse(text).data;
  });
  const sessions = [];
  let timeouts = 0;
  // The clock starts once every conversation has had its first `warm` messages answered: a bot
  // runs for days, and a fresh process's first messages also pay for V8 compiling its hot paths
  // (on its background threads, in the process's CPU time). Those messages are timed on their own.
  const fresh = { bot: cpuMs(bot.child.pid), sandbox: cpuMs(sandbox.child.pid) };
  let cpu0 = fresh;
  let started = performance.now();
  let warmed = 0;
  let startClock;
  const clockStarted = new Promise((resolve) => (startClock = resolve));
  await Promise.all(Array.from({ length: conversations }, async (_, c) => {
    let session;
    for (let k = 0; k < warm + perConversation; k++) {
      if (warm && k === warm) {
        if (++warmed === conversations) {
          cpu0 = { bot: cpuMs(bot.child.pid), sandbox: cpuMs(sandbox.child.pid) };
          started = performance.now();
          startClock();
        }
        await clockStarted;
      }
      const marker = `c${c}m${k}`;
      const answered = new Promise((resolve) => {
        const timer = setTimeout(() => {
          if (waiting.delete(marker)) resolve(false);
        }, 10_000);
        waiting.set(marker, { t0: performance.now(), measured: k >= warm, resolve: (v) => { clearTimeout(timer); resolve(v); } });
      });
      if (k === 0) {
        session = (await control(`/_sandbox/websites/${sandbox.website_id}/conversations`, { text: marker })).session_id;
        sessions[c] = session;
      } else await control(`/_sandbox/websites/${sandbox.website_id}/conversations/${session}/messages`, { content: marker });
      if (!(await answered)) timeouts++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = { bot: cpuMs(bot.child.pid) - cpu0.bot, sandbox: cpuMs(sandbox.child.pid) - cpu0.sandbox };
  const total = conversations * perConversation;
  await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would land by now

  // The truth: every conversation read back over REST.
  const crisp = new CrispClient({ baseUrl: sandbox.url, credentials: { identifier: sandbox.identifier, key: sandbox.key, tier: sandbox.tier } });
  let duplicates = 0;
  let losses = 0;
  for (const session of sessions) {
    const all = [];
    let page = await crisp.messages.list(sandbox.website_id, session);
    all.unshift(...page.messages);
    while (page.hasMore) {
      page = await crisp.messages.list(sandbox.website_id, session, all[0].timestamp);
      all.unshift(...page.messages);
    }
    const count = new Map();
    for (const m of all) if (m.from === 'operator' && m.automated && m.type === 'text') count.set(m.content, (count.get(m.content) ?? 0) + 1);
    for (const m of all.filter((x) => x.from === 'user')) {
      const n = count.get(`Got ${m.content}`) ?? 0;
      if (n === 0) losses++;
      if (n > 1) duplicates += n - 1;
    }
  }
  await crisp.close();
  socket.close();
  await agent.close();
  bot.child.kill('SIGTERM');
  await once(bot.child, 'exit');
  sandbox.child.kill('SIGTERM');
  await once(sandbox.child, 'exit');
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { label, events: mode, total, perSecond: total / elapsed, p50: pct(50), p99: pct(99), duplicates, losses, timeouts, replies, botCpuPerMessage: cpu.bot / total, sandboxCpuPerMessage: cpu.sandbox / total, freshBotCpuPerMessage: warm ? (cpu0.bot - fresh.bot) / (conversations * warm) : NaN, errors: bot.errors() };
}

/** `crisp-mcp bot` in its own process; resolves once it logs "autopilot running" (its errors are kept). */
async function startBot(sandbox, options) {
  const args = [options.cli, 'bot', '--scenario', 'bench-echo', '--scenarios', options.dir, '--store', options.store, '--events', options.events, '--reply-budget', '100000/1m', '--catch-up', '0', ...(options.events === 'hooks' ? ['--port', String(options.port)] : [])];
  const env = { PATH: process.env.PATH, CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: sandbox.identifier, CRISP_KEY: sandbox.key, CRISP_TIER: sandbox.tier, CRISP_WEBSITE_ID: sandbox.website_id, CRISP_HOOK_SECRET: SECRET, CRISP_MCP_LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [...(process.env.BENCH_BOT_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  let errors = '';
  for await (const line of lines) {
    if (line.includes('"msg":"autopilot running"')) {
      lines.on('line', (l) => { if (l.includes('"level":50')) errors += `${l}\n`; });
      return { child, errors: () => errors };
    }
  }
  throw new Error('the bot exited before it was running');
}

/**
 * The anchor for the hooks rows: the sandbox delivers a website's hooks through a bounded window
 * (`--hook-concurrency`, 8 in flight by default; Crisp's own sender is concurrent and promises no
 * order), so hooks mode is bounded by how many deliveries/s it manages to a receiver that only answers 200.
 */
export async function hookCeiling({ total = 3000 } = {}) {
  const receiver = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const sandbox = await startSandbox({ url: `http://127.0.0.1:${receiver.address().port}/hooks/crisp`, events: 'message:send' }, SEED_BASE);
  const agent = new Agent({ connections: 16 });
  const post = async (path, body) => (await request(`${sandbox.url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).body.json();
  const session = (await post(`/_sandbox/websites/${sandbox.website_id}/conversations`, { text: 'start' })).data.session_id;
  let sent = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (sent < total) {
      sent++;
      await post(`/_sandbox/websites/${sandbox.website_id}/conversations/${session}/messages`, { content: `m${sent}` });
    }
  }));
  let stats;
  do {
    await new Promise((resolve) => setTimeout(resolve, 20));
    stats = (await (await request(`${sandbox.url}/_sandbox/hooks`, { dispatcher: agent })).body.json()).data;
  } while (stats.pending > 0);
  const perSecond = stats.delivered / ((performance.now() - started) / 1000);
  await agent.close();
  sandbox.child.kill('SIGTERM');
  await once(sandbox.child, 'exit');
  receiver.close();
  return perSecond;
}

/** BENCH_AUTOPILOT_ONLY="sqlite:rtm,redis:hooks" runs only those rows (store:events, the events as in the table). */
function wanted(store, events) {
  const only = process.env.BENCH_AUTOPILOT_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  return !only?.length || only.includes(`${store}:${events}`);
}

export async function benchAutopilot({ conversations = 64, perConversation = 60, warm = 20, rounds = 2 } = {}) {
  let redis;
  try {
    redis = await startRedis();
  } catch (err) {
    process.stderr.write(`bench/autopilot: Redis skipped (${err.message})\n`);
  }
  const rows = [];
  const ceiling = await hookCeiling();
  try {
    const stores = [['SQLite (WAL)', 'sqlite'], ...(redis ? [['Redis (local)', redis.url]] : [])];
    const before = process.env.BENCH_AUTOPILOT_BEFORE;
    const builds = [['', CLI], ...(before ? [[' (before)', before]] : [])];
    for (const [label, store] of stores) {
      for (const events of ['rtm', ...Object.keys(HOOK_EVENTS)]) {
        if (!wanted(store === 'sqlite' ? 'sqlite' : 'redis', events)) continue;
        const all = builds.map(() => []);
        for (const [, botCli] of builds) await run({ events, store, conversations: 8, perConversation: 10, label, botCli }); // warm-up
        for (let r = 0; r < rounds; r++) {
          // Alternating which build goes first, so that neither always gets the quieter moment.
          const order = r % 2 ? [...builds.keys()].reverse() : [...builds.keys()];
          for (const b of order) all[b].push(await run({ events, store, conversations, perConversation, warm, label: `${label}${builds[b][0]}`, botCli: builds[b][1] }));
        }
        for (const rounds of all) {
          // The best round's speed; a duplicate or a loss in any round is never hidden.
          const best = rounds.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
          const sum = (key) => rounds.reduce((n, row) => n + row[key], 0);
          rows.push({ ...best, duplicates: sum('duplicates'), losses: sum('losses'), timeouts: sum('timeouts'), errors: rounds.map((row) => row.errors).join('') });
        }
      }
    }
  } finally {
    await redis?.stop();
  }
  return { rows, ceiling, warm: warm * conversations };
}

/** How the sandbox's hook sender ran, for the anchor line. */
function hookWindowText() {
  const window = Number(process.env.BENCH_HOOK_CONCURRENCY || 8);
  return window === 1 ? 'one at a time, in order (--hook-concurrency 1)' : `up to ${window} in flight at once (--hook-concurrency ${window}${process.env.BENCH_HOOK_CONCURRENCY ? '' : ', the default'})`;
}

export function formatAutopilot({ rows, ceiling, warm }) {
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const lines = [
    `### Autopilot: visitor messages handled end to end (sandbox → crisp-mcp bot → sandbox, three processes; best of rounds of ${rows[0]?.total ?? 0} messages, 64 conversations writing at once, each waiting for its reply, timed once the bot process has answered its first ${fmt(warm)}; duplicates and losses summed over all rounds)`,
    '',
    `| store | events | messages/s | p50 ms | p99 ms | duplicates | losses | bot CPU ms/msg | sandbox CPU ms/msg | bot ÷ sandbox CPU | bot CPU ms/msg, first ${fmt(warm)} | anchor |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const exact = r.duplicates === 0 && r.losses === 0;
    const anchor = r.label.startsWith('SQLite') ? `target ≥ ${TARGET}/s, 0 dup, 0 loss: ${r.perSecond >= TARGET && exact ? 'met' : 'NOT met'}` : exact ? '0 dup, 0 loss' : 'NOT exact';
    lines.push(`| ${r.label} | ${r.events} | ${fmt(r.perSecond)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.duplicates} | ${r.losses}${r.timeouts ? ` (${r.timeouts} timed out)` : ''} | ${r.botCpuPerMessage.toFixed(2)} | ${r.sandboxCpuPerMessage.toFixed(2)} | ${(r.botCpuPerMessage / r.sandboxCpuPerMessage).toFixed(2)} | ${r.freshBotCpuPerMessage.toFixed(2)} | ${anchor} |`);
    if (r.errors) lines.push('', `bot errors (${r.label}, ${r.events}):`, r.errors.trim());
  }
  if (ceiling) {
    lines.push(
      '',
      `Anchor for the hooks rows: the sandbox posts a website's hooks ${hookWindowText()}; to a receiver that only answers 200 it manages ${fmt(ceiling)} deliveries/s here. With message:received subscribed every visitor message costs two deliveries (the message, then our reply coming back), so hooks mode cannot pass ${fmt(ceiling / 2)} messages/s on this sandbox; without it, ${fmt(ceiling)}.`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n\n`);
  process.stdout.write(formatAutopilot(await benchAutopilot()) + '\n');
}
