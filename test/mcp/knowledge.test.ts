// The knowledge toolset and the reach tools through a real SDK client, against the seeded sandbox:
// structured results parsed with each tool's own output schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findConversations, listConversations } from '../../src/mcp/tools/conversations.js';
import { getArticle, searchHelpdesk } from '../../src/mcp/tools/knowledge.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { supportLeadHelpdesk } from '../helpers/helpdesk.js';
import { callTool, McpHarness } from '../helpers/mcp.js';

let harness: McpHarness;
let sandbox: Sandbox;

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 5 });
  sandbox = harness.sandbox;
});
afterAll(() => harness.close());

const site = () => sandbox.state.websites.get(sandbox.websiteId)!;
const call = (name: string, args: Record<string, unknown>) => callTool(harness.client, name, args);

describe('search_helpdesk', () => {
  it('returns the best published articles with url, path and excerpt', async () => {
    const { out, text, isError } = await call('search_helpdesk', { query: 'my parcel never arrived' });
    expect(isError).toBe(false);
    const parsed = searchHelpdesk.outputSchema.parse(out);
    const base = `${sandbox.url}/helpdesk/${sandbox.websiteId}/en/article`;
    expect(parsed).toEqual({
      website_id: sandbox.websiteId,
      locale: 'en',
      articles: [
        {
          title: 'Shipping times and tracking',
          url: `${base}/shipping-times/`,
          path: 'orders/shipping-times',
          excerpt: 'A parcel that has not arrived after 15 days is considered lost: we send a new one.',
        },
      ],
      more: 0,
    });
    expect(text).toBe(`orders/shipping-times | Shipping times and tracking | ${base}/shipping-times/\n  A parcel that has not arrived after 15 days is considered lost: we send a new one.`);
  });

  it('finds articles in languages written without spaces (Chinese, Japanese, Thai), and ignores accents and full-width forms', async () => {
    const article = (slug: string, title: string, content: string) => ({ slug, title, description: '', published: true, content });
    site().helpdesk.zh = [{ slug: 'billing', title: '账单', articles: [article('refunds', '退款政策', '购买后三十天内可以申请退款。'), article('shipping', '配送时间', '我们在三天内发货。')] }];
    site().helpdesk.ja = [{ slug: 'billing', title: '請求', articles: [article('refunds', '返金について', 'ご購入から30日以内であれば返金できます。'), article('shipping', '配送について', '3日以内に発送します。')] }];
    site().helpdesk.th = [{ slug: 'billing', title: 'การเงิน', articles: [article('refunds', 'นโยบายการคืนเงิน', 'คุณสามารถขอคืนเงินได้ภายใน 30 วัน'), article('shipping', 'การจัดส่ง', 'เราจัดส่งภายในสามวัน')] }];
    for (const [locale, query] of [['zh', '我想申请退款'], ['ja', '返金したいです'], ['th', 'ขอคืนเงิน'], ['fr', 'REMBOURSÉ'], ['fr', 'ｒｅｍｂｏｕｒｓｅｍｅｎｔ']] as const) {
      const { out, text, isError } = await call('search_helpdesk', { query, locale });
      expect(isError, text).toBe(false);
      const found = searchHelpdesk.outputSchema.parse(out).articles.map((a) => a.path);
      expect(found[0], `${locale}: ${query}`).toBe(locale === 'fr' ? 'facturation/politique-de-remboursement' : 'billing/refunds');
    }
  });

  it('is named in the server instructions', () => {
    expect(harness.client.getInstructions()).toContain("Answer from the business's helpdesk (search_helpdesk) and link the article's url");
  });

  it('says so when nothing matches, and names the field of a bad argument', async () => {
    expect((await call('search_helpdesk', { query: 'zzqx unknownword' })).text).toBe('No published en article matches; try other words or another locale.');
    // A locale the helpdesk lacks is no error: the locale with the question's words answers.
    const unknown = await call('search_helpdesk', { query: 'refund', locale: 'de' });
    expect(unknown.isError).toBe(false);
    expect(searchHelpdesk.outputSchema.parse(unknown.out)).toMatchObject({ locale: 'en', articles: [{ path: 'billing/refund-policy' }] });
  });
});

describe('get_article', () => {
  it('reads one article as markdown, in a given locale', async () => {
    const { out } = await call('get_article', { path: 'facturation/politique-de-remboursement', locale: 'fr' });
    const parsed = getArticle.outputSchema.parse(out);
    expect(parsed).toMatchObject({ locale: 'fr', title: 'Politique de remboursement', trimmed: false, url: `${sandbox.url}/helpdesk/${sandbox.websiteId}/fr/article/politique-de-remboursement/` });
    expect(parsed.markdown).toBe(site().helpdesk.fr!.find((g) => g.slug === 'facturation')!.articles[0]!.content);
  });
});

