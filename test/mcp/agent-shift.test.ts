// A support shift as an LLM agent works it: the SDK client over stdio to the built CLI with its
// embedded sandbox, visitors played through the sandbox's /_sandbox/ routes, its faults turned on at
// run time. Each case reads the result text alone, as many hosts hand the model nothing else.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Served {
  client: Client;
  sandbox: string;
  website: string;
}

const servers: Client[] = [];

async function serve(argv: string[] = []): Promise<Served> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--sandbox', ...argv], stderr: 'pipe', env: { ...process.env, CRISP_MCP_LOG_LEVEL: 'info' } as Record<string, string> });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'agent-shift', version: '1.0.0' });
  await client.connect(transport);
  servers.push(client);
  // The embedded sandbox logs its URL before the server answers initialize.
  const started = /"url":"(http:[^"]+)","console":"[^"]+","website_id":"([^"]+)"/.exec(stderr)!;
  return { client, sandbox: started[1]!, website: started[2]! };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean; out: Record<string, unknown> }> {
  const result = await client.callTool({ name, arguments: args });
  return { text: (result.content as { text: string }[]).map((c) => c.text).join('\n'), isError: result.isError === true, out: result.structuredContent as Record<string, unknown> };
}

async function sandboxCall<T>(s: Served, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${s.sandbox}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return ((await res.json()) as { data: T }).data;
}

const visitor = async (s: Served, text: string) => (await sandboxCall<{ session_id: string }>(s, 'POST', `/_sandbox/websites/${s.website}/conversations`, { nickname: 'Shift Visitor', text })).session_id;
/** Every message of the conversation, notes included, as the console reads it. */
const thread = async (s: Served, session: string) => (await sandboxCall<{ messages: { content: unknown; type: string; fingerprint: number }[] }>(s, 'GET', `/_sandbox/websites/${s.website}/conversations/${session}`)).messages;
const copiesOf = async (s: Served, session: string, content: string) => (await thread(s, session)).filter((m) => m.content === content).length;
const burst = (s: Served, fault: string, count: number, method: string, path_includes: string) => sandboxCall(s, 'POST', '/_sandbox/faults', { burst: { fault, count, method, path_includes } });
const clearFaults = (s: Served) => sandboxCall(s, 'POST', '/_sandbox/faults', { clear: true });

let agent: Served;

beforeAll(async () => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
  agent = await serve();
});
afterAll(async () => {
  for (const client of servers) await client.close();
});

describe('send_message when Crisp fails mid-send', () => {
  it('a reply without a fingerprint that Crisp wrote, then answered 503, is reported sent and is there once', async () => {
    const session = await visitor(agent, 'I was charged twice, I want a refund.');
    await burst(agent, '503-after', 1, 'POST', '/message');
    const sent = await call(agent.client, 'send_message', { session_id: session, content: 'Sorry about that: the duplicate charge is refunded.' });
    await clearFaults(agent);
    expect(sent.isError, sent.text).toBe(false);
    expect(sent.text).toMatch(new RegExp(`^Sent text to ${session} \\(fingerprint \\d+\\)\\.$`));
    expect(await copiesOf(agent, session, 'Sorry about that: the duplicate charge is refunded.')).toBe(1);
  });

  it('a send Crisp never confirms names the fingerprint to resend with, and that resend posts it once', async () => {
    const session = await visitor(agent, 'The export button crashes on Safari 17.');
    const content = 'Thanks, we can reproduce it and are on it.';
    // Every attempt the retry policy makes is refused: the call ends in an error.
    await burst(agent, '503', 10, 'POST', '/message');
    const failed = await call(agent.client, 'send_message', { session_id: session, content });
    await clearFaults(agent);
    expect(failed.isError).toBe(true);
    const fingerprint = /fingerprint (\d+)/.exec(failed.text)?.[1];
    expect(failed.text).toMatch(/^Not confirmed sent \(crisp_unavailable\); it may have reached the visitor\. Call send_message again with the same arguments and fingerprint \d+: a message already there under that fingerprint is not posted twice\.$/);
    const resent = await call(agent.client, 'send_message', { session_id: session, content, fingerprint: Number(fingerprint) });
    expect(resent.text).toBe(`Sent text to ${session} (fingerprint ${fingerprint}).`);
    // A second resend after a lost answer: still one copy.
    await call(agent.client, 'send_message', { session_id: session, content, fingerprint: Number(fingerprint) });
    expect(await copiesOf(agent, session, content)).toBe(1);
  });
});

