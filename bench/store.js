// bench/store: one full scenario turn against each store, as the bot and the agent tools do it:
// withLock(conversation) → getPosition → step() the compiled example scenario (scenarios/gdpr.json)
// with the visitor's message → savePosition (CAS) with the reply in the outbox → release.
// A second row per store adds delivering the item (outboxHead + outboxAck). Prints a markdown table.
// Run: `npm run build && node bench/store.js` (REDIS_URL to use a running Redis, else redis-server is spawned).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { drive as driveCalls } from './crisp-client.js';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { compileText } from '../dist/scenario/compile.js';
import { initialPosition, step } from '../dist/scenario/run.js';
import { MemoryStore, withLock } from '../dist/store/index.js';
import { RedisStore } from '../dist/store/redis.js';
import { SqliteStore } from '../dist/store/sqlite.js';

const compiled = compileText(readFileSync(new URL('../scenarios/gdpr.json', import.meta.url), 'utf8'));
if (!compiled.ok) throw new Error('scenarios/gdpr.json does not compile');
const PROGRAM = compiled.program;
const VISITOR = ['Where is your GDPR policy?', 'Do you have a DPA?', 'thanks'];

const TARGET_SQLITE = 1000; // turns/s, issue 6 §6
const CONVERSATIONS = 100;

async function turn(store, conversation, deliver) {
  await withLock(store, `turn:${conversation}`, async () => {
    const cur = await store.getPosition(conversation, PROGRAM.scenario);
    const version = cur?.version ?? 0;
    const from = cur?.value ?? initialPosition(PROGRAM);
    const text = VISITOR[version % VISITOR.length];
    const { actions, position } = step(PROGRAM, from, version === 0 ? { type: 'start', text, fingerprint: version + 1 } : { type: 'visitor_text', text, fingerprint: version + 1 }, { now: Date.now() });
    const outbox = actions.filter((a) => a.type === 'send_message').map((a) => ({ payload: a.message }));
    const saved = await store.savePosition(conversation, PROGRAM.scenario, position, { expectedVersion: version, outbox });
    if (!saved.ok) throw new Error(`conflict under the lock on ${conversation}`);
  }, { ttlMs: 10_000, waitMs: 10_000 });
  if (deliver) {
    for (let head = await store.outboxHead(conversation); head; head = await store.outboxHead(conversation)) await store.outboxAck(conversation, head.seq);
  }
}

/** `total` turns spread over CONVERSATIONS conversations by `concurrency` workers. */
async function drive(store, { concurrency, total, deliver }) {
  const { rps, p50, p99 } = await driveCalls((i) => turn(store, `site/session-${i % CONVERSATIONS}`, deliver), { concurrency, total });
  return { perSecond: rps, p50, p99 };
}

async function startRedis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const failed = new Promise((_, reject) => child.once('error', reject));
  const lines = createInterface({ input: child.stdout });
  await Promise.race([failed, (async () => { for await (const line of lines) if (line.includes('Ready to accept connections')) return; })()]);
  return { url: `redis://127.0.0.1:${port}`, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

export async function benchStore({ total = 5000, rounds = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-bench-'));
  let redis;
  try {
    redis = await startRedis();
  } catch (err) {
    process.stderr.write(`bench/store: Redis skipped (${err.message})\n`);
  }
  const backends = [
    ['memory', async () => new MemoryStore()],
    ['SQLite (WAL, synchronous=NORMAL)', async () => new SqliteStore(join(dir, 'state.db'))],
    ...(redis ? [['Redis (local, 1 connection)', async () => RedisStore.connect(redis.url, { prefix: `bench:${process.pid}:` })]] : []),
  ];
  const rows = [];
  try {
    for (const [name, open] of backends) {
      const store = await open();
      await drive(store, { concurrency: 4, total: 1000, deliver: true }); // warm-up
      for (const [label, deliver] of [['turn', false], ['turn + deliver', true]]) {
        for (const concurrency of [1, 16]) {
          let best;
          for (let r = 0; r < rounds; r++) {
            const m = await drive(store, { concurrency, total, deliver });
            if (!best || m.perSecond > best.perSecond) best = m;
          }
          rows.push({ store: name, what: label, concurrency, ...best });
        }
      }
      await store.close();
    }
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatStore(rows) {
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const lines = [
    `### Store: one full turn = lock + read position + step() scenarios/gdpr.json + save position with its replies in the outbox + release (best of 3 × 5 000; ${CONVERSATIONS} conversations)`,
    '',
    '| store | what | concurrency | turns/s | p50 ms | p99 ms | anchor |',
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const anchor = r.store.startsWith('SQLite') && r.what === 'turn' ? `target ≥ ${fmt(TARGET_SQLITE)} turns/s: ${r.perSecond >= TARGET_SQLITE ? 'met' : 'NOT met'}` : '';
    lines.push(`| ${r.store} | ${r.what} | ${r.concurrency} | ${fmt(r.perSecond)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${anchor} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n\n`);
  process.stdout.write(formatStore(await benchStore()) + '\n');
}
