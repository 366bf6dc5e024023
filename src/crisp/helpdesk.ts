// The Helpdesk (knowledge base) reads of node-crisp-api 11.x `WebsiteHelpdesk`: locales, the
// content tree (searchable by title), one tree path's markdown, metadata and public page, and the
// list of public pages. Writes are left out: the product only reads the helpdesk.
import type { z } from 'zod';
import { CrispError } from './errors.js';
import { LocaleChoice, matchLocale, prepareArticles, rankArticles, type PreparedArticles } from './helpdesk-rank.js';
import { checkPage, type QueryValue, type RequestSpec } from './http.js';
import type { Wire, WireSchemaName } from './client.js';
import type { HelpdeskLocale, HelpdeskPage, HelpdeskTreeEntry, HelpdeskTreeMetadata, HelpdeskTreePage } from './schemas.js';
import type { HelpdeskContentType } from './vocabulary.js';

/** What the helpdesk reads need of the client's request layer (validated `data`). */
export interface HelpdeskCaller {
  data<K extends WireSchemaName>(schema: K, spec: RequestSpec, options?: { signal?: AbortSignal; deadlineMs?: number }): Promise<z.infer<Wire[K]>>;
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
  /** The locale that answered (see LocaleChoice); '' when the helpdesk has no locale. */
  locale: string;
  /** Best first, at most `limit`. */
  articles: (HelpdeskArticle & { score: number; excerpt: string })[];
  /** How many more articles matched beyond `limit`. */
  more: number;
}

export interface HelpdeskSearchOptions {
  /** Default: the helpdesk's first locale. `FR` and `fr-CA` find `fr`. */
  locale?: string;
  /** Default 5. */
  limit?: number;
  signal?: AbortSignal;
}

/**
 * How long a locale's listing (titles, urls, published and hidden states) is used before the next
 * search reads it again, in the background: the answer meanwhile comes from the last listing.
 */
export const LISTING_TTL_MS = 2 * 60_000;
/** How long an article's text is kept when its title has not changed; a new or retitled article's text is read at once. */
export const TEXT_TTL_MS = 30 * 60_000;
/**
 * A listing of many pages is kept longer: 5 s per page it took, so that re-reading listings costs
 * at most 12 calls a minute whatever the helpdesk's size (a 5000-article locale: ~22 minutes).
 */
const LISTING_MS_PER_PAGE = 5_000;
/** After a failed refresh the last listing stays in use this long before the next attempt. */
const RETRY_AFTER_FAILURE_MS = 30_000;
/** Most pages read per listing (of ~20 entries each at the sandbox; Crisp's page size is not documented). */
const MAX_LISTING_PAGES = 250;
/** Most articles per locale whose text is read; the others are searched on their titles. */
export const MAX_TEXTS = 500;
const CONTENT_CONCURRENCY = 4;

/**
 * A tree path (`billing/refund-policy`) travels as URL path segments, one per part, the way the
 * official client joins it into the URL unencoded; each part is still encoded on its own here.
 */
export function treePathSegments(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) throw new RangeError('a helpdesk tree path needs at least one part');
  return parts;
}

/** One locale's search index: the last good listing, and the texts kept across listings. */
interface LocaleIndex {
  articles?: HelpdeskArticle[];
  /** `articles` with their words counted, once per listing rather than once per search. */
  prepared?: PreparedArticles<HelpdeskArticle>;
  readAt: number;
  /** How long this listing is used: LISTING_TTL_MS, or longer for a listing of many pages (LISTING_MS_PER_PAGE). */
  keepFor: number;
  retryAt: number;
  refreshing?: Promise<HelpdeskArticle[]>;
  texts: Map<string, { title: string; content: string; at: number }>;
}

export class HelpdeskApi {
  readonly #index = new Map<string, LocaleIndex>();
  readonly #locales = new Map<string, { at: number; codes: string[] }>();

