// The knowledge toolset: the business's own Crisp Helpdesk, so an agent answers from it and links
// the article. Only published, visible articles are ever returned (crisp.helpdesk.search and
// crisp.helpdesk.article leave drafts and hidden ones out).
import { z } from 'zod';
import { defineTool, ToolInputError } from './define.js';
import type { ToolDeps } from './deps.js';
import { WebsiteId } from './params.js';
import { sanitize, truncate } from './support/text.js';

const Locale = z.string().min(2).max(10).describe("e.g. en, fr; default: the helpdesk's first");
const read = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;

/** Longest article text returned unless the caller asks for less: an article is read, not pasted whole. */
const ARTICLE_CHARS = 4_000;

export const searchHelpdesk = defineTool({
  name: 'search_helpdesk',
  toolset: 'knowledge',
  title: 'Search the helpdesk',
  description: "Search the business's published helpdesk articles (titles and text) for a question or keywords: best 5, with url and excerpt.",
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    query: z.string().min(2).max(300).describe("the visitor's question or keywords"),
    locale: Locale.optional(),
  }),
  outputSchema: z.object({
    website_id: z.string(),
    locale: z.string(),
    articles: z.array(z.object({ title: z.string(), url: z.string(), path: z.string().describe('for get_article'), excerpt: z.string() })),
    more: z.number().int().describe('further matches left out'),
  }),
  annotations: read,
  async handler({ website_id, query, locale }, { crisp, guard }: ToolDeps, call) {
    const site = guard.website(website_id);
    const result = await crisp.helpdesk.search(site, query, { ...(locale ? { locale } : {}), limit: 5, signal: call?.signal });
    return {
      website_id: site,
      locale: result.locale,
      articles: result.articles.map((a) => ({ title: sanitize(a.title), url: a.url, path: a.path, excerpt: sanitize(a.excerpt) })),
      more: result.more,
    };
  },
  text: ({ locale, articles, more }) =>
    locale === ''
      ? 'This website has no helpdesk locale: there is nothing to search.'
      : articles.length === 0
      ? `No published ${locale} article matches; try other words or another locale.`
      : [...articles.map((a) => `${a.path} | ${a.title} | ${a.url}\n  ${a.excerpt}`), more ? `${more} more matched.` : ''].filter(Boolean).join('\n'),
});

export const getArticle = defineTool({
  name: 'get_article',
  toolset: 'knowledge',
  title: 'Read a helpdesk article',
  description: 'One published helpdesk article as markdown, with its public url (path from search_helpdesk).',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    path: z.string().min(1).max(300).describe('e.g. billing/refund-policy'),
    locale: Locale.optional(),
    max_chars: z.number().int().min(200).max(20_000).optional().describe(`default ${ARTICLE_CHARS}`),
  }),
  outputSchema: z.object({ website_id: z.string(), locale: z.string(), path: z.string(), title: z.string(), url: z.string(), markdown: z.string(), trimmed: z.boolean() }),
  annotations: read,
  async handler({ website_id, path, locale, max_chars = ARTICLE_CHARS }, { crisp, guard }: ToolDeps, call) {
    const site = guard.website(website_id);
    const where = await crisp.helpdesk.resolveLocale(site, locale, call?.signal);
    if (!where) throw new ToolInputError(`${guard.websites.length < 2 ? 'This website' : `Website ${site}`} has no helpdesk locale: there is no article to read.`);
    const wanted = path.replace(/^\/+|\/+$/g, '');
    // Read now, not from the search's index: an article edited or unpublished a moment ago shows as it is.
    const article = wanted ? await crisp.helpdesk.article(site, where, wanted, call?.signal) : undefined;
    // Websites may share paths (one agency, one article layout), so with several the site asked is named.
    const elsewhere = guard.elsewhere(site, 'it is an article of');
    if (!article) throw new ToolInputError(`path: no published ${where} article at "${wanted}"${guard.onWebsite(site)}; search_helpdesk gives valid paths${elsewhere && `.${elsewhere}`}`);
    const markdown = sanitize(article.content);
    return { website_id: site, locale: where, path: article.path, title: sanitize(article.title), url: article.url, markdown: truncate(markdown, max_chars), trimmed: markdown.length > max_chars };
  },
  text: ({ path, title, url, markdown }) => `${title} (${path}) ${url}\n${markdown}`,
});

export const KNOWLEDGE_TOOLS = [searchHelpdesk, getArticle];
