// Helpdesk reads (node-crisp-api 11.x WebsiteHelpdesk): locales, the content tree with its title
// search, one path's markdown, metadata and public page, and the public pages (listed, or one by
// its entity id). Served from the seeded knowledge base of src/sandbox/helpdesk-data.ts; the
// sandbox takes no writes.
import { createHash } from 'node:crypto';
import { HELPDESK_CONTENT_TYPES, type HelpdeskTreeEntry } from '../../crisp/schemas.js';
import { intParam, invalid, notFound } from '../http.js';
import { pageOf, type RestContext, type RestRoute } from './context.js';
import type { SeedArticle, SeedGroup } from '../helpdesk-data.js';

/** Tree entries and pages per page (unverified at Crisp; the libraries send no per_page). */
export const HELPDESK_PAGE = 20;
const H = '/v1/website/:website_id/helpdesk';

export const helpdeskRoutes: RestRoute[] = [
  { method: 'GET', pattern: H, handler: ({ site, baseUrl }) => ({ data: { name: `${site.name} Help Center`, url: helpdeskUrl(baseUrl, site.website_id) } }) },
  {
    method: 'GET',
    pattern: `${H}/locales/:page`,
    handler: ({ site, baseUrl }, p) => ({ data: pageOf(Object.keys(site.helpdesk).map((l) => localeView(site.helpdesk, l, baseUrl, site.website_id)), intParam(p.page, 'page_number', 1)!, HELPDESK_PAGE) }),
  },
  { method: 'GET', pattern: `${H}/locale/:locale`, handler: ({ site, baseUrl }, p) => ({ data: localeView(site.helpdesk, p.locale!, baseUrl, site.website_id) }) },
  { method: 'GET', pattern: `${H}/tree/list/:locale/:type/:page`, handler: listTree },
  { method: 'GET', pattern: `${H}/tree/path/:locale/:type/*path`, handler: (ctx, p) => ({ data: entryOf(find(ctx, p)) }) },
  {
    method: 'GET',
    pattern: `${H}/tree/content/:locale/:type/*path`,
    handler: (ctx, p) => {
      const found = find(ctx, p);
      if (!found.article) throw notFound('a group has no content; read one of its children');
      return { data: { content: found.article.content } };
    },
  },
  {
    method: 'GET',
    pattern: `${H}/tree/metadata/:locale/:type/*path`,
    handler: (ctx, p) => {
      const { group, article } = find(ctx, p);
      const title = article?.title ?? group.title;
      return { data: { format: 'markdown', title, description: article?.description ?? '', state: stateOf(article) } };
    },
  },
  {
    method: 'GET',
    pattern: `${H}/tree/page/:locale/:type/*path`,
    handler: (ctx, p) => {
      const { article } = find(ctx, p);
      if (!article?.published) throw notFound('this path has no public page: it is a group or is not published');
      return { data: { title: article.title, url: articleUrl(ctx, p.locale!, article) } };
    },
  },
  { method: 'GET', pattern: `${H}/page/list/:locale/:type/:page`, handler: listPages },
  {
    method: 'GET',
    pattern: `${H}/page/entity/:locale/:type/:entity_id`,
    handler: (ctx, p) => {
      const found = publishedOf(ctx, p.locale!, p.type!).find(({ g, a }) => entityId(ctx, p.locale!, g, a) === p.entity_id);
      if (!found) throw notFound(`no public helpdesk page ${p.entity_id}`);
      return { data: pageView(ctx, p.locale!, found) };
    },
  },
];

export type SandboxHelpdesk = Record<string, SeedGroup[]>;

function helpdeskUrl(baseUrl: string, website: string): string {
  return `${baseUrl}/helpdesk/${website}`;
}

function articleUrl({ baseUrl, site }: RestContext, locale: string, article: SeedArticle): string {
  return `${helpdeskUrl(baseUrl, site.website_id)}/${locale}/article/${article.slug}/`;
}

function localeView(helpdesk: SandboxHelpdesk, locale: string, baseUrl: string, website: string) {
  const groups = groupsOf(helpdesk, locale);
  return {
    locale_id: uuidOf(`${website}/${locale}`),
    locale,
    url: `${helpdeskUrl(baseUrl, website)}/${locale}/`,
    statistics: { articles: { entries: groups.reduce((n, g) => n + g.articles.length, 0), groups: groups.length } },
  };
}

