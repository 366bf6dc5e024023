// A resource or prompt whose Crisp call fails says what to do next, in the words a tool call
// gets for the same failure, as a host sees it: an SDK client over stdio to the built CLI, Crisp
// being the sandbox on its own port. A refused key read "Crisp is unavailable right now; try again
// later" there, while the tools said to fix the credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clearFaults, faultBurst } from '../helpers/sandbox-http.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';

const SESSION = 'session_3a27b908-dc61-4e17-868f-6bec3bdee33a';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

function connect(key: string): Promise<StdioHost> {
  const { identifier, tier } = sandbox.credentials[0]!;
  const env = { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_TIER: tier, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_MCP_STORE: 'memory', CRISP_MCP_LOG_LEVEL: 'debug' };
  return connectStdio(['serve'], { env });
}

const failure = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: Error) => error.message);

describe('a failed Crisp call behind a resource or a prompt', () => {
  it('a refused key: fix the credentials, as the tools say; the key appears nowhere', async () => {
    const wrongKey = 'f00d'.repeat(12);
    const { client, stderr } = await connect(wrongKey);
    try {
      const tool = await client.callTool({ name: 'list_operators', arguments: {} });
      const toolText = (tool.content as { text: string }[])[0]!.text;
      expect(toolText).toMatch(/^Crisp refused the server's credentials \(401\)\. An operator must fix CRISP_IDENTIFIER\/CRISP_KEY/);
      const read = await failure(client.readResource({ uri: `crisp://conversations/${sandbox.websiteId}/${SESSION}` }));
      const prompt = await failure(client.getPrompt({ name: 'summarize_conversation', arguments: { session_id: SESSION } }));
      for (const message of [read, prompt]) {
        expect(message).toContain(toolText);
        expect(message).not.toMatch(/try again later/);
      }
      expect(`${read}${prompt}${stderr()}`).not.toContain(wrongKey);
    } finally {
      await client.close();
    }
  });

  it("Crisp's 429 gives the wait its Retry-After asked for", async () => {
    const { client } = await connect(sandbox.credentials[0]!.key);
    try {
      await faultBurst(sandbox, { fault: '429', count: 50, retry_after: 120 });
      expect(await failure(client.readResource({ uri: `crisp://conversations/${sandbox.websiteId}/${SESSION}` }))).toMatch(/Rate limited by Crisp; retry in 120 s\./);
    } finally {
      await clearFaults(sandbox);
      await client.close();
    }
  });
});
