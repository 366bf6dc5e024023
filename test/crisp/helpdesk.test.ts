// The helpdesk search our client offers (crisp.helpdesk.search): Crisp searches titles only, so it
// ranks titles and article text itself. Against the seeded sandbox helpdesk, in both locales.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CrispClient } from '../../src/crisp/index.js';
import { LISTING_TTL_MS, MAX_TEXTS, TEXT_TTL_MS } from '../../src/crisp/helpdesk.js';
import { rankArticles, terms } from '../../src/crisp/helpdesk-rank.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { supportLeadHelpdesk } from '../helpers/helpdesk.js';

let sandbox: Sandbox;
let crisp: CrispClient;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 3 });
  crisp = clientFor(sandbox);
});
afterAll(async () => {
  await crisp.close();
  await sandbox.close();
});

describe('rankArticles (pure)', () => {
  const articles = [
    { path: 'a/refunds', title: 'Refund policy', content: 'You can get your money back within 30 days.' },
    { path: 'a/password', title: 'Reset your password', content: 'Click Forgot password on the login page.' },
    { path: 'a/shipping', title: 'Shipping', content: 'Orders leave within 2 days.' },
  ];

  it.each([
    ['I want my money back', 'a/refunds'],
    ['refunded?', 'a/refunds'],
    ['I forgot my login', 'a/password'],
    ['where is my order', 'a/shipping'],
    // Misspelt: a word no article has is taken for the articles' words one edit away (two from eight letters).
    ['how do i get a refnud', 'a/refunds'],
    ['pasword resset', 'a/password'],
    ['shiping', 'a/shipping'],
  ])('%s → %s', (question, path) => {
    expect(rankArticles(question, articles)[0]?.article.path).toBe(path);
  });

  it('leaves out articles with no word in common, and questions of stop words only', () => {
    expect(rankArticles('money', articles).map((r) => r.article.path)).toEqual(['a/refunds']);
    expect(rankArticles('how do I', articles)).toEqual([]);
  });

  it('folds accents and cuts words to a stem', () => {
    expect(terms('Remboursement rembourser données')).toEqual(['rembo', 'rembo', 'donne']);
  });

  it('quotes the sentence that shares the most words, without markdown', () => {
    const [hit] = rankArticles('money back', [{ path: 'x', title: 'X', content: '# Title\n\nFirst line.\n\nGet your **money back** [here](https://x.y).' }]);
    expect(hit!.excerpt).toBe('Get your money back here.');
  });
});

describe('crisp.helpdesk.search against the sandbox', () => {
  it('finds an article by a question worded unlike its title, in English (default locale) and French', async () => {
    const w = sandbox.websiteId;
    const en = await crisp.helpdesk.search(w, 'I want my money back');
    expect(en.locale).toBe('en');
    expect(en.articles[0]).toMatchObject({ path: 'billing/refund-policy', title: 'Refund policy', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/helpdesk\/.+\/en\/article\/refund-policy\/$/) });
    expect(en.articles[0]!.excerpt).toContain('money back');

    const fr = await crisp.helpdesk.search(w, 'Comment effacer mes données personnelles ?', { locale: 'fr' });
    expect(fr.articles[0]).toMatchObject({ path: 'confidentialite/rgpd-et-dpa', locale: 'fr' });
  });

  it('never returns hidden or unpublished articles', async () => {
    const w = sandbox.websiteId;
    const all = [
      ...(await crisp.helpdesk.articles(w, 'en')),
      ...(await crisp.helpdesk.articles(w, 'fr')),
    ].map((a) => a.path);
    expect(all).toHaveLength(13);
    for (const hidden of ['billing/pricing-2027-draft', 'account/internal-escalation', 'compte/brouillon-nouvelle-offre']) expect(all).not.toContain(hidden);
    const drafts = await crisp.helpdesk.search(w, 'pricing 2027 escalation runbook finance', { limit: 20 });
    expect(drafts.articles.map((a) => a.path)).not.toEqual(expect.arrayContaining(['billing/pricing-2027-draft']));
    expect(drafts.articles.map((a) => a.path)).not.toContain('account/internal-escalation');
  });

  it('keeps at most `limit` and counts the rest', async () => {
    const result = await crisp.helpdesk.search(sandbox.websiteId, 'Settings', { limit: 2 });
    expect(result.articles).toHaveLength(2);
    expect(result.more).toBeGreaterThan(0);
  });
});

