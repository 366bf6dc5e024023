// Where text may be cut: between two user-perceived characters (grapheme clusters), so a cut never
// leaves half of a surrogate pair (a lone surrogate, which JSON consumers choke on), half of an emoji
// sequence (👨‍👩‍👧 becoming 👨‍👩, 🇫🇷 becoming a lone 🇫) or a letter without its marks (Hindi, Thai, NFD accents).
// scenario/fold.ts's cut applies the same rule inside scenario/, which may import nothing of ours.

// Made on first cut: a segmenter loads ICU's break rules (~13 ms, ~2.5 MiB here), which every
// start-up would pay at import, though most text is never cut.
let graphemes: Intl.Segmenter | undefined;

/** The largest end ≤ `max` at which `text` can be cut (text.length when it fits). */
export function cutPoint(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let end = 0;
  // Segments come lazily: the walk stops at the cut, however long the text.
  for (const { index, segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text)) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return end;
}
