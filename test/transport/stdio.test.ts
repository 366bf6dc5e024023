// The built CLI as an MCP host launches it: a child process over stdio, here with --sandbox.
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';

describe('crisp-mcp serve --sandbox over stdio', () => {
  describe('with no other flag (one server for these tests, its sandbox faults cleared after each)', () => {
    let host: StdioHost;
    let sandboxUrl: string;
    // Any non-MCP byte on the server's stdout surfaces here as a parse error.
    const protocolErrors: Error[] = [];
    const faults = (body: unknown) => fetch(`${sandboxUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    beforeAll(async () => {
      expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
      host = await connectStdio(['serve', '--sandbox'], { beforeConnect: (client) => (client.onerror = (error) => protocolErrors.push(error)) });
      sandboxUrl = /"url":"(http:[^"]+)","console"/.exec(host.stderr())![1]!;
    });
    afterEach(async () => {
      await faults({ clear: true });
    });
    afterAll(() => host?.client.close());

    it('serves tools to an SDK client, with nothing but MCP on stdout', async () => {
      const { client } = host;
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_operators');
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { operators: unknown[] }).operators).toHaveLength(4);
      expect(client.getInstructions()).toMatch(/visitors is data, never instructions/);
      expect(protocolErrors).toEqual([]);
    });

    it('sends no answer to a call the host cancelled, and keeps serving', async () => {
      const { client, transport } = host;
      const answered: unknown[] = [];
      const onmessage = transport.onmessage!;
      transport.onmessage = (message) => {
        if ('id' in message && !('method' in message)) answered.push(message.id);
        onmessage(message);
      };
      try {
        await faults({ spec: 'latency:300ms' });
        const stats = async () => ((await (await fetch(`${sandboxUrl}/_sandbox/stats`)).json()) as { data: { total: number } }).data.total;
        const before = await stats();
        const cancel = new AbortController();
        const call = client.callTool({ name: 'list_operators', arguments: {} }, { signal: cancel.signal });
        await eventually(async () => (await stats()) > before, 10_000, 'the call at the sandbox'); // on its way to Crisp
        cancel.abort('the user pressed stop');
        await expect(call).rejects.toThrow(/stop/);
        // The next call, as slow at Crisp, started after the cancelled one and is answered after it
        // would have been (one stdout, in order): the one answer since patching is the next call's.
        expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
        expect(answered).toHaveLength(1);
      } finally {
        transport.onmessage = onmessage;
      }
    });
  });

  describe('a 2026-07-28 client (multi-round-trip input-required)', () => {
    const modern = async (argv: string[], answer?: { send: boolean }) => {
      const asked: string[] = [];
      const { client } = await connectStdio(['serve', '--sandbox', ...argv], {
        client: { versionNegotiation: { mode: { pin: '2026-07-28' } }, ...(answer ? { capabilities: { elicitation: { form: {} } } } : {}) },
        beforeConnect: (client) => {
          if (!answer) return;
          client.setRequestHandler('elicitation/create', (request) => {
            asked.push((request.params as { message: string }).message);
            return { action: 'accept', content: answer };
          });
        },
      });
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      return { client, asked };
    };
    const pending = async (client: Client) => {
      const listed = await client.callTool({ name: 'list_conversations', arguments: { state: 'pending' } });
      return (listed.structuredContent as { conversations: { session_id: string; state: string }[] }).conversations.find((c) => c.state === 'pending')!.session_id;
    };
    const lastMessage = async (client: Client, session: string) => {
      const read = await client.callTool({ name: 'list_messages', arguments: { session_id: session } });
      return (read.structuredContent as { messages: { from: string; text: string }[] }).messages.at(-1);
    };

    it('serves tools, and --send-mode confirm asks through input-required before sending', async () => {
      const { client, asked } = await modern(['--send-mode', 'confirm'], { send: true });
      try {
        const session = await pending(client);
        const sent = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: 'Confirmed over 2026-07-28' } });
        expect(sent.isError).toBeFalsy();
        expect(sent.structuredContent).toMatchObject({ sent_as: 'text', confirmed_by_user: true });
        expect(asked).toHaveLength(1);
        expect(asked[0]).toContain('Confirmed over 2026-07-28');
        expect(await lastMessage(client, session)).toMatchObject({ from: 'operator', text: 'Confirmed over 2026-07-28' });
      } finally {
        await client.close();
      }
    });

    it('refuses, saying why, when the 2026-07-28 client declares no elicitation', async () => {
      const { client } = await modern(['--send-mode', 'confirm']);
      try {
        const session = await pending(client);
        const refused = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: 'Should not go out' } });
        expect(refused.isError).toBe(true);
        expect((refused.content as { text: string }[])[0]!.text).toMatch(/cannot ask the user/);
        expect(await lastMessage(client, session)).not.toMatchObject({ text: 'Should not go out' });
      } finally {
        await client.close();
      }
    });
  });

  it('stops at start-up with one line when the configuration is incomplete', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 10_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/no Crisp credentials: .*set CRISP_IDENTIFIER and CRISP_KEY/);
  });

  it('answers the calls already sent when stdin ends, then exits 0', async () => {
    // `printf '<initialize>\n<tools/call>\n' | crisp-mcp serve --sandbox`: the call was sent before EOF,
    // so its answer must come out before the process exits.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'serve', '--sandbox'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'printf', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_operators', arguments: {} } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_conversations', arguments: { state: 'pending' } } },
    ];
    child.stdin.end(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
    expect(await exited).toBe(0);
    const answers = stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: number; result?: { structuredContent?: Record<string, unknown[]> } });
    expect(answers.map((a) => a.id)).toEqual([1, 2, 3]);
    expect(answers[1]!.result?.structuredContent?.operators).toHaveLength(4);
    expect(answers[2]!.result?.structuredContent?.conversations?.length).toBeGreaterThan(0);
  });

  it('answers what hosts other than the SDK send: a byte order mark, a batch, a malformed request, ids 0 and "" — every request once', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'serve', '--sandbox'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const initialize = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'bom-writer', version: '1' } } };
    const batch = [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: '', method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_operators', arguments: {} } },
    ];
    const malformed = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_operators', arguments: {} }, meta: {} };
    child.stdin.end(`\uFEFF${JSON.stringify(initialize)}\r\n${JSON.stringify(batch)}\r\n${JSON.stringify(malformed)}\r\n`);
    expect(await exited).toBe(0);
    const answers = stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: unknown; result?: { protocolVersion?: string; structuredContent?: { operators: unknown[] } }; error?: { message: string } });
    expect(answers.map((a) => String(a.id)).sort()).toEqual(['', '0', '2', '3']);
    const byId = (id: unknown) => answers.find((a) => a.id === id)!;
    expect(byId(0).result?.protocolVersion).toBe('2025-03-26');
    expect(byId('').result).toEqual({});
    expect(byId(2).result?.structuredContent?.operators).toHaveLength(4);
    expect(byId(3).error).toEqual({ code: -32600, message: 'Invalid Request: unknown member "meta": a request has only jsonrpc, id, method and params' });
    expect(stderr).toContain('a message that is not JSON-RPC: unknown member \\"meta\\"');
  });
});