describe("crisp.helpdesk.search on a support lead's helpdesk (hundreds of articles, five locales)", () => {
  let big: Sandbox;
  let client: CrispClient;
  let now = 1_000_000;
  const site = () => big.state.websites.get(big.websiteId)!;
  const w = () => big.websiteId;
  /** Crisp calls made so far, by kind of helpdesk route. */
  const calls = () => {
    const out = { locales: 0, tree: 0, pages: 0, content: 0 };
    for (const [route, count] of Object.entries(big.stats().handled)) {
      if (route.includes('/helpdesk/locales/')) out.locales += count;
      else if (route.includes('/helpdesk/tree/list/')) out.tree += count;
      else if (route.includes('/helpdesk/page/list/')) out.pages += count;
      else if (route.includes('/helpdesk/tree/content/')) out.content += count;
    }
    return out;
  };
  const enArticle = (group: string, slug: string) => site().helpdesk.en!.find((g) => g.slug === group)!.articles.find((a) => a.slug === slug)!;
  const published = (locale: string) => site().helpdesk[locale]!.flatMap((g) => g.articles).filter((a) => a.published && !a.hidden).length;

  beforeEach(async () => {
    big = await startSandbox({ seed: 21 });
    site().helpdesk = supportLeadHelpdesk();
    client = clientFor(big, { now: () => now });
  });
  afterEach(async () => {
    await client.close();
    await big.close();
  });

  it('searches every published article, past the first 200, and reads each text once; the next search costs no call', async () => {
    expect(published('en')).toBeGreaterThan(200);
    const last = await client.helpdesk.search(w(), 'release 3.59');
    expect(last.articles[0]).toMatchObject({ path: 'release-notes/release-3-59', title: 'Release 3.59' });
    expect((await client.helpdesk.articles(w(), 'en')).length).toBe(published('en'));
    const first = calls();
    expect(first).toEqual({ locales: 2, tree: 3, pages: Math.ceil((published('en') + 1) / 20) + 1, content: published('en') });

    big.resetStats();
    await client.helpdesk.search(w(), 'I want my money back');
    expect(calls()).toEqual({ locales: 0, tree: 0, pages: 0, content: 0 });
  });

  it('a helpdesk of 5000 articles: a bounded first read (the texts of MAX_TEXTS), the others found by their titles', async () => {
    // A word of its own per article, told apart within its first five letters (what a word is cut to),
    // those of the second half two letters away from any of the first (not taken for a misspelling).
    const code = (n: number) => `${n < 2500 ? 'zz' : 'mm'}${[676, 26, 1].map((d) => String.fromCharCode(97 + (Math.floor(n / d) % 26))).join('')}`;
    site().helpdesk = {
      en: Array.from({ length: 250 }, (_, g) => ({
        slug: `topic-${g}`,
        title: `Topic ${g}`,
        articles: Array.from({ length: 20 }, (_, a) => ({ slug: `article-${a}`, title: `Guide ${g * 20 + a}`, description: '', published: true, content: `Body of this guide: ${code(g * 20 + a)}.` })),
      })),
    };
    const found = await client.helpdesk.search(w(), 'guide 4999');
    expect(found.articles[0]).toMatchObject({ path: 'topic-249/article-19', content: '' });
    expect((await client.helpdesk.search(w(), code(4999))).articles).toEqual([]);
    expect((await client.helpdesk.search(w(), code(10))).articles[0]!.path).toBe('topic-0/article-10');
    expect(calls()).toEqual({ locales: 2, tree: 14, pages: 250, content: MAX_TEXTS });

    // Its listing (264 pages) is kept 5 s a page it took, not LISTING_TTL_MS: at most 12 calls a minute.
    now += LISTING_TTL_MS;
    await client.helpdesk.search(w(), 'guide 4999', { locale: 'en' });
    now += 264 * 5_000 - LISTING_TTL_MS - 1;
    await client.helpdesk.search(w(), 'guide 4999', { locale: 'en' });
    expect(calls().tree).toBe(14);
    now += 1;
    await client.helpdesk.search(w(), 'guide 4999', { locale: 'en' });
    await vi.waitFor(() => expect(calls().tree).toBe(28));
  });

  it('matches forty articles: the best five, and how many more', async () => {
    const found = await client.helpdesk.search(w(), 'integration', { locale: 'en' });
    expect(found.articles).toHaveLength(5);
    expect(found.articles.every((a) => a.path.startsWith('integrations/'))).toBe(true);
    expect(found.more).toBe(35);
  });

  it('an article edited while the server runs: its new title within LISTING_TTL_MS, its new text within TEXT_TTL_MS, the answer never waiting on a re-read', async () => {
    await client.helpdesk.search(w(), 'money back');
    const refund = enArticle('billing', 'refund-policy');
    refund.title = 'Refunds and money-back guarantee';
    big.resetStats();

    now += LISTING_TTL_MS - 1;
    expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.title).toBe('Refund policy');
    now += 1;
    // Past the listing's age the answer still comes from the last listing, while it is read again.
    expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.title).toBe('Refund policy');
    await vi.waitFor(async () => expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.title).toBe('Refunds and money-back guarantee'));
    // The refresh read the listing again, and the text of the retitled article alone.
    expect(calls()).toMatchObject({ content: 1 });

    refund.content = 'Ask within 45 days and we reimburse you in full.';
    now += LISTING_TTL_MS;
    await client.helpdesk.search(w(), 'money back');
    await vi.waitFor(() => expect(calls().tree).toBe(6));
    expect((await client.helpdesk.search(w(), 'reimburse')).articles).toEqual([]);
    now += TEXT_TTL_MS;
    await client.helpdesk.search(w(), 'money back');
    await vi.waitFor(async () => expect((await client.helpdesk.search(w(), 'reimburse')).articles[0]?.path).toBe('billing/refund-policy'));
  });

  it('an article unpublished while the server runs is left out after the next listing', async () => {
    expect((await client.helpdesk.search(w(), 'forgot password')).articles[0]!.path).toBe('account/reset-password');
    enArticle('account', 'reset-password').published = false;
    now += LISTING_TTL_MS;
    await client.helpdesk.search(w(), 'forgot password');
    await vi.waitFor(async () => expect((await client.helpdesk.search(w(), 'forgot password')).articles.map((a) => a.path)).not.toContain('account/reset-password'));
  });

  it('Crisp failing mid-refresh: the last listing answers; an article gone between listing and reading is left out, the search goes on', async () => {
    await client.helpdesk.search(w(), 'money back');
    big.faults.burst({ fault: { kind: 'status', status: 503 }, count: 50, pathIncludes: '/helpdesk/page/list/' });
    now += LISTING_TTL_MS;
    expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.path).toBe('billing/refund-policy');
    await vi.waitFor(() => expect(big.stats().faults['503']).toBeGreaterThanOrEqual(4));
    // The failed refresh is not tried again by every search: it waits before the next attempt.
    const failed = calls().tree;
    expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.path).toBe('billing/refund-policy');
    expect(calls().tree).toBe(failed);
    big.faults.clear();

    // A cold index: the texts of one article keep failing with 404 (removed after it was listed).
    const fresh = clientFor(big, { now: () => now });
    big.faults.burst({ fault: { kind: 'status', status: 404 }, count: 10, pathIncludes: '/tree/content/es/articles/cuenta/restablecer-contrasena' });
    const found = await fresh.helpdesk.search(w(), 'olvidé mi contraseña', { locale: 'es' });
    expect(found.articles.map((a) => a.path)).not.toContain('cuenta/restablecer-contrasena');
    expect(found.locale).toBe('es');
    await fresh.close();
  });

  it('a cold search that fails keeps the texts it read: the next one reads only the rest', async () => {
    big.faults.burst({ fault: { kind: 'status', status: 500 }, count: 4, pathIncludes: '/tree/content/en/articles/release-notes/release-3-30' });
    await expect(client.helpdesk.search(w(), 'money back')).rejects.toMatchObject({ code: 'crisp_unavailable' });
    const before = calls().content;
    big.resetStats();
    now += 30_000;
    expect((await client.helpdesk.search(w(), 'money back')).articles[0]!.path).toBe('billing/refund-policy');
    expect(calls().content).toBeLessThan(published('en') - before + 5);
  });

  it("a search cancelled while the locale's first read runs ends at once, and the other searches waiting on that read get their answer", async () => {
    big.faults.configure('latency:20ms');
    const cancelled = new AbortController();
    const first = client.helpdesk.search(w(), 'money back', { signal: cancelled.signal });
    const second = client.helpdesk.search(w(), 'money back');
    await vi.waitFor(() => expect(calls().content).toBeGreaterThan(0));
    cancelled.abort();
    await expect(first).rejects.toMatchObject({ code: 'crisp_aborted' });
    expect((await second).articles[0]!.path).toBe('billing/refund-policy');
  });

  it('finds the locale a visitor writes in, takes FR, de-AT or es-MX for the helpdesk locale, and a locale it lacks for the best', async () => {
    const cases: [string, string | undefined, string, string][] = [
      ['Paket nicht angekommen', undefined, 'de', 'versand/lieferzeiten'],
      ['cómo cancelar mi suscripción', undefined, 'es', 'cuenta/cancelar-suscripcion'],
      ['Passwort vergessen', 'de-AT', 'de', 'konto/passwort-zuruecksetzen'],
      ['mot de passe oublié', 'FR', 'fr', 'compte/reinitialiser-mot-de-passe'],
      ['I forgot my password', 'it', 'en', 'account/reset-password'],
      // A locale asked for that has no match: the others are tried.
      ['I forgot my password', 'ja', 'en', 'account/reset-password'],
    ];
    for (const [query, locale, want, path] of cases) {
      const found = await client.helpdesk.search(w(), query, locale ? { locale } : {});
      expect([query, found.locale, found.articles[0]?.path]).toEqual([query, want, path]);
    }
  });

  it('a question with no answer, or whose only answer is a draft, finds nothing', async () => {
    expect((await client.helpdesk.search(w(), 'teleport my cat to mars')).articles).toEqual([]);
    const sla = await client.helpdesk.search(w(), 'guaranteed uptime 99.99% SLA');
    expect(sla.articles.map((a) => a.path)).not.toContain('help/enterprise-sla-draft');
    expect(JSON.stringify(sla)).not.toContain('99.99');
  });

  it('a helpdesk with no locale (off, or never set up) finds nothing, with no error', async () => {
    site().helpdesk = {};
    expect(await client.helpdesk.search(w(), 'money back')).toEqual({ locale: '', articles: [], more: 0 });
  });
});
