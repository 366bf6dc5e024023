// A host that cancels a read (a tool, a conversation resource, the summarize prompt; notifications/cancelled, as the SDK client sends when its signal
// aborts) stops the server's Crisp request with it, seen from the host's seat: an SDK client over
// stdio to the built CLI, Crisp being the sandbox on its own port, slow to answer. The handler's
// Crisp call used to run on, retried to its 30 s deadline, after the host had given up on it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { eventually } from '../helpers/events.js';
import { connectStdio } from '../helpers/stdio.js';

let sandbox: Sandbox;

beforeAll(async () => {
  // Every answer 20 s late: a call is still waiting for Crisp when the host cancels it.
  sandbox = await startSandbox({ faults: 'latency:20000ms' });
});
afterAll(() => sandbox.close());

describe('a read the host cancels', () => {
  it('aborts its Crisp request at once: the server logs the call cancelled (at debug: no failure of Crisp), not an outage 20-30 s later', async () => {
    const { identifier, key, tier } = sandbox.credentials[0]!;
    const env = { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_TIER: tier, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_MCP_STORE: 'memory', CRISP_MCP_LOG_LEVEL: 'debug' };
    const { client, stderr } = await connectStdio(['serve'], { env });
    try {
      for (const [name, args] of [['list_conversations', {}], ['search_helpdesk', { query: 'GDPR' }]] as const) {
        const before = sandbox.stats().total;
        const host = new AbortController();
        const call = client.callTool({ name, arguments: args }, { signal: host.signal }).then(
          () => 'answered',
          (error: Error) => error.name,
        );
        await eventually(() => sandbox.stats().total > before, 5_000, `${name}'s request at the sandbox`);
        host.abort();
        expect(await call).not.toBe('answered'); // the SDK client's own refusal of a cancelled request
        const cancelled = await eventually(() => stderr().split('\n').find((line) => line.includes(`"tool":"${name}"`) && line.includes('"msg":"crisp call cancelled"')), 10_000, `${name}'s Crisp call to end`);
        expect(JSON.parse(cancelled)).toMatchObject({ tool: name, error: { code: 'crisp_aborted' } });
      }
      // The transcript behind a conversation resource and the summarize_conversation prompt: up to four Crisp reads, which ran on.
      const uri = `crisp://conversations/${sandbox.websiteId}/session_${randomUUID()}`;
      const reads = {
        'resources/read': (signal: AbortSignal) => client.readResource({ uri }, { signal }),
        'prompts/get': (signal: AbortSignal) => client.getPrompt({ name: 'summarize_conversation', arguments: { session_id: uri.split('/').pop()! } }, { signal }),
      };
      for (const [method, read] of Object.entries(reads)) {
        const before = sandbox.stats().total;
        const host = new AbortController();
        const call = read(host.signal).then(
          () => 'answered',
          (error: Error) => error.name,
        );
        await eventually(() => sandbox.stats().total > before, 5_000, `${method}'s request at the sandbox`);
        const logged = stderr().length;
        host.abort();
        expect(await call).not.toBe('answered');
        const cancelled = await eventually(() => stderr().slice(logged).split('\n').find((line) => line.includes(`"uri":"${uri}"`) && line.includes('"msg":"crisp call cancelled"')), 10_000, `${method}'s Crisp call to end`);
        expect(JSON.parse(cancelled)).toMatchObject({ uri, error: { code: 'crisp_aborted' } });
      }
    } finally {
      await client.close();
    }
  }, 30_000);
});
