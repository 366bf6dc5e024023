// A helpdesk read from a local JSON file, for `crisp-mcp scenario chat --helpdesk FILE`: the
// `articles` blocks of a scenario can be tried without a Crisp account. It ranks the articles the
// way the Crisp client's helpdesk search does (src/crisp/helpdesk-rank.ts), on title and text.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { rankArticles } from '../crisp/helpdesk-rank.js';

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
  const firstLocale = articles.find((a) => a.locale !== undefined)?.locale;
  const indexed = articles.map((a, i) => ({ ...a, path: String(i) }));
  return {
    search(question, { locale, limit }) {
      // Like Crisp: one locale at a time, the helpdesk's first by default; articles without one are in every locale.
      const wanted = locale ?? firstLocale;
      const pool = indexed.filter((a) => a.locale === undefined || wanted === undefined || a.locale === wanted);
      return rankArticles(question, pool)
        .slice(0, limit)
        .map((r) => ({ title: r.article.title, url: r.article.url }));
    },
  };
}
