// bench/soak: a month of `crisp-mcp serve --http --sandbox` compressed into rounds of steady, varied
// load, to see what grows with the number of conversations, sessions and events. Each round:
// converse sessions that start, talk, end or go idle (CRISP_MCP_CONVERSE_IDLE_MINUTES=0.01) with a
// webhook receiver that is fine, slow, failing or down in turn; 2025-era MCP sessions opened, used
// (every read tool, good and bad input, resources) and abandoned without DELETE; calls cut off
// mid-request; GET streams opened and dropped. After each round, once the server is quiet: its RSS,
// heap used after a forced GC, open fds, active handles (read by a preload that answers SIGUSR2), and
// the SQLite store's row counts. Not part of `npm run bench` (minutes, not seconds).
//   node bench/soak.js [rounds=5] [conversations per round=400]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Agent, request } from 'undici';
import { HEADER, measure, probeInto, row } from './soak-probe.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('../scenarios/', import.meta.url));
const TOKEN = 'soak-token-0123456789abcdef';
const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const ROUNDS = Number(process.argv[2] ?? 5);
const PER_ROUND = Number(process.argv[3] ?? 400);
const MCP_SESSIONS_PER_ROUND = Math.max(4, Math.round(PER_ROUND / 20));

/** A receiver whose mood the driver sets: ok (200), slow (200 after 3 s), fail (500), refuse (closes the socket). */
async function startReceiver() {
  const r = { mood: 'ok', got: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      r.got++;
      if (r.mood === 'fail') return res.writeHead(500).end();
      if (r.mood === 'refuse') return res.socket.destroy();
      setTimeout(() => res.writeHead(200).end(), r.mood === 'slow' ? 3_000 : 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  r.url = `http://127.0.0.1:${server.address().port}/replies`;
  r.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  return r;
}

async function startServer(dir, receiver) {
  const probe = probeInto(dir);
  const env = {
    PATH: process.env.PATH, CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_LOG_LEVEL: 'warn',
    CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url, CRISP_MCP_CONVERSE_SECRET: SECRET, CRISP_MCP_CONVERSE_SCENARIO: 'cancel-account',
    CRISP_MCP_CONVERSE_IDLE_MINUTES: '0.01', ...probe.env,
  };
  const db = join(dir, 'state.db');
  const child = spawn(process.execPath, [...probe.args, CLI, 'serve', '--http', '--port', '0', '--sandbox', '--scenarios', SCENARIOS, '--store', `sqlite:${db}`],
    { env: { ...env, CRISP_MCP_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let mcp;
  let converse;
  const lines = createInterface({ input: child.stderr });
  const warnings = new Map();
  for await (const line of lines) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line);
    if (entry.msg === 'crisp-mcp serving over Streamable HTTP') mcp = entry.url;
    if (entry.msg === 'converse API on') converse = entry.url;
    if (mcp && converse) break;
  }
  if (!mcp || !converse) {
    child.kill();
    throw new Error('crisp-mcp serve --http exited before announcing /mcp and /converse');
  }
  lines.on('line', (line) => {
    if (!line.startsWith('{')) return;
    const { level, msg } = JSON.parse(line);
    if (level >= 40) warnings.set(msg, (warnings.get(msg) ?? 0) + 1);
  });
  return { child, mcp, converse, db, warnings, measure: () => measure(child.pid, probe.out, db) };
}

function post(dispatcher, url, body) {
  return request(url, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) })
    .then(async (res) => (await res.body.dump(), res.statusCode), () => 0);
}

/** PER_ROUND converse conversations: start, two messages (a button, a reused messageId), then a third end, the rest go idle. */
async function converseRound(server, round, dispatcher) {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < PER_ROUND) {
      const i = next++;
      const conversationId = `r${round}-c${i}`;
      await post(dispatcher, server.converse, { conversationId, eventType: 'startSession', messageId: `${conversationId}-s` });
      await post(dispatcher, server.converse, { conversationId, eventType: 'message', text: 'I want to cancel my account', messageId: `${conversationId}-m1` });
      await post(dispatcher, server.converse, { conversationId, eventType: 'message', text: 'again', messageId: `${conversationId}-m1` });
      if (i % 7 === 0) await post(dispatcher, server.converse, { conversationId, eventType: 'message', cardIndex: 'x' });
      if (i % 3 === 0) await post(dispatcher, server.converse, { conversationId, eventType: 'endSession', messageId: `${conversationId}-e` });
    }
  }));
}

