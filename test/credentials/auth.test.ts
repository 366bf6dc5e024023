// `crisp-mcp auth` and credential resolution through the built CLI: login against the sandbox
// into a real Secret Service, status, serve reading the keychain, precedence, logout; and the
// headless case, where the keychain is missing and the messages must say what to do instead.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { secretServiceMissing, startSecretService, type SecretService } from '../helpers/keyring.js';
import { connectStdio } from '../helpers/stdio.js';

const KEY = 'k3y-7f1e2d3c4b5a69788796a5b4c3d2e1f0';
const IDENTIFIER = '2b1c6e0a-0d4e-4f5b-9a6c-7d8e9f0a1b2c';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 3, credentials: [{ identifier: IDENTIFIER, key: KEY, tier: 'plugin' }] });
});
afterAll(() => sandbox.close());

const neverShowsKey = (run: CliRun) => {
  for (const form of [KEY, Buffer.from(KEY).toString('base64'), Buffer.from(`${IDENTIFIER}:${KEY}`).toString('base64')]) {
    expect(run.stdout).not.toContain(form);
    expect(run.stderr).not.toContain(form);
  }
};

const missing = secretServiceMissing();
if (missing && process.env.CI === 'true') throw new Error(`CI must run the keychain tests, but ${missing}`);
if (missing) console.warn(`skipping the OS keychain tests: ${missing}`);