describe('send_message held for approval (--send-mode note)', () => {
  it('with then_state, the text does not claim the message was sent', async () => {
    const held = await serve(['--send-mode', 'note']);
    const session = await visitor(held, 'Can I get a refund?');
    const result = await call(held.client, 'send_message', { session_id: session, content: 'Yes, within 30 days.', then_state: 'resolved' });
    expect(result.text).toBe(
      `Held for approval: posted as a private note in ${session} (fingerprint ${String(result.out.fingerprint)}); an operator must send it. State NOT changed: the reply is held for approval, so the conversation stays as it is. The note is posted; do not post it again.`,
    );
    expect(result.text).not.toContain('was sent');
  });
});

describe('who wrote last, from the text alone', () => {
  it('list_conversations and find_conversations rows say whose the last message is, and leave out an empty email and subject', async () => {
    const email = 'angry.andy@example.com';
    const session = (await sandboxCall<{ session_id: string }>(agent, 'POST', `/_sandbox/websites/${agent.website}/conversations`, { nickname: 'Andy', email, text: 'Third time I write. Nobody answers.' })).session_id;
    const quiet = await visitor(agent, 'Do you ship to Norway?');
    const row = async (name: string, args: Record<string, unknown>, id: string) => (await call(agent.client, name, args)).text.split('\n').find((line) => line.startsWith(id))!;

    expect(await row('find_conversations', { email }, session)).toBe(`${session} pending unread:1 | Andy <${email}> | visitor: Third time I write. Nobody answers.`);
    expect(await row('list_conversations', { search: 'Norway' }, quiet)).toBe(`${quiet} pending unread:1 | Shift Visitor | visitor: Do you ship to Norway?`);
    await call(agent.client, 'send_message', { session_id: session, content: 'Sorry Andy, I am on it now.' });
    expect(await row('find_conversations', { email }, session)).toBe(`${session} unresolved unread:1 | Andy <${email}> | operator: Sorry Andy, I am on it now.`);
    const read = await call(agent.client, 'get_conversation', { session_id: quiet });
    expect(read.text.split('\n')[1]).toBe('visitor: Shift Visitor');
    expect(read.text).not.toMatch(/^subject:/m);
    const transcript = await agent.client.readResource({ uri: `crisp://conversations/${agent.website}/${quiet}` });
    expect((transcript.contents[0] as { text: string }).text.split('\n')[1]).toBe('Visitor: Shift Visitor');
  });
});

describe('a visitor who gave an email but has no contact profile', () => {
  it('get_person, update_person and add_person_event by that email say so and name the tools that reach the visitor', async () => {
    const email = 'mia.new@example.org';
    const session = await visitor(agent, 'Can I change my plan?');
    // Written in the chat only: an email set on the conversation (update_conversation_meta) makes the
    // visitor a contact, as in Crisp (test/sandbox/contact-from-email.test.ts).
    await sandboxCall(agent, 'POST', `/_sandbox/websites/${agent.website}/conversations/${session}/messages`, { content: `my email is ${email} by the way` });
    const said = `people_id: no contact profile has the email ${email} on website ${agent.website}: no conversation has it as the visitor's email yet (one written in a message is not). Set it on their conversation with update_conversation_meta, which makes them a contact; list_conversations with search "${email}" finds where it was written.`;
    for (const [name, args] of [
      ['get_person', { people_id: email }],
      ['update_person', { people_id: email, name: 'Mia' }],
      ['add_person_event', { people_id: email, text: 'Plan change asked' }],
    ] as const) {
      const answer = await call(agent.client, name, args);
      expect(answer.isError, name).toBe(true);
      expect(answer.text, name).toBe(said);
    }
    // Following it: the search finds the conversation, and the email set on it makes the contact.
    expect((await call(agent.client, 'list_conversations', { search: email })).text).toContain(session);
    await call(agent.client, 'update_conversation_meta', { session_id: session, email });
    expect((await call(agent.client, 'get_person', { people_id: email })).isError).toBe(false);
  });
});

