// bench/converse: POST /converse on `crisp-mcp serve --http` (its own process, the converse API on,
// scenario cancel-account) with a local node:http receiver for the signed replies (this process).
// Measures (1) events/s accepted (202) in a burst from 64 concurrent keep-alive clients, and how
// long the replies of that burst take to all arrive; (2) reply delivery latency at a steady rate:
// from sending the event to its reply arriving at the receiver, p50/p99. The anchor: a bare
// node:http server that parses the JSON and answers 202, nothing else, in its own process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
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

async function startServer(receiver, store) {
  const env = {
    PATH: process.env.PATH, CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_LOG_LEVEL: 'info',
    CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url, CRISP_MCP_CONVERSE_SECRET: SECRET, CRISP_MCP_CONVERSE_SCENARIO: 'cancel-account',
  };
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, CLI, 'serve', '--http', '--port', '0', '--sandbox', '--scenarios', SCENARIOS, '--store', store], { env, stdio: ['ignore', 'ignore', 'pipe'] });
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

export async function benchConverse({ total = 10_000, concurrency = 64, rate = 500, seconds = 4, rounds = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-bench-converse-'));
  const receiver = await startReceiver();
  const bare = await startBare();
  const rows = [];
  try {
    for (const [label, store] of [['sqlite', `sqlite:${join(dir, 'state.db')}`], ['memory', 'memory']]) {
      const server = await startServer(receiver, store);
      try {
        await burst(server.url, { total: 1_000, concurrency, tag: `warm-${label}` });
        let best;
        for (let r = 0; r < rounds; r++) {
          const sent = new Map();
          const tag = `b${r}-${label}`;
          const result = await burst(server.url, { total, concurrency, tag, sent });
          await until(() => [...sent.keys()].every((id) => receiver.arrived.has(id)), 60_000);
          const lastReply = Math.max(...[...sent.keys()].map((id) => receiver.arrived.get(id)));
          const firstSent = Math.min(...sent.values());
          const drained = (lastReply - firstSent) / 1000;
          if (!best || result.eps > best.eps) best = { ...result, delivered: total / drained };
        }
        const latency = await steady(server.url, receiver, { rate, seconds, tag: `s-${label}` });
        rows.push({ label, ...best, latency });
      } finally {
        server.child.kill('SIGTERM');
        await once(server.child, 'exit');
      }
    }
    let anchor;
    for (let r = 0; r < rounds; r++) {
      const result = await burst(bare.url, { total, concurrency, tag: `a${r}` });
      if (!anchor || result.eps > anchor.eps) anchor = result;
    }
    rows.push({ label: 'anchor', ...anchor });
  } finally {
    bare.child.kill('SIGTERM');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { total, concurrency, rate, seconds, rounds, rows };
}

export function formatConverse({ total, concurrency, rate, seconds, rounds, rows }) {
  const f = (n) => (n === undefined ? '—' : n.toFixed(1));
  const anchor = rows.find((r) => r.label === 'anchor');
  const lines = [
    `bench/converse — POST /converse "message" events (each a new conversation of scenario cancel-account → 1 signed reply), ${concurrency} keep-alive clients, ${total} events per burst, best of ${rounds}; server, anchor and receiver in separate processes`,
    '',
    `| server | accepted events/s | errors | replies delivered/s (burst) | delivery p50 ms at ${rate}/s | delivery p99 ms at ${rate}/s | vs anchor |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const name = row.label === 'anchor' ? 'bare node:http, JSON.parse + 202 (anchor)' : `crisp-mcp serve --http, --store ${row.label}`;
    lines.push(`| ${name} | ${Math.round(row.eps)} | ${row.errors} | ${row.delivered ? Math.round(row.delivered) : '—'} | ${f(row.latency?.p50)} | ${f(row.latency?.p99)} | ${Math.round((100 * row.eps) / anchor.eps)} % |`);
  }
  lines.push('', `Target: ≥ 1 000 events/s accepted. Delivery latency: from sending the event to its reply arriving at the receiver, ${rate} events/s for ${seconds} s.`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(formatConverse(await benchConverse()) + '\n');
}
