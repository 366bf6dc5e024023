// The sandbox's Helpdesk routes over real HTTP, through our client: the seeded tree, Crisp's title
// search, sub_path, a tree path in one or several URL segments, and the answers for what is not there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrispClient } from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { crispGet } from '../helpers/sandbox-http.js';

let sandbox: Sandbox;
let crisp: CrispClient;
const w = () => sandbox.websiteId;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 8 });
  crisp = clientFor(sandbox);
});
afterAll(async () => {
  await crisp.close();
  await sandbox.close();
});

describe('sandbox helpdesk', () => {
  it('seeds en and fr with groups of articles, drafts and a hidden one among them', async () => {
    const locales = await crisp.helpdesk.locales(w());
    expect(locales.map((l) => [l.locale, l.statistics?.articles])).toEqual([
      ['en', { entries: 10, groups: 4 }],
      ['fr', { entries: 6, groups: 3 }],
    ]);
    const tree = await crisp.helpdesk.tree(w(), 'en', 'articles');
    const states = tree.flatMap((g) => (g.children ?? []).map((a) => `${g.slug}/${a.slug}:${a.state?.published ? 'published' : 'draft'}${a.state?.hidden ? ',hidden' : ''}`));
    expect(states).toEqual(expect.arrayContaining(['billing/pricing-2027-draft:draft', 'account/internal-escalation:published,hidden', 'billing/refund-policy:published']));
    expect(await crisp.helpdesk.tree(w(), 'en', 'articles', 2)).toEqual([]);
    expect(await crisp.helpdesk.tree(w(), 'en', 'guides')).toEqual([]);
  });

  it('search_title matches titles only and keeps the groups around the matches; sub_path narrows to one group', async () => {
    const found = await crisp.helpdesk.tree(w(), 'en', 'articles', 1, { search_title: 'PASSWORD' });
    expect(found.map((g) => [g.slug, g.children?.map((a) => a.slug)])).toEqual([['account', ['reset-password']]]);
    expect(await crisp.helpdesk.tree(w(), 'en', 'articles', 1, { search_title: 'money back' })).toEqual([]);
    const billing = await crisp.helpdesk.tree(w(), 'en', 'articles', 1, { sub_path: 'billing' });
    expect(billing.map((g) => g.slug)).toEqual(['billing']);
  });

  it('takes a tree path as several URL segments or as one encoded segment', async () => {
    const split = await crispGet(sandbox, `/v1/website/${w()}/helpdesk/tree/content/en/articles/billing/refund-policy`);
    const encoded = await crispGet(sandbox, `/v1/website/${w()}/helpdesk/tree/content/en/articles/billing%2Frefund-policy`);
    expect(split.status).toBe(200);
    expect(encoded.body).toEqual(split.body);
  });

  it('an article edited in one sandbox while it runs is served edited there alone, and a reset brings back the seed', async () => {
    const other = await startSandbox({ seed: 8 });
    const otherClient = clientFor(other);
    try {
      const refund = () => other.state.websites.get(other.websiteId)!.helpdesk.en!.find((g) => g.slug === 'billing')!.articles.find((a) => a.slug === 'refund-policy')!;
      refund().content = 'Edited while running.';
      expect(await otherClient.helpdesk.content(other.websiteId, 'en', 'articles', 'billing/refund-policy')).toBe('Edited while running.');
      expect(await crisp.helpdesk.content(w(), 'en', 'articles', 'billing/refund-policy')).toContain('money back');
      other.state.reset();
      expect(await otherClient.helpdesk.content(other.websiteId, 'en', 'articles', 'billing/refund-policy')).toContain('money back');
    } finally {
      await otherClient.close();
      await other.close();
    }
  });

  it('answers like Crisp for what is not there', async () => {
    await expect(crisp.helpdesk.content(w(), 'en', 'articles', 'billing')).rejects.toMatchObject({ status: 404, code: 'crisp_not_found' });
    await expect(crisp.helpdesk.page(w(), 'en', 'articles', 'billing/pricing-2027-draft')).rejects.toMatchObject({ status: 404 });
    await expect(crisp.helpdesk.tree(w(), 'de', 'articles')).rejects.toMatchObject({ status: 404, message: expect.stringContaining('the helpdesk has no locale de') });
    await expect(crisp.helpdesk.tree(w(), 'en', 'faq' as never)).rejects.toMatchObject({ status: 400, code: 'crisp_invalid' });
  });
});
