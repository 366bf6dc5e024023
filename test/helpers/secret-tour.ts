// Everything the server can be made to produce with a given Crisp key: start-up, every tool with
// good and bad arguments, every error path we can provoke (unknown ids, a refused website, 401,
// 429, 5xx, dropped connections) at log level trace, and `auth status` — as one text to scan
// (test/property/secrets.test.ts runs it with generated keys).
import { expect } from 'vitest';
import type { Sandbox } from '../../src/sandbox/server.js';
import { runCli } from './cli.js';
import { connectStdio } from './stdio.js';

function connect(sandbox: Sandbox, identifier: string, key: string) {
  return connectStdio(['serve', '--scenarios', 'scenarios', '--store', 'memory'], {
    env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_MCP_LOG_LEVEL: 'trace' },
  });
}

/** The tour above; `key` is what the sandbox accepts, `wrongKey` one it refuses (the 401 path). */
export async function tourEverything(sandbox: Sandbox, identifier: string, key: string, wrongKey: string): Promise<string> {
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

  const { client, stderr } = await connect(sandbox, identifier, key);
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
      await record(name, { session_id: 42, people_id: { key }, cursor: 'bogus' });
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

  const wrong = await connect(sandbox, identifier, wrongKey);
  try {
    const refused = await wrong.client.callTool({ name: 'list_operators', arguments: {} });
    expect(refused.isError).toBe(true);
    produced.push(JSON.stringify(refused));
  } finally {
    await wrong.client.close();
  }
  produced.push(wrong.stderr());

  const status = await runCli(['auth', 'status'], { env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key } });
  produced.push(status.stdout, status.stderr);

  const everything = produced.join('\n');
  expect(everything.length).toBeGreaterThan(10_000);
  expect(everything, 'the log level was really trace').toMatch(/"level":10|"level":20/);
  return everything;
}
