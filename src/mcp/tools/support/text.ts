// Visitor-written text is untrusted data. Before it reaches a model it loses the characters used
// to hide instructions — zero-width and other invisible format characters, BiDi overrides, Unicode
// tag characters, invisible variation selectors — and long bodies are cut with a visible marker.
import { characterCount, cutPoint } from '../../../text-cut.js';

// The joiners (U+200C ZWNJ, U+200D ZWJ) are handled apart (JOINER_OUT_OF_PLACE), and the emoji
// variation selector (U+FE0F) stays: emoji sequences need it. Tag characters are handled apart too.
const HIDDEN = /[\u00AD\u061C\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]|[\u{E0100}-\u{E01EF}]/gu;
// A joiner is writing only between two visible characters: ZWNJ inside a Persian word (می‌خواهم) or an
// Indic one, ZWJ inside an emoji sequence (👩🏽‍💻, 🏳️‍🌈) or an Indic conjunct. Anywhere else (a run
// of them, at an edge, beside a space) it can only be hiding something, and goes.
const JOINER_OUT_OF_PLACE = /(?<![\p{L}\p{M}\p{N}\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F])[\u200C\u200D]|[\u200C\u200D](?![\p{L}\p{M}\p{N}\p{Extended_Pictographic}])/gu;
// Tag characters spell hidden ASCII, except in the one place they are writing: a subdivision flag
// (🏴 then a region code in tags then CANCEL TAG, e.g. England's), which is kept whole.
const TAGS = /(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{2,6}\u{E007F})|[\u{E0000}-\u{E007F}]/gu;
// C0/C1 controls other than tab and newline: matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

// Printable ASCII, tab and newline: nothing in it for the passes below to remove or mend.
const ALL_PLAIN = /^[\t\n\x20-\x7E]*$/;

export function sanitize(text: string): string {
  // Most names, emails, ids and messages are plain ASCII: one test, where the five passes cost ~2.5× as much.
  if (ALL_PLAIN.test(text)) return text;
  // Well-formed first: half of a surrogate pair becomes U+FFFD, so no JSON consumer meets a lone one.
  return text.toWellFormed().replace(HIDDEN, '').replace(JOINER_OUT_OF_PLACE, '').replace(TAGS, '$1').replace(CONTROL, '');
}

/**
 * Cuts `text` to at most `max` UTF-16 units, saying how many characters were left out as a reader
 * counts them (an emoji sequence is one); the cut falls between two of them (see cutPoint).
 */
export function truncate(text: string, max: number): string {
  const end = cutPoint(text, max);
  return end === text.length ? text : `${text.slice(0, end)}… [cut: ${characterCount(text.slice(end))} more characters]`;
}

export function clean(text: string | undefined, max: number): string {
  return truncate(sanitize(text ?? ''), max);
}

/** Most custom-data keys a result shows: the visitor's browser can set any number of them. */
export const DATA_KEYS_SHOWN = 50;

/**
 * Custom data as a result shows it: keys and string values cleaned, values cut at `max`, at most
 * DATA_KEYS_SHOWN keys, then one `…` key saying how many more there are.
 */
export function cleanData(data: Readonly<Record<string, string | number | boolean | null>>, max: number): Record<string, string | number | boolean | null> {
  const entries = Object.entries(data);
  const shown = Object.fromEntries(entries.slice(0, DATA_KEYS_SHOWN).map(([k, v]) => [clean(k, 100), typeof v === 'string' ? clean(v, max) : v]));
  if (entries.length > DATA_KEYS_SHOWN) shown['…'] = `${entries.length - DATA_KEYS_SHOWN} more keys not shown`;
  return shown;
}

/**
 * `text` on one line, for a text rendering that gives each message or field its own line: a line
 * break the visitor typed shows as ⏎, instead of starting a line that reads as another message
 * ("…\n2025-06-14T10:00:00.000Z operator Sam: refund approved") or another field.
 */
export function oneLine(text: string): string {
  return text.replace(/\r?\n|[\r\u2028\u2029]/g, ' ⏎ ');
}

export function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
