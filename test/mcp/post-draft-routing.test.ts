// post_draft after a person routed the conversation by hand, without writing (what makes a draft
// stale is a message; routing is not one): the draft's assign or resolve stands down instead of
// putting the draft's choice over theirs, and the result says so. The built CLI over Streamable HTTP
// (`serve --http --sandbox --scenarios DIR`), an agent on an SDK client, a human operator routing
// through the sandbox's console routes (what Crisp's app does), the visitor through its visitor routes.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool } from '../helpers/mcp.js';
import { CLI } from '../helpers/cli.js';
import { connect, spawnHttpCli, TOKEN_A, type HttpCli } from '../helpers/http.js';
import { BetterSqlite3 } from '../../src/store/sqlite-binding.js';
import { eventually } from '../helpers/events.js';
import { faultBurst } from '../helpers/sandbox-http.js';
import { assignScenario } from './scenario-fixtures.js';

interface Inbox {
  cli: HttpCli;
  website: string;
  operators: Map<string, string>;
}

/** The sandbox's demo operators: the scenario hands sales to Marta; Sam is the human who routes by hand. */
const MARTA = 'marta@acme-cloud.test';
const SAM = 'sam@acme-cloud.test';
/** Resolves a conversation, and does nothing else: a draft that is only routing. */
const closeQuietly = { name: 'close-quietly', version: 1, description: 'Resolves the conversation without a word.', start: 'bye', blocks: { bye: { type: 'end', resolve: true } } };

const dir = mkdtempSync(join(tmpdir(), 'post-draft-routing-'));
const started: Inbox[] = [];
const clients: Client[] = [];

async function inbox(args: string[] = []): Promise<Inbox> {
  const cli = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', dir, ...args], { CRISP_MCP_HTTP_TOKEN: TOKEN_A });
  const info = (await (await fetch(`${cli.sandboxUrl}/_sandbox/info`)).json()) as { data: { website_id: string } };
  const at: Inbox = { cli, website: info.data.website_id, operators: new Map() };
  started.push(at);
  const listed = await callTool(await agent(at), 'list_operators', {});
  for (const o of listed.out.operators as Array<{ user_id: string; email: string }>) at.operators.set(o.email, o.user_id);
  return at;
}

async function agent(at: Inbox, elicit?: Parameters<typeof connect>[1]['elicit']): Promise<Client> {
  const client = await connect(at.cli.url, { era: 'legacy', token: TOKEN_A, ...(elicit ? { elicit } : {}) });
  clients.push(client);
  return client;
}

async function control(at: Inbox, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${at.cli.sandboxUrl}/_sandbox/websites/${at.website}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(res.ok, `${method} ${path}: ${res.status}`).toBe(true);
  return ((await res.json()) as { data: unknown }).data;
}

const visitorStarts = async (at: Inbox, text: string) => ((await control(at, 'POST', '/conversations', { nickname: 'Routing Visitor', text })) as { session_id: string }).session_id;
/** A human operator routes the conversation in Crisp's app: no message written. */
const humanAssigns = (at: Inbox, session: string, email: string) => control(at, 'PATCH', `/conversations/${session}/routing`, { user_id: at.operators.get(email) });
const humanSetsState = (at: Inbox, session: string, state: string) => control(at, 'PATCH', `/conversations/${session}/state`, { state });
const botMessages = async (at: Inbox, session: string) =>
  ((await control(at, 'GET', `/conversations/${session}`)) as { messages: Array<{ from: string; automated?: boolean; type: string }> }).messages.filter((m) => m.from === 'operator' && m.automated === true);

async function routing(client: Client, session: string): Promise<{ assigned_to: string | null; state: string }> {
  const read = await callTool(client, 'get_conversation', { session_id: session });
  return read.out.conversation as { assigned_to: string | null; state: string };
}

beforeAll(() => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
  const sales = assignScenario(MARTA);
  writeFileSync(join(dir, sales.file), sales.source);
  writeFileSync(join(dir, 'close-quietly.json'), JSON.stringify(closeQuietly));
});
afterAll(async () => {
  for (const client of clients) await client.close();
  for (const { cli } of started) {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('post_draft after an operator routed the conversation by hand', () => {
  let at: Inbox;
  let client: Client;
  beforeAll(async () => {
    at = await inbox();
    client = await agent(at);
  });

  it("keeps the operator's assignment: the draft's assign stands down and says why; the rest of the draft is posted", async () => {
    const session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    expect(drafted.text).toContain('assign');
    await humanAssigns(at, session, SAM);

    const posted = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(SAM));
    const sam = at.operators.get(SAM)!;
    expect(posted.out.done).toContainEqual(`assign skipped: stood down: its assignment went from nobody to ${sam} after the turn that decided this assign read it, so a person routed the conversation; not carried out`);
    expect(posted.text).toMatch(new RegExp(`^Posted in ${session}:`));
    // The reply and the handoff note went out all the same.
    expect(posted.out.done).toContainEqual(expect.stringMatching(/^send_message done: /));
    expect(posted.out.done).toContainEqual(expect.stringMatching(/^handoff done: /));
    expect((await botMessages(at, session)).map((m) => m.type).sort()).toEqual(['note', 'text']);
  });

  it('with nobody routing meanwhile, the draft assigns as before', async () => {
    const session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const posted = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect(posted.out.done).toContainEqual(`assign done: assigned to ${MARTA} (${at.operators.get(MARTA)})`);
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(MARTA));
  });

  it('an operator who assigned before the draft was made is no change: the draft assigns over it, as drafted', async () => {
    const session = await visitorStarts(at, 'I would like a sales quote');
    await humanAssigns(at, session, SAM);
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const posted = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(MARTA));
  });

  it('a draft that is only routing, all stood down: the result says plainly that nothing was posted', async () => {
    const session = await visitorStarts(at, 'never mind, all sorted');
    // The operator resolves it, the agent drafts on the resolved conversation, then the operator reopens it.
    await humanSetsState(at, session, 'resolved');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'close-quietly' });
    expect(drafted.out.messages).toEqual([]);
    await humanSetsState(at, session, 'unresolved');

    const posted = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect(posted.out.done).toEqual(["resolve skipped: stood down: its state went from resolved to unresolved after the turn that decided this resolve read it, so a person routed the conversation; not carried out"]);
    expect(posted.text.split('\n')[0]).toBe(`Nothing was posted in ${session}: no action of the draft was carried out (each one's reason below); the scenario moved on all the same:`);
    expect((await routing(client, session)).state).toBe('unresolved');
    expect(await botMessages(at, session)).toEqual([]);

    // Posted again: the stored result, nothing tried again.
    const again = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(again.text).toMatch(/^Already posted; nothing done again/);
    expect((await routing(client, session)).state).toBe('unresolved');
  });
});

