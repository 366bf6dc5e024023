// What a stranger with a Crisp account tries in the first hour, through the built CLI: settings
// that would serve nothing or call the wrong URL stop the start-up in one line; a website id in
// another case, a blank reply and a route left off each get an answer that says what happened.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { CLI, runCli, warningsIn } from '../helpers/cli.js';
import { spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { freePort } from '../helpers/net.js';
import { connectStdio } from '../helpers/stdio.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ seed: 42 });
});
afterAll(async () => {
  await sandbox.close();
});

/** The environment a user with an account sets, pointed at the sandbox. */
function accountEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const { identifier, key, tier } = sandbox.credentials[0]!;
  const home = mkdtempSync(join(tmpdir(), 'crisp-mcp-stranger-'));
  dirs.push(home);
  return { HOME: home, XDG_STATE_HOME: home, CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_TIER: tier, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_MCP_STORE: 'memory', ...overrides };
}

async function connect(args: string[], env: Record<string, string>): Promise<Client> {
  return (await connectStdio(args, { env })).client;
}

const text = (result: { content: unknown }) => (result.content as { text: string }[])[0]!.text;

describe('a selection that leaves no tool stops the start-up', () => {
  it.each([
    [['--tools', ''], 'no tool left to serve: --tools names none: name at least one, or drop the flag for the default toolsets'],
    [['--toolsets', ''], 'no tool left to serve: --toolsets names none: name at least one, or drop the flag for the default toolsets'],
    [
      ['--read-only', '--tools', 'send_message,set_compose'],
      'no tool left to serve: --read-only removes every write tool, and only write tools are selected (send_message, set_compose); select a read tool, or drop --read-only',
    ],
    [['--toolsets', 'routing', '--exclude-tools', 'assign_conversation,list_operators'], 'no tool left to serve: --exclude-tools removes every selected tool; exclude fewer'],
  ])('serve %j: exit 2, one line', async (flags, message) => {
    const run = await runCli(['serve', ...flags], { env: accountEnv() });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`crisp-mcp: ${message}\n`);
    expect(run.stdout).toBe('');
  });
});

