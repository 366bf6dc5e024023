// The helpdesk search our client offers (crisp.helpdesk.search): Crisp searches titles only, so it
// ranks titles and article text itself. Against the seeded sandbox helpdesk, in both locales.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrispClient } from '../../src/crisp/index.js';
import { rankArticles, terms } from '../../src/crisp/helpdesk-rank.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';

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
