// bench/mcp-stdio: a tool call over stdio (SDK client → crisp-mcp serve → sandbox) against the
// same Crisp call made directly with our client, one call at a time, so the MCP overhead shows.
// The sandbox runs in its own process; both paths call it.
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CrispClient } from '../dist/crisp/index.js';
import { startSandboxProcess } from './crisp-client.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare-stdio-server.js', import.meta.url));

async function timeSequential(call, n) {
  const latencies = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(n - 1, Math.floor((p / 100) * n))];
  return { rps: n / (elapsed / 1000), p50: pct(50), p99: pct(99) };
}

export async function benchMcpStdio({ calls = 2000 } = {}) {
  const sandbox = await startSandboxProcess();
  const env = { ...process.env, CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: sandbox.identifier, CRISP_KEY: sandbox.key, CRISP_TIER: sandbox.tier, CRISP_WEBSITE_ID: sandbox.website_id, CRISP_MCP_LOG_LEVEL: 'warn' };
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve'], env, stderr: 'inherit' }));
  const bare = new Client({ name: 'bench-bare', version: '1.0.0' });
  await bare.connect(new StdioClientTransport({ command: process.execPath, args: [BARE], env, stderr: 'inherit' }));
  const crisp = new CrispClient({ baseUrl: sandbox.url, credentials: { identifier: sandbox.identifier, key: sandbox.key, tier: sandbox.tier } });
  const [first] = await crisp.conversations.list(sandbox.website_id, 1);
  const pairs = {
    'set_conversation_state (1 PATCH)': {
      tool: () => client.callTool({ name: 'set_conversation_state', arguments: { session_id: first.session_id, state: 'unresolved' } }),
      direct: () => crisp.conversations.setState(sandbox.website_id, first.session_id, 'unresolved'),
      bare: () => bare.callTool({ name: 'set_conversation_state', arguments: { session_id: first.session_id, state: 'unresolved' } }),
    },
    'list_conversations (1 GET, 20 rows)': {
      tool: () => client.callTool({ name: 'list_conversations', arguments: {} }),
      direct: () => crisp.conversations.list(sandbox.website_id, 1, { per_page: 20 }),
    },
  };
  const rows = [];
  try {
    for (const [name, pair] of Object.entries(pairs)) {
      await timeSequential(pair.tool, 300);
      await timeSequential(pair.direct, 300);
      if (pair.bare) await timeSequential(pair.bare, 300);
      const tool = await timeSequential(pair.tool, calls);
      const direct = await timeSequential(pair.direct, calls);
      const bareSdk = pair.bare ? await timeSequential(pair.bare, calls) : undefined;
      rows.push({ name, tool, direct, bareSdk });
    }
    const { tools } = await client.listTools();
    rows.tokens = Math.round(JSON.stringify(tools).length / 4);
  } finally {
    await client.close();
    await bare.close();
    await crisp.close();
    await sandbox.stop();
  }
  return rows;
}

export function formatMcpStdio(rows) {
  const f = (n) => n.toFixed(3);
  const lines = [
    'bench/mcp-stdio — sequential calls; the sandbox in its own process',
    '',
    '| call | path | calls/s | p50 ms | p99 ms | MCP overhead p50 |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const { name, tool, direct, bareSdk } of rows) {
    lines.push(`| ${name} | crisp-mcp tool over stdio | ${Math.round(tool.rps)} | ${f(tool.p50)} | ${f(tool.p99)} | ${f(tool.p50 - direct.p50)} ms |`);
    if (bareSdk) lines.push(`| ${name} | bare SDK v2 stdio server, same call (anchor) | ${Math.round(bareSdk.rps)} | ${f(bareSdk.p50)} | ${f(bareSdk.p99)} | ${f(bareSdk.p50 - direct.p50)} ms |`);
    lines.push(`| ${name} | direct client call (anchor) | ${Math.round(direct.rps)} | ${f(direct.p50)} | ${f(direct.p99)} | — |`);
  }
  lines.push('', `tools/list: ${rows.tokens} tokens (chars/4); target ≤ 6k. Published anchors: GitHub's server ~87 tools, Sentry 9 direct tools.`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(formatMcpStdio(await benchMcpStdio()) + '\n');
}
