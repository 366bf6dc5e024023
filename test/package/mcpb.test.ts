// `npm run mcpb`, from what a fresh clone holds, makes an MCP Bundle whose manifest the mcpb CLI
// accepts and whose server, started the way the manifest says (the command built by mcpb's own
// getMcpConfigForManifest, as a host does), serves every tool. (`npm pack` and an install of it:
// test/package/install.test.ts.)
//
// It runs in a copy of the checkout (tracked and untracked, not ignored, files: what a clone holds),
// so its build never touches the dist/ the other tests run; the install test's tarball is packed in
// the same copy after it, so a run builds once (test/helpers/package-build.ts).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { getMcpConfigForManifest } from '@anthropic-ai/mcpb';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClonePackages } from '../helpers/package-build.js';
import { ALL_TOOL_NAMES, BUILD_TIMEOUT, hostEnv as hostEnvIn, listToolsOverStdio as listToolsIn, overStdio as overStdioIn, pkg, ROOT, run, scratch } from '../helpers/package-clone.js';

const MCPB_CLI = join(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb'), '..', 'cli', 'cli.js');

let work: string;
let bundleFile: string;

beforeAll(async () => {
  work = scratch();
  ({ bundle: bundleFile } = await freshClonePackages());
}, BUILD_TIMEOUT);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const hostEnv = (env: Record<string, string> = {}) => hostEnvIn(work, env);
const listToolsOverStdio = (entry: string, args: string[], env: Record<string, string>) => listToolsIn(work, entry, args, env);
function overStdio<T>(entry: string, args: string[], env: Record<string, string>, use: (client: Client) => Promise<T>, onStderr?: (chunk: string) => void, cwd?: string): Promise<T> {
  return overStdioIn(work, entry, args, env, use, onStderr, cwd);
}

describe('npm run mcpb', () => {
  it('writes crisp-mcp-<version>.mcpb; the mcpb CLI accepts its manifest; unpacked and started as mcpb builds the host\'s command, it serves every tool, keeps the sandbox out of the state file, and names the setting behind a refused key or send', async () => {
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

interface BundleManifest {
  version: string;
  compatibility: { platforms: string[] };
  server: { mcp_config: { command: string; args: string[]; env: Record<string, string> } };
  user_config: Record<string, { title: string; default?: string | number | boolean }>;
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
