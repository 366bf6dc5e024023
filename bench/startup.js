// bench/startup: spawn → initialize → tools/list over stdio, and the peak resident memory (VmHWM)
// of the server once it has answered, for `crisp-mcp serve` in its usual forms beside the bare SDK
// v2 stdio server with one no-op tool (the anchor), measured in the same interleaved rounds so
// machine load falls on every row alike. `node bench/startup.js [rounds]` runs it alone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startSandboxProcess } from './crisp-client.js';
import { preciseCpuMicros } from './proc.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BARE_NOOP = fileURLToPath(new URL('./bare-stdio-noop-server.js', import.meta.url));
const BARE_CRISP = fileURLToPath(new URL('./bare-stdio-server.js', import.meta.url));
const NOT_SCENARIOS = 'conversations,routing,people,knowledge';

/** Peak resident memory of a live process, in MiB (Linux /proc; NaN elsewhere). */
function peakRssMiB(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
}

async function startOnce({ args, env, cwd }) {
  const started = performance.now();
  const transport = new StdioClientTransport({ command: process.execPath, args, env, cwd, stderr: 'ignore' });
  const client = new Client({ name: 'bench-startup', version: '1.0.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const ms = performance.now() - started;
  const rss = peakRssMiB(transport.pid);
  const cpuMs = preciseCpuMicros(transport.pid) / 1000;
  // stdio serve compiles the scenarios and opens the store after tools/list: the first scenario call waits for that.
  let scenarioMs;
  if (tools.some((t) => t.name === 'list_scenarios')) {
    const asked = performance.now();
    const listed = await client.callTool({ name: 'list_scenarios', arguments: {} });
    if (listed.isError) throw new Error(`list_scenarios failed: ${JSON.stringify(listed.content)}`);
    scenarioMs = performance.now() - asked;
  }
  await client.close();
  return { ms, rss, cpuMs, scenarioMs, tools: tools.length, tokens: Math.round(JSON.stringify(tools).length / 4) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function benchStartup({ rounds = 11 } = {}) {
  const sandbox = await startSandboxProcess();
  // Started from an empty folder (no ./scenarios) with its own state folder, as an MCP host would start an installed server.
  const cwd = mkdtempSync(join(tmpdir(), 'crisp-mcp-startup-'));
  const env = {
    ...process.env,
    CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: sandbox.identifier, CRISP_KEY: sandbox.key, CRISP_TIER: sandbox.tier, CRISP_WEBSITE_ID: sandbox.website_id,
    CRISP_MCP_LOG_LEVEL: 'warn', XDG_STATE_HOME: join(cwd, 'state'),
  };
  const variants = [
    { name: 'bare SDK v2 serveStdio, one no-op tool (anchor)', args: [BARE_NOOP], anchor: true },
    { name: 'bare SDK v2 serveStdio + our Crisp client, one tool', args: [BARE_CRISP] },
    { name: `crisp-mcp serve --toolsets ${NOT_SCENARIOS}`, args: [CLI, 'serve', '--toolsets', NOT_SCENARIOS] },
    { name: 'crisp-mcp serve (all toolsets, shipped scenarios, SQLite store)', args: [CLI, 'serve'] },
    { name: 'crisp-mcp serve --sandbox (all toolsets)', args: [CLI, 'serve', '--sandbox'] },
  ].map((v) => ({ ...v, runs: [] }));
  const load = [loadavg()[0]];
  try {
    await Promise.all(variants.map((v) => startOnce({ args: v.args, env, cwd }))); // warm the disk cache
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) v.runs.push(await startOnce({ args: v.args, env, cwd }));
      load.push(loadavg()[0]);
    }
  } finally {
    await sandbox.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
  return { rounds, load, variants };
}

export function formatStartup({ rounds, load, variants }) {
  const anchor = variants.find((v) => v.anchor);
  const anchorMs = median(anchor.runs.map((r) => r.ms));
  const anchorRss = median(anchor.runs.map((r) => r.rss));
  const anchorCpu = median(anchor.runs.map((r) => r.cpuMs));
  const lines = [
    `bench/startup — spawn → initialize → tools/list over stdio, medians of ${rounds} interleaved rounds (min–max in brackets);`,
    `peak RSS = VmHWM once tools/list is answered; 1-minute load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} during the run`,
    '',
    "CPU ms = the server's CPU time (all threads) until tools/list is answered, which the machine's load inflates far less than the wall time;",
    'then list_scenarios ms = the first scenario call right after tools/list (the scenarios are compiled and the store opened by then or meanwhile)',
    '',
    '| server | tools | tools/list tokens | start-up ms | × anchor | CPU ms | × anchor | peak RSS MiB | − anchor MiB | then list_scenarios ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const v of variants) {
    const ms = v.runs.map((r) => r.ms);
    const rss = v.runs.map((r) => r.rss);
    const m = median(ms);
    const r = median(rss);
    const scenario = v.runs.map((run) => run.scenarioMs).filter((x) => x !== undefined);
    const cpu = median(v.runs.map((run) => run.cpuMs));
    lines.push(
      `| ${v.name} | ${v.runs[0].tools} | ${v.runs[0].tokens} | ${m.toFixed(0)} (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}) | ${(m / anchorMs).toFixed(2)} | ${cpu.toFixed(0)} | ${(cpu / anchorCpu).toFixed(2)} | ${r.toFixed(1)} (${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}) | ${v.anchor ? '—' : (r - anchorRss >= 0 ? '+' : '') + (r - anchorRss).toFixed(1)} | ${scenario.length ? median(scenario).toFixed(0) : '—'} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[2] ?? 11);
  process.stdout.write(`${formatStartup(await benchStartup({ rounds }))}\n`);
}
