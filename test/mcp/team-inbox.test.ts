// One inbox, several hands at once: two LLM agents on two MCP sessions of the built CLI over
// Streamable HTTP (`serve --http --sandbox`), a human operator writing through the sandbox's
// operator routes (what Crisp's app does), the visitor through its visitor routes. What each is
// told when another got there first.
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool } from '../helpers/mcp.js';
import { CLI } from '../helpers/cli.js';
import { connect, spawnHttpCli, TOKEN_A, type HttpCli } from '../helpers/http.js';

interface Inbox {
  cli: HttpCli;
  website: string;
}

interface SandboxMessage {
  type: string;
  from: string;
  content: unknown;
  automated?: boolean;
  fingerprint: number;
}

const started: Inbox[] = [];
const clients: Client[] = [];

async function inbox(args: string[] = []): Promise<Inbox> {
  const cli = await spawnHttpCli(['--port', '0', '--sandbox', ...args], { CRISP_MCP_HTTP_TOKEN: TOKEN_A });
  const info = (await (await fetch(`${cli.sandboxUrl}/_sandbox/info`)).json()) as { data: { website_id: string } };
  const opened = { cli, website: info.data.website_id };
  started.push(opened);
  return opened;
}

async function agent(at: Inbox, elicit?: Parameters<typeof connect>[1]['elicit']): Promise<Client> {
  const client = await connect(at.cli.url, { era: 'legacy', token: TOKEN_A, ...(elicit ? { elicit } : {}) });
  clients.push(client);
  return client;
}

async function control<T>(at: Inbox, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${at.cli.sandboxUrl}/_sandbox/websites/${at.website}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(res.ok, `${method} ${path}: ${res.status}`).toBe(true);
  return ((await res.json()) as { data: T }).data;
}

const visitorStarts = async (at: Inbox, text: string) => (await control<{ session_id: string }>(at, 'POST', '/conversations', { nickname: 'Team Visitor', text })).session_id;
const humanWrites = (at: Inbox, session: string, content: string) => control(at, 'POST', `/conversations/${session}/operator/messages`, { content });
const thread = async (at: Inbox, session: string) => (await control<{ messages: SandboxMessage[] }>(at, 'GET', `/conversations/${session}`)).messages;
/** The scenario's messages to the visitor (post_draft's carry Crisp's automated flag). */
const botReplies = async (at: Inbox, session: string) => (await thread(at, session)).filter((m) => m.from === 'operator' && m.automated === true && m.type !== 'note');

/** How many messages a post sent the visitor (its `done` lines, follow-ups of a search included): at least one. */
function sentBy(post: { out: Record<string, unknown> }): number {
  const sent = (post.out.done as string[]).filter((line) => /send_message done/.test(line)).length;
  expect(sent).toBeGreaterThan(0);
  return sent;
}

