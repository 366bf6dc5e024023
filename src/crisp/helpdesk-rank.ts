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
  /** The sentence of the article that shares the most words with the question, and those after it up to 240 characters (markdown removed). */
  excerpt: string;
  /** The share of the question's words (as written, not as taken for a misspelling) the article has: which language a question is in. */
  coverage: number;
}

const STEM = 5;
const EXCERPT_CHARS = 240;
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
  return foldedWords(text).map((word) => word.slice(0, STEM));
}

/** The words of `terms`, whole (not cut to the stem): what a misspelling is measured against. */
function foldedWords(text: string): string[] {
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
  if ((word.length > 1 || IDEOGRAPH.test(word)) && !STOPWORDS.has(word)) out.push(word);
}

/** Optimal string alignment distance (a swap of two neighbours is one edit), or `max + 1` once it exceeds `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    [before, previous] = [previous, row];
  }
  return previous[b.length]!;
}

/** A misspelt word's weight against the word it was taken for. */
const MISSPELT = 0.7;

/**
 * The question's stems with their weights: each word of the question, and, for a word of four
 * letters or more that no article has, the articles' words one edit away (two from eight letters):
 * "refnud" and "pasword" still find refund and password.
 */
function wantedTerms(question: string, vocabulary: ReadonlySet<string>, known: (stem: string) => boolean): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const word of foldedWords(question)) {
    const stem = word.slice(0, STEM);
    wanted.set(stem, 1);
    if (known(stem) || word.length < 4 || UNSPACED.test(word)) continue;
    const max = word.length >= 8 ? 2 : 1;
    for (const candidate of vocabulary) {
      const near = candidate.slice(0, STEM);
      if (!wanted.has(near) && editDistance(word, candidate, max) <= max) wanted.set(near, MISSPELT);
    }
  }
  return wanted;
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

/** Articles with their words counted once, so a search over them counts only the question's. */
export interface PreparedArticles<A extends RankableArticle = RankableArticle> {
  articles: readonly A[];
  fields: { title: Map<string, number>; description: Map<string, number>; content: Map<string, number> }[];
  /** Every word of the articles, whole: what a misspelt word is matched against. */
  vocabulary: Set<string>;
  stems: Set<string>;
}

export function prepareArticles<A extends RankableArticle>(articles: readonly A[]): PreparedArticles<A> {
  const vocabulary = new Set<string>();
  const fieldOf = (text: string | undefined) => {
    const list = foldedWords(text ?? '');
    for (const word of list) vocabulary.add(word);
    return counts(list.map((word) => word.slice(0, STEM)));
  };
  const fields = articles.map((a) => ({ title: fieldOf(a.title), description: fieldOf(a.description), content: fieldOf(a.content) }));
  return { articles, fields, vocabulary, stems: new Set([...vocabulary].map((word) => word.slice(0, STEM))) };
}

/** Articles sharing words with `question`, best first; those with none, or far below the best, are left out. */
export function rankArticles<A extends RankableArticle>(question: string, given: readonly A[] | PreparedArticles<A>): RankedArticle<A>[] {
  if (terms(question).length === 0) return [];
  const { articles, fields, vocabulary, stems } = 'fields' in given ? given : prepareArticles(given);
  const wanted = wantedTerms(question, vocabulary, (stem) => stems.has(stem));
  const asked = [...wanted.values()].filter((weight) => weight === 1).length;
  const documentFrequency = new Map<string, number>();
  for (const f of fields) for (const t of wanted.keys()) if (f.title.has(t) || f.description.has(t) || f.content.has(t)) documentFrequency.set(t, (documentFrequency.get(t) ?? 0) + 1);

  const n = articles.length;
  const ranked: RankedArticle<A>[] = [];
  articles.forEach((article, i) => {
    const f = fields[i]!;
    let score = 0;
    let found = 0;
    for (const [t, weight] of wanted) {
      const df = documentFrequency.get(t) ?? 0;
      if (df === 0) continue;
      if (weight === 1 && (f.title.has(t) || f.description.has(t) || f.content.has(t))) found++;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (const field of ['title', 'description', 'content'] as const) {
        const tf = f[field].get(t) ?? 0;
        if (tf > 0) score += weight * idf * FIELD_WEIGHTS[field] * (tf / (tf + 1.2));
      }
    }
    if (score > 0) ranked.push({ article, score: Math.round(score * 1000) / 1000, excerpt: excerptFor(article, [...wanted.keys()]), coverage: found / asked });
  });
  ranked.sort((a, b) => b.score - a.score || a.article.title.localeCompare(b.article.title));
  const floor = (ranked[0]?.score ?? 0) * RELEVANT_SHARE;
  return ranked.filter((r) => r.score >= floor);
}

/**
 * The sentence with most of the question's words (without one: the description, else the text's
 * first sentence), and the sentences after it while they fit in EXCERPT_CHARS: a sentence alone is
 * often a question ("Changed your mind?") or a heading's echo, not the answer.
 */
function excerptFor(article: RankableArticle, wanted: readonly string[]): string {
  const sentences = plainSentences(article.content ?? '');
  let from = 0;
  let bestHits = 0;
  sentences.forEach((sentence, i) => {
    const own = new Set(terms(sentence));
    const hits = wanted.filter((t) => own.has(t)).length;
    if (hits > bestHits) [from, bestHits] = [i, hits];
  });
  const description = article.description?.trim();
  if (bestHits === 0 && description) return cut(description);
  let excerpt = sentences[from] ?? '';
  for (const next of sentences.slice(from + 1)) {
    if (excerpt.length + 1 + next.length > EXCERPT_CHARS) break;
    excerpt += ` ${next}`;
  }
  return cut(excerpt);
}

function cut(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, cutPoint(text, EXCERPT_CHARS - 1))}…` : text;
}

/**
 * The locale of a helpdesk's list that `wanted` names: the same code whatever its case, else its
 * language alone (`fr-CA` → `fr`), else a region of that language (`pt` → `pt-BR`).
 */
export function matchLocale(wanted: string, available: readonly string[]): string | undefined {
  const norm = (l: string) => l.toLowerCase().replace(/_/g, '-');
  const w = norm(wanted);
  const language = w.split('-')[0]!;
  return available.find((l) => norm(l) === w) ?? available.find((l) => norm(l) === language) ?? available.find((l) => norm(l).split('-')[0] === language);
}

/**
 * Which locale answers a question, offered one locale's ranking at a time in `order`: a locale
 * asked for (`FR`, `fr-CA` find `fr`) comes first and is kept when it answers, the others tried
 * only when it does not; without one (or one the helpdesk lacks), the locale whose best article
 * has most of the question's words, the first in the helpdesk's order on a tie. Shared by the
 * Crisp helpdesk search and the local helpdesk file of `scenario chat`.
 */
export class LocaleChoice<A extends RankableArticle> {
  readonly order: string[];
  readonly #asked: boolean;
  best: { locale: string; ranked: RankedArticle<A>[] } | undefined;

  constructor(available: readonly string[], wanted?: string | null) {
    const asked = wanted ? matchLocale(wanted, available) : undefined;
    this.#asked = asked !== undefined;
    this.order = asked ? [asked, ...available.filter((l) => l !== asked)] : [...available];
  }

  /** Takes one locale's ranking; true when no locale after it can answer better. */
  offer(locale: string, ranked: RankedArticle<A>[]): boolean {
    if (ranked.length === 0) return false;
    if (!this.best || ranked[0]!.coverage > this.best.ranked[0]!.coverage) this.best = { locale, ranked };
    return this.#asked || this.best.ranked[0]!.coverage === 1;
  }
}
