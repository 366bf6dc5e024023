// Ranks helpdesk articles for a question, in memory: Crisp's own search covers titles only, so a
// question worded unlike a title ("I want my money back" for "Refund policy") needs the text too.
// Pure: data in, ranked data out. BM25-like weights per field, accents folded, and every word cut
// to its first five letters, which joins most forms of a word in English and French
// (refund/refunds/refunded, rembourser/remboursement, delete/deletion). Chinese, Japanese, Thai and
// the other scripts written without spaces are split into words by the platform's dictionaries.
import { cutPoint } from '../text-cut.js';

export interface RankableArticle {
  path: string;
  title: string;
  description?: string;
  content?: string;
}

export interface RankedArticle<A extends RankableArticle = RankableArticle> {
  article: A;
  /** Higher is better; 0 is no word in common. Comparable only within one ranking. */
  score: number;
  /** The sentence of the article that shares the most words with the question (markdown removed). */
  excerpt: string;
}

const STEM = 5;
const EXCERPT_CHARS = 160;
const FIELD_WEIGHTS = { title: 3, description: 1.5, content: 1 } as const;

// Words that carry no topic in a support question, in the two seeded languages.
const STOPWORDS = new Set(
  (
    'a an and are as at be but by can do does for from get has have how i if in is it its me my no not of on or our please so that the their them there this to was we what when where which who why will with would you your ' +
    'want need help hello hi thanks thank could should about any go get got just also ' +
    'au aux avec ce ces comment dans de des du elle en est et il je la le les leur ma mais me mes mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes ton tu un une vos votre vous ' +
    'bonjour merci veux voudrais faire peux puis est-ce'
  ).split(' '),
);

/** Scripts written without spaces between words: a run of them is many words. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const IDEOGRAPH = /^\p{Script=Han}$/u;
// Made on first use: a segmenter loads ICU's break rules (~13 ms, ~2.5 MiB here), which a start-up
// that never meets Chinese, Japanese or Thai text should not pay.
let words: Intl.Segmenter | undefined;

/** Accents folded, lower case, cut to the stem length; stop words and one-letter words (but a Chinese character, a word of its own) dropped. */
export function terms(text: string): string[] {
  const out: string[] = [];
  // NFKC first: full-width letters and digits, and half-width kana, are the ordinary ones.
  for (const run of text.normalize('NFKC').split(/[^\p{L}\p{M}\p{N}]+/u)) {
    if (run === '') continue;
    if (!UNSPACED.test(run)) add(run, out);
    else for (const piece of (words ??= new Intl.Segmenter(undefined, { granularity: 'word' })).segment(run)) if (piece.isWordLike) add(piece.segment, out);
  }
  return out;
}

function add(raw: string, out: string[]): void {
  const word = raw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  if ((word.length > 1 || IDEOGRAPH.test(word)) && !STOPWORDS.has(word)) out.push(word.slice(0, STEM));
}

/** Markdown to plain sentences: headings dropped (the title says them), links keep their text, markup characters go. */
export function plainSentences(markdown: string): string[] {
  const plain = markdown
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`~]+/g, '')
    .replace(/[>|]+/g, ' ');
  return plain
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0);
}

function counts(list: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const t of list) map.set(t, (map.get(t) ?? 0) + 1);
  return map;
}

/** Below this share of the best score an article is noise (one common word in common), and left out. */
const RELEVANT_SHARE = 0.2;

/** Articles sharing words with `question`, best first; those with none, or far below the best, are left out. */
export function rankArticles<A extends RankableArticle>(question: string, articles: readonly A[]): RankedArticle<A>[] {
  const wanted = [...new Set(terms(question))];
  if (wanted.length === 0) return [];
  const fields = articles.map((a) => ({ title: counts(terms(a.title)), description: counts(terms(a.description ?? '')), content: counts(terms(a.content ?? '')) }));
  const documentFrequency = new Map<string, number>();
  for (const f of fields) for (const t of wanted) if (f.title.has(t) || f.description.has(t) || f.content.has(t)) documentFrequency.set(t, (documentFrequency.get(t) ?? 0) + 1);

  const n = articles.length;
  const ranked: RankedArticle<A>[] = [];
  articles.forEach((article, i) => {
    const f = fields[i]!;
    let score = 0;
    for (const t of wanted) {
      const df = documentFrequency.get(t) ?? 0;
      if (df === 0) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (const field of ['title', 'description', 'content'] as const) {
        const tf = f[field].get(t) ?? 0;
        if (tf > 0) score += idf * FIELD_WEIGHTS[field] * (tf / (tf + 1.2));
      }
    }
    if (score > 0) ranked.push({ article, score: Math.round(score * 1000) / 1000, excerpt: excerptFor(article, wanted) });
  });
  ranked.sort((a, b) => b.score - a.score || a.article.title.localeCompare(b.article.title));
  const floor = (ranked[0]?.score ?? 0) * RELEVANT_SHARE;
  return ranked.filter((r) => r.score >= floor);
}

function excerptFor(article: RankableArticle, wanted: readonly string[]): string {
  const sentences = plainSentences(article.content ?? '');
  let best = article.description?.trim() || sentences[0] || '';
  let bestHits = 0;
  for (const sentence of sentences) {
    const own = new Set(terms(sentence));
    const hits = wanted.filter((t) => own.has(t)).length;
    if (hits > bestHits) [best, bestHits] = [sentence, hits];
  }
  return best.length > EXCERPT_CHARS ? `${best.slice(0, cutPoint(best, EXCERPT_CHARS - 1))}…` : best;
}