describe('a busy inbox', () => {
  it('list_conversations with state reads past pages that hold none of that state, where it answered an empty page', async () => {
    const busy = await serve();
    // The seeded inbox's unresolved conversations are older than its pending ones: 25 new chats put
    // two full pages of pending ahead of them.
    for (let i = 0; i < 25; i++) await visitor(busy, `New question ${i}`);
    const listed = await call(busy.client, 'list_conversations', { state: 'unresolved' });
    expect(listed.isError).toBe(false);
    const rows = listed.text.split('\n').filter((line) => line.startsWith('session_'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/^session_\S+ unresolved /);
    // The cursor goes on after the pages read, not from the first page again.
    const next = /^next_cursor: (\S+)$/m.exec(listed.text)?.[1];
    if (next) {
      const more = await call(busy.client, 'list_conversations', { state: 'unresolved', cursor: next });
      const again = more.text.split('\n').filter((line) => line.startsWith('session_'));
      expect(again.filter((row) => rows.includes(row))).toEqual([]);
    }
  });

  it('find_conversations capped at 10 says where the others are, and that place lists them', async () => {
    const email = 'repeat.visitor@example.com';
    const sessions: string[] = [];
    for (let i = 0; i < 12; i++) sessions.push((await sandboxCall<{ session_id: string }>(agent, 'POST', `/_sandbox/websites/${agent.website}/conversations`, { nickname: 'Repeat', email, text: `Complaint ${i}` })).session_id);
    const found = await call(agent.client, 'find_conversations', { email });
    // A visitor who gave an email is a contact, as in Crisp: the pointer is their profile.
    const peopleId = /get_person (\S+) lists their conversation ids\.$/.exec(found.text.split('\n').at(-1)!)?.[1];
    expect(found.text.split('\n').at(-1)).toBe(`2 older not shown: get_person ${peopleId} lists their conversation ids.`);
    const person = await call(agent.client, 'get_person', { people_id: peopleId });
    for (const session of sessions) expect(person.text).toContain(session);
    const listed = await call(agent.client, 'list_conversations', { search: email, per_page: 50 });
    for (const session of sessions) expect(listed.text).toContain(session);
  });
});

describe('paging and filters a model gets wrong', () => {
  it('list_messages refuses a cursor of another list by naming older_cursor, the field its cursor comes from', async () => {
    const listed = await call(agent.client, 'list_conversations', { per_page: 20 });
    const next = /^next_cursor: (\S+)$/m.exec(listed.text)![1]!;
    const session = /^(session_\S+)/m.exec(listed.text)![1]!;
    const refused = await call(agent.client, 'list_messages', { session_id: session, cursor: next });
    expect(refused.isError).toBe(true);
    expect(refused.text).toBe('cursor is not one this tool gave out; pass older_cursor from get_conversation or list_messages unchanged, or omit it for the first page');
  });

  it('list_conversations assigned_to takes an operator email as assign_conversation does, and refuses one of nobody, listing the operators', async () => {
    const operators = (await call(agent.client, 'list_operators', {})).out.operators as { user_id: string; email: string }[];
    const sam = operators[0]!;
    const session = await visitor(agent, 'Please have Sam call me back.');
    await call(agent.client, 'assign_conversation', { session_id: session, operator: sam.email });
    const byEmail = await call(agent.client, 'list_conversations', { assigned_to: sam.email.toUpperCase(), per_page: 50 });
    expect(byEmail.text).toContain(session);
    const byId = await call(agent.client, 'list_conversations', { assigned_to: sam.user_id, per_page: 50 });
    expect(byEmail.out.conversations).toEqual(byId.out.conversations);
    const nobody = await call(agent.client, 'list_conversations', { assigned_to: 'nobody@example.com' });
    expect(nobody.isError).toBe(true);
    expect(nobody.text).toMatch(new RegExp(`^assigned_to: no operator "nobody@example\\.com" on this website; operators: ${sam.email.replace('.', '\\.')} \\(${sam.user_id}\\), `));
  });
});
