// bench/converse: POST /converse on `crisp-mcp serve --http` (its own process, the converse API on,
// scenario cancel-account) with a local node:http receiver for the signed replies (this process).
// Measures (1) events/s accepted (202) in a burst from 64 concurrent keep-alive clients, and how
// long the replies of that burst take to all arrive, with the server's CPU time per event; (2)
// reply delivery latency at a steady rate: from sending the event to its reply arriving at the
// receiver, p50/p99. The anchor: a bare node:http server that parses the JSON and answers 202,
// nothing else, in its own process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('../scenarios/', import.meta.url));
const TOKEN = 'bench-token-0123456789abcdef';
const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
/** Extra node flags for the server process, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
/** A built checkout of an earlier version (BENCH_CONVERSE_BEFORE=DIR): its server, with SQLite, runs in the same rounds, for a before/after ratio per round. */
const BEFORE = process.env.BENCH_CONVERSE_BEFORE;

const BARE = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.writeHead(400).end(); return; }
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'accepted', conversationId: body.conversationId }));
  });
});
server.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port + '/converse'));
`;

/** The local receiver: 200 to every reply, the arrival time of each by the event it answers. */
async function startReceiver() {
  const arrived = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (reply.replyTo && !arrived.has(reply.replyTo)) arrived.set(reply.replyTo, performance.now());
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}/replies`, arrived, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

async function startServer(receiver, store, cli = CLI) {
  const env = {
    PATH: process.env.PATH, CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_LOG_LEVEL: 'info',
    CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url, CRISP_MCP_CONVERSE_SECRET: SECRET, CRISP_MCP_CONVERSE_SCENARIO: 'cancel-account',
  };
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, cli, 'serve', '--http', '--port', '0', '--sandbox', '--scenarios', SCENARIOS, '--store', store], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await urlOf(child);
  child.stderr.resume(); // keep draining: a full pipe would block the server's synchronous log writes
  return { child, url };
}

async function urlOf(child) {
  const lines = createInterface({ input: child.stderr });
  for await (const line of lines) {
    const entry = JSON.parse(line);
    if (entry.msg === 'converse API on') return entry.url;
  }
  throw new Error('crisp-mcp serve --http exited before announcing /converse');
}

async function startBare() {
  const child = spawn(process.execPath, ['-e', BARE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [url] = await once(createInterface({ input: child.stdout }), 'line');
  return { child, url };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function post(dispatcher, url, body) {
  return request(url, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) }).then(async (res) => {
    await res.body.dump();
    return res.statusCode;
  });
}

/** `total` events from `concurrency` workers, as fast as they are accepted: events/s and errors (non-202). */
async function burst(url, { total, concurrency, tag, sent }) {
  const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const messageId = `${tag}-${i}`;
      sent?.set(messageId, performance.now());
      const status = await post(dispatcher, url, { conversationId: `${tag}-c${i}`, eventType: 'message', text: 'I want to cancel my account', messageId });
      if (status !== 202) errors++;
    }
  }));
  const elapsed = performance.now() - t0;
  await dispatcher.close();
  return { eps: total / (elapsed / 1000), errors, elapsed };
}

/** One event every 1000/rate ms for `seconds`; latency from sending each to its reply's arrival. */
async function steady(url, receiver, { rate, seconds, tag }) {
  const dispatcher = new Agent({ connections: 16 });
  const sent = new Map();
  const total = rate * seconds;
  const start = performance.now();
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const messageId = `${tag}-${i}`;
    sent.set(messageId, performance.now());
    pending.push(post(dispatcher, url, { conversationId: `${tag}-c${i}`, eventType: 'message', text: 'cancel my subscription', messageId }));
  }
  await Promise.all(pending);
  await until(() => [...sent.keys()].every((id) => receiver.arrived.has(id)), 30_000);
  await dispatcher.close();
  const latencies = [...sent].map(([id, t]) => receiver.arrived.get(id) - t).sort((a, b) => a - b);
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.at(-1), total };
}

