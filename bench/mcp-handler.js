// bench/mcp-handler: what a server does with one tools/call once its line is read and before its
// answer is written — the SDK's dispatch and checks, the tool's own code, the answer's encoding —
// with no I/O: Crisp's answer is given at once, and the message goes in and out through a transport
// that hands it over in memory. Over stdio (bench/mcp-stdio), the same work is a few percent of a
// call's CPU, under the noise of the pipe and socket writes; here it is all there is, so ours and
// the bare SDK server's can be told apart. Each path runs in its own process (the SDK's code, shared
// in one, would learn both servers' shapes), the processes taking turns.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const WEBSITE = '00000000-0000-4000-8000-000000000000';
const SESSION = 'session_00000000-0000-4000-8000-000000000001';
const PATHS = {
  'crisp-mcp set_conversation_state': 'ours',
  'crisp-mcp, with zod\'s default (reference-cycle support, which the CLI turns off: src/zod-acyclic.ts)': 'ours-zod-default',
  'bare SDK v2, same call (anchor)': 'bare',
  'bare SDK v2, same call, same answer as ours (output schema, structured + text)': 'bare-same-answer',
};
const WARM_UP_CALLS = 50_000;

/** A transport that hands each message over in memory: a request in, its answer (as stdio would write it) out. */
class InMemoryLoop {
  onmessage;
  onclose;
  onerror;
  #answered;
  #serialize;
  constructor(serialize) {
    this.#serialize = serialize;
  }
  async start() {}
  async send(message) {
    const answered = this.#answered;
    this.#answered = undefined;
    answered?.(this.#serialize(message));
  }
  async close() {
    this.onclose?.();
  }
  call(message) {
    return new Promise((resolve) => {
      this.#answered = resolve;
      this.onmessage(message);
    });
  }
}

/** In a child: `calls` calls of one path after the warm-up, in blocks; the median block's CPU µs per call. */
async function measureOne(path, calls) {
  // As cli.ts does before any schema is built; 'ours-zod-default' leaves it out, to show what it is worth.
  if (path === 'ours') await import('../dist/zod-acyclic.js');
  const ours = path === 'ours' || path === 'ours-zod-default';
  const { serializeMessage } = await import('@modelcontextprotocol/server');
  // Crisp's answer, at once: what is measured is the server, not the round trip.
  const crisp = { conversations: { setState: () => Promise.resolve(undefined) } };
  let server;
  if (ours) {
    const { buildServer, toolsFor } = await import('../dist/mcp/server.js');
    const { Guard } = await import('../dist/mcp/guard.js');
    const { createLogger } = await import('../dist/log.js');
    const deps = { crisp, guard: new Guard([WEBSITE]), config: {}, log: createLogger('warn') };
    server = buildServer(toolsFor({ readOnly: false }, deps), deps);
  } else {
    const { bareServer } = await import('./bare-tools.js');
    server = bareServer(crisp, WEBSITE);
  }
  const loop = new InMemoryLoop(serializeMessage);
  await server.connect(loop);
  await loop.call({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
  loop.onmessage({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const name = path === 'bare-same-answer' ? 'set_conversation_state_structured' : 'set_conversation_state';
  let id = 1;
  const call = () => loop.call({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: { session_id: SESSION, state: 'unresolved' } } });
  const first = await call();
  if (!first.includes('"result"') || first.includes('"isError":true')) throw new Error(`${path}: the call failed: ${first}`);
  for (let i = 0; i < WARM_UP_CALLS; i++) await call();
  const blocks = [];
  const per = Math.ceil(calls / 9);
  for (let b = 0; b < 9; b++) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < per; i++) await call();
    const cpu = process.cpuUsage(cpu0);
    blocks.push((cpu.user + cpu.system) / per);
  }
  blocks.sort((a, b) => a - b);
  return { us: blocks[4], answerBytes: Buffer.byteLength(first) };
}

async function runChild(path, calls) {
  const child = spawn(process.execPath, [SELF, '--one', path, String(calls)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`bench/mcp-handler: the ${path} process exited with ${code}`);
  return JSON.parse(out);
}

export async function benchMcpHandler({ rounds = 5, calls = 200_000 } = {}) {
  const results = Object.fromEntries(Object.keys(PATHS).map((label) => [label, []]));
  const entries = Object.entries(PATHS);
  for (let r = 0; r < rounds; r++) {
    for (const [label, path] of r % 2 === 0 ? entries : entries.toReversed()) results[label].push(await runChild(path, calls));
  }
  return results;
}

export function formatMcpHandler(results) {
  const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];
  const lines = [
    'bench/mcp-handler — one tools/call through the server with no I/O (Crisp answers at once, the message handed over in memory); CPU µs per call, each path in its own process, the processes taking turns',
    '',
    '| path | CPU per call, median of the runs (min–max) | answer bytes |',
    '|---|---:|---:|',
  ];
  const medians = {};
  for (const [label, runs] of Object.entries(results)) {
    const us = runs.map((r) => r.us);
    medians[label] = median(us);
    lines.push(`| ${label} | ${median(us).toFixed(2)} µs (${Math.min(...us).toFixed(2)}–${Math.max(...us).toFixed(2)}) | ${runs[0].answerBytes} |`);
  }
  const [ours, , plain, same] = Object.keys(PATHS).map((label) => medians[label]);
  lines.push('', `crisp-mcp − the anchor: ${(ours - plain).toFixed(2)} µs per call; − the same-answer anchor: ${(ours - same).toFixed(2)} µs.`);
  return lines.join('\n');
}

if (process.argv[2] === '--one') {
  process.stdout.write(JSON.stringify(await measureOne(process.argv[3], Number(process.argv[4]))));
} else if (process.argv[1] === SELF) {
  process.stdout.write(formatMcpHandler(await benchMcpHandler()) + '\n');
}