const CALLS = [
  ['list_conversations', {}], ['list_conversations', { state: 'nope' }], ['list_operators', {}], ['search_people', { search: 'a' }],
  ['get_conversation', { session_id: 'session_00000000-0000-0000-0000-000000000000' }], ['list_scenarios', {}], ['search_helpdesk', { query: 'refund' }],
  ['get_person', { people_id: 'nobody' }], ['list_messages', { session_id: 42 }], ['draft_scenario_reply', { session_id: 'x', scenario: 'nope' }],
];

/** 2025-era sessions opened, used and abandoned (no DELETE); a GET stream each, dropped; calls cut off mid-request. */
async function mcpRound(server, dispatcher) {
  await Promise.all(Array.from({ length: MCP_SESSIONS_PER_ROUND }, async (_, s) => {
    const client = new Client({ name: 'soak', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(server.mcp), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    await client.connect(transport);
    for (const [name, args] of CALLS) await client.callTool({ name, arguments: args }).catch(() => undefined);
    const { resources } = await client.listResources().catch(() => ({ resources: [] }));
    for (const r of resources.slice(0, 3)) await client.readResource({ uri: r.uri }).catch(() => undefined);
    // A GET stream opened and dropped.
    const abort = new AbortController();
    const stream = fetch(server.mcp, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream', 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': '2025-11-25' }, signal: abort.signal }).catch(() => undefined);
    setTimeout(() => abort.abort(), 50 + (s % 5) * 20);
    await stream;
    // A call whose client goes away mid-request.
    const cut = new AbortController();
    const call = fetch(server.mcp, { method: 'POST', signal: cut.signal, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'list_conversations', arguments: {} } }) }).catch(() => undefined);
    setTimeout(() => cut.abort(), 1 + (s % 3));
    await call;
    // Abandoned: the transport closed (its GET stream dropped) with no DELETE, as a client that crashed or lost its network.
    await transport.close();
  }));
  // Stateless 2026-07-28 requests, good and bad.
  for (let i = 0; i < MCP_SESSIONS_PER_ROUND * 5; i++) {
    await post(dispatcher, server.mcp, i % 2 ? { jsonrpc: '2.0', id: i } : 'not json');
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-soak-'));
  const receiver = await startReceiver();
  const server = await startServer(dir, receiver);
  const dispatcher = new Agent({ connections: 16 });
  const moods = ['ok', 'slow', 'fail', 'ok', 'refuse'];
  const rows = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    rows.push({ round: 0, ops: 0, ...(await server.measure()) });
    let ops = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      receiver.mood = moods[(round - 1) % moods.length];
      await converseRound(server, round, dispatcher);
      await mcpRound(server, dispatcher);
      receiver.mood = 'ok';
      ops += PER_ROUND + MCP_SESSIONS_PER_ROUND;
      // Quiet: idle sessions ended (0.6 s idle, swept every 250 ms), replies retried and delivered.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      rows.push({ round, ops, mood: moods[(round - 1) % moods.length], ...(await server.measure()) });
      const last = rows.at(-1);
      console.error(`round ${round}: rss ${last.rss.toFixed(1)} MB heap ${last.heap.toFixed(1)} MB fds ${last.fds} rows ${JSON.stringify(last.rows)} handles ${JSON.stringify(last.handleKinds)}`);
    }
    // At rest past the keep-alive (65 s): what a round's connections held is let go.
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.SOAK_REST_MS ?? 70_000)));
    rows.push({ round: 'rest', ops: rows.at(-1).ops, ...(await server.measure()) });
  } finally {
    await dispatcher.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(HEADER);
  for (const r of rows) console.log(row(r.round === 0 ? 'start' : r.round === 'rest' ? 'rest 70 s' : `round ${r.round} (receiver ${r.mood})`, `${r.ops} conversations + MCP sessions`, r));
  if (server.warnings.size) console.log(`\nwarnings and errors logged: ${JSON.stringify(Object.fromEntries(server.warnings))}`);
}

await main();
