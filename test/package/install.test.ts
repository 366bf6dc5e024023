// Installable without a registry account: from what a fresh clone holds, `npm pack` (its prepack
// builds) makes a package that, installed into an empty folder, serves every tool over stdio from
// any working directory; and `npm run mcpb` makes an MCP Bundle whose manifest the mcpb CLI accepts
// and whose server, started the way the manifest says (the command built by mcpb's own
// getMcpConfigForManifest, as a host does), serves every tool too.
//
// Both run in a copy of the checkout (tracked and untracked, not ignored, files: what a clone
// holds), so their builds never touch the dist/ the other tests run. The install is offline: the
// package's production dependencies come from npm's cache at the versions package-lock.json pins
// (`npm ci` put them there), with the install scripts skipped — as npm 12 and later skip a
// dependency's script unless it is allowed — so better-sqlite3's compiled module is missing until a
// test copies this checkout's in, instead of compiling it again.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getMcpConfigForManifest } from '@anthropic-ai/mcpb';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../../src/mcp/tools/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };
const MCPB_CLI = join(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb'), '..', 'cli', 'cli.js');
const ALL_TOOL_NAMES = ALL_TOOLS.map((t) => t.name).sort();
const BUILD_TIMEOUT = 300_000;

let work: string;
let clone: string;
let tarball: string;
let packedFiles: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'crisp-mcp-pack-'));
  clone = join(work, 'clone');
  for (const file of checkoutFiles()) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(clone, file));
  }
  expect(existsSync(join(clone, 'dist')), 'a fresh clone has no dist/').toBe(false);
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const [packed] = JSON.parse(npm(clone, 'pack', '--pack-destination', work, '--json')) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, packed!.filename);
  packedFiles = packed!.files.map((f) => f.path);
}, BUILD_TIMEOUT);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack from a fresh clone', () => {
  it('builds the package (prepack) and ships the license, the shipped scenarios, the performance page the README links to, and no source map without its source', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'docs/performance.md', 'package.json', 'dist/cli.js', 'dist/commands/serve.js', 'dist/sandbox/console/main.js', 'scenarios/gdpr.json']));
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('installed into an empty folder, serves every tool over stdio from /, with the shipped scenarios', async () => {
    const consumer = installedConsumer();
    cpSync(join(ROOT, COMPILED_MODULE), join(consumer, COMPILED_MODULE));
    const installed = join(consumer, 'node_modules', pkg.name);
    const bin = join(installed, pkg.bin['crisp-mcp']!);
    const { tools, stderr } = await listToolsOverStdio(bin, ['serve', '--sandbox', '--store', `sqlite:${join(work, 'state.db')}`], {});
    expect(tools).toEqual(ALL_TOOL_NAMES);
    expect(stderr).toContain(`"msg":"scenarios loaded from ${join(installed, 'scenarios')}"`);
  });

  it("installed with its install scripts skipped, says how to build SQLite's module: the bot in one line before it runs, a scenario tool in its answer", async () => {
    const consumer = installedConsumer();
    rmSync(join(consumer, COMPILED_MODULE), { force: true });
    const bin = join(consumer, 'node_modules', pkg.name, pkg.bin['crisp-mcp']!);
    const fix = `npm rebuild better-sqlite3\` in ${consumer} `;

    const bot = spawnSync(process.execPath, [bin, 'bot', '--sandbox', '--scenario', 'gdpr', '--store', `sqlite:${join(work, 'bot.db')}`], { cwd: '/', encoding: 'utf8', env: hostEnv(), timeout: 30_000 });
    expect(bot.status).toBe(2);
    const refusal = bot.stderr.split('\n').filter((line) => line.startsWith('crisp-mcp: '));
    expect(refusal).toHaveLength(1);
    expect(refusal[0]).toContain("better-sqlite3's compiled module is missing");
    expect(refusal[0]).toContain(fix);
    expect(refusal[0]).toContain('--store memory');
    expect(bot.stderr).not.toContain('Could not locate the bindings file');

    const answer = await overStdio(bin, ['serve', '--sandbox', '--store', `sqlite:${join(work, 'serve.db')}`], {}, async (client) => {
      const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
      const sessionId = (listed.structuredContent as { conversations: Array<{ session_id: string }> }).conversations[0]!.session_id;
      return client.callTool({ name: 'draft_scenario_reply', arguments: { session_id: sessionId, scenario: 'gdpr' } });
    });
    expect(answer.isError).toBe(true);
    const text = (answer.content as Array<{ text: string }>)[0]!.text;
    expect(text).toMatch(/^Scenario tools cannot run: cannot open the SQLite store at .*better-sqlite3's compiled module is missing/);
    expect(text).toContain(fix);
    expect(text).toMatch(/retrying will not help\.$/);
  });
});

