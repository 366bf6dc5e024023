// The link check is only as good as its reading of Markdown: anchors as GitHub makes them, and
// links found where GitHub renders them (never inside code).
import { describe, expect, it } from 'vitest';
import { headingAnchors, relativeLinks } from '../helpers/markdown.js';

describe('headingAnchors', () => {
  it('makes the anchors GitHub makes: code and punctuation dropped, letters and - _ kept, repeats numbered', () => {
    const page = [
      '# Start-up (`bench/startup.js`): the latest',
      '## Personal data (GDPR)',
      '### Benchmarks › Start-up',
      '## Café, naïve & snake_case',
      '## Store',
      '## Store',
      '```sh',
      '# a comment, not a heading',
      '```',
    ].join('\n');
    expect([...headingAnchors(page)]).toEqual(['start-up-benchstartupjs-the-latest', 'personal-data-gdpr', 'benchmarks--start-up', 'café-naïve--snake_case', 'store', 'store-1']);
  });
});

describe('relativeLinks', () => {
  it('finds links and images with their anchors, not URLs with a scheme nor anything inside code', () => {
    const page = [
      'See [tools](docs/tools.md#safety), ![shot](console-inbox.png "the inbox") and [here](#install).',
      'Not [Crisp](https://crisp.chat), [mail](mailto:a@b.c) nor `[code](nowhere.md)`.',
      '```md',
      '[fenced](nowhere.md)',
      '```',
    ].join('\n');
    expect(relativeLinks(page)).toEqual(['docs/tools.md#safety', 'console-inbox.png', '#install']);
  });
});