async function until(done, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error('bench/converse: replies still missing after ' + timeoutMs + ' ms');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** CPU seconds (user + system) a child process has used so far; undefined where /proc is not there. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/**
 * The servers (SQLite, memory) and the anchor all run at once, and each round hits them in turn
 * (anchor, SQLite, memory), so load from other jobs on the machine weighs on all three alike; the
 * best round of each is kept. A server's burst counts as done when its last reply has arrived.
 */
export async function benchConverse({ total = 10_000, concurrency = 64, rate = 500, seconds = 4, rounds = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-bench-converse-'));
  const receiver = await startReceiver();
  const bare = await startBare();
  const servers = [];
  const rows = [];
  try {
    const kinds = [['sqlite', `sqlite:${join(dir, 'state.db')}`, CLI], ['memory', 'memory', CLI]];
    if (BEFORE) kinds.push(['sqlite, before', `sqlite:${join(dir, 'before.db')}`, join(BEFORE, 'dist', 'cli.js')]);
    for (const [label, store, cli] of kinds) {
      const server = await startServer(receiver, store, cli);
      servers.push({ label, ...server });
      await burst(server.url, { total: 1_000, concurrency, tag: `warm-${label.replace(/\W+/g, '-')}` });
    }
    await burst(bare.url, { total: 1_000, concurrency, tag: 'warm-anchor' }); // its JIT warmed like the servers', or its first round is slow
    const best = new Map();
    /** Per label, the accepted events/s of each round: a server's ratio to the anchor of the same round. */
    const perRound = new Map();
    const keep = (label, result) => {
      if (!best.has(label) || result.eps > best.get(label).eps) best.set(label, result);
      perRound.set(label, [...(perRound.get(label) ?? []), result.eps]);
    };
    for (let r = 0; r < rounds; r++) {
      const cpu0 = cpuSeconds(bare.child.pid);
      const anchor = await burst(bare.url, { total, concurrency, tag: `a${r}` });
      const cpu1 = cpuSeconds(bare.child.pid);
      keep('anchor', { ...anchor, cpuPerEvent: cpu0 === undefined ? undefined : (cpu1 - cpu0) / total });
      // The servers' order turns round every round: none always runs right after the anchor.
      for (const server of r % 2 ? [...servers].reverse() : servers) {
        const sent = new Map();
        const tag = `b${r}-${server.label.replace(/\W+/g, '-')}`;
        const before = cpuSeconds(server.child.pid);
        const result = await burst(server.url, { total, concurrency, tag, sent });
        const accepted = cpuSeconds(server.child.pid);
        await until(() => [...sent.keys()].every((id) => receiver.arrived.has(id)), 120_000);
        const after = cpuSeconds(server.child.pid);
        const lastReply = Math.max(...[...sent.keys()].map((id) => receiver.arrived.get(id)));
        const firstSent = Math.min(...sent.values());
        keep(server.label, {
          ...result,
          delivered: total / ((lastReply - firstSent) / 1000),
          ...(before === undefined ? {} : { cpuPerEvent: (accepted - before) / total, cpuPerReply: (after - before) / total }),
        });
      }
    }
    const anchorRounds = perRound.get('anchor');
    const ratios = (label) => perRound.get(label).map((eps, r) => eps / anchorRounds[r]).sort((a, b) => a - b);
    for (const server of servers) rows.push({ label: server.label, ...best.get(server.label), roundRatios: ratios(server.label), latency: await steady(server.url, receiver, { rate, seconds, tag: `s-${server.label.replace(/\W+/g, '-')}` }) });
    rows.push({ label: 'anchor', ...best.get('anchor') });
    if (BEFORE) {
      const before = perRound.get('sqlite, before');
      rows.beforeRatios = perRound.get('sqlite').map((eps, r) => eps / before[r]).sort((a, b) => a - b);
    }
  } finally {
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
    bare.child.kill('SIGTERM');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { total, concurrency, rate, seconds, rounds, rows, before: BEFORE, beforeRatios: rows.beforeRatios };
}

export function formatConverse({ total, concurrency, rate, seconds, rounds, rows, before, beforeRatios }) {
  const f = (n) => (n === undefined ? '—' : n.toFixed(1));
  const us = (n) => (n === undefined ? '—' : String(Math.round(n * 1e6)));
  const anchor = rows.find((r) => r.label === 'anchor');
  const pctOf = (ratio) => `${Math.round(100 * ratio)} %`;
  const lines = [
    `bench/converse — POST /converse "message" events (each a new conversation of scenario cancel-account → 1 signed reply), ${concurrency} keep-alive clients, ${total} events per burst, best of ${rounds} interleaved rounds; server, anchor and receiver in separate processes`,
    '',
    `| server | accepted events/s | vs anchor | vs anchor, same round: median (min–max) | errors | replies delivered/s (burst) | server CPU µs per event while accepting | server CPU µs per event, replies included | delivery p50 ms at ${rate}/s | delivery p99 ms at ${rate}/s |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const name = row.label === 'anchor' ? 'bare node:http, JSON.parse + 202 (anchor)' : row.label === 'sqlite, before' ? 'the same, --store sqlite, the build before (BENCH_CONVERSE_BEFORE)' : `crisp-mcp serve --http, --store ${row.label}`;
    const round = row.roundRatios ? `${pctOf(row.roundRatios[Math.floor(row.roundRatios.length / 2)])} (${pctOf(row.roundRatios[0])}–${pctOf(row.roundRatios.at(-1))})` : '—';
    lines.push(`| ${name} | ${Math.round(row.eps)} | ${Math.round((100 * row.eps) / anchor.eps)} % | ${round} | ${row.errors} | ${row.delivered ? Math.round(row.delivered) : '—'} | ${us(row.cpuPerEvent)} | ${us(row.cpuPerReply)} | ${f(row.latency?.p50)} | ${f(row.latency?.p99)} |`);
  }
  if (beforeRatios) lines.push('', `SQLite, this build over the build in ${before}, same round: median ${beforeRatios[Math.floor(beforeRatios.length / 2)].toFixed(2)}× (${beforeRatios[0].toFixed(2)}–${beforeRatios.at(-1).toFixed(2)}×).`);
  lines.push('', `Target: ≥ 50 % of the anchor's accepted events/s with --store sqlite. vs anchor: best round over best round; same round: each round's events/s over the anchor's in that round (the rounds interleave, so the load of other jobs weighs on both alike). Replies delivered/s: the burst's events over the time from its first event sent to its last reply arrived. CPU: the server process's user + system time over the burst (its replies still to come, or all arrived) per event. Delivery latency: from sending the event to its reply arriving at the receiver, ${rate} events/s for ${seconds} s.`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(formatConverse(await benchConverse()) + '\n');
}
