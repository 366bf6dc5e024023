// The README is the entry page and docs/*.md hold the reference it points to. A newcomer follows
// those links, so every relative link and #anchor must land on a file and a heading that exist
// (anchors as GitHub makes them), every page must be reachable from the README, and no paragraph
// may stand on two pages (one copy goes stale; a page may repeat its own labels).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { headingAnchors, relativeLinks } from '../helpers/markdown.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const text = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** A link on `page` as the repository path it names (relative to the root) and its #anchor, if any. */
function resolveLink(page: string, target: string): { path: string; anchor?: string } {
  const [file, anchor] = target.split('#', 2) as [string, string | undefined];
  const path = file === '' ? page : normalize(join(dirname(page), decodeURIComponent(file)));
  return { path: relative('.', path), ...(anchor === undefined ? {} : { anchor: decodeURIComponent(anchor) }) };
}

describe('README.md and docs/*.md', () => {
  it('have pages to check', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/tools.md', 'docs/scenarios.md', 'docs/operating.md', 'docs/performance.md']));
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const target of relativeLinks(text(page))) {
        const { path, anchor } = resolveLink(page, target);
        if (path.startsWith('..') || !existsSync(join(ROOT, path))) broken.push(`${page}: ${target} (no file ${path})`);
        else if (anchor !== undefined && (!path.endsWith('.md') || !headingAnchors(text(path)).has(anchor))) broken.push(`${page}: ${target} (no heading #${anchor} in ${path})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('are all reachable from the README', () => {
    const reached = new Set(['README.md']);
    const queue = ['README.md'];
    for (let page = queue.shift(); page !== undefined; page = queue.shift()) {
      for (const target of relativeLinks(text(page))) {
        const { path } = resolveLink(page, target);
        if (path.endsWith('.md') && PAGES.includes(path) && !reached.has(path)) {
          reached.add(path);
          queue.push(path);
        }
      }
    }
    expect(PAGES.filter((page) => !reached.has(page))).toEqual([]);
  });

  it('say each paragraph on one page only', () => {
    const where = new Map<string, Set<string>>();
    for (const page of PAGES) {
      let fenced = false;
      const prose = text(page).split('\n').map((line) => {
        if (/^\s*```/.test(line)) fenced = !fenced;
        return fenced || /^\s*```/.test(line) ? '' : line;
      });
      for (const paragraph of prose.join('\n').split(/\n\s*\n/)) {
        const words = paragraph.replace(/\s+/g, ' ').trim();
        if (words.length >= 80) where.set(words, new Set([...(where.get(words) ?? []), page]));
      }
    }
    expect([...where].filter(([, pages]) => pages.size > 1).map(([words, pages]) => `${[...pages].join(' and ')}: ${words.slice(0, 100)}…`)).toEqual([]);
  });
});
