// The built CLI as a deployment runs it: `crisp-mcp serve --http --port 0 --sandbox` in its own
// process, reached over HTTP by SDK clients of both eras, stopped with SIGTERM mid-call.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { CLI, runCli } from '../helpers/cli.js';
import { connect, ERAS, spawnHttpCli, type Era, type HttpCli } from '../helpers/http.js';

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
