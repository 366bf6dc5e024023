// A copy of the checkout as a fresh clone holds it, and the MCP host's side of a packaged server,
// for the two package tests (test/package/install.test.ts: `npm pack` and an install of it;
// test/package/mcpb.test.ts: `npm run mcpb`). The packages are built once a run, in a copy of the
// checkout (test/helpers/package-build.ts), so the build never touches the dist/ the other tests run.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import { ALL_TOOLS } from '../../src/mcp/tools/index.js';
import { connectStdio } from './stdio.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };
export const ALL_TOOL_NAMES = ALL_TOOLS.map((t) => t.name).sort();
export const BUILD_TIMEOUT = 300_000;

/** A scratch folder for a package test's own files (the host's HOME, an install, state files). */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'crisp-mcp-pack-'));
}

/** `<work>/clone`: the checkout's files as a clone has them, node_modules linked from here. */
export function freshClone(work: string): string {
  const clone = join(work, 'clone');
  for (const file of checkoutFiles()) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(clone, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  return clone;
}

/** What a clone holds: git's tracked and untracked-but-not-ignored files; without git, the tree minus what .gitignore names. */
function checkoutFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\0').filter(Boolean);
  } catch {
    const ignored = new Set(['.git', 'node_modules', 'dist', 'coverage']);
    return readdirSync(ROOT, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
      .filter((file) => !ignored.has(file.split(sep)[0]!) && !/\.(mcpb|tgz|log)$/.test(file) && file !== '.env');
  }
}

/** What an MCP host passes a server it starts: only PATH and HOME from here (HOME a fresh folder under `work`), plus `env`. */
export function hostEnv(work: string, env: Record<string, string> = {}): Record<string, string> {
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  return { PATH: process.env.PATH ?? '', HOME: home, XDG_STATE_HOME: home, ...env };
}

/** The server as an MCP host starts it (cwd /, hostEnv), over stdio: the tool names it lists. */
export async function listToolsOverStdio(work: string, entry: string, args: string[], env: Record<string, string>): Promise<{ tools: string[]; stderr: string }> {
  let stderr = '';
  const tools = await overStdio(work, entry, args, env, async (client) => (await client.listTools()).tools.map((t) => t.name).sort(), (chunk) => (stderr += chunk));
  return { tools, stderr };
}

/** Starts the server as an MCP host does (cwd / unless told, hostEnv), connects a client, runs `use` with it, closes it; `onStderr` then gets what the server wrote there. */
export async function overStdio<T>(work: string, entry: string, args: string[], env: Record<string, string>, use: (client: Client) => Promise<T>, onStderr?: (stderr: string) => void, cwd = '/'): Promise<T> {
  const { client, stderr } = await connectStdio(args, { entry, cwd, env: hostEnv(work, env) });
  try {
    return await use(client);
  } finally {
    await client.close();
    onStderr?.(stderr());
  }
}

/** npm itself: the one running the tests when they came from `npm test`, else npm on the PATH. */
export function npm(cwd: string, ...args: string[]): string {
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.[cm]?js$/.test(cli) ? run(process.execPath, [cli, ...args], cwd) : run('npm', args, cwd);
}

export function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' }, shell: process.platform === 'win32' && command === 'npm' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stderr}`);
  return result.stdout;
}
