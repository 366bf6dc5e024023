import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, parseServeFlags, resolveConfig } from '../src/config.js';

const W1 = '42286ab3-b29a-4fde-8538-da0ae501d825';
const W2 = '9972daab-2c86-459f-9d78-3fe1be4e3280';
const KEY = 'secret-key-never-printed';
const base = { CRISP_IDENTIFIER: 'id-1', CRISP_KEY: KEY, CRISP_WEBSITE_ID: W1 };

function resolve(argv: string[], env: Record<string, string> = base, keychain?: { identifier: string; key: string }) {
  return resolveConfig(parseServeFlags(argv), { env, keychain });
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).not.toContain(KEY);
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('keeps a website listed twice (in any letter case) once, in its first place', () => {
    expect(resolve([], { ...base, CRISP_WEBSITE_ID: `${W1},${W2.toUpperCase()},${W1.toUpperCase()}` }).websites).toEqual([W1, W2]);
  });

  it('builds the defaults from the environment', () => {
    const config = resolve([], { ...base, CRISP_WEBSITE_ID: `${W1}, ${W2}` });
    expect(config).toMatchObject({
      apiUrl: 'https://api.crisp.chat',
      credentials: { identifier: 'id-1', key: KEY, tier: 'plugin', source: 'environment' },
      websites: [W1, W2],
      readOnly: false,
      toolsets: undefined,
      tools: undefined,
      excludeTools: [],
      sendMode: 'post',
      sandbox: false,
      http: undefined,
      store: { kind: 'sqlite' },
    });
  });

  it('reads every flag', () => {
    const config = resolve(['--read-only', '--toolsets', 'conversations, people', '--exclude-tools', 'send_message', '--send-mode', 'confirm', '--store', 'sqlite:/tmp/x.db', '--http', '--port', '9000']);
    expect(config.readOnly).toBe(true);
    expect(config.toolsets).toEqual(['conversations', 'people']);
    expect(config.excludeTools).toEqual(['send_message']);
    expect(config.sendMode).toBe('confirm');
    expect(config.store).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 9000, tokens: [], allowedHosts: [], crispAgent: undefined });
  });

  it('lets the environment win over the keychain, and uses the keychain otherwise', () => {
    expect(resolve([], base, { identifier: 'kc', key: 'kc-key' }).credentials?.source).toBe('environment');
    const fromKeychain = resolve([], { CRISP_WEBSITE_ID: W1 }, { identifier: 'kc', key: 'kc-key' });
    expect(fromKeychain.credentials).toMatchObject({ identifier: 'kc', key: 'kc-key', source: 'keychain' });
  });

  it('needs no credentials or website with --sandbox', () => {
    const config = resolve(['--sandbox'], {});
    expect(config.sandbox).toBe(true);
    expect(config.credentials).toBeUndefined();
    expect(config.websites).toEqual([]);
  });

  it('keeps scenario state in memory with --sandbox unless a store is named', () => {
    expect(resolve(['--sandbox'], {}).store).toEqual({ kind: 'memory' });
    expect(resolve(['--sandbox', '--store', 'sqlite:/tmp/s.db'], {}).store).toEqual({ kind: 'sqlite', path: '/tmp/s.db' });
    expect(resolve(['--sandbox'], { CRISP_MCP_STORE: 'redis://127.0.0.1:6379' }).store).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379' });
    expect(resolve([]).store).toEqual({ kind: 'sqlite' });
  });

  it.each([
    [[], {}, /no Crisp credentials: run `crisp-mcp auth login`, or set CRISP_IDENTIFIER and CRISP_KEY/],
    [[], { CRISP_IDENTIFIER: 'id', CRISP_WEBSITE_ID: W1 }, /CRISP_KEY is missing/],
    [[], { CRISP_KEY: KEY, CRISP_WEBSITE_ID: W1 }, /CRISP_IDENTIFIER is missing/],
    [[], { ...base, CRISP_WEBSITE_ID: '' }, /CRISP_WEBSITE_ID is not set/],
    [[], { ...base, CRISP_WEBSITE_ID: `${W1},nope` }, /"nope" is not one/],
    [[], { ...base, CRISP_WEBSITE_ID: `https://app.crisp.chat/website/${W1}/inbox/` }, new RegExp(`/inbox/" is not one \\(the website id in it is ${W1}\\)$`)],
    [[], { ...base, CRISP_TIER: 'admin' }, /CRISP_TIER must be plugin, website or user, got "admin"/],
    [[], { ...base, CRISP_API_URL: 'api.crisp.chat' }, /CRISP_API_URL must be an absolute http\(s\) URL/],
    [[], { ...base, CRISP_API_URL: 'ftp://x' }, /CRISP_API_URL must use http or https/],
    [['--send-mode', 'shout'], base, /--send-mode must be post, note or confirm, got "shout"/],
    [['--store', 'mongo://x'], base, /--store \(or CRISP_MCP_STORE\) must be sqlite \(the default file\), sqlite:PATH, redis:\/\/HOST:PORT, rediss:\/\/HOST:PORT or memory/],
    [['--http', '--port', '65536'], base, /--port must be a whole number from 0 \(any free port\) to 65535/],
    [['--http', '--port', 'eighty'], base, /--port must be a whole number/],
    [['--http'], { ...base, CRISP_MCP_HTTP_TOKEN: 'short' }, /bearer tokens must be at least 16 characters/],
    [['--http'], { ...base, CRISP_MCP_HTTP_TOKEN: 'Bearer 0123456789abcdef' }, /^CRISP_MCP_HTTP_TOKEN holds a space or a character outside visible ASCII, which no Authorization header can carry; give the token alone \(without "Bearer "\)/],
    [['--http'], { ...base, CRISP_MCP_HTTP_TOKEN: '0123456789abcdéf' }, /^CRISP_MCP_HTTP_TOKEN holds a space or a character outside visible ASCII/],
    [['--http', '--token-file', '/nonexistent/tokens'], base, /--token-file \/nonexistent\/tokens cannot be read \(ENOENT\)/],
    [['--http', '--crisp-agent'], base, /--crisp-agent needs CRISP_MCP_AGENT_SECRET/],
    [['--http', '--allowed-hosts', 'https://mcp.example.com'], base, /--allowed-hosts takes host names without scheme, port or wildcard/],
    [['--http', '--allowed-hosts', '*.example.com'], base, /--allowed-hosts takes host names without scheme, port or wildcard \(list each name; IPv6 in brackets\), got "\*\.example\.com"/],
    [['--token-file', '/tmp/x'], base, /--token-file only applies to the HTTP server: add --http/],
    [['--crisp-agent'], base, /--crisp-agent only applies to the HTTP server: add --http/],
    [['--http', '--host', '0.0.0.0'], base, /--host 0\.0\.0\.0 is reachable from other machines: set CRISP_MCP_HTTP_TOKEN/],
  ])('refuses %j with %j in one line', (argv, env, expected) => {
    expect(failure(() => resolve(argv, env as Record<string, string>))).toMatch(expected);
  });

  it('turns an unknown flag into one line', () => {
    expect(failure(() => parseServeFlags(['--reed-only']))).toMatch(/--reed-only/);
  });

  it('accepts a non-loopback host when a token is set, or when only Crisp-signed requests are taken', () => {
    const token = '0123456789abcdef0123';
    expect(resolve(['--http', '--host', '0.0.0.0'], { ...base, CRISP_MCP_HTTP_TOKEN: token }).http).toEqual({ host: '0.0.0.0', port: 8787, tokens: [token], allowedHosts: [], crispAgent: undefined });
    const agent = resolve(['--http', '--host', '0.0.0.0', '--crisp-agent'], { ...base, CRISP_MCP_AGENT_SECRET: 'mcp_sec_abc' }).http;
    expect(agent).toMatchObject({ tokens: [], crispAgent: { secret: 'mcp_sec_abc' } });
  });

  it('reads --token-file (one token per line, # comments; it wins over CRISP_MCP_HTTP_TOKEN), --allowed-hosts and --port 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-config-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, '# clients\n0123456789abcdef-one\n\n  0123456789abcdef-two  \n');
    const http = resolve(['--http', '--port', '0', '--token-file', file, '--allowed-hosts', 'MCP.example.com, [::1]'], { ...base, CRISP_MCP_HTTP_TOKEN: 'env-token-0123456789' }).http;
    expect(http).toEqual({ host: '127.0.0.1', port: 0, tokenFile: file, tokens: ['0123456789abcdef-one', '0123456789abcdef-two'], allowedHosts: ['mcp.example.com', '[::1]'], crispAgent: undefined });
    writeFileSync(file, '# nothing\n');
    expect(failure(() => resolve(['--http', '--token-file', file]))).toMatch(/holds no token/);
    writeFileSync(file, '0123456789abcdef-one\n0123456789 abcdef-two\n');
    const spaced = failure(() => resolve(['--http', '--token-file', file]));
    expect(spaced).toBe(`token 2 of 2 in --token-file ${file} holds a space or a character outside visible ASCII, which no Authorization header can carry; give the token alone (without "Bearer "), e.g. from \`openssl rand -hex 32\``);
    expect(resolve(['--http'], { ...base, CRISP_MCP_ALLOWED_HOSTS: 'a.example' }).http?.allowedHosts).toEqual(['a.example']);
    // A Docker Compose service name, as another container sends it in Host.
    expect(resolve(['--http', '--allowed-hosts', 'Crisp_MCP'], base).http?.allowedHosts).toEqual(['crisp_mcp']);
  });

  describe('the converse API (CRISP_MCP_CONVERSE_*)', () => {
    const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const converse = { ...base, CRISP_MCP_CONVERSE_WEBHOOK_URL: 'https://backend.example/bot-replies', CRISP_MCP_CONVERSE_SECRET: SECRET, CRISP_MCP_CONVERSE_SCENARIO: 'gdpr' };

    it('is on with --http and a webhook URL; the idle timeout defaults to 30 minutes and takes decimals', () => {
      expect(resolve(['--http'], converse).http?.converse).toEqual({ webhookUrl: 'https://backend.example/bot-replies', secret: SECRET, scenario: 'gdpr', idleMinutes: 30 });
      expect(resolve(['--http'], { ...converse, CRISP_MCP_CONVERSE_IDLE_MINUTES: '0.5' }).http?.converse?.idleMinutes).toBe(0.5);
      expect(resolve(['--http'], base).http?.converse).toBeUndefined();
      expect(resolve([], converse).http).toBeUndefined(); // stdio: the variables are not read
    });

    it.each([
      [{ CRISP_MCP_CONVERSE_WEBHOOK_URL: 'backend.example' }, /CRISP_MCP_CONVERSE_WEBHOOK_URL must be an absolute http\(s\) URL/],
      [{ CRISP_MCP_CONVERSE_SECRET: '' }, /CRISP_MCP_CONVERSE_WEBHOOK_URL needs CRISP_MCP_CONVERSE_SECRET: a Standard Webhooks secret/],
      [{ CRISP_MCP_CONVERSE_SECRET: 'whsec_c2hvcnQ=' }, /CRISP_MCP_CONVERSE_SECRET must be whsec_ followed by the base64 of 24-64 random bytes/],
      [{ CRISP_MCP_CONVERSE_SECRET: SECRET.slice(6) }, /CRISP_MCP_CONVERSE_SECRET must be whsec_/],
      [{ CRISP_MCP_CONVERSE_SCENARIO: '' }, /CRISP_MCP_CONVERSE_WEBHOOK_URL needs CRISP_MCP_CONVERSE_SCENARIO/],
      [{ CRISP_MCP_CONVERSE_IDLE_MINUTES: '0' }, /CRISP_MCP_CONVERSE_IDLE_MINUTES must be a number of minutes above 0 and at most 10080 \(decimals allowed\), got "0"/],
      [{ CRISP_MCP_CONVERSE_IDLE_MINUTES: '-5' }, /CRISP_MCP_CONVERSE_IDLE_MINUTES must be a number of minutes/],
      [{ CRISP_MCP_CONVERSE_IDLE_MINUTES: '20000' }, /at most 10080/],
      [{ CRISP_MCP_CONVERSE_IDLE_MINUTES: '30m' }, /got "30m"/],
      [{ CRISP_MCP_CONVERSE_WEBHOOK_URL: '' }, /CRISP_MCP_CONVERSE_SECRET is set but CRISP_MCP_CONVERSE_WEBHOOK_URL is not/],
    ])('refuses %j in one line', (override, expected) => {
      const message = failure(() => resolve(['--http'], { ...converse, ...override }));
      expect(message).toMatch(expected);
      expect(message).not.toContain('\n');
      expect(message).not.toContain(SECRET.slice(6));
    });
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['192.168.1.4', false],
    ['::', false],
    ['example.com', false],
  ])('isLoopback(%s) is %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });
});