describe("the knowledge tools on a support lead's helpdesk", () => {
  let lead: McpHarness;
  const leadSite = () => lead.sandbox.state.websites.get(lead.sandbox.websiteId)!;
  const leadCall = (name: string, args: Record<string, unknown>) => callTool(lead.client, name, args);
  const article = (locale: string, group: string, slug: string) => leadSite().helpdesk[locale]!.find((g) => g.slug === group)!.articles.find((a) => a.slug === slug)!;

  beforeAll(async () => {
    lead = await McpHarness.start({ seed: 6 });
    leadSite().helpdesk = supportLeadHelpdesk();
  });
  afterAll(() => lead.close());

  it("search_helpdesk answers a visitor in their language without being told it, with the article's link and the sentence that answers", async () => {
    const { out } = await leadCall('search_helpdesk', { query: '¿cómo cancelo mi suscripción?' });
    const parsed = searchHelpdesk.outputSchema.parse(out);
    expect(parsed.locale).toBe('es');
    expect(parsed.articles[0]).toEqual({
      title: 'Cancelar su suscripción',
      path: 'cuenta/cancelar-suscripcion',
      url: `${lead.sandbox.url}/helpdesk/${lead.sandbox.websiteId}/es/article/cancelar-suscripcion/`,
      excerpt: 'Vaya a Ajustes → Facturación → Plan y haga clic en Cancelar. Conserva el acceso hasta el final del periodo pagado.',
    });
  });

  it('search_helpdesk quotes enough of the article to answer from: the sentences after an opening question, up to 240 characters', async () => {
    const [first] = searchHelpdesk.outputSchema.parse((await leadCall('search_helpdesk', { query: 'how do i get a refnud' })).out).articles;
    expect(first).toMatchObject({ path: 'billing/refund-policy', excerpt: 'Changed your mind? You can get your money back within 30 days of any payment, no questions asked. Write to us from the chat with the email of your account.' });
  });

  it('get_article reads an article as it is now (an edit a moment ago, one listed past the first 200), never a draft or a hidden one', async () => {
    await leadCall('search_helpdesk', { query: 'refund' });
    article('en', 'billing', 'refund-policy').content = '# Refund policy\n\nNow 45 days.';
    const edited = getArticle.outputSchema.parse((await leadCall('get_article', { path: 'billing/refund-policy' })).out);
    expect(edited).toMatchObject({ locale: 'en', markdown: '# Refund policy\n\nNow 45 days.', url: `${lead.sandbox.url}/helpdesk/${lead.sandbox.websiteId}/en/article/refund-policy/` });
    expect(getArticle.outputSchema.parse((await leadCall('get_article', { path: 'release-notes/release-3-59' })).out).title).toBe('Release 3.59');
    expect(getArticle.outputSchema.parse((await leadCall('get_article', { path: 'cuenta/envios', locale: 'es-MX' })).out).locale).toBe('es');
    for (const path of ['help/enterprise-sla-draft', 'account/internal-escalation', 'billing/no-such-article']) {
      const refused = await leadCall('get_article', { path });
      expect(refused).toMatchObject({ isError: true, text: `path: no published en article at "${path}"; search_helpdesk gives valid paths` });
    }
  });

  it('a website whose helpdesk has no locale: said plainly, not an internal error', async () => {
    const saved = leadSite().helpdesk;
    leadSite().helpdesk = {};
    const other = await McpHarness.start({ seed: 6 });
    other.sandbox.state.websites.get(other.sandbox.websiteId)!.helpdesk = {};
    try {
      const search = await callTool(other.client, 'search_helpdesk', { query: 'refund' });
      expect(search).toMatchObject({ isError: false, text: 'This website has no helpdesk locale: there is nothing to search.' });
      const read = await callTool(other.client, 'get_article', { path: 'billing/refund-policy' });
      expect(read).toMatchObject({ isError: true, text: 'This website has no helpdesk locale: there is no article to read.' });
    } finally {
      leadSite().helpdesk = saved;
      await other.close();
    }
  });
});

describe('list_conversations include_messages', () => {
  it('adds each conversation\'s latest messages, oldest first, and every conversation a url', async () => {
    const { out } = await call('list_conversations', { include_messages: 3 });
    const parsed = listConversations.outputSchema.parse(out);
    for (const c of parsed.conversations) {
      const thread = site().messages.get(c.session_id) ?? [];
      expect(c.messages!.map((m) => m.fingerprint)).toEqual(thread.slice(-3).map((m) => m.fingerprint));
      expect(c.url).toBe(`${sandbox.url}/website/${sandbox.websiteId}/inbox/${c.session_id}/`);
    }
    const plain = listConversations.outputSchema.parse((await call('list_conversations', {})).out);
    expect(plain.conversations.every((c) => c.messages === undefined)).toBe(true);
  });
});

describe('find_conversations', () => {
  it('by people_id: that person\'s conversations, newest first', async () => {
    const person = [...site().conversations.values()].find((c) => c.people_id)!.people_id!;
    const { out } = await call('find_conversations', { people_id: person });
    const parsed = findConversations.outputSchema.parse(out);
    const own = [...site().conversations.values()].filter((c) => c.people_id === person).sort((a, b) => b.updated_at - a.updated_at);
    expect(parsed.people_id).toBe(person);
    expect(parsed.conversations.map((c) => c.session_id)).toEqual(own.slice(0, 10).map((c) => c.session_id));
    expect(parsed.more).toBe(Math.max(0, own.length - 10));
  });

  it('by the email of a visitor with no profile: matched on the conversation itself', async () => {
    const created = sandbox.state.createConversation(site(), { nickname: 'No Profile', email: 'no.profile@example.test' });
    // The email made them a contact, as in Crisp (test/sandbox/contact-from-email.test.ts); the contact is removed since.
    sandbox.state.removePerson(site(), created.people_id!);
    sandbox.state.addMessage(site(), created.session_id, { type: 'text', from: 'user', origin: 'chat', content: 'Where is my order?' });
    const { out, text } = await call('find_conversations', { email: 'No.Profile@example.test' });
    expect(findConversations.outputSchema.parse(out)).toMatchObject({ people_id: null, conversations: [{ session_id: created.session_id, visitor_email: 'no.profile@example.test' }], more: 0 });
    expect(text.split('\n')[0]).toBe('No profile; matched on the conversation email.');
  });

  it('refuses both or neither of email and people_id, naming them', async () => {
    const both = await call('find_conversations', { email: 'a@b.test', people_id: 'x' });
    expect(both).toMatchObject({ isError: true, text: 'email, people_id: give exactly one of them' });
  });
});
