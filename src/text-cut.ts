// Where text may be cut: between two user-perceived characters (grapheme clusters), so a cut never
// leaves half of a surrogate pair (a lone surrogate, which JSON consumers choke on), half of an emoji
// sequence (👨‍👩‍👧 becoming 👨‍👩, 🇫🇷 becoming a lone 🇫) or a letter without its marks (Hindi, Thai, NFD accents).

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The largest end ≤ `max` at which `text` can be cut (text.length when it fits). */
export function cutPoint(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let end = 0;
  // Segments come lazily: the walk stops at the cut, however long the text.
  for (const { index, segment } of GRAPHEMES.segment(text)) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return end;
}
