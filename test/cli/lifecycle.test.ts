// Lifecycle of the built CLI's long-running commands: a start-up step failing after another has
// opened a socket ends the process non-zero with one line; a Redis store that dies after start
// turns tool calls into clear errors (never a call left unanswered), and SIGTERM still ends it;
// an autopilot whose start fails after RTM connected closes the socket.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { MemoryStore, StoreError } from '../../src/store/index.js';
import { scenarioDir, startTestBot } from '../helpers/autopilot.js';
import { eventually } from '../helpers/events.js';
import { runCli } from '../helpers/cli.js';
import { connect, spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { callTool } from '../helpers/mcp.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

const TOKEN = 'lifecycle-token-0123456789abcdef';

describe('a start-up step failing after the embedded sandbox opened its socket', () => {
  it('bot --sandbox --events hooks on a taken port exits non-zero with one line', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const run = await runCli(['bot', '--sandbox', '--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(port), '--store', 'memory']);
      expect(run.status).not.toBe(0);
      expect(run.status).not.toBeNull(); // it exited by itself; runCli kills a hung child after 15 s (null status)
      expect(run.stderr).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      taken.close();
    }
  });
});

describeWithRedis('serve --http --store redis:// when Redis dies after start', () => {
  let server: TestRedis;
  let cli: HttpCli;

  beforeAll(async () => {
    server = await startRedis();
    cli = await spawnHttpCli(['--port', '0', '--sandbox', '--store', server.url], { CRISP_MCP_HTTP_TOKEN: TOKEN });
  });

  afterAll(async () => {
    if (cli && cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await server?.stop();
  });

  it('answers a tool call with a clear isError, then ends on SIGTERM', async () => {
    const client = await connect(cli.url, { era: 'modern', token: TOKEN });
    const website = (await (await fetch(`${cli.sandboxUrl!}/_sandbox/info`)).json()) as { data: { website_id: string } };
    const websiteId = website.data.website_id;
    const opened = (await (await fetch(`${cli.sandboxUrl!}/_sandbox/websites/${websiteId}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'GDPR question' }) })).json()) as { data: { session_id: string } };
    const args = { website_id: websiteId, session_id: opened.data.session_id, scenario: 'gdpr' };
    const before = await callTool(client, 'reset_scenario', args);
    expect(before.isError, before.text).toBe(false);

    await server.stop();
    const after = await callTool(client, 'reset_scenario', args);
    expect(after.isError).toBe(true);
    expect(after.text).toBe('The scenario store is unavailable right now; try again later.');
    expect(cli.logs()).toContainEqual(expect.objectContaining({ msg: 'store call failed', code: 'store_unavailable' }));

    await client.close().catch(() => undefined);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).not.toBeNull();
  });
});

describe('startBot failing after RTM connected', () => {
  it('closes the RTM socket it opened (none left reconnecting)', async () => {
    const sandbox = await startSandbox({ seed: 3 });
    // A store that fails the outbox drain the autopilot runs at start, once RTM is up.
    const store = new MemoryStore();
    store.outboxPending = () => Promise.reject(new StoreError('store_unavailable', 'the store went away'));
    try {
      await expect(startTestBot(sandbox, { events: 'rtm', store })).rejects.toThrow('the store went away');
      await eventually(() => sandbox.rtm.stats().connected === 0, 5_000, 'the RTM socket closed');
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});