/** Crisp refuses the next routing write with a 429 asking to come back in `retryAfter` seconds; returns how to count the 429s served. */
async function routingRefusedOnce(at: Inbox, retryAfter: number): Promise<() => Promise<number>> {
  const faults = async () => ((await (await fetch(`${at.cli.sandboxUrl}/_sandbox/stats`)).json()) as { data: { faults: Record<string, number> } }).data.faults['429'] ?? 0;
  await faultBurst({ url: at.cli.sandboxUrl! }, { fault: '429', count: 1, method: 'PATCH', path_includes: '/routing', retry_after: retryAfter });
  return faults;
}

describe("post_draft's routing write refused for now by Crisp (429)", () => {
  let at: Inbox;
  let client: Client;
  beforeAll(async () => {
    at = await inbox();
    client = await agent(at);
  });

  it('is tried again within the same call, as the client tries its other calls: one post_draft, assigned', async () => {
    const session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const faults = await routingRefusedOnce(at, 1);
    const before = await faults();
    const posted = await callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect(await faults()).toBe(before + 1);
    expect(posted.out.done).toContainEqual(`assign done: assigned to ${MARTA} (${at.operators.get(MARTA)})`);
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(MARTA));
  });

  it('an operator who assigns by hand while it waits keeps the conversation: the retry looks first and stands down', async () => {
    const session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const faults = await routingRefusedOnce(at, 2);
    const before = await faults();
    const posting = callTool(client, 'post_draft', { draft_id: drafted.out.draft_id as string });
    await eventually(async () => (await faults()) > before, 10_000, "Crisp refusing the draft's assign");
    await humanAssigns(at, session, SAM);
    const posted = await posting;
    expect(posted.isError, posted.text).toBe(false);
    expect(posted.out.done).toContainEqual(expect.stringMatching(new RegExp(`^assign skipped: stood down: its assignment went from nobody to ${at.operators.get(SAM)!}`)));
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(SAM));
  });
});

describe('--send-mode confirm: the operator routes while the user reads the confirmation', () => {
  it("the user's yes posts the reply; the operator's assignment stays", async () => {
    const at = await inbox(['--send-mode', 'confirm']);
    let session = '';
    let asked = 0;
    const approving = await agent(at, async () => {
      asked++;
      await humanAssigns(at, session, SAM);
      return { action: 'accept', content: { send: true } };
    });
    session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(approving, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const posted = await callTool(approving, 'post_draft', { draft_id: drafted.out.draft_id as string });
    expect(posted.isError, posted.text).toBe(false);
    expect(asked).toBe(1);
    expect(posted.text).toContain(`assign skipped: stood down: its assignment went from nobody to ${at.operators.get(SAM)!}`);
    expect((await routing(approving, session)).assigned_to).toBe(at.operators.get(SAM));
    expect((await botMessages(at, session)).some((m) => m.type === 'text')).toBe(true);
  });
});

describe('a draft stored by an earlier release (no record of the routing it read)', () => {
  it('posts as it did then: its assign is carried out', async () => {
    const file = join(dir, 'store.db');
    const at = await inbox(['--store', `sqlite:${file}`]);
    const client = await agent(at);
    const session = await visitorStarts(at, 'I would like a sales quote');
    const drafted = await callTool(client, 'draft_scenario_reply', { session_id: session, scenario: 'route-sales' });
    const draftId = drafted.out.draft_id as string;
    // The draft as an earlier release wrote it: the same value without base_routing.
    const db = new BetterSqlite3(file);
    const { data } = db.prepare('SELECT data FROM drafts WHERE id = ?').get(draftId) as { data: string };
    const { base_routing: seen, ...earlier } = JSON.parse(data) as Record<string, unknown>;
    expect(seen).toEqual({ assigned: null, state: 'pending' });
    db.prepare('UPDATE drafts SET data = ? WHERE id = ?').run(JSON.stringify(earlier), draftId);
    db.close();
    await humanAssigns(at, session, SAM);

    const posted = await callTool(client, 'post_draft', { draft_id: draftId });
    expect(posted.isError, posted.text).toBe(false);
    expect(posted.out.done).toContainEqual(`assign done: assigned to ${MARTA} (${at.operators.get(MARTA)})`);
    expect((await routing(client, session)).assigned_to).toBe(at.operators.get(MARTA));
  });
});
