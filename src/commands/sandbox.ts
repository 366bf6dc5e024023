// `crisp-mcp sandbox`: the simulator on its own, until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import type { HookReport } from '../sandbox/hooks.js';
import { describeSandbox, fixedKeyCredentials, sandboxInfo } from '../sandbox/guide.js';
import { DEMO_WEBSITES } from '../sandbox/demo-tables.js';
import { startSandbox, type Sandbox } from '../sandbox/server.js';
import { createLogger, writeErrorLine } from '../log.js';
import { runCommand } from './resources.js';
import { listenProblem } from './runtime.js';

/** `crisp-mcp sandbox --help`: every flag of SANDBOX_FLAGS. */
export const SANDBOX_HELP = `Usage: crisp-mcp sandbox [flags]

Runs the Crisp simulator alone (REST, RTM, Web Hooks, a seeded demo inbox), until Ctrl-C. Prints its
URL, the demo website_id and the credentials it accepts; state lives in memory.

  --port N                 the port (default 8788; 0 picks a free one)
  --host H                 the address to bind (default 127.0.0.1)
  --seed N                 the demo data's seed (default 42: same seed, same inbox)
  --websites N             demo websites the credentials reach, 1 to 5 (default 1; the first
                           is the same whatever N)
  --faults SPEC            seeded failures, comma-separated kind:value: 429:10%, 5xx:5%,
                           drop:1%, drop-after:1%, latency:20-80ms, retry-after:1, seed:7
  --rate-limit N/s         answer 429 above this rate (20/s, or 20/s,burst=40)
  --hooks URL              POST Crisp Web Hooks to this URL, signed with CRISP_HOOK_SECRET
                           (else a random secret, which it prints)
  --hook-events a,b        only these events (with --hooks)
  --hook-concurrency N     deliveries in flight at once per website, 1 to 64 (with --hooks;
                           1 = strictly in order)
  --json                   print the URL and credentials as one JSON object on stdout
Environment: CRISP_SANDBOX_KEY fixes the key it accepts (for scripts), instead of a random one.
`;

export const SANDBOX_FLAGS = {
  port: { type: 'string', default: '8788' },
  host: { type: 'string', default: '127.0.0.1' },
  seed: { type: 'string', default: '42' },
  websites: { type: 'string', default: '1' },
  faults: { type: 'string' },
  'rate-limit': { type: 'string' },
  hooks: { type: 'string' },
  'hook-events': { type: 'string' },
  'hook-concurrency': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export async function runSandboxCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: SANDBOX_FLAGS });
  const port = whole(values.port, '--port', 0, 65_535);
  const seed = whole(values.seed, '--seed', 0, 2 ** 31 - 1);
  const websites = whole(values.websites, '--websites', 1, DEMO_WEBSITES.length);
  const rateLimit = values['rate-limit'] ? parseRate(values['rate-limit']) : undefined;
  // A fixed key can be set for scripted use (see fixedKeyCredentials).
  const key = process.env.CRISP_SANDBOX_KEY;
  if (values['hook-events'] !== undefined && !values.hooks) throw new Error('--hook-events needs --hooks URL');
  if (values['hook-concurrency'] !== undefined && !values.hooks) throw new Error('--hook-concurrency needs --hooks URL');
  // Deliveries in flight at once per website (1 = strictly in order); see hooks.ts.
  const hookConcurrency = values['hook-concurrency'] === undefined ? undefined : whole(values['hook-concurrency'], '--hook-concurrency', 1, 64);
  // The hooks secret, like the key, comes from the environment or is made up and printed.
  const hooks = values.hooks
    ? {
        url: values.hooks,
        secret: process.env.CRISP_HOOK_SECRET || undefined,
        events: values['hook-events']?.split(',').map((e) => e.trim()).filter(Boolean),
        concurrency: hookConcurrency,
        onDelivery: (report: HookReport) => {
          if (!report.ok) console.error(`sandbox: the ${report.event} hook for website ${report.website_id} failed after ${report.attempts} attempt(s): ${report.error ?? 'unknown error'}`);
        },
      }
    : undefined;
  const log = createLogger();
  // The simulator is the one part: released on SIGINT/SIGTERM, or if anything after its start fails (resources.ts).
  return runCommand(log, async (life) => {
    let sandbox: Sandbox;
    try {
      sandbox = await life.acquire('sandbox', () => startSandbox({ port, host: values.host, seed, websites, faults: values.faults, rateLimit, hooks, credentials: fixedKeyCredentials(key) }), (s) => s.close());
    } catch (error) {
      const problem = listenProblem(error, values.host, port);
      if (!problem) throw error;
      writeErrorLine(`crisp-mcp: ${problem}`);
      return 2;
    }
    const info = sandboxInfo(sandbox);
    if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else process.stdout.write([...describeSandbox(info, 'Crisp sandbox listening on'), 'Ctrl-C stops it; state lives in memory.', ''].join('\n'));
    await life.untilStopped();
    return 0;
  });
}

function whole(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new Error(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function parseRate(value: string): { perSecond: number; burst: number } {
  const match = /^(\d+)(?:\/s)?(?:,burst=(\d+))?$/.exec(value);
  if (!match) throw new Error(`--rate-limit must look like 20/s or 20/s,burst=40, got "${value}"`);
  const perSecond = Number(match[1]);
  if (perSecond < 1) throw new Error('--rate-limit must be at least 1/s');
  return { perSecond, burst: match[2] ? Number(match[2]) : perSecond };
}