beforeAll(() => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
});
afterAll(async () => {
  for (const client of clients) await client.close();
  for (const { cli } of started) {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});

describe('post_draft after someone else answered the visitor', () => {
  let at: Inbox;
  let first: Client;
  let second: Client;
  beforeAll(async () => {
    at = await inbox();
    [first, second] = await Promise.all([agent(at), agent(at)]);
  });

  it('a human operator answered after the draft: refused as stale, nothing posted; the next draft says so, and posts', async () => {
    const session = await visitorStarts(at, 'I have a GDPR question');
    const drafted = await callTool(first, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    const draftId = drafted.out.draft_id as string;
    expect(draftId).toBeTruthy();
    await humanWrites(at, session, 'Hi, Sam here: our DPA is on the legal page.');

    const refused = await callTool(first, 'post_draft', { draft_id: draftId });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(new RegExp(`^draft ${draftId} is stale: an operator answered the visitor since \\(message \\d+; get_conversation shows it\\)\\. Nothing was posted; call draft_scenario_reply again`));
    expect(await botReplies(at, session)).toEqual([]);

    // Drafted again knowing it: the note says the visitor has an answer, and posting is a choice.
    const again = await callTool(first, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    expect(again.text).toMatch(/Note: An operator answered the visitor after the messages this draft reads \(message \d+\): posting it answers them again\./);
    const posted = await callTool(first, 'post_draft', { draft_id: again.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect((await botReplies(at, session)).length).toBeGreaterThan(0);
  });

  it("another agent's send_message after the draft: refused the same way; the other agent's draft of the same turn is then stale too", async () => {
    const session = await visitorStarts(at, 'I have a GDPR question');
    const [mine, theirs] = await Promise.all([callTool(first, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' }), callTool(second, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' })]);
    const sent = await callTool(second, 'send_message', { session_id: session, content: 'I will look into it myself.' });
    expect(sent.isError, sent.text).toBe(false);
    for (const [client, drafted] of [[first, mine], [second, theirs]] as const) {
      const refused = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
      expect(refused.isError).toBe(true);
      expect(refused.text).toContain('is stale: an operator answered the visitor since');
    }
    expect(await botReplies(at, session)).toEqual([]);
  });

  it('a draft with nobody else in between posts as before, once when two agents post it at once', async () => {
    const session = await visitorStarts(at, 'I have a GDPR question');
    const drafted = await callTool(first, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    expect(drafted.text).not.toContain('An operator answered');
    const draftId = drafted.out.draft_id as string;
    const posts = await Promise.all([callTool(first, 'post_draft', { draft_id: draftId }), callTool(second, 'post_draft', { draft_id: draftId })]);
    expect(posts.map((p) => p.isError)).toEqual([false, false]);
    expect(posts.map((p) => p.out.replayed).sort()).toEqual([false, true]);
    const carriedOut = posts.find((p) => p.out.replayed === false)!;
    expect((await botReplies(at, session)).length).toBe(sentBy(carriedOut));
  });
});

describe('--send-mode confirm: the user approves a draft', () => {
  let at: Inbox;
  beforeAll(async () => {
    at = await inbox(['--send-mode', 'confirm']);
  });

  it('after a human answered while the question was open: the agent is told, nothing posted', async () => {
    const session = await visitorStarts(at, 'I have a GDPR question');
    // The human answers in Crisp's app while the user reads the confirmation, then the user says yes.
    const approving = await agent(at, async () => {
      await humanWrites(at, session, 'Sam here, answering you now.');
      return { action: 'accept', content: { send: true } };
    });
    const drafted = await callTool(approving, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    const refused = await callTool(approving, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('is stale: an operator answered the visitor since');
    expect(await botReplies(at, session)).toEqual([]);
  });

  it('approved twice: posted once, the second answer says it was already posted and asks nothing', async () => {
    let asked = 0;
    const approving = await agent(at, () => {
      asked++;
      return { action: 'accept', content: { send: true } };
    });
    const session = await visitorStarts(at, 'I have a GDPR question');
    const drafted = await callTool(approving, 'draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    const draftId = drafted.out.draft_id as string;
    const once = await callTool(approving, 'post_draft', { draft_id: draftId });
    const twice = await callTool(approving, 'post_draft', { draft_id: draftId });
    expect([once.isError, twice.isError]).toEqual([false, false]);
    expect(twice.text).toMatch(/^Already posted; nothing done again/);
    expect(asked).toBe(1);
    expect((await botReplies(at, session)).length).toBe(sentBy(once));
  });
});

describe('set_conversation_state resolved', () => {
  let at: Inbox;
  let client: Client;
  beforeAll(async () => {
    at = await inbox();
    client = await agent(at);
  });

  it("says when the visitor's last message has no answer, resolves all the same; says nothing once answered, or for another state", async () => {
    const session = await visitorStarts(at, 'Where is my order?');
    const waiting = await callTool(client, 'set_conversation_state', { session_id: session, state: 'resolved' });
    expect(waiting.isError).toBe(false);
    expect(waiting.text).toBe(`${session} is now resolved. The visitor's last message has no answer.`);
    expect(waiting.out).toEqual({ session_id: session, state: 'resolved', visitor_waiting: true });

    // A private note is no answer; a human's reply is.
    await control(at, 'POST', `/conversations/${session}/operator/messages`, { content: 'checking the warehouse', type: 'note' });
    expect((await callTool(client, 'set_conversation_state', { session_id: session, state: 'resolved' })).out.visitor_waiting).toBe(true);
    await humanWrites(at, session, 'It left yesterday.');
    const answered = await callTool(client, 'set_conversation_state', { session_id: session, state: 'resolved' });
    expect(answered.text).toBe(`${session} is now resolved.`);
    expect(answered.out.visitor_waiting).toBe(false);

    await control(at, 'POST', `/conversations/${session}/messages`, { content: 'Thanks! And the invoice?' });
    const reopened = await callTool(client, 'set_conversation_state', { session_id: session, state: 'unresolved' });
    expect(reopened.text).toBe(`${session} is now unresolved.`);
  });
});

describe('assign_conversation', () => {
  let at: Inbox;
  let client: Client;
  beforeAll(async () => {
    at = await inbox();
    client = await agent(at);
  });

  it('to an operator away or offline: assigned, and the answer says they are not online; one online: said as before', async () => {
    const listed = (await callTool(client, 'list_operators', {})).out.operators as { user_id: string; email: string; availability: string }[];
    expect(listed.map((o) => o.availability).sort()).toEqual(expect.arrayContaining(['away', 'offline', 'online']));
    const session = await visitorStarts(at, 'I need billing');
    for (const o of listed) {
      const assigned = await callTool(client, 'assign_conversation', { session_id: session, operator: o.email });
      expect(assigned.isError, assigned.text).toBe(false);
      expect(assigned.out).toEqual({ session_id: session, assigned_to: o.user_id, operator_email: o.email, online: o.availability === 'online' });
      expect(assigned.text).toBe(`${session} assigned to ${o.email} (${o.user_id}).${o.availability === 'online' ? '' : ' They are not online now: list_operators shows who is.'}`);
      const read = await callTool(client, 'get_conversation', { session_id: session });
      expect((read.out.conversation as { assigned_to: string | null }).assigned_to).toBe(o.user_id);
    }
  });

  it('to someone not among the website\'s operators: refused, naming them, and the assignment left as it was', async () => {
    const session = await visitorStarts(at, 'I need billing too');
    const refused = await callTool(client, 'assign_conversation', { session_id: session, operator: 'nobody@example.com' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/^operator: no operator "nobody@example\.com" on this website; operators: /);
    const read = await callTool(client, 'get_conversation', { session_id: session });
    expect((read.out.conversation as { assigned_to: string | null }).assigned_to).toBeNull();
  });
});
