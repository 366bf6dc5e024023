// Where text may be cut: between two user-perceived characters (grapheme clusters), so a cut never
// leaves half of a surrogate pair (a lone surrogate, which JSON consumers choke on), half of an emoji
// sequence (👨‍👩‍👧 becoming 👨‍👩, 🇫🇷 becoming a lone 🇫) or a letter without its marks (Hindi, Thai, NFD accents).
// scenario/fold.ts's cut applies the same rule inside scenario/, which may import nothing of ours.

// Made on first cut: a segmenter loads ICU's break rules (~13 ms, ~2.5 MiB here), which every
// start-up would pay at import, though most text is never cut.
let graphemes: Intl.Segmenter | undefined;
const segmenter = () => (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' }));

/** The largest end ≤ `max` at which `text` can be cut (text.length when it fits). */
export function cutPoint(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let end = 0;
  // Segments come lazily: the walk stops at the cut, however long the text.
  for (const { index, segment } of segmenter().segment(text)) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return end;
}

/** How many characters a reader counts in `text`: 👨‍👩‍👧, 🇫🇷 and é written e + U+0301 are one each. */
export function characterCount(text: string): number {
  // Printable ASCII, tab and newline: one unit per character, no segmenter needed.
  if (/^[\t\n\x20-\x7E]*$/.test(text)) return text.length;
  let n = 0;
  for (const _ of segmenter().segment(text)) n++;
  return n;
}
