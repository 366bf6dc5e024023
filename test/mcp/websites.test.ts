// An agency's token reaches several Crisp websites and CRISP_WEBSITE_ID lists some of them: through
// a real SDK Client against a sandbox seeding three websites, the server allowing the first two.
// What one website gives out (a page cursor, a session id) must never read or write another's
// data by surprise, a website off the list is refused for reads too, and the agent learns the
// websites it can reach.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationKey } from '../../src/engine/turn.js';
import { MemoryStore } from '../../src/store/index.js';
import { callTool, McpHarness } from '../helpers/mcp.js';
import { SATURDAY_NOON_PARIS, testLibrary, visitor } from './scenario-fixtures.js';

let harness: McpHarness;
let client: Client;
const store = new MemoryStore();
let A: string, B: string, C: string;

/** The session ids of one sandbox website. */
const sessionsOf = (website: string) => new Set(harness.sandbox.state.websites.get(website)!.conversations.keys());
const firstSession = (website: string) => [...sessionsOf(website)][0]!;

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 61, websites: 3, scenarios: { scenarios: testLibrary(), store, clock: () => SATURDAY_NOON_PARIS } });
  [A, B, C] = harness.sandbox.websiteIds as [string, string, string];
  client = await harness.connect([], undefined, [A, B]);
});
afterAll(() => harness.close());

type Page = { website_id: string; conversations: { session_id: string }[]; next_cursor: string | null };

