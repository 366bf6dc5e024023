// The key never leaves the server. With a known key, run the server's start-up, every tool, every
// error path we can provoke (bad arguments, unknown ids, 401, 429, 5xx, dropped connections, a
// refused website) at the most verbose log level, then scan everything produced — the stdio
// results, stderr, and the auth command's output — for the key in each form it could take.
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { CLI, runCli } from '../helpers/cli.js';

const IDENTIFIER = '6f0e1d2c-3b4a-4596-8877-665544332211';
const KEY = 'redaction-canary-5b0c1a9e8d7f6e5d4c3b2a1908f7e6d5';
const WRONG_KEY = 'wrong-canary-0a1b2c3d4e5f60718293a4b5c6d7e8f9';

function forms(identifier: string, key: string): string[] {
  const pair = `${identifier}:${key}`;
  return [key, Buffer.from(key).toString('base64'), pair, Buffer.from(pair).toString('base64'), Buffer.from(pair).toString('base64url')];
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, credentials: [{ identifier: IDENTIFIER, key: KEY, tier: 'plugin' }] });
});
afterAll(() => sandbox.close());

async function connect(key: string) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--scenarios', 'scenarios', '--store', 'memory'],
    env: { PATH: process.env.PATH ?? '', CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: IDENTIFIER, CRISP_KEY: key, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_MCP_LOG_LEVEL: 'trace' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'redaction', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

describe('the Crisp key never appears in anything the server produces', () => {
  it('start-up, every tool, every error path, auth status', async () => {
    const produced: string[] = [];
    const site = sandbox.state.websites.get(sandbox.websiteId)!;
    const session = [...site.conversations.values()][0]!.session_id;
    const person = [...site.people.values()][0]!.people_id;
    const good: Record<string, Record<string, unknown>> = {
      list_conversations: {},
      get_conversation: { session_id: session },
      list_messages: { session_id: session },
      find_conversations: { people_id: person },
      send_message: { session_id: session, content: 'hello', fingerprint: 11 },
      set_compose: { session_id: session, typing: true },
      set_conversation_state: { session_id: session, state: 'unresolved' },
      mark_messages_read: { session_id: session },
      update_conversation_meta: { session_id: session, subject: 'Redaction' },
      list_operators: {},
      assign_conversation: { session_id: session, operator: 'sam@acme-cloud.test' },
      search_people: { search: 'a' },
      get_person: { people_id: person },
      update_person: { people_id: person, notepad: 'checked' },
      add_person_event: { people_id: person, text: 'redaction-test' },
      search_helpdesk: { query: 'refund' },
      get_article: { path: 'billing/refund-policy' },
      list_scenarios: {},
      draft_scenario_reply: { session_id: session, scenario: 'gdpr' },
      post_draft: { draft_id: 'no-such-draft' },
      reset_scenario: { session_id: session, scenario: 'gdpr' },
    };

    const { client, stderr } = await connect(KEY);
    const record = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args });
      produced.push(JSON.stringify(result));
      return result;
    };
    try {
      const { tools } = await client.listTools();
      produced.push(JSON.stringify(tools), client.getInstructions() ?? '');
      expect(Object.keys(good).sort(), 'every tool is exercised here').toEqual(tools.map((t) => t.name).sort());

      for (const [name, args] of Object.entries(good)) {
        const result = await record(name, args);
        if (name !== 'post_draft') expect(result.isError, name).toBeFalsy();
      }
      for (const name of Object.keys(good)) {
        await record(name, { website_id: '00000000-0000-0000-0000-000000000000', session_id: 'session_nope', people_id: 'nope' });
        await record(name, { session_id: 42, people_id: { key: KEY }, cursor: 'bogus' });
      }
      await record('get_conversation', { session_id: 'session_00000000-0000-0000-0000-000000000000' });
      for (const fault of [{ kind: 'status', status: 429, retryAfterSeconds: 1 }, { kind: 'status', status: 503 }, { kind: 'drop' }, { kind: 'drop-after' }] as const) {
        sandbox.faults.burst({ fault, count: 10 });
        await record('list_operators', {});
        await record('send_message', { session_id: session, content: 'under fault' });
        sandbox.faults.clear();
      }
    } finally {
      await client.close();
    }
    produced.push(stderr());

    const wrong = await connect(WRONG_KEY);
    try {
      const refused = await wrong.client.callTool({ name: 'list_operators', arguments: {} });
      expect(refused.isError).toBe(true);
      produced.push(JSON.stringify(refused));
    } finally {
      await wrong.client.close();
    }
    produced.push(wrong.stderr());

    const status = await runCli(['auth', 'status'], { env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: IDENTIFIER, CRISP_KEY: KEY } });
    produced.push(status.stdout, status.stderr);

    const everything = produced.join('\n');
    expect(everything.length).toBeGreaterThan(10_000);
    expect(everything, 'the log level was really trace').toMatch(/"level":10|"level":20/);
    for (const form of [...forms(IDENTIFIER, KEY), ...forms(IDENTIFIER, WRONG_KEY)]) expect(everything).not.toContain(form);
    expect(everything).not.toMatch(/Basic [A-Za-z0-9+/=]{20,}/);
  });
});
