// The built CLI as a deployment runs it: `crisp-mcp serve --http --port 0 --sandbox` in its own
// process, reached over HTTP by SDK clients of both eras, stopped with SIGTERM mid-call.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { CLI, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';
import { connect, ERAS, INITIALIZE, post, spawnHttpCli, type Era, type HttpCli } from '../helpers/http.js';

const TOKEN = 'cli-test-token-0123456789abcdef';

async function lastMessageText(client: Awaited<ReturnType<typeof connect>>, session: string): Promise<string | undefined> {
  const read = await client.callTool({ name: 'list_messages', arguments: { session_id: session } });
  return (read.structuredContent as { messages: { text: string }[] }).messages.at(-1)?.text;
}

async function pendingSession(client: Awaited<ReturnType<typeof connect>>): Promise<string> {
  const listed = await client.callTool({ name: 'list_conversations', arguments: { state: 'pending' } });
  return (listed.structuredContent as { conversations: { session_id: string }[] }).conversations[0]!.session_id;
}

describe('crisp-mcp serve --http --port 0 --sandbox (child process)', () => {
  let cli: HttpCli;
  beforeAll(async () => {
    expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
    cli = await spawnHttpCli(['--port', '0', '--sandbox'], { CRISP_MCP_HTTP_TOKEN: TOKEN });
  });
  afterAll(async () => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  });

  it('logs the bound URL on stderr and writes nothing on stdout', () => {
    expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(cli.url).not.toMatch(/:0\//);
    expect(cli.logs().find((l) => l.url === cli.url)).toMatchObject({ auth: 'bearer (1 token)' });
    expect(cli.stdout()).toBe('');
  });

  it.each(ERAS)('%s era: serves tool calls to a client holding the token', async (era: Era) => {
    await expect(connect(cli.url, { era })).rejects.toThrow(/401|Unauthorized/);
    const client = await connect(cli.url, { era, token: TOKEN });
    try {
      const session = await pendingSession(client);
      const sent = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: `from the CLI over ${era} HTTP` } });
      expect(sent.isError).toBeFalsy();
      expect(await lastMessageText(client, session)).toBe(`from the CLI over ${era} HTTP`);
      expect(cli.logs().filter((line) => line.msg === 'MCP request')).toEqual([]); // at info, no line per request
    } finally {
      await client.close();
    }
  });

  it('on SIGTERM finishes the call in flight, then exits 0', async () => {
    const client = await connect(cli.url, { era: 'modern', token: TOKEN });
    const session = await pendingSession(client);
    const faults = await fetch(`${cli.sandboxUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spec: 'latency:500ms' }) });
    expect(faults.status).toBe(200);
    const call = client.callTool({ name: 'send_message', arguments: { session_id: session, content: 'sent during shutdown' } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    cli.child.kill('SIGTERM');
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ sent_as: 'text' });
    expect(await cli.exited).toBe(0);
    expect(cli.logs()).toContainEqual(expect.objectContaining({ msg: 'stopping: finishing calls in flight', signal: 'SIGTERM', in_flight: 1 }));
    expect(cli.logs().at(-1)).toMatchObject({ msg: 'stopped' });
    expect(cli.stdout()).toBe('');
  });
});

describe('crisp-mcp serve --http start-up refusals', () => {
  it('stops with one line when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const run = await runCli(['serve', '--http', '--sandbox', '--port', String(port)]);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`crisp-mcp: cannot listen on 127.0.0.1:${port} (EADDRINUSE): choose another --port or --host`);
    } finally {
      taken.close();
    }
  });

  it('refuses a public host without a token, in one line', async () => {
    const run = await runCli(['serve', '--http', '--sandbox', '--host', '0.0.0.0']);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--host 0\.0\.0\.0 is reachable from other machines: set CRISP_MCP_HTTP_TOKEN/);
  });
});

describe('crisp-mcp serve --http --token-file: SIGHUP reads the file again', () => {
  const OLD = 'old-token-0123456789abcdef';
  const NEW = 'new-token-fedcba9876543210';

  it('rotates a token without a restart: the added one is accepted, the removed one refused (its session too), an unusable file changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-tokens-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, `${OLD}\n`);
    const cli = await spawnHttpCli(['--port', '0', '--sandbox', '--token-file', file]);
    const status = async (token: string) => (await post(cli.url, INITIALIZE, { authorization: `Bearer ${token}` })).status;
    const logged = (msg: RegExp) => cli.logs().filter((line) => msg.test(String(line.msg))).length;
    const hangUp = async (msg: RegExp) => {
      const before = logged(msg);
      cli.child.kill('SIGHUP');
      await eventually(() => logged(msg) > before, 5_000, `a log line matching ${msg}`);
    };
    try {
      expect([await status(OLD), await status(NEW)]).toEqual([200, 401]);
      const opened = await post(cli.url, INITIALIZE, { authorization: `Bearer ${OLD}` });
      const session = opened.headers['mcp-session-id'] as string;

      writeFileSync(file, `${OLD}\n${NEW}\n`);
      await hangUp(/^bearer tokens reloaded/);
      expect([await status(OLD), await status(NEW)]).toEqual([200, 200]);

      writeFileSync(file, `# rotated\n${NEW}\n`);
      await hangUp(/^bearer tokens reloaded/);
      expect([await status(OLD), await status(NEW)]).toEqual([401, 200]);
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
      expect((await post(cli.url, ping, { authorization: `Bearer ${OLD}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' })).status).toBe(401);

      writeFileSync(file, 'too-short\n');
      await hangUp(/^SIGHUP: /);
      expect(cli.logs().at(-1)).toMatchObject({ level: 40, msg: expect.stringMatching(/token 1 of 1 in --token-file .* has 9; .*the tokens in use stay accepted$/) });
      expect(await status(NEW)).toBe(200);
      expect(cli.logs().find((line) => line.msg === `bearer tokens reloaded from --token-file ${file}`)).toMatchObject({ level: 30, tokens: 2 });
      for (const token of [OLD, NEW, 'too-short']) expect(cli.stderr()).not.toContain(token);
      expect(cli.child.exitCode).toBeNull();
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('crisp-mcp serve --http request log lines', () => {
  it('at debug, one line per request once it is over: the principal, the method, the tool, the status — never the token', async () => {
    const cli = await spawnHttpCli(['--port', '0', '--sandbox'], { CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_LOG_LEVEL: 'debug' });
    try {
      for (const era of ERAS) {
        const client = await connect(cli.url, { era, token: TOKEN });
        expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
        await client.close();
      }
      expect((await post(cli.url, INITIALIZE, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
      const lines = () => cli.logs().filter((line) => line.msg === 'MCP request');
      // The child's stderr reaches this process after its answers do.
      await eventually(() => lines().filter((line) => line.tool === 'list_operators').length === 2 && cli.logs().some((line) => line.msg === 'request refused'), 5_000, 'the log lines');
      const calls = lines().filter((line) => line.tool === 'list_operators');
      for (const line of calls) expect(line).toMatchObject({ level: 20, principal: expect.stringMatching(/^token:[0-9a-f]{16}$/), http: 'POST', rpc: 'tools/call', status: 200, ms: expect.any(Number) });
      expect(lines().some((line) => line.rpc === 'initialize')).toBe(true);
      expect(cli.logs()).toContainEqual(expect.objectContaining({ level: 20, status: 401, msg: 'request refused' }));
      expect(cli.stderr()).not.toContain(TOKEN);
      expect(cli.stderr()).not.toContain('wrong-token');
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});

describe('crisp-mcp serve --http without --token-file: SIGHUP', () => {
  it('stops the server as SIGTERM does — the stop logged, exit 0 — where Node would end it at once, with no line and no grace', async () => {
    const cli = await spawnHttpCli(['--port', '0', '--sandbox']);
    try {
      cli.child.kill('SIGHUP');
      expect(await cli.exited).toBe(0);
      expect(cli.logs().find((line) => String(line.msg).startsWith('stopping'))).toMatchObject({ signal: 'SIGHUP' });
      expect(cli.logs().at(-1)).toMatchObject({ msg: 'stopped' });
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  });
});
