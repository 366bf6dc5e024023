// bench/crisp-client: our Crisp client vs the official `crisp-api` client, against the same
// sandbox running in its own process, at fixed concurrency. Prints a markdown table.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Crisp } from 'crisp-api';
import { CrispClient } from '../dist/crisp/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export async function startSandboxProcess() {
  const child = spawn(process.execPath, [CLI, 'sandbox', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  const info = JSON.parse(line);
  return { ...info, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

/** Runs `call` with `concurrency` workers until `total` calls are done; returns latencies in ms. */
export async function drive(call, { concurrency, total }) {
  const latencies = new Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await call(i);
      latencies[i] = performance.now() - t0;
    }
  }));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(total - 1, Math.floor((p / 100) * total))];
  return { rps: total / (elapsed / 1000), p50: pct(50), p99: pct(99) };
}

export async function benchCrispClient({ concurrency = 16, total = 4000, rounds = 3 } = {}) {
  const sandbox = await startSandboxProcess();
  const ours = new CrispClient({ baseUrl: sandbox.url, credentials: { identifier: sandbox.identifier, key: sandbox.key, tier: sandbox.tier } });
  const official = new Crisp();
  official.setRestHost(sandbox.url);
  official.setTier(sandbox.tier);
  official.authenticate(sandbox.identifier, sandbox.key);

  const [conversation] = await ours.conversations.list(sandbox.website_id, 1, { per_page: 20 });
  const session = conversation.session_id;
  const message = { type: 'note', from: 'operator', origin: 'chat', content: 'bench note' };
  const calls = {
    'list conversations (20/page)': {
      ours: () => ours.conversations.list(sandbox.website_id, 1, { per_page: 20 }),
      official: () => official.website.listConversations(sandbox.website_id, 1, { per_page: 20 }),
    },
    'send message': {
      ours: () => ours.messages.send(sandbox.website_id, session, message),
      official: () => official.website.sendMessageInConversation(sandbox.website_id, session, message),
    },
  };

  const rows = [];
  try {
    for (const [name, pair] of Object.entries(calls)) {
      // Warm both up, then alternate rounds so neither always runs on a cooler machine.
      await drive(pair.ours, { concurrency, total: 500 });
      await drive(pair.official, { concurrency, total: 500 });
      const best = { ours: undefined, official: undefined };
      for (let r = 0; r < rounds; r++) {
        for (const who of r % 2 ? ['official', 'ours'] : ['ours', 'official']) {
          const result = await drive(pair[who], { concurrency, total });
          if (!best[who] || result.rps > best[who].rps) best[who] = result;
        }
      }
      rows.push({ name, ...best });
    }
  } finally {
    await ours.close();
    await sandbox.stop();
  }
  return rows;
}

export function formatCrispClient(rows, concurrency) {
  const f = (n) => n.toFixed(2);
  const lines = [
    `bench/crisp-client — ${concurrency} concurrent requests, sandbox in its own process (best of rounds)`,
    '',
    '| call | client | req/s | p50 ms | p99 ms | ratio |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const { name, ours, official } of rows) {
    lines.push(`| ${name} | crisp-mcp (undici Pool) | ${Math.round(ours.rps)} | ${f(ours.p50)} | ${f(ours.p99)} | ${(ours.rps / official.rps).toFixed(2)}× |`);
    lines.push(`| ${name} | crisp-api (official, anchor) | ${Math.round(official.rps)} | ${f(official.p50)} | ${f(official.p99)} | 1.00× |`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await benchCrispClient();
  process.stdout.write(formatCrispClient(rows, 16) + '\n');
}
