// An agency's seat: one plugin token, CRISP_WEBSITE_ID listing two of the three websites a sandbox
// seeds, and the built server driven over stdio by the SDK's Client, as an MCP host runs it. The
// calls that take no id of their own (a visitor's email, a helpdesk question) answer from the
// default website when website_id is left out: the result must say which website answered, and an
// empty answer must not read as "nowhere".
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli } from '../helpers/cli.js';
import { callTool } from '../helpers/mcp.js';
import { connectStdio } from '../helpers/stdio.js';

let sandbox: Sandbox;
let A: string, B: string;
const clients: Client[] = [];

async function serve(websites: string[]): Promise<Client> {
  const credential = sandbox.credentials[0]!;
  return connect(['--store', 'memory'], { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key, CRISP_WEBSITE_ID: websites.join(',') });
}

async function connect(args: string[], env: Record<string, string>): Promise<Client> {
  const { client } = await connectStdio(['serve', ...args], { env: { HOME: '/nonexistent', ...env } });
  clients.push(client);
  return client;
}

let agency: Client;
let single: Client;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 61, websites: 3 });
  [A, B] = sandbox.websiteIds as [string, string];
  [agency, single] = await Promise.all([serve([A, B]), serve([A])]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sandbox?.close();
});

/** An email of a visitor with a conversation on `website` and none on the other. */
function emailOnlyOn(website: string, other: string): string {
  const emails = (w: string) => [...sandbox.state.websites.get(w)!.conversations.values()].map((c) => c.meta?.email?.toLowerCase()).filter((e): e is string => !!e);
  const elsewhere = new Set(emails(other));
  return emails(website).find((e) => !elsewhere.has(e))!;
}

type Found = { website_id: string; conversations: { session_id: string }[] };

describe("an agency's token over stdio", () => {
  it("find_conversations without website_id says it looked on the default website, and where else the visitor may be", async () => {
    const email = emailOnlyOn(B, A);
    const defaulted = await callTool<Found>(agency, 'find_conversations', { email });
    expect(defaulted.isError).toBe(false);
    expect(defaulted.out.website_id).toBe(A);
    expect(defaulted.out.conversations).toEqual([]);
    expect(defaulted.text.split('\n')[0]).toBe(`website_id: ${A}`);
    expect(defaulted.text).toContain(`No conversations. If the visitor wrote to another website of this server, pass its website_id: ${B}.`);

    const onB = await callTool<Found>(agency, 'find_conversations', { email, website_id: B });
    expect(onB.out.website_id).toBe(B);
    expect(onB.out.conversations.length).toBeGreaterThan(0);
    expect(onB.text.split('\n')[0]).toBe(`website_id: ${B}`);
  });

  it('the helpdesk tools say whose helpdesk answered', async () => {
    for (const [website, args] of [
      [A, {}],
      [B, { website_id: B }],
    ] as const) {
      const search = await callTool<{ website_id: string }>(agency, 'search_helpdesk', { query: 'refund', ...args });
      expect(search.out.website_id).toBe(website);
      expect(search.text.split('\n')[0]).toBe(`website_id: ${website}`);
      const article = await callTool<{ website_id: string }>(agency, 'get_article', { path: 'billing/refund-policy', ...args });
      expect(article.isError, article.text).toBe(false);
      expect(article.out.website_id).toBe(website);
      expect(article.text.split('\n')[0]).toBe(`website_id: ${website}`);
    }
  });

  it('an argument refused on website B says so, naming the field', async () => {
    const session = [...sandbox.state.websites.get(B)!.conversations.keys()][0]!;
    const assign = await callTool(agency, 'assign_conversation', { website_id: B, session_id: session, operator: 'nobody@nowhere.test' });
    expect(assign.isError).toBe(true);
    expect(assign.text).toMatch(new RegExp(`^operator: no operator "nobody@nowhere\\.test" on website ${B}; operators: \\S+@`));
    const article = await callTool(agency, 'get_article', { website_id: B, path: 'billing/no-such-article' });
    expect(article.isError).toBe(true);
    expect(article.text).toBe(`path: no published en article at "billing/no-such-article" on website ${B}; search_helpdesk gives valid paths. If it is an article of another website of this server, pass its website_id: ${A}.`);
    // One website: nothing to tell apart, and the words stay as they were.
    const alone = await callTool(single, 'get_article', { path: 'billing/no-such-article' });
    expect(alone.text).toBe('path: no published en article at "billing/no-such-article"; search_helpdesk gives valid paths');
  });

  it("a list's text names its website when there are several, and only then", async () => {
    const listed = await callTool(agency, 'list_conversations', {});
    expect(listed.text.split('\n')[0]).toBe(`website_id: ${A}`);
    const empty = await callTool(agency, 'list_conversations', { website_id: B, search: 'no such words anywhere' });
    expect(empty.text).toBe(`website_id: ${B}\nNo conversations on this page.\nLast page.`);

    const alone = await callTool<Found>(single, 'find_conversations', { email: emailOnlyOn(B, A) });
    expect(alone.out.website_id).toBe(A);
    expect(alone.text).toBe('No profile; matched on the conversation email.\nNo conversations.');
    expect((await callTool(single, 'list_conversations', {})).text).not.toContain('website_id');
  });
});

