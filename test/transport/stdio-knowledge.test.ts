// Knowledge and reach over stdio, as an MCP host runs crisp-mcp: the built CLI with --sandbox,
// whose seeded helpdesk (en + fr, with drafts and a hidden article) and inbox answer every call.
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { connectStdio } from '../helpers/stdio.js';

interface Summary {
  session_id: string;
  state: string;
  visitor_email: string;
  url: string;
  messages?: { from: string; text: string }[];
}
interface Article {
  title: string;
  url: string;
  path: string;
  excerpt: string;
}

let client: Client;
/** The text twin of every call, in order: what a model reads. */
const calls: { name: string; text: string }[] = [];

async function call<T>(name: string, args: Record<string, unknown>): Promise<{ out: T; text: string; isError: boolean }> {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as { text: string }[]).map((c) => c.text).join('\n');
  calls.push({ name, text });
  return { out: result.structuredContent as T, text, isError: result.isError === true };
}

beforeAll(async () => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
  ({ client } = await connectStdio(['serve', '--sandbox']));
});
afterAll(() => client.close());

describe('search_helpdesk and get_article over stdio', () => {
  it('finds a seeded article by a question worded unlike its title, in English (the default locale) and in French', async () => {
    const en = await call<{ locale: string; articles: Article[]; more: number }>('search_helpdesk', { query: 'I want my money back' });
    expect(en.isError).toBe(false);
    expect(en.out.locale).toBe('en');
    expect(en.out.articles[0]).toMatchObject({ title: 'Refund policy', path: 'billing/refund-policy', excerpt: expect.stringContaining('money back') });
    expect(en.text.split('\n')[0]).toMatch(/^billing\/refund-policy \| Refund policy \| http:\/\/127\.0\.0\.1:\d+\/helpdesk\//);

    const fr = await call<{ locale: string; articles: Article[] }>('search_helpdesk', { query: 'Comment effacer mes données personnelles ?', locale: 'fr' });
    const page = await fetch(en.out.articles[0]!.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You can get your money back within **30 days**');
    expect(fr.out.locale).toBe('fr');
    expect(fr.out.articles[0]).toMatchObject({ title: 'RGPD et accord de traitement des données', path: 'confidentialite/rgpd-et-dpa' });
  });

  it('never returns hidden or unpublished articles, in search or by path', async () => {
    for (const [query, locale] of [
      ['new pricing 2027 Pro plan', 'en'],
      ['escalation runbook payment disputes finance', 'en'],
      ['nouvelle offre entreprise brouillon', 'fr'],
    ] as const) {
      const found = await call<{ articles: Article[] }>('search_helpdesk', { query, locale });
      expect(found.out.articles.map((a) => a.path)).not.toEqual(expect.arrayContaining([expect.stringMatching(/pricing-2027-draft|internal-escalation|brouillon-nouvelle-offre/)]));
    }
    for (const path of ['billing/pricing-2027-draft', 'account/internal-escalation']) {
      const read = await call('get_article', { path });
      expect(read.isError).toBe(true);
      expect(read.text).toBe(`path: no published en article at "${path}"; search_helpdesk gives valid paths`);
    }
  });

  it('get_article returns the markdown with its url, trimmed with a visible marker past the bound', async () => {
    const whole = await call<{ markdown: string; url: string; trimmed: boolean }>('get_article', { path: 'privacy/gdpr-data-processing' });
    expect(whole.out).toMatchObject({ trimmed: false, url: expect.stringMatching(/\/en\/article\/gdpr-data-processing\/$/) });
    expect(whole.out.markdown).toMatch(/^# GDPR and our Data Processing Agreement\n/);
    const cut = await call<{ markdown: string; trimmed: boolean }>('get_article', { path: 'privacy/gdpr-data-processing', max_chars: 200 });
    expect(cut.out.trimmed).toBe(true);
    expect(cut.out.markdown).toBe(`${whole.out.markdown.slice(0, 200)}… [cut: ${whole.out.markdown.length - 200} more characters]`);
  });
});

describe('reach over stdio', () => {
  it('find_conversations by email: that person\'s conversations, newest first, each with a url that opens it', async () => {
    const listed = await call<{ conversations: Summary[] }>('list_conversations', { per_page: 50 });
    const email = listed.out.conversations.find((c) => c.visitor_email)!.visitor_email;
    const found = await call<{ people_id: string | null; conversations: (Summary & { updated_at: string })[] }>('find_conversations', { email });
    expect(found.isError).toBe(false);
    expect(found.out.people_id).toBeTruthy();
    expect(found.out.conversations.length).toBeGreaterThan(0);
    expect(found.out.conversations.every((c) => c.visitor_email === email)).toBe(true);
    const times = found.out.conversations.map((c) => c.updated_at);
    expect(times).toEqual([...times].sort().reverse());

    const neither = await call('find_conversations', {});
    expect(neither).toMatchObject({ isError: true, text: 'email, people_id: give exactly one of them' });
  });

  it('every conversation in every result carries a url that opens it (in the sandbox: its console, on that conversation)', async () => {
    const listed = await call<{ conversations: Summary[] }>('list_conversations', {});
    const session = listed.out.conversations[0]!.session_id;
    const got = await call<{ conversation: Summary }>('get_conversation', { session_id: session, messages: 1 });
    const found = await call<{ conversations: Summary[] }>('find_conversations', { email: listed.out.conversations[0]!.visitor_email });
    const urls = [...listed.out.conversations, got.out.conversation, ...found.out.conversations].map((c) => [c.session_id, c.url] as const);
    for (const [id, url] of urls) expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/website/[^/]+/inbox/${id}/$`));
    // The sandbox stands in for the app: the link opens its console on that conversation.
    for (const [id, url] of urls.slice(0, 3)) {
      const link = await fetch(url, { redirect: 'manual' });
      expect(link.status).toBe(302);
      const target = new URL(link.headers.get('location')!, url);
      expect(target.hash).toBe(`#${id}`);
      const page = await fetch(target);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  it('the short path handles a pending chat in 2 calls and at most 2,000 characters of tool text', async () => {
    const before = calls.length;
    const listed = await call<{ conversations: Summary[] }>('list_conversations', { state: 'pending', order: 'waiting', include_messages: 2 });
    const chat = listed.out.conversations[0]!;
    expect(chat.messages!.length).toBeGreaterThan(0);
    expect(listed.text).toContain(`  visitor: ${chat.messages!.map((m) => m.text).join(' / ')}`);
    const sent = await call<{ state: string | null; state_error: string | null }>('send_message', {
      session_id: chat.session_id,
      content: 'Thanks for waiting: this is sorted now.',
      fingerprint: 777001,
      then_state: 'resolved',
    });
    expect(sent.out).toMatchObject({ state: 'resolved', state_error: null });
    const path = calls.slice(before);
    expect(path.map((c) => c.name)).toEqual(['list_conversations', 'send_message']);
    const chars = path.reduce((n, c) => n + c.text.length, 0);
    expect(chars, `the short path cost ${chars} characters`).toBeLessThanOrEqual(2_000);

    // Sent once: the same fingerprint again posts nothing new.
    const again = await call<{ fingerprint: number }>('send_message', { session_id: chat.session_id, content: 'Thanks for waiting: this is sorted now.', fingerprint: 777001, then_state: 'resolved' });
    expect(again.out.fingerprint).toBe(777001);
    const thread = await call<{ messages: { text: string }[] }>('list_messages', { session_id: chat.session_id });
    expect(thread.out.messages.filter((m) => m.text === 'Thanks for waiting: this is sorted now.')).toHaveLength(1);
  });
});