describe.skipIf(missing !== undefined)('with a real Secret Service (gnome-keyring on a private D-Bus)', () => {
  let keyring: SecretService;
  let env: Record<string, string>;
  beforeAll(async () => {
    keyring = await startSecretService();
    env = { ...keyring.env, CRISP_API_URL: sandbox.url };
  });
  afterAll(() => keyring?.stop());

  it('login checks the pair with Crisp and stores it; status shows the source, never the key', async () => {
    const login = await runCli(['auth', 'login', '--identifier', IDENTIFIER, '--tier', 'plugin', '--key-stdin'], { env, input: `${KEY}\n` });
    expect(login.stderr).toBe('');
    expect(login.status).toBe(0);
    expect(login.stdout).toMatch(/^Saved: Crisp accepted token 2b1c6e0a-.* \(tier plugin\)/);
    neverShowsKey(login);

    const status = await runCli(['auth', 'status'], { env });
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('Source: keychain');
    expect(status.stdout).toContain(`Identifier: ${IDENTIFIER}`);
    expect(status.stdout).toContain('Tier: plugin');
    expect(status.stdout).toContain('Accepted by Crisp: yes');
    neverShowsKey(status);
  });

  it('serve takes the keychain pair when flags and environment name none', async () => {
    const { client } = await connectStdio(['serve'], { env: { ...env, CRISP_WEBSITE_ID: sandbox.websiteId } });
    try {
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { operators: unknown[] }).operators.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('refuses a pair Crisp rejects and keeps the stored one', async () => {
    const wrong = await runCli(['auth', 'login', '--identifier', IDENTIFIER, '--key-stdin'], { env, input: 'not-the-key' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^crisp-mcp auth: not saved — Crisp refused this identifier\/key pair \(401\)/);
    expect(wrong.stderr).not.toContain('not-the-key');
    const status = await runCli(['auth', 'status'], { env });
    expect(status.stdout).toContain('Accepted by Crisp: yes');
  });

  it('environment beats keychain, flags beat environment', async () => {
    const fromEnv = await runCli(['auth', 'status'], { env: { ...env, CRISP_IDENTIFIER: 'env-id', CRISP_KEY: 'env-key-000' } });
    expect(fromEnv.stdout).toContain('Source: environment');
    expect(fromEnv.stdout).toContain('Identifier: env-id');
    expect(fromEnv.stdout).toMatch(/Accepted by Crisp: no — Crisp refused/);
    expect(fromEnv.status).toBe(1);

    const keyFile = join(mkdtempSync(join(tmpdir(), 'crisp-mcp-key-')), 'key');
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const fromFlags = await runCli(['auth', 'status', '--identifier', IDENTIFIER, '--key-file', keyFile], { env: { ...env, CRISP_IDENTIFIER: 'env-id', CRISP_KEY: 'env-key-000' } });
    expect(fromFlags.stdout).toContain('Source: flags');
    expect(fromFlags.stdout).toContain('Accepted by Crisp: yes');
    neverShowsKey(fromFlags);
  });

  it('logout removes the pair; serve then says how to log in', async () => {
    const logout = await runCli(['auth', 'logout'], { env });
    expect(logout.status).toBe(0);
    expect(logout.stdout).toMatch(/^Removed the Crisp credentials/);
    const again = await runCli(['auth', 'logout'], { env });
    expect(again.stdout).toMatch(/^Nothing to remove/);
    const status = await runCli(['auth', 'status'], { env });
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(/^Not logged in: run `crisp-mcp auth login`/);
    const serve = await runCli(['serve'], { env: { ...env, CRISP_WEBSITE_ID: sandbox.websiteId } });
    expect(serve.status).toBe(2);
    expect(serve.stderr.trim().split('\n')).toHaveLength(1);
    expect(serve.stderr).toMatch(/no Crisp credentials: run `crisp-mcp auth login`, or set CRISP_IDENTIFIER and CRISP_KEY/);
  });
});

describe('without a keychain (a headless Linux: no D-Bus session bus)', () => {
  const headless = () => ({ CRISP_API_URL: sandbox.url, HOME: mkdtempSync(join(tmpdir(), 'crisp-mcp-home-')), XDG_RUNTIME_DIR: '/nonexistent' });

  it.skipIf(process.platform !== 'linux')('serve stops with one line that says the keychain is unreachable and how to use the environment', async () => {
    const serve = await runCli(['serve'], { env: { ...headless(), CRISP_WEBSITE_ID: sandbox.websiteId } });
    expect(serve.status).toBe(2);
    expect(serve.stdout).toBe('');
    expect(serve.stderr.trim().split('\n')).toHaveLength(1);
    expect(serve.stderr).toMatch(/the OS keychain is not reachable \(no D-Bus session bus.*\); set CRISP_IDENTIFIER and CRISP_KEY in the environment instead/);
  });

  it.skipIf(process.platform !== 'linux')('login says so before asking Crisp anything, and saves nothing anywhere', async () => {
    sandbox.resetStats();
    const login = await runCli(['auth', 'login', '--identifier', IDENTIFIER, '--key-stdin'], { env: headless(), input: KEY });
    expect(login.status).toBe(1);
    expect(login.stderr).toMatch(/the OS keychain is not reachable.*Use the environment instead: set CRISP_IDENTIFIER, CRISP_KEY/);
    expect(sandbox.stats().total).toBe(0);
    neverShowsKey(login);
  });

  it('environment credentials work without any keychain', async () => {
    const status = await runCli(['auth', 'status'], { env: { ...headless(), CRISP_IDENTIFIER: IDENTIFIER, CRISP_KEY: KEY } });
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('Source: environment');
    expect(status.stdout).toContain('Accepted by Crisp: yes');
    neverShowsKey(status);
  });

  it('bad usage gets one clear line', async () => {
    const noKey = await runCli(['auth', 'login', '--identifier', IDENTIFIER, '--key-stdin'], { env: { ...headless(), DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' }, input: '' });
    expect(noKey.status).not.toBe(0);
    expect(noKey.stderr.trim().split('\n')).toHaveLength(1);
    const noTty = await runCli(['auth', 'login'], { env: headless() });
    expect(noTty.status).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask for the key: pass --identifier ID --key-stdin/);
    const half = await runCli(['auth', 'status', '--identifier', IDENTIFIER], { env: headless() });
    expect(half.stderr).toMatch(/--identifier needs --key-file PATH/);
    const unknown = await runCli(['auth', 'whoami'], { env: headless() });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown subcommand "whoami"; use login, status or logout/);
  });
});
