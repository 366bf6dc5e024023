// What a Markdown page links to and which #anchors it has, the way GitHub renders it: the README
// and docs/*.md link to one another, and both the checkout (test/docs/) and the packed package
// (test/package/install.test.ts) must hold every target.

/** The page's lines outside fenced code blocks (a `# comment` in a sh block is no heading). */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker && (!fence || marker.startsWith(fence))) {
      fence = fence ? undefined : marker;
      continue;
    }
    if (!fence) lines.push(line);
  }
  return lines;
}

/** Text as rendered: inline code, emphasis and link syntax gone, their words kept. */
function renderedText(inline: string): string {
  return inline
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`+([^`]*)`+/g, '$1')
    .replace(/(?<!\w)(\*\*|__|\*|_)(\S(?:.*?\S)?)\1(?!\w)/g, '$2');
}

/**
 * The anchors GitHub gives the page's headings: lower case, everything but letters, digits, marks,
 * spaces, `-` and `_` dropped, spaces turned into `-`; a repeated one gets `-1`, `-2`….
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = renderedText(heading).toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Every link and image target on the page that is not a URL with a scheme (`https:`, `mailto:`), in order. */
export function relativeLinks(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/`+[^`]*`+/g, '');
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) targets.push(target);
    }
  }
  return targets;
}
