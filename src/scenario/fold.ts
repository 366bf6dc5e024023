// How the runner compares what a visitor typed with what a scenario's author wrote, in any script:
// the one place that decides which differences do not count. Pure.

/** Letters whose accents do not count: visitors of these scripts often type without them. */
const ACCENTED = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{Mn}+/gu;
/** Skin tones and presentation selectors: 👍🏽 is 👍, ❤️ is ❤ (keyboards add or leave them as they like). */
const EMOJI_VARIANT = /[\p{Emoji_Modifier}\p{Variation_Selector}]/gu;
const SPACES = /\s+/g;

/**
 * The comparison key of `contains`, `exact`, a choice's labels and values and the string conditions:
 * trimmed, inner spaces collapsed, case folded, compatibility forms unified (full-width ｙｅｓ is yes,
 * NFC and NFD café are one word); dropped are the accents of Latin, Greek and Cyrillic letters
 * (Café, CAFE and cafe are one word; İstanbul, ISTANBUL and ıstanbul too) and an emoji's skin tone
 * and presentation selector (👍🏽 is 👍). Marks that are the vowels or tones of other scripts
 * (Hindi, Thai…) stay: dropping them would join different words.
 */
export function normalize(text: string): string {
  // Most labels and answers are ASCII with single spaces: then only the case can change.
  let upper = false;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x09 && c <= 0x0d) || (c === 0x20 && (i === 0 || i === n - 1 || text.charCodeAt(i + 1) === 0x20))) return fold(text);
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? text.toLowerCase() : text;
}

function fold(text: string): string {
  // Upper then lower case is a full case folding: ß and SS meet at ss, ς and Σ at σ, ı and I at i.
  // Decomposed first, so that the accents come apart from their letters and can be dropped;
  // composed again, so that what stays (Hangul, kana with their marks) compares as one form.
  return text.normalize('NFKD').toUpperCase().toLowerCase().replace(ACCENTED, '$1').replace(EMOJI_VARIANT, '').normalize('NFC').trim().replace(SPACES, ' ');
}

/** Emoji (with their joiners, keycaps, flags and tags), symbols and punctuation: what `words` drops. */
const NOT_WORDS = /[\p{Extended_Pictographic}\p{Regional_Indicator}\p{S}\p{P}\u{e0020}-\u{e007f}]|\u200d|\u20e3/gu;

/**
 * A normalized text's words alone: emoji, symbols and punctuation dropped, spaces collapsed
 * (`refund 💸` and `💸 Refund!` are `refund`). What a choice is matched by when the visitor types
 * its label without the emoji; '' when nothing but those is left.
 */
export function words(normalized: string): string {
  return normalized.replace(NOT_WORDS, ' ').trim().replace(SPACES, ' ');
}

/**
 * Visitor text as regexes and validations see it: compatibility forms unified (full-width letters
 * and digits, ligatures), so an author's `^[A-Z]{3}-\d+$` accepts what a Japanese keyboard types,
 * and NFD text matches a pattern written in NFC.
 */
export function compatible(text: string): string {
  for (let i = 0, n = text.length; i < n; i++) if (text.charCodeAt(i) >= 0x80) return text.normalize('NFKC');
  return text;
}

const DIGIT = /\p{Nd}/u;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;

/** Digits of any script (Arabic-Indic ٣, Devanagari ३, full-width ３…) as ASCII digits. */
export function asciiDigits(text: string): string {
  return text.replace(NON_ASCII_DIGIT, (d) => String(digitValue(d.codePointAt(0)!)));
}

/** Unicode lays each script's decimal digits out as one run from 0 to 9, so a digit is its distance from the run's start. */
function digitValue(cp: number): number {
  let start = cp;
  while (DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

// Made on first cut: a segmenter loads ICU's break rules, which most runs never need.
let graphemes: Intl.Segmenter | undefined;

/**
 * At most `max` UTF-16 units of `text`, cut between two user-perceived characters: never inside a
 * surrogate pair (a lone surrogate breaks JSON consumers), an emoji sequence (👨‍👩‍👧, 🇫🇷) or a letter
 * with its marks. The rule of src/text-cut.ts, which scenario/ may not import (it imports nothing of ours).
 */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = 0;
  // Segments come lazily: the walk stops at the cut, however long the text.
  for (const { index, segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text)) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}
