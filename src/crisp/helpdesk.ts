// The Helpdesk (knowledge base) reads of node-crisp-api 11.x `WebsiteHelpdesk`: locales, the
// content tree (searchable by title), one tree path's markdown, metadata and public page, and the
// list of public pages. Writes are left out: the product only reads the helpdesk.
import { z } from 'zod';
import { rankArticles } from './helpdesk-rank.js';
import type { QueryValue, RequestSpec } from './http.js';
import {
  HelpdeskLocale,
  HelpdeskPage,
  HelpdeskTreeContent,
  HelpdeskTreeEntry,
  HelpdeskTreeMetadata,
  HelpdeskTreePage,
  type HelpdeskContentType,
} from './schemas.js';

/** What the helpdesk reads need of the client's request layer (validated `data`). */
export interface HelpdeskCaller {
  data<S extends z.ZodType>(schema: S, spec: RequestSpec, options?: { signal?: AbortSignal; deadlineMs?: number }): Promise<z.infer<S>>;
}

export interface HelpdeskTreeQuery {
  /** Only the part of the tree under this path. */
  sub_path?: string;
  /** Crisp's own search: on titles only. */
  search_title?: string;
  filter_date_start?: string;
  filter_date_end?: string;
}

/** A published, visible article of one locale, as search reads it. */
export interface HelpdeskArticle {
  locale: string;
  path: string;
  title: string;
  url: string;
  content: string;
}

export interface HelpdeskSearchResult {
  locale: string;
  /** Best first, at most `limit`. */
  articles: (HelpdeskArticle & { score: number; excerpt: string })[];
  /** How many more articles matched beyond `limit`. */
  more: number;
}

export interface HelpdeskSearchOptions {
  /** Default: the helpdesk's first locale. */
  locale?: string;
  /** Default 5. */
  limit?: number;
  signal?: AbortSignal;
}

/** How long one locale's articles are reused by search before they are read again. */
const INDEX_TTL_MS = 60_000;
/** Most pages read per listing, and most articles whose text is read per locale. */
const MAX_PAGES = 10;
const MAX_ARTICLES = 200;
const CONTENT_CONCURRENCY = 4;

const LocaleList = HelpdeskLocale.array();
const TreeList = z.array(HelpdeskTreeEntry);
const PageList = HelpdeskPage.array();

/**
 * A tree path (`billing/refund-policy`) travels as URL path segments, one per part, the way the
 * official client joins it into the URL unencoded; each part is still encoded on its own here.
 */
export function treePathSegments(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) throw new RangeError('a helpdesk tree path needs at least one part');
  return parts;
}

export class HelpdeskApi {
  readonly #index = new Map<string, { at: number; articles: Promise<HelpdeskArticle[]> }>();