describe('settings copied slightly wrong', () => {
  it('CRISP_API_URL ending in /v1 (as Crisp documents its routes) is refused, naming the base to use', async () => {
    const run = await runCli(['serve'], { env: accountEnv({ CRISP_API_URL: `${sandbox.url}/v1/` }) });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`crisp-mcp: CRISP_API_URL is the base URL without /v1 (every request adds it), e.g. ${sandbox.url}, got "${sandbox.url}/v1/"\n`);
  });

  it('a website id in upper case reaches the same website, in the allow-list and as a tool argument', async () => {
    const upper = sandbox.websiteId.toUpperCase();
    const client = await connect(['serve'], accountEnv({ CRISP_WEBSITE_ID: upper }));
    try {
      const listed = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(listed.isError, text(listed)).toBeFalsy();
      expect((listed.structuredContent as { operators: unknown[] }).operators.length).toBeGreaterThan(0);
      const named = await client.callTool({ name: 'list_operators', arguments: { website_id: upper } });
      expect(named.isError, text(named)).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('a misspelt variable is named before anything else, with the setting it resembles', async () => {
    const env = accountEnv({ CRISP_WEBSITE_IDS: sandbox.websiteId });
    delete env.CRISP_WEBSITE_ID;
    const missing = await runCli(['serve'], { env });
    expect(missing.status).toBe(2);
    const [warning, refusal] = missing.stderr.trim().split('\n');
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, msg: 'CRISP_WEBSITE_IDS is not a crisp-mcp setting and does nothing; did you mean CRISP_WEBSITE_ID?' });
    expect(refusal).toMatch(/^crisp-mcp: CRISP_WEBSITE_ID is not set/);

    // One that would have been optional: the server starts, and says which setting it did not take.
    const run = await runCli(['serve'], { env: accountEnv({ CRISP_MCP_SEND_MOD: 'confirm', CRISP_MCP_COLOUR: 'blue', CRISP_PLUGIN_URN: 'urn:other-tool' }) });
    expect(run.status).toBe(0);
    expect(warningsIn(run.stderr)).toEqual([
      'CRISP_MCP_COLOUR is not a crisp-mcp setting and does nothing (the README lists the settings)',
      'CRISP_MCP_SEND_MOD is not a crisp-mcp setting and does nothing; did you mean CRISP_MCP_SEND_MODE?',
    ]);
  });

  it('a bearer token that is too short is named by where it came from, never echoed', async () => {
    const fromEnv = await runCli(['serve', '--http', '--port', '0'], { env: accountEnv({ CRISP_MCP_HTTP_TOKEN: 'tooshort' }) });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toBe('crisp-mcp: bearer tokens must be at least 16 characters; CRISP_MCP_HTTP_TOKEN has 8; generate one with `openssl rand -hex 32`\n');
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-stranger-tokens-'));
    dirs.push(dir);
    const file = join(dir, 'tokens');
    writeFileSync(file, '# rotation\nlong-enough-token-0123456789\n\nshort-one\n');
    const fromFile = await runCli(['serve', '--http', '--port', '0', '--token-file', file], { env: accountEnv() });
    expect(fromFile.status).toBe(2);
    expect(fromFile.stderr).toBe(`crisp-mcp: bearer tokens must be at least 16 characters; token 2 of 2 in --token-file ${file} has 9; generate one with \`openssl rand -hex 32\`\n`);
    expect(fromFile.stderr).not.toContain('short-one');
  });

  it.each([
    ['a wrong key', { CRISP_KEY: 'not-the-key-0123456789' }, 'plugin'],
    ['the wrong tier', { CRISP_TIER: 'website' }, 'website'],
  ])('%s: the 401 names the key, the identifier and the tier sent, and how to check them', async (_, overrides, tier) => {
    const client = await connect(['serve'], accountEnv(overrides));
    try {
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBe(true);
      expect(text(result)).toBe(
        `Crisp refused the server's credentials (401). An operator must fix CRISP_IDENTIFIER/CRISP_KEY, or CRISP_TIER (sent: ${tier}; it must be the tier the token was issued for), or run \`crisp-mcp auth login\`; \`crisp-mcp auth status\` checks them.`,
      );
    } finally {
      await client.close();
    }
  });

  it('an empty scenarios folder is warned about, not only logged as loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-stranger-empty-'));
    dirs.push(dir);
    const run = await runCli(['serve', '--scenarios', dir], { env: accountEnv() });
    expect(run.status).toBe(0);
    const warnings = warningsIn(run.stderr);
    expect(warnings).toEqual([`no scenario files (*.json) in ${dir}: the scenario tools have none to run; put scenario files there, or point --scenarios (or CRISP_MCP_SCENARIOS) at the folder that holds them`]);
  });

  it('a scenario written as YAML in the folder is warned about at start, and named where its scenario is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-stranger-yaml-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'faq.yaml'), 'name: faq\n');
    const run = await runCli(['serve', '--scenarios', dir], { env: accountEnv() });
    expect(run.status).toBe(0);
    expect(warningsIn(run.stderr)).toContain(`not read from ${dir}: faq.yaml — scenario files are JSON, named *.json`);
    const bot = await runCli(['bot', '--sandbox', '--scenarios', dir, '--scenario', 'faq']);
    expect(bot.status).toBe(2);
    expect(bot.stderr).toMatch(/"faq" is not there \(no scenario is loaded\) \(from .*\); not read: faq\.yaml \(scenario files are JSON, named \*\.json\)\n$/);
  });

  it('bot --scenario FILE.json says which name that file holds', async () => {
    const run = await runCli(['bot', '--sandbox', '--scenario', 'gdpr.json']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^crisp-mcp: --scenario names no loaded scenario: "gdpr\.json" is not one of .*gdpr.* \(from .*scenarios\); a scenario goes by the "name" in its file: .*gdpr\.json is "gdpr"\n$/);
    expect(run.stderr).not.toContain('list_scenarios');
  });
});

describe('send_message with blank content', () => {
  it('is refused and sends nothing, for text, note and picker', async () => {
    const client = await connect(['serve'], accountEnv());
    try {
      const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
      const session = (listed.structuredContent as { conversations: { session_id: string }[] }).conversations[0]!.session_id;
      const count = async () => ((await client.callTool({ name: 'list_messages', arguments: { session_id: session } })).structuredContent as { messages: unknown[] }).messages.length;
      const before = await count();
      for (const [type, what] of [
        ['text', 'message'],
        ['note', 'message'],
        ['picker', 'question'],
      ] as const) {
        const args = { session_id: session, content: ' \n\t ', type, ...(type === 'picker' ? { choices: [{ value: 'y', label: 'Yes' }] } : {}) };
        const sent = await client.callTool({ name: 'send_message', arguments: args });
        expect(sent.isError).toBe(true);
        expect(text(sent)).toBe(`content is blank (only spaces, line breaks or invisible characters): nothing sent; write the ${what}`);
      }
      expect(await count()).toBe(before);
    } finally {
      await client.close();
    }
  });
});