describe('several websites', () => {
  it('the sandbox seeds distinct websites, the first the same as a one-website sandbox', async () => {
    expect(new Set([A, B, C]).size).toBe(3);
    expect(A).toBe(harness.sandbox.websiteId);
    const b = sessionsOf(B);
    expect([...sessionsOf(A)].some((s) => b.has(s))).toBe(false);
  });

  it('tells the agent which websites it reaches; one website says nothing of it', async () => {
    expect(client.getInstructions()).toContain(`This server reaches 2 Crisp websites: ${A}, ${B}; a call without website_id acts on the first.`);
    expect(client.getInstructions()).not.toContain(C);
    expect(harness.client.getInstructions()).not.toMatch(/reaches \d+ Crisp websites/);
  });

  it('a page cursor of website B pages B even without website_id, never the default website', async () => {
    const first = await callTool<Page>(client, 'list_conversations', { website_id: B });
    expect(first.out.next_cursor).not.toBeNull();
    const next = await callTool<Page>(client, 'list_conversations', { cursor: first.out.next_cursor });
    expect(next.isError).toBe(false);
    expect(next.out.website_id).toBe(B);
    const onB = sessionsOf(B);
    expect(next.out.conversations.length).toBeGreaterThan(0);
    expect(next.out.conversations.every((c) => onB.has(c.session_id))).toBe(true);
    expect(next.out.conversations.some((c) => first.out.conversations.some((f) => f.session_id === c.session_id))).toBe(false);
  });

  it("a cursor of one website with another's website_id is refused, naming both", async () => {
    const first = await callTool<Page>(client, 'list_conversations', {});
    const mixed = await callTool(client, 'list_conversations', { website_id: B, cursor: first.out.next_cursor });
    expect(mixed.isError).toBe(true);
    expect(mixed.text).toBe(`cursor: it pages website ${A}, not ${B}; pass it with website_id ${A} (or none), or omit cursor for the first page of ${B}`);
    const people = await callTool<{ next_cursor: string }>(client, 'search_people', { website_id: B });
    const wrong = await callTool(client, 'search_people', { website_id: A, cursor: people.out.next_cursor });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toContain(`cursor: it pages website ${B}, not ${A}`);
  });

  it('a cursor naming a website off the allow-list is refused like website_id', async () => {
    const forged = Buffer.from(JSON.stringify({ v: 1, k: 'list_conversations', p: 2, w: C })).toString('base64url');
    const refused = await callTool(client, 'list_conversations', { cursor: forged });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(new RegExp(`^website ${C} is not in CRISP_WEBSITE_ID; allowed: ${A}, ${B}`));
  });

  it("reads and writes of website C are refused, resources and prompts included, before Crisp is called", async () => {
    const session = firstSession(C);
    harness.sandbox.resetStats();
    for (const [name, args] of [
      ['list_conversations', { website_id: C }],
      ['get_conversation', { website_id: C, session_id: session }],
      ['search_people', { website_id: C }],
      ['send_message', { website_id: C, session_id: session, content: 'hi' }],
      ['draft_scenario_reply', { website_id: C, session_id: session, scenario: 'gdpr' }],
    ] as const) {
      const got = await callTool(client, name, args);
      expect(got.isError, name).toBe(true);
      expect(got.text, name).toMatch(/is not in CRISP_WEBSITE_ID/);
    }
    await expect(client.readResource({ uri: `crisp://conversations/${C}/${session}` })).rejects.toThrow(/is not in CRISP_WEBSITE_ID/);
    await expect(client.getPrompt({ name: 'summarize_conversation', arguments: { website_id: C, session_id: session } })).rejects.toThrow(/is not in CRISP_WEBSITE_ID/);
    expect(harness.sandbox.stats().total).toBe(0);
  });

  it("a session of website B asked on the default website: Crisp's 404, and where else to look", async () => {
    const session = firstSession(B);
    const got = await callTool(client, 'get_conversation', { session_id: session });
    expect(got.isError).toBe(true);
    expect(got.text).toMatch(new RegExp(`does not exist on website ${A}\\..* If it belongs to another website of this server, pass its website_id: ${B}\\.$`));
    await expect(client.readResource({ uri: `crisp://conversations/${A}/${session}` })).rejects.toThrow(`pass its website_id: ${B}.`);
    // With one website there is nowhere else to look, and nothing more is said.
    const alone = await callTool(harness.client, 'get_conversation', { session_id: session });
    expect(alone.text).toMatch(/list_conversations and search_people find valid ones\.$/);
  });

  it("completes session ids of the website argument: B's for B, none for a website off the list", async () => {
    const uri = 'crisp://conversations/{website_id}/{session_id}';
    const complete = async (ref: { type: 'ref/resource'; uri: string } | { type: 'ref/prompt'; name: string }, website: string) =>
      (await client.complete({ ref, argument: { name: 'session_id', value: 'session_' }, context: { arguments: { website_id: website } } })).completion.values;
    const onB = sessionsOf(B);
    const resource = await complete({ type: 'ref/resource', uri }, B);
    expect(resource.length).toBeGreaterThan(0);
    expect(resource.every((s) => onB.has(s))).toBe(true);
    const prompt = await complete({ type: 'ref/prompt', name: 'summarize_conversation' }, B);
    expect(prompt.length).toBeGreaterThan(0);
    expect(prompt.every((s) => onB.has(s))).toBe(true);
    expect(await complete({ type: 'ref/resource', uri }, C)).toEqual([]);
    expect(await complete({ type: 'ref/prompt', name: 'summarize_conversation' }, C)).toEqual([]);
  });

  it('a draft made on website B is posted on B, whatever the default website', async () => {
    const onB = visitor(harness.sandbox, B);
    const session = onB.open('gdpr');
    const draft = await callTool<{ draft_id: string }>(client, 'draft_scenario_reply', { website_id: B, session_id: session, scenario: 'gdpr' });
    expect(draft.isError).toBe(false);
    const posted = await callTool(client, 'post_draft', { draft_id: draft.out.draft_id });
    expect(posted.isError).toBe(false);
    expect(onB.botMessages(session).length).toBeGreaterThan(0);
    expect(harness.sandbox.state.websites.get(A)!.conversations.has(session)).toBe(false);
  });

  it('the whole-inbox prompts walk the website asked for, and say which when there are several', async () => {
    const text = async (c: Client, name: string, args: Record<string, string>) => {
      const got = await c.getPrompt({ name, arguments: args });
      return (got.messages[0]!.content as { text: string }).text;
    };
    for (const name of ['triage_inbox', 'reply_to_pending_chats']) {
      expect(await text(client, name, { website_id: B })).toContain(`Work on website ${B}: pass website_id "${B}" to every call.`);
      expect(await text(client, name, {})).toContain(`These steps cover the default website ${A}; this server also reaches ${B} (run this prompt again with their website_id).`);
      await expect(client.getPrompt({ name, arguments: { website_id: C } })).rejects.toThrow(/is not in CRISP_WEBSITE_ID/);
      expect(await text(harness.client, name, {})).not.toMatch(/website/);
    }
    const completed = await client.complete({ ref: { type: 'ref/prompt', name: 'triage_inbox' }, argument: { name: 'website_id', value: B.slice(0, 3) } });
    expect(completed.completion.values).toEqual([B]);
  });

  it("reset_scenario of a session of website B asked on the default website changes nothing and says where it is", async () => {
    const onB = visitor(harness.sandbox, B);
    const session = onB.open('gdpr');
    await callTool(client, 'post_draft', { draft_id: (await callTool<{ draft_id: string }>(client, 'draft_scenario_reply', { website_id: B, session_id: session, scenario: 'gdpr' })).out.draft_id });
    const onItsSite = await store.getPosition(conversationKey(B, session), 'gdpr');
    expect(onItsSite).toBeDefined();

    const wrong = await callTool(client, 'reset_scenario', { session_id: session, scenario: 'gdpr' });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toMatch(new RegExp(`does not exist on website ${A}\\..* pass its website_id: ${B}\\.$`));
    expect(await store.getPosition(conversationKey(A, session), 'gdpr')).toBeUndefined();
    expect(await store.getPosition(conversationKey(B, session), 'gdpr')).toEqual(onItsSite);

    await expect(client.readResource({ uri: `crisp://conversations/${A}/${session}/scenario` })).rejects.toThrow(`pass its website_id: ${B}.`);
    const saved = JSON.parse(((await client.readResource({ uri: `crisp://conversations/${B}/${session}/scenario` })).contents[0] as { text: string }).text) as { scenarios: unknown[] };
    expect(saved.scenarios).toHaveLength(1);

    const right = await callTool(client, 'reset_scenario', { website_id: B, session_id: session, scenario: 'gdpr' });
    expect(right.isError, right.text).toBe(false);
    expect(await store.getPosition(conversationKey(B, session), 'gdpr')).not.toEqual(onItsSite);
  });
});