  constructor(
    private readonly call: HelpdeskCaller,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The published, visible articles best matching `question`, ranked on their titles and their
   * text (Crisp's `search_title` sees titles only). Each locale's articles and texts are read once
   * and reused for a minute. This is the one search the tools and scenarios call.
   */
  async search(website: string, question: string, options: HelpdeskSearchOptions = {}): Promise<HelpdeskSearchResult> {
    const locale = options.locale ?? (await this.defaultLocale(website, options.signal));
    const limit = options.limit ?? 5;
    const ranked = rankArticles(question, await this.articles(website, locale, options.signal));
    return { locale, articles: ranked.slice(0, limit).map((r) => ({ ...r.article, score: r.score, excerpt: r.excerpt })), more: Math.max(0, ranked.length - limit) };
  }

  /** The helpdesk's first locale: where a question without a locale is looked up. */
  async defaultLocale(website: string, signal?: AbortSignal): Promise<string> {
    const first = (await this.locales(website, 1, { signal }))[0];
    if (!first) throw new RangeError(`the helpdesk of website ${website} has no locale`);
    return first.locale;
  }

  /** Every published, visible article of a locale with its public URL and markdown (cached briefly). */
  articles(website: string, locale: string, signal?: AbortSignal): Promise<HelpdeskArticle[]> {
    const key = `${website}\u0000${locale}`;
    const cached = this.#index.get(key);
    if (cached && this.now() - cached.at < INDEX_TTL_MS) return cached.articles;
    const articles = this.#readArticles(website, locale, signal);
    this.#index.set(key, { at: this.now(), articles });
    // A failed read is not kept: the next search tries again.
    articles.catch(() => this.#index.get(key)?.articles === articles && this.#index.delete(key));
    return articles;
  }

  async #readArticles(website: string, locale: string, signal?: AbortSignal): Promise<HelpdeskArticle[]> {
    const visible: { path: string; title: string }[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const entries = await this.tree(website, locale, 'articles', page, {}, { signal });
      if (entries.length === 0) break;
      collectVisible(entries, '', visible);
    }
    const urls = new Map<string, string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const pages = await this.pages(website, locale, 'articles', page, { signal });
      if (pages.length === 0) break;
      for (const p of pages) if (p.tree_path && p.url) urls.set(p.tree_path, p.url);
    }
    const listed = visible.filter((a) => urls.has(a.path)).slice(0, MAX_ARTICLES);
    const out: HelpdeskArticle[] = new Array(listed.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < listed.length; i = next++) {
        const a = listed[i]!;
        out[i] = { locale, path: a.path, title: a.title, url: urls.get(a.path)!, content: await this.content(website, locale, 'articles', a.path, { signal }) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONTENT_CONCURRENCY, listed.length) }, worker));
    return out;
  }

  /** A page (1-based) of the helpdesk's locales. */
  locales(website: string, page = 1, options?: { signal?: AbortSignal }): Promise<HelpdeskLocale[]> {
    return this.call.data(LocaleList, { method: 'GET', segments: ['website', website, 'helpdesk', 'locales', checkPage(page)] }, options);
  }

  /** A page of the content tree of one locale and type: groups with their `children`, each with its state. */
  tree(website: string, locale: string, type: HelpdeskContentType, page = 1, query: HelpdeskTreeQuery = {}, options?: { signal?: AbortSignal }): Promise<HelpdeskTreeEntry[]> {
    return this.call.data(
      TreeList,
      { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'list', locale, type, checkPage(page)], query: query as Record<string, QueryValue> },
      options,
    );
  }

  /** One tree path's markdown. */
  async content(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<string> {
    return (await this.call.data(HelpdeskTreeContent, { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'content', locale, type, ...treePathSegments(path)] }, options)).content;
  }

  metadata(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<HelpdeskTreeMetadata> {
    return this.call.data(HelpdeskTreeMetadata, { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'metadata', locale, type, ...treePathSegments(path)] }, options);
  }

  /** The public page of a tree path: its title and URL. */
  page(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<z.infer<typeof HelpdeskTreePage>> {
    return this.call.data(HelpdeskTreePage, { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'page', locale, type, ...treePathSegments(path)] }, options);
  }

  /** A page (1-based) of the public pages of one locale and type: title, tree path, URL. */
  pages(website: string, locale: string, type: HelpdeskContentType, page = 1, options?: { signal?: AbortSignal }): Promise<HelpdeskPage[]> {
    return this.call.data(PageList, { method: 'GET', segments: ['website', website, 'helpdesk', 'page', 'list', locale, type, checkPage(page)] }, options);
  }
}

/** Leaves of the tree that are published and not hidden, a hidden group hiding all below it. */
function collectVisible(entries: readonly HelpdeskTreeEntry[], prefix: string, out: { path: string; title: string }[]): void {
  for (const entry of entries) {
    if (!entry.slug || entry.state?.hidden === true || entry.state?.published === false) continue;
    const path = prefix ? `${prefix}/${entry.slug}` : entry.slug;
    if (entry.children) collectVisible(entry.children, path, out);
    else if (entry.state?.published === true) out.push({ path, title: entry.title ?? entry.slug });
  }
}

function checkPage(page: number): number {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page must be an integer ≥ 1, got ${page}`);
  return page;
}