describe('serve --http: a route that is off says what turns it on', () => {
  let cli: HttpCli;
  beforeAll(async () => {
    cli = await spawnHttpCli(['--port', '0'], accountEnv());
  });
  afterAll(async () => {
    cli.child.kill('SIGTERM');
    await cli.exited;
  });

  it.each([
    ['/converse', 'Not found: /converse is off; serve --http turns it on when CRISP_MCP_CONVERSE_WEBHOOK_URL, CRISP_MCP_CONVERSE_SECRET and CRISP_MCP_CONVERSE_SCENARIO are set'],
    ['/hooks/crisp', 'Not found: /hooks/crisp is off; serve --http turns it on with --bot-scenario NAME (or CRISP_MCP_BOT_SCENARIO) and CRISP_HOOK_SECRET'],
    ['/elsewhere', 'Not found: the MCP endpoint is /mcp'],
    ['/mcp/', 'Not found: /mcp/ has a trailing slash; the endpoint is /mcp'],
  ])('POST %s', async (path, message) => {
    const reply = await fetch(cli.url.replace(/\/mcp$/, path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(reply.status).toBe(404);
    expect(await reply.json()).toEqual({ error: 'not_found', message });
  });

  it("a browser opening /mcp is told it is an MCP endpoint; an MCP client's GET without a session still gets the 400 that says what to send", async () => {
    const browser = await fetch(cli.url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.status).toBe(406);
    expect(((await browser.json()) as { error: { message: string } }).error.message).toBe(
      'Not Acceptable: /mcp is an MCP endpoint, not a web page; point an MCP client (Claude Desktop, Cursor, the MCP Inspector) at this URL',
    );
    const client = await fetch(cli.url, { headers: { accept: 'text/event-stream' } });
    expect(client.status).toBe(400);
    expect(((await client.json()) as { error: { message: string } }).error.message).toMatch(/must send initialize first/);
  });
});

describe('bot stopped while Crisp cannot be reached yet', () => {
  it('SIGINT during RTM discovery ends the retries with it: exit 0, nothing left open, no reconnect logged after the stop', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, [CLI, 'bot', '--scenario', 'gdpr'], { env: { PATH: process.env.PATH ?? '', ...accountEnv({ CRISP_API_URL: url }) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('RTM disconnected; reconnecting')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited with ${code} before retrying: ${stderr}`)));
    });
    expect(stderr).toContain(`could not reach Crisp at ${url} (ECONNREFUSED)`);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const afterStop = stderr.slice(stderr.indexOf('"msg":"stopped during start-up"'));
    expect(afterStop).toMatch(/^"msg":"stopped during start-up"/);
    expect(afterStop).not.toContain('reconnecting');
    expect(stderr).not.toContain('still open');
  });
});

describe("stdio serve given more than MCP's line limit", () => {
  // The server takes seconds to refuse the line (src/transport/jsonrpc-lines.ts copies and searches
  // the whole held buffer at each chunk: 8 s for 11 MiB in-process at load 10), past vitest's 20 s
  // once at load 14: a longer wait for the exit, never a bound on how fast it is.
  it('closes the connection and exits 1 with one line saying why, not 0 as when the host closes stdin', async () => {
    const child = spawn(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH ?? '', ...accountEnv() }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The server stops reading part-way: what it no longer takes fails to write, as for any host.
    child.stdin.on('error', () => undefined);
    child.stdin.write(Buffer.alloc(11 * 1024 * 1024, 'a'));
    expect(await exited).toBe(1);
    expect(stderr).toContain('crisp-mcp: a message on stdin ran past 10485760 bytes without a newline (MCP\'s stdio limit): the connection is closed\n');
    expect(stderr).not.toContain('still open');
    expect(stdout).toBe('');
  }, 60_000);
});
