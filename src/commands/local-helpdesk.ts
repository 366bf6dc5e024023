// A helpdesk read from a local JSON file, for `crisp-mcp scenario chat --helpdesk FILE`: the
// `articles` blocks of a scenario can be tried without a Crisp account. It ranks the articles the
// way the Crisp client's helpdesk search does (src/crisp/helpdesk-rank.ts), on title and text.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { LocaleChoice, prepareArticles, rankArticles, type RankedArticle } from '../crisp/helpdesk-rank.js';

const LocalArticle = z.strictObject({
  title: z.string().min(1),
  url: z.url({ protocol: /^https?$/ }),
  locale: z.string().min(1).optional(),
  description: z.string().optional(),
  content: z.string().optional(),
});
const LocalHelpdeskFile = z.array(LocalArticle).min(1);
type LocalArticle = z.infer<typeof LocalArticle>;

export interface LocalHelpdesk {
  search(question: string, options: { locale?: string | null; limit: number }): Array<{ title: string; url: string }>;
}

/** Reads a helpdesk file: a list like [{"title": "Refund policy", "url": "https://…", "content": "…markdown…", "locale": "en"}]. */
export async function readLocalHelpdesk(file: string): Promise<LocalHelpdesk> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`--helpdesk ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const parsed = LocalHelpdeskFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`--helpdesk ${file}: ${issue.path.length ? issue.path.join('.') : '(file)'}: ${issue.message} (a list like [{"title": "Refund policy", "url": "https://example.com/refunds", "content": "…"}])`);
  }
  return localHelpdesk(parsed.data);
}

export function localHelpdesk(articles: readonly LocalArticle[]): LocalHelpdesk {
  const indexed = articles.map((a, i) => ({ ...a, path: String(i) }));
  const locales = [...new Set(indexed.flatMap((a) => (a.locale === undefined ? [] : [a.locale])))];
  // Articles without a locale are in every locale.
  const prepared = new Map(locales.map((l) => [l, prepareArticles(indexed.filter((a) => a.locale === undefined || a.locale === l))]));
  const links = (ranked: RankedArticle<(typeof indexed)[number]>[], limit: number) => ranked.slice(0, limit).map((r) => ({ title: r.article.title, url: r.article.url }));
  return {
    search(question, { locale, limit }) {
      if (locales.length === 0) return links(rankArticles(question, indexed), limit);
      // Like the Crisp helpdesk search: the locale asked for, else the one the question is written in.
      const choice = new LocaleChoice<(typeof indexed)[number]>(locales, locale);
      for (const l of choice.order) if (choice.offer(l, rankArticles(question, prepared.get(l)!))) break;
      return links(choice.best?.ranked ?? [], limit);
    },
  };
}