describe('settings from an MCP Bundle (environment only)', () => {
  it('CRISP_MCP_SANDBOX and CRISP_MCP_SEND_MODE stand in for --sandbox and --send-mode; the flags win', () => {
    const bundled = resolve([], { CRISP_MCP_SANDBOX: 'true', CRISP_MCP_SEND_MODE: 'note' });
    expect(bundled).toMatchObject({ sandbox: true, sendMode: 'note', credentials: undefined });
    expect(resolve([], { ...base, CRISP_MCP_SANDBOX: 'false' }).sandbox).toBe(false);
    expect(resolve(['--send-mode', 'confirm'], { ...base, CRISP_MCP_SEND_MODE: 'note' }).sendMode).toBe('confirm');
    expect(failure(() => resolve([], { ...base, CRISP_MCP_SANDBOX: 'yes' }))).toBe('CRISP_MCP_SANDBOX must be true or false, got "yes"');
    expect(failure(() => resolve([], { ...base, CRISP_MCP_SEND_MODE: 'shout' }))).toBe('CRISP_MCP_SEND_MODE must be post, note or confirm, got "shout"');
  });

  it('an optional setting left blank, passed on as a literal ${user_config.x}, counts as unset', () => {
    const config = resolve([], { ...base, CRISP_TIER: '${user_config.tier}', CRISP_MCP_SANDBOX: '${user_config.sandbox}', CRISP_MCP_SEND_MODE: '${user_config.send_mode}' });
    expect(config).toMatchObject({ sandbox: false, sendMode: 'post', credentials: { tier: 'plugin' } });
  });
});