describe('npm run mcpb', () => {
  it('writes crisp-mcp-<version>.mcpb; the mcpb CLI accepts its manifest; unpacked and started as mcpb builds the host\'s command, it serves every tool, keeps the sandbox out of the state file, and names the setting behind a refused key or send', async () => {
    npm(clone, 'run', 'mcpb');
    const bundleFile = join(clone, `crisp-mcp-${pkg.version}.mcpb`);
    expect(existsSync(bundleFile)).toBe(true);
    const unpacked = join(work, 'bundle');
    run(process.execPath, [MCPB_CLI, 'unpack', bundleFile, unpacked], ROOT);
    expect(run(process.execPath, [MCPB_CLI, 'validate', join(unpacked, 'manifest.json')], ROOT)).toMatch(/validation passes/i);

    const manifest = JSON.parse(readFileSync(join(unpacked, 'manifest.json'), 'utf8')) as BundleManifest;
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.compatibility.platforms).toEqual([process.platform]);
    expect(manifest.server.mcp_config.command).toBe('node');
    // Nothing a bundle user does not run: no tests (ours or the dependencies'), no sources, no source
    // maps, no secrets file; the dependencies' licences stay.
    const shipped = readdirSync(unpacked, { recursive: true, encoding: 'utf8' }).map((file) => file.split(sep).join('/'));
    expect(shipped.filter((file) => /^(test|src|bench|\.ci)(\/|$)|\/(test|tests|docs|benchmarks)\/|\.[cm]?ts$|\.map$|(^|\/)\.env/.test(file))).toEqual([]);
    expect(shipped).toEqual(expect.arrayContaining(['LICENSE', 'node_modules/zod/LICENSE', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node']));

    // The host's part, as mcpb's own code does it: ${__dirname}, the defaults, then the user's settings.
    const home = join(work, 'desktop-home');
    const hostStart = async (settings: Record<string, string | boolean>, env: Record<string, string> = {}) => {
      const config = await getMcpConfigForManifest({ manifest: manifest as never, extensionPath: unpacked, systemDirs: { HOME: home }, userConfig: settings, pathSeparator: sep });
      const [entry, ...rest] = config!.args!;
      return { entry: entry!, rest, env: { HOME: home, XDG_STATE_HOME: join(home, 'state'), ...config!.env, ...env } };
    };
    const sandbox = await hostStart({ sandbox: true });
    const { tools } = await listToolsOverStdio(sandbox.entry, sandbox.rest, sandbox.env);
    expect(tools).toEqual(ALL_TOOL_NAMES);

    // "confirm" chosen in the form, and a client that cannot ask: the refusal names the setting to change.
    const confirming = await hostStart({ sandbox: true, send_mode: 'confirm' });
    const unsent = await overStdio(confirming.entry, confirming.rest, confirming.env, async (client) => {
      const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
      const sessionId = (listed.structuredContent as { conversations: Array<{ session_id: string }> }).conversations[0]!.session_id;
      return client.callTool({ name: 'send_message', arguments: { session_id: sessionId, content: 'Hello from the bundle' } });
    });
    expect(unsent.isError).toBe(true);
    expect((unsent.content as Array<{ text: string }>)[0]!.text).toMatch(/^Not sent: this server runs with --send-mode confirm .*\. In Claude Desktop, that is the Crisp inbox extension's setting "Send mode" \(--send-mode\)$/);

    // Nothing filled in: the refusal names the form's settings, as the form titles them.
    const unset = await hostStart({ sandbox: false });
    const refused = spawnSync(process.execPath, [unset.entry, ...unset.rest], { cwd: '/', encoding: 'utf8', env: hostEnv(unset.env), input: '', timeout: 30_000 });
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^crisp-mcp: no Crisp credentials: .*\. In Claude Desktop, those are the Crisp inbox extension's settings "Token identifier" \(CRISP_IDENTIFIER\), "Token key" \(CRISP_KEY\) and "Try it with the sandbox" \(--sandbox\)\n$/);

    // The switch off and an account's settings filled in (the bundle's own sandbox stands in for Crisp):
    // the sandbox runs left no state behind, a wrong key is named by its setting in Claude, never shown.
    const crisp = await startBundleSandbox(join(unpacked, 'dist', 'cli.js'));
    try {
      expect(existsSync(join(home, 'state', 'crisp-mcp')), 'a sandbox run writes no state file').toBe(false);
      const account = { sandbox: false, identifier: crisp.identifier, key: crisp.key, website_ids: crisp.website_id };
      const real = await hostStart(account, { CRISP_API_URL: crisp.url });
      // The working directory a host starts a server in is its own choice: a `scenarios` folder there is not the bundle's.
      const strayFolder = join(work, 'host-cwd');
      mkdirSync(join(strayFolder, 'scenarios'), { recursive: true });
      writeFileSync(join(strayFolder, 'scenarios', 'notes.json'), '{"notes": "not a scenario"}');
      const drafted = await overStdio(real.entry, real.rest, real.env, async (client) => {
        const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
        const sessionId = (listed.structuredContent as { conversations: Array<{ session_id: string }> }).conversations[0]!.session_id;
        return client.callTool({ name: 'draft_scenario_reply', arguments: { session_id: sessionId, scenario: 'handoff' } });
      }, undefined, strayFolder);
      expect(drafted.isError, JSON.stringify(drafted.content)).toBeFalsy();
      expect(existsSync(join(home, 'state', 'crisp-mcp', 'state.db')), "the account's drafts go to the state file").toBe(true);

      const wrongKey = 'not-the-key-0123456789abcdef';
      const wrong = await hostStart({ ...account, key: wrongKey }, { CRISP_API_URL: crisp.url });
      let stderr = '';
      const refusedCall = await overStdio(wrong.entry, wrong.rest, wrong.env, (client) => client.callTool({ name: 'list_operators', arguments: {} }), (chunk) => (stderr += chunk));
      expect(refusedCall.isError).toBe(true);
      const said = (refusedCall.content as Array<{ text: string }>)[0]!.text;
      expect(said).toBe(
          "Crisp refused the server's credentials (401). An operator must fix CRISP_IDENTIFIER/CRISP_KEY, or CRISP_TIER (sent: plugin; it must be the tier the token was issued for). " +
          'In Claude Desktop, those are the Crisp inbox extension\'s settings "Token identifier" (CRISP_IDENTIFIER), "Token key" (CRISP_KEY) and "Token tier" (CRISP_TIER)',
      );
      expect(stderr).toContain('"code":"crisp_unauthorized"');
      for (const text of [said, stderr]) expect(text).not.toContain(wrongKey);
    } finally {
      crisp.stop();
    }
  }, BUILD_TIMEOUT);
});

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

interface BundleManifest {
  version: string;
  compatibility: { platforms: string[] };
  server: { mcp_config: { command: string; args: string[]; env: Record<string, string> } };
  user_config: Record<string, { title: string; default?: string | number | boolean }>;
}

/**
 * `npm ci --offline` of the tarball into `dir`: a lockfile naming the tarball plus every production
 * package of ours at its pinned version, so npm takes them all from its cache.
 */
function installOffline(tgz: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  const spec = `file:${tgz}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && !entry.dev && !entry.link) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { [pkg.name]: spec } }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }));
  npm(dir, 'ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund');
}

/** Where better-sqlite3's install script leaves its compiled module, in a folder's node_modules. */
const COMPILED_MODULE = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

let consumerFolder: string | undefined;

/** The packed tarball installed (once) into an empty folder, its install scripts skipped. */
function installedConsumer(): string {
  if (!consumerFolder) {
    const dir = join(work, 'consumer');
    installOffline(tarball, dir);
    consumerFolder = dir;
  }
  return consumerFolder;
}

/** What an MCP host passes a server it starts: only PATH and HOME from here (HOME a fresh folder), plus `env`. */
function hostEnv(env: Record<string, string> = {}): Record<string, string> {
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  return { PATH: process.env.PATH ?? '', HOME: home, XDG_STATE_HOME: home, ...env };
}

/** The server as an MCP host starts it (cwd /, hostEnv), over stdio: the tool names it lists. */
async function listToolsOverStdio(entry: string, args: string[], env: Record<string, string>): Promise<{ tools: string[]; stderr: string }> {
  let stderr = '';
  const tools = await overStdio(entry, args, env, async (client) => (await client.listTools()).tools.map((t) => t.name).sort(), (chunk) => (stderr += chunk));
  return { tools, stderr };
}

/** Starts the server as an MCP host does (cwd / unless told, hostEnv), connects a client, runs `use` with it, closes it. */
async function overStdio<T>(entry: string, args: string[], env: Record<string, string>, use: (client: Client) => Promise<T>, onStderr?: (chunk: string) => void, cwd = '/'): Promise<T> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [entry, ...args], cwd, env: hostEnv(env), stderr: 'pipe' });
  transport.stderr?.on('data', (chunk: Buffer) => onStderr?.(chunk.toString('utf8')));
  const client = new Client({ name: 'package-test', version: '1.0.0' });
  await client.connect(transport);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** `crisp-mcp sandbox --port 0 --json` of the bundle: a Crisp for the bundle's server to use as an account's. */
async function startBundleSandbox(cli: string): Promise<{ url: string; website_id: string; identifier: string; key: string; stop: () => void }> {
  const child = spawn(process.execPath, [cli, 'sandbox', '--port', '0', '--json'], { cwd: '/', env: hostEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const started = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`the bundle's sandbox exited ${code} before it started:\n${stderr}`)));
  });
  return { ...(JSON.parse(started) as { url: string; website_id: string; identifier: string; key: string }), stop: () => child.kill() };
}

/** npm itself: the one running the tests when they came from `npm test`, else npm on the PATH. */
function npm(cwd: string, ...args: string[]): string {
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.[cm]?js$/.test(cli) ? run(process.execPath, [cli, ...args], cwd) : run('npm', args, cwd);
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' }, shell: process.platform === 'win32' && command === 'npm' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stderr}`);
  return result.stdout;
}