describe('a website of the allow-list the token does not reach', () => {
  it("Crisp's not_subscribed names that website and the ones to use instead", async () => {
    const missing = '00000000-0000-4000-8000-00000000beef';
    const withMissing = await serve([A, missing]);
    const got = await callTool(withMissing, 'list_conversations', { website_id: missing });
    expect(got.isError).toBe(true);
    expect(got.text).toBe(`The Crisp plugin is not installed on website ${missing}; an operator must install it, or use another website_id (${A}).`);
  });
});

describe('auth status with an allow-list', () => {
  it('checks each website of CRISP_WEBSITE_ID, and fails when one is not reached', async () => {
    const credential = sandbox.credentials[0]!;
    const missing = '00000000-0000-4000-8000-00000000beef';
    const env = { HOME: '/nonexistent', CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key };
    const both = await runCli(['auth', 'status'], { env: { ...env, CRISP_WEBSITE_ID: `${A},${B}` } });
    expect(both.stdout).toContain(`Accepted by Crisp: yes\nWebsite ${A}: reached\nWebsite ${B}: reached\n`);
    expect(both.status).toBe(0);
    const one = await runCli(['auth', 'status'], { env: { ...env, CRISP_WEBSITE_ID: `${A},${missing}` } });
    expect(one.stdout).toContain(`Website ${A}: reached\nWebsite ${missing}: not reached — Crisp answered 404 not_subscribed`);
    expect(one.stdout).toContain(`install the plugin on website ${missing}, or remove it from CRISP_WEBSITE_ID`);
    expect(one.stdout).not.toContain(credential.key);
    expect(one.status).toBe(1);
  });
});

describe('serve --sandbox for an agency', () => {
  it('CRISP_SANDBOX_WEBSITES seeds that many websites, all allowed, the first the default', async () => {
    const embedded = await connect(['--sandbox'], { CRISP_SANDBOX_WEBSITES: '3' });
    const reached = /This server reaches 3 Crisp websites: ([0-9a-f-]{36}), ([0-9a-f-]{36}), ([0-9a-f-]{36});/.exec(embedded.getInstructions() ?? '');
    expect(reached, embedded.getInstructions()).not.toBeNull();
    const [first, second, third] = reached!.slice(1) as [string, string, string];
    const seen = new Set<string>();
    for (const [website, args] of [
      [first, {}],
      [second, { website_id: second }],
      [third, { website_id: third }],
    ] as const) {
      const listed = await callTool<Found>(embedded, 'list_conversations', args);
      expect(listed.isError, listed.text).toBe(false);
      expect(listed.out.website_id).toBe(website);
      expect(listed.out.conversations.length).toBeGreaterThan(0);
      for (const c of listed.out.conversations) seen.add(c.session_id);
    }
    // Three inboxes of their own, not one inbox under three names.
    expect(seen.size).toBeGreaterThan(40);
  });

  it('a CRISP_SANDBOX_WEBSITES the sandbox cannot seed stops start-up with one line naming it', async () => {
    const run = await runCli(['serve', '--sandbox'], { env: { HOME: '/nonexistent', CRISP_SANDBOX_WEBSITES: '9' } });
    expect(run.status).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('CRISP_SANDBOX_WEBSITES must be a whole number from 1 to 5 (the embedded sandbox\'s demo websites, all allowed), got "9"');
  });
});