  constructor(
    private readonly call: HelpdeskCaller,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The published, visible articles best matching `question`, ranked on their titles and their
   * text (Crisp's `search_title` sees titles only). A locale asked for is searched first, and the
   * others only when nothing there matches; without one (or one the helpdesk lacks, and no locale
   * of its language), the locale whose best article has most of the question's words answers, the
   * helpdesk's first on a tie, so a question finds the articles of its own language. This is the
   * one search the tools and scenarios call.
   */
  async search(website: string, question: string, options: HelpdeskSearchOptions = {}): Promise<HelpdeskSearchResult> {
    const limit = options.limit ?? 5;
    const available = await this.localeCodes(website, options.signal, options.locale);
    if (available.length === 0) return { locale: '', articles: [], more: 0 };
    const choice = new LocaleChoice<HelpdeskArticle>(available, options.locale);
    for (const locale of choice.order) if (choice.offer(locale, rankArticles(question, await this.#prepared(website, locale, options.signal)))) break;
    if (!choice.best) return { locale: choice.order[0]!, articles: [], more: 0 };
    const { locale, ranked } = choice.best;
    return { locale, articles: ranked.slice(0, limit).map((r) => ({ ...r.article, score: r.score, excerpt: r.excerpt })), more: Math.max(0, ranked.length - limit) };
  }

  /**
   * Every locale code of the helpdesk, in its order (all pages; kept as long as a listing, but read
   * again for a `wanted` locale they lack, which may have been added since).
   */
  async localeCodes(website: string, signal?: AbortSignal, wanted?: string): Promise<string[]> {
    const kept = this.#locales.get(website);
    if (kept && this.now() - kept.at < LISTING_TTL_MS && !(wanted && !matchLocale(wanted, kept.codes))) return kept.codes;
    const at = this.now();
    const codes: string[] = [];
    for (let page = 1; page <= MAX_LISTING_PAGES; page++) {
      const list = await this.locales(website, page, { signal });
      if (list.length === 0) break;
      codes.push(...list.map((l) => l.locale));
    }
    this.#locales.set(website, { at, codes });
    return codes;
  }

  /** The helpdesk locale `wanted` stands for (see matchLocale), or the helpdesk's first without one; undefined when it has none. */
  async resolveLocale(website: string, wanted?: string, signal?: AbortSignal): Promise<string | undefined> {
    const available = await this.localeCodes(website, signal, wanted);
    return (wanted && matchLocale(wanted, available)) || available[0];
  }

  /**
   * Every published, visible article of a locale with its public URL and markdown, from the index:
   * read on first use; after LISTING_TTL_MS the listing is read again in the background while the
   * last one answers, and a failed read keeps the last one.
   */
  async articles(website: string, locale: string, signal?: AbortSignal): Promise<HelpdeskArticle[]> {
    const key = `${website}\u0000${locale}`;
    let index = this.#index.get(key);
    if (!index) this.#index.set(key, (index = { readAt: 0, keepFor: LISTING_TTL_MS, retryAt: 0, texts: new Map() }));
    if (index.articles) {
      const now = this.now();
      if (now - index.readAt >= index.keepFor && now >= index.retryAt && !index.refreshing) this.#refresh(website, locale, index).catch(() => undefined);
      return index.articles;
    }
    return abortable(index.refreshing ?? this.#refresh(website, locale, index), signal);
  }

  async #prepared(website: string, locale: string, signal?: AbortSignal): Promise<PreparedArticles<HelpdeskArticle>> {
    await this.articles(website, locale, signal);
    return this.#index.get(`${website}\u0000${locale}`)!.prepared!;
  }

  /**
   * One published, visible article read now (not from the index, so an edit shows at once):
   * its metadata (state, title), markdown and public page. Undefined when it is not there, a
   * draft or hidden.
   */
  async article(website: string, locale: string, path: string, signal?: AbortSignal): Promise<HelpdeskArticle | undefined> {
    const options = { signal };
    try {
      const [metadata, content, page] = await Promise.all([
        this.metadata(website, locale, 'articles', path, options),
        this.content(website, locale, 'articles', path, options),
        this.page(website, locale, 'articles', path, options),
      ]);
      if (metadata.state?.published !== true || metadata.state.hidden === true) return undefined;
      return { locale, path: treePathSegments(path).join('/'), title: metadata.title ?? page.title ?? path, url: page.url, content };
    } catch (error) {
      if ((error as { code?: string }).code === 'crisp_not_found') return undefined;
      throw error;
    }
  }

  // The refresh runs on its own, not on a caller's signal: another search may be waiting on it.
  #refresh(website: string, locale: string, index: LocaleIndex): Promise<HelpdeskArticle[]> {
    const started = this.now();
    const refreshing = this.#readArticles(website, locale, index).then(
      ({ articles, pages }) => {
        Object.assign(index, { articles, prepared: prepareArticles(articles), readAt: started, keepFor: Math.max(LISTING_TTL_MS, pages * LISTING_MS_PER_PAGE), refreshing: undefined });
        return articles;
      },
      (error: unknown) => {
        Object.assign(index, { retryAt: this.now() + RETRY_AFTER_FAILURE_MS, refreshing: undefined });
        throw error;
      },
    );
    index.refreshing = refreshing;
    return refreshing;
  }

  async #readArticles(website: string, locale: string, index: LocaleIndex): Promise<{ articles: HelpdeskArticle[]; pages: number }> {
    const visible: { path: string; title: string }[] = [];
    let treePages = 0;
    let pagePages = 0;
    for (let page = 1; page <= MAX_LISTING_PAGES; page++) {
      const entries = await this.tree(website, locale, 'articles', page);
      treePages++;
      if (entries.length === 0) break;
      collectVisible(entries, '', visible);
    }
    const urls = new Map<string, string>();
    for (let page = 1; page <= MAX_LISTING_PAGES; page++) {
      const pages = await this.pages(website, locale, 'articles', page);
      pagePages++;
      if (pages.length === 0) break;
      for (const p of pages) if (p.tree_path && p.url) urls.set(p.tree_path, p.url);
    }
    const listed = visible.filter((a) => urls.has(a.path));
    const now = this.now();
    const stale = listed.slice(0, MAX_TEXTS).filter((a) => {
      const kept = index.texts.get(a.path);
      return !kept || kept.title !== a.title || now - kept.at >= TEXT_TTL_MS;
    });
    const gone = new Set<string>();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < stale.length; i = next++) {
        const a = stale[i]!;
        try {
          // Texts read before a failure stay: the next attempt reads only what is missing.
          index.texts.set(a.path, { title: a.title, content: await this.content(website, locale, 'articles', a.path), at: now });
        } catch (error) {
          // Listed, then removed before its text was read: it is gone, not a failed search.
          if ((error as { code?: string }).code !== 'crisp_not_found') throw error;
          gone.add(a.path);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONTENT_CONCURRENCY, stale.length) }, worker));
    const paths = new Set(listed.map((a) => a.path));
    for (const path of index.texts.keys()) if (!paths.has(path) || gone.has(path)) index.texts.delete(path);
    return {
      articles: listed.filter((a) => !gone.has(a.path)).map((a) => ({ locale, path: a.path, title: a.title, url: urls.get(a.path)!, content: index.texts.get(a.path)?.content ?? '' })),
      pages: treePages + pagePages,
    };
  }

  /** A page (1-based) of the helpdesk's locales. */
  locales(website: string, page = 1, options?: { signal?: AbortSignal }): Promise<HelpdeskLocale[]> {
    return this.call.data('HelpdeskLocaleList', { method: 'GET', segments: ['website', website, 'helpdesk', 'locales', checkPage(page)] }, options);
  }

  /** A page of the content tree of one locale and type: groups with their `children`, each with its state. */
  tree(website: string, locale: string, type: HelpdeskContentType, page = 1, query: HelpdeskTreeQuery = {}, options?: { signal?: AbortSignal }): Promise<HelpdeskTreeEntry[]> {
    return this.call.data(
      'HelpdeskTreeList',
      { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'list', locale, type, checkPage(page)], query: query as Record<string, QueryValue> },
      options,
    );
  }

  /** One tree path's markdown. */
  async content(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<string> {
    return (await this.call.data('HelpdeskTreeContent', { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'content', locale, type, ...treePathSegments(path)] }, options)).content;
  }

  metadata(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<HelpdeskTreeMetadata> {
    return this.call.data('HelpdeskTreeMetadata', { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'metadata', locale, type, ...treePathSegments(path)] }, options);
  }

  /** The public page of a tree path: its title and URL. */
  page(website: string, locale: string, type: HelpdeskContentType, path: string, options?: { signal?: AbortSignal }): Promise<HelpdeskTreePage> {
    return this.call.data('HelpdeskTreePage', { method: 'GET', segments: ['website', website, 'helpdesk', 'tree', 'page', locale, type, ...treePathSegments(path)] }, options);
  }

  /** A page (1-based) of the public pages of one locale and type: title, tree path, URL. */
  pages(website: string, locale: string, type: HelpdeskContentType, page = 1, options?: { signal?: AbortSignal }): Promise<HelpdeskPage[]> {
    return this.call.data('HelpdeskPageList', { method: 'GET', segments: ['website', website, 'helpdesk', 'page', 'list', locale, type, checkPage(page)] }, options);
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

/** `promise`, or an abort error as soon as `signal` aborts (the work itself goes on for whoever else waits on it). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  const aborted = () => new CrispError({ code: 'crisp_aborted', message: 'the helpdesk search was cancelled' });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