function groupsOf(helpdesk: SandboxHelpdesk, locale: string): SeedGroup[] {
  const groups = Object.hasOwn(helpdesk, locale) ? helpdesk[locale] : undefined;
  if (!groups) throw notFound(`the helpdesk has no locale ${locale}`);
  return groups;
}

/** Only `articles` is seeded; the other known types are empty, an unknown one is refused. */
function groupsFor({ site }: RestContext, locale: string, type: string): SeedGroup[] {
  if (!(HELPDESK_CONTENT_TYPES as readonly string[]).includes(type)) throw invalid(`type should be equal to one of the allowed values (${HELPDESK_CONTENT_TYPES.join(', ')})`);
  const groups = groupsOf(site.helpdesk, locale);
  return type === 'articles' ? groups : [];
}

function stateOf(article: SeedArticle | undefined) {
  return { published: article ? article.published : true, hidden: article?.hidden ?? false, featured: article?.featured ?? false };
}

function articleEntry(article: SeedArticle): HelpdeskTreeEntry {
  return { type: 'file', slug: article.slug, title: article.title, state: stateOf(article) };
}

function entryOf({ group, article }: { group: SeedGroup; article?: SeedArticle }): HelpdeskTreeEntry {
  if (article) return articleEntry(article);
  return { type: 'directory', slug: group.slug, title: group.title, state: stateOf(undefined), children: group.articles.map(articleEntry) };
}

function find(ctx: RestContext, params: Record<string, string>): { group: SeedGroup; article?: SeedArticle } {
  const groups = groupsFor(ctx, params.locale!, params.type!);
  const [groupSlug, articleSlug, ...extra] = params.path!.split('/');
  const group = groups.find((g) => g.slug === groupSlug);
  const article = articleSlug === undefined ? undefined : group?.articles.find((a) => a.slug === articleSlug);
  if (!group || extra.length > 0 || (articleSlug !== undefined && !article)) throw notFound(`no helpdesk entry at ${params.path}`);
  return { group, article };
}

function listTree(ctx: RestContext, params: Record<string, string>) {
  const page = intParam(params.page, 'page_number', 1)!;
  let groups = groupsFor(ctx, params.locale!, params.type!);
  const subPath = ctx.query.get('sub_path');
  if (subPath) groups = groups.filter((g) => g.slug === subPath.replace(/^\/+|\/+$/g, ''));
  const search = ctx.query.get('search_title')?.toLowerCase();
  if (!search) return { data: pageOf(groups, page, HELPDESK_PAGE).map((group) => entryOf({ group })) };
  // Like Crisp's search_title: titles only; the groups stay around their matching entries.
  const entries = groups
    .map((group) => entryOf({ group }))
    .map((g) => ({ ...g, children: (g.children ?? []).filter((a) => a.title?.toLowerCase().includes(search)) }))
    .filter((g) => g.children.length > 0);
  return { data: pageOf(entries, page, HELPDESK_PAGE) };
}

function publishedOf(ctx: RestContext, locale: string, type: string): { g: SeedGroup; a: SeedArticle }[] {
  return groupsFor(ctx, locale, type).flatMap((g) => g.articles.filter((a) => a.published).map((a) => ({ g, a })));
}

function entityId({ site }: RestContext, locale: string, group: SeedGroup, article: SeedArticle): string {
  return uuidOf(`${site.website_id}/${locale}/${group.slug}/${article.slug}`);
}

function pageView(ctx: RestContext, locale: string, { g, a }: { g: SeedGroup; a: SeedArticle }) {
  return { entity_id: entityId(ctx, locale, g, a), title: a.title, tree_path: `${g.slug}/${a.slug}`, url: articleUrl(ctx, locale, a) };
}

function listPages(ctx: RestContext, params: Record<string, string>) {
  const page = intParam(params.page, 'page_number', 1)!;
  // The page first, then its views: a helpdesk of thousands is not hashed whole on every page.
  return { data: pageOf(publishedOf(ctx, params.locale!, params.type!), page, HELPDESK_PAGE).map((found) => pageView(ctx, params.locale!, found)) };
}

/** A stable UUID-shaped id for a seeded entity. */
function uuidOf(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
