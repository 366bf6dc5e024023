// A refusal that names a setting names it where the user sets it (the Claude Desktop bundle's form,
// restated by deps.inSettingsTerms), whether a tool, a resource or a prompt met it: an SDK client over
// HTTP. Resources and prompts said CRISP_WEBSITE_ID, a variable a bundle user cannot set.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { toolsFor } from '../../src/mcp/server.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { startHttpServer, type HttpServerHandle } from '../../src/transport/http.js';
import { clientFor } from '../helpers/crisp.js';
import { connect } from '../helpers/http.js';

const OFF_LIST = '00000000-0000-4000-8000-000000000000';
const SESSION = 'session_3a27b908-dc61-4e17-868f-6bec3bdee33a';
/** What the bundle's restatement does to this refusal (src/commands/bundle-settings.ts), reduced to its effect. */
const inSettingsTerms = (message: string) => message.replace('CRISP_WEBSITE_ID', '"Website ids" (CRISP_WEBSITE_ID)');

let sandbox: Sandbox;
let crisp: CrispClient;
let server: HttpServerHandle;
let client: Client;

beforeAll(async () => {
  sandbox = await startSandbox();
  crisp = clientFor(sandbox);
  const config = resolveConfig(parseServeFlags(['--sandbox']), { env: {} });
  const deps = { crisp, guard: new Guard([sandbox.websiteId]), config, log: createLogger('silent'), inSettingsTerms };
  server = await startHttpServer({ host: '127.0.0.1', port: 0, tools: toolsFor({ readOnly: true }), deps });
  client = await connect(server.url, { era: 'legacy' });
});
afterAll(async () => {
  await client.close();
  await server.close();
  await crisp.close();
  await sandbox.close();
});

const failure = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: Error) => error.message);

describe('a website off the allow-list, in a bundle', () => {
  it('is named by its setting in a tool result, a resource error and a prompt error alike', async () => {
    const tool = await client.callTool({ name: 'list_operators', arguments: { website_id: OFF_LIST } });
    const read = await failure(client.readResource({ uri: `crisp://conversations/${OFF_LIST}/${SESSION}` }));
    const prompt = await failure(client.getPrompt({ name: 'summarize_conversation', arguments: { session_id: SESSION, website_id: OFF_LIST } }));
    for (const text of [(tool.content as { text: string }[])[0]!.text, read, prompt]) {
      expect(text).toContain(`website ${OFF_LIST} is not in "Website ids" (CRISP_WEBSITE_ID)`);
    }
  });
});
