// `crisp-mcp sandbox --json …` as a child process, as a user starts it: what its --json line says,
// and a stop that waits for the exit. For tests that need the sandbox in a process of its own (a
// browser on its console, the official client on its port, the CLI's own flags).
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli.js';
import { eventually } from './events.js';

/** The first line `crisp-mcp sandbox --json` prints. */
export interface SandboxJson {
  url: string;
  website_id: string;
  website_ids: string[];
  identifier: string;
  key: string;
  tier: string;
  hooks?: { url: string; secret: string };
}

export type SandboxChild = SandboxJson & { child: ChildProcess; stop(): Promise<void> };

/** Starts it with `args` after `--port 0 --json`, PATH and `env` its only environment; stopped (SIGTERM) if it never prints its line. */
export async function spawnSandboxCli(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SandboxChild> {
  const child = spawn(process.execPath, [CLI, 'sandbox', '--port', '0', '--json', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const line = await eventually(() => stdout.includes('\n') && stdout.slice(0, stdout.indexOf('\n')), 15_000, 'the sandbox --json line');
    return { ...(JSON.parse(line) as SandboxJson), child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
