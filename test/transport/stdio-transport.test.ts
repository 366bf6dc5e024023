// DrainingStdioTransport under the SDK's real serveStdio and McpServer, with in-process pipes as
// stdin and stdout: what it reads, what it reports, and when it lets the connection close.
import { PassThrough } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { DrainingStdioTransport } from '../../src/transport/stdio.js';

const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'pipe', version: '1' } } };
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };
const line = (message: unknown) => JSON.stringify(message) + '\n';

/** A server whose one tool answers once `release` is called, so a test decides when a call is done. */
function serve(options: { graceMs?: number; onToolsListed?: () => void } = {}) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const answers: { id: number; result?: { content?: { text: string }[] }; error?: { message: string } }[] = [];
  let buffered = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      answers.push(JSON.parse(buffered.slice(0, at)) as (typeof answers)[number]);
      buffered = buffered.slice(at + 1);
    }
  });
  const errors: Error[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const transport = new DrainingStdioTransport({ stdin, stdout, ...options });
  serveStdio(
    () => {
      const server = new McpServer({ name: 'pipe', version: '1' });
      server.registerTool('slow', { inputSchema: z.object({ n: z.number() }) }, async ({ n }) => {
        await released;
        return { content: [{ type: 'text', text: `done ${n}` }] };
      });
      return server;
    },
    { transport, onerror: (error) => errors.push(error) },
  );
  return { stdin, transport, answers, errors, release };
}

describe('DrainingStdioTransport', () => {
  it('answers the calls read before stdin ended, then closes', async () => {
    const { stdin, transport, answers, release } = serve();
    let closed = false;
    void transport.closed.then(() => (closed = true));
    stdin.end(line(INITIALIZE) + line(INITIALIZED) + line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 7 } } }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false); // the call is still in flight
    release();
    await transport.closed;
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[1]!.result?.content?.[0]?.text).toBe('done 7');
  });

  it('reports a line that is JSON but not JSON-RPC, skips one that is not JSON, and serves the next', async () => {
    const { stdin, transport, answers, errors, release } = serve();
    release();
    stdin.write(line(INITIALIZE) + line(INITIALIZED));
    // A message split across chunks is put back together.
    const call = line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 1 } } });
    stdin.write('{"not": "json-rpc"}\n{not json\n' + call.slice(0, 20));
    stdin.end(call.slice(20));
    await transport.closed;
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
  });

  it('closes after the grace period when a call never ends', async () => {
    const { stdin, transport, answers } = serve({ graceMs: 100 });
    stdin.end(line(INITIALIZE) + line(INITIALIZED) + line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 1 } } }));
    await transport.closed;
    expect(answers.map((a) => a.id)).toEqual([1]);
  });

  it('runs onToolsListed once, after the first tools/list answer is written', async () => {
    let listed = 0;
    const { stdin, transport, answers } = serve({ onToolsListed: () => listed++ });
    const list = (id: number) => line({ jsonrpc: '2.0', id, method: 'tools/list' });
    stdin.write(line(INITIALIZE) + line(INITIALIZED) + list(2) + list(3));
    await vi.waitFor(() => expect(answers.map((a) => a.id)).toEqual([1, 2, 3]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(listed).toBe(1);
    stdin.end();
    await transport.closed;
  });

  it('refuses to send once closed', async () => {
    const { stdin, transport } = serve();
    stdin.end();
    await transport.closed;
    await expect(transport.send({ jsonrpc: '2.0', id: 9, result: {} })).rejects.toThrow(/closed/);
  });

  it('does not wait for a call the host cancelled: no answer is written, and stdin ending closes at once', async () => {
    // A grace period far past the test's own timeout: closing must not wait for it.
    const { stdin, transport, answers, release } = serve({ graceMs: 3_600_000 });
    let released = false;
    stdin.write(line(INITIALIZE) + line(INITIALIZED) + line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 1 } } }));
    await vi.waitFor(() => expect(answers.map((a) => a.id)).toEqual([1]));
    stdin.end(line({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'user' } }));
    await transport.closed;
    expect(released).toBe(false); // closed while the cancelled handler was still running
    released = true;
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers.map((a) => a.id)).toEqual([1]);
  });

  it('still waits for the calls not cancelled, and ignores a cancel for an unknown or finished id', async () => {
    const { stdin, transport, answers, release } = serve({ graceMs: 3_600_000 });
    let closed = false;
    void transport.closed.then(() => (closed = true));
    const cancel = (requestId: unknown) => line({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } });
    stdin.write(line(INITIALIZE) + line(INITIALIZED) + line({ jsonrpc: '2.0', id: 'x', method: 'ping' }));
    await vi.waitFor(() => expect(answers.map((a) => a.id)).toEqual([1, 'x']));
    stdin.end(line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 2 } } }) + cancel(99) + cancel('x') + cancel(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    release();
    await transport.closed;
    expect(answers.map((a) => a.id)).toEqual([1, 'x', 2]);
  });

  it('answers a request that is not valid JSON-RPC with an error naming what is wrong, instead of leaving the host waiting', async () => {
    const { stdin, transport, answers, errors, release } = serve();
    release();
    stdin.end(
      line(INITIALIZE) +
        line(INITIALIZED) +
        line({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { n: 1 } }, extra: true }) +
        line({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'slow', arguments: { n: 3 } } }),
    );
    await transport.closed;
    // The refusal is written as the line is read, ahead of answers still being worked out.
    expect([...answers].sort((a, b) => a.id - b.id)).toEqual([
      expect.objectContaining({ id: 1 }),
      { jsonrpc: '2.0', id: 2, error: { code: -32600, message: 'Invalid Request: unknown member "extra": a request has only jsonrpc, id, method and params' } },
      expect.objectContaining({ id: 3, result: expect.objectContaining({ content: [{ type: 'text', text: 'done 3' }] }) }),
    ]);
    expect(errors.map((e) => e.message)).toEqual(['stdin: a message that is not JSON-RPC: unknown member "extra": a request has only jsonrpc, id, method and params']);
  });

  it('answers an initialize sent after a byte order mark, and each request of a batch', async () => {
    const { stdin, transport, answers, release } = serve();
    release();
    const batch = [INITIALIZED, { jsonrpc: '2.0', id: 2, method: 'ping' }, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'slow', arguments: { n: 3 } } }];
    stdin.end(`\uFEFF${line(INITIALIZE)}${JSON.stringify(batch)}\n`);
    await transport.closed;
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    expect(answers.find((a) => a.id === 3)?.result?.content?.[0]?.text).toBe('done 3');
  });
});
