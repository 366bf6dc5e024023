// `scenario graph`: the pure rendering (source + problems → Mermaid / HTML), then the command
// through the built CLI. The HTML page in a browser, offline, is in test/sandbox/console.test.ts.
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile, compileText } from '../../src/scenario/compile.js';
import { graphToHtml, graphToMermaid, scenarioGraph } from '../../src/scenario/graph.js';
import { runCli } from '../helpers/cli.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const examples = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'));

function graphOf(source: unknown) {
  const result = compile(source);
  return scenarioGraph(source, result.ok ? result.warnings : result.problems);
}

describe('scenarioGraph', () => {
  it.each(examples)('%s: one node per block, every edge of the source, the start marked', (name) => {
    const source = JSON.parse(readFileSync(join(SCENARIOS, name), 'utf8')) as { start: string; blocks: Record<string, unknown> };
    const graph = graphOf(source);
    const ids = Object.keys(source.blocks);
    expect(graph.nodes.filter((n) => n.type !== 'end' || ids.includes(n.id)).map((n) => n.id)).toEqual(ids);
    expect(graph.nodes.filter((n) => n.start).map((n) => n.id)).toEqual([source.start]);
    expect(graph.problems.filter((p) => p.level === 'error')).toEqual([]);
    const mermaid = graphToMermaid(graph);
    const html = graphToHtml(graph);
    for (const id of ids) {
      expect(mermaid).toContain(`<b>${id}</b>`);
      expect(html).toContain(`id="block-${id}"`);
    }
    // Each exit in the block list links to its block: a well-formed anchor per edge.
    for (const edge of graph.edges.filter((e) => ids.includes(e.to))) expect(html).toContain(`<a href="#block-${edge.to}">${edge.to}</a>`);
  });

  it('labels each edge with its choice or rule (gdpr)', () => {
    const graph = graphOf(JSON.parse(readFileSync(join(SCENARIOS, 'gdpr.json'), 'utf8')));
    expect(graph.edges).toEqual([
      { from: 'route', to: 'gdpr_answer', label: 'contains gdpr, rgpd, dpa, data processing, data protection, privacy' },
      { from: 'route', to: 'human', label: 'otherwise' },
      { from: 'gdpr_answer', to: 'more', label: 'articles found' },
      { from: 'gdpr_answer', to: 'human', label: 'none' },
      { from: 'more', to: 'done', label: 'Yes, thanks' },
      { from: 'more', to: 'human', label: 'No, I need a human' },
      { from: 'more', to: 'human', label: 'any other answer' },
    ]);
  });

  it('an invalid scenario is still drawn: problems sit on their blocks, a missing target gets a node', () => {
    const unknownTarget = {
      name: 'broken',
      version: 1,
      start: 'hello',
      blocks: { hello: { type: 'message', text: 'Hi', next: 'nowhere' }, 'a.b': { type: 'end', text: 'Bye' } },
    };
    const result = compileText(JSON.stringify(unknownTarget));
    const graph = scenarioGraph(unknownTarget, result.ok ? [] : result.problems);
    const node = (id: string) => graph.nodes.find((n) => n.id === id)!;
    expect(node('nowhere').type).toBe('missing');
    expect(node('hello').problems).toEqual([{ level: 'error', path: 'blocks.hello.next', message: 'unknown block "nowhere" (the blocks are hello, a.b)' }]);
    expect(graphToMermaid(graph)).toMatch(/class n0,n2 error/);
    const html = graphToHtml(graph);
    expect(html).toContain('class="node error" id="block-hello"');
    expect(html).toContain('class="node error" id="block-nowhere"');
    expect(html).toContain('unknown block &quot;nowhere&quot;');

    // A block id with a dot owns the paths under it (not the block "a", had there been one).
    const badField = { ...unknownTarget, blocks: { hello: { type: 'message', text: 'Hi', next: 'a.b' }, 'a.b': { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'hello', validation: 'telepathy' } } };
    const checked = compile(badField);
    const flagged = scenarioGraph(badField, checked.ok ? [] : checked.problems);
    expect(flagged.nodes.find((n) => n.id === 'a.b')!.problems.map((p) => p.path)).toEqual(['blocks.a.b.validation']);
    expect(flagged.problems).toEqual([]);

    // Warnings too: an unreachable block is drawn (in a last row) and flagged.
    const unreachable = { ...unknownTarget, blocks: { hello: { type: 'end', text: 'Hi' }, lonely: { type: 'end', text: 'nobody comes here' } } };
    const warned = compile(unreachable);
    expect(warned.ok).toBe(true);
    const drawn = scenarioGraph(unreachable, warned.ok ? warned.warnings : []);
    expect(drawn.nodes.find((n) => n.id === 'lonely')!.problems.map((p) => p.level)).toEqual(['warning']);
    expect(graphToHtml(drawn)).toContain('class="node warning" id="block-lonely"');
  });

  it('top-level problems get a node of their own; the end a message without next leads to is named for what it is', () => {
    const graph = graphOf({ name: 'Bad Name', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi' } } });
    const mermaid = graphToMermaid(graph);
    expect(mermaid).toContain('\n  file_problems["<b>the file</b><br/>⛔ name: a scenario name is 1-64 lowercase letters, digits, #quot;_#quot; or #quot;-#quot;; got #quot;Bad Name#quot;"]\n  class file_problems error\n');
    const valid = graphOf({ name: 'ok', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi' } } });
    expect(graphToMermaid(valid)).toContain('n1(("<b>(no next: the end)</b><br/>end"))');
    expect(graphToMermaid(valid)).not.toContain('file_problems');
    expect(graphToHtml(valid)).not.toMatch(/>[^<]*\$end/); // shown nowhere on the page (an anchor may still use it)
  });

  it('escapes what the file says: a block text cannot become markup', () => {
    const source = { name: 'x', version: 1, start: 's', blocks: { s: { type: 'end', text: '<script>alert(1)</script> "quoted"' } } };
    const html = graphToHtml(graphOf(source));
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;script&gt;');
    expect(graphToMermaid(graphOf({ ...source, blocks: { s: { type: 'end', comment: '"' } } }))).not.toMatch(/[^#]quot/);
  });
});

describe('crisp-mcp scenario graph (built CLI)', () => {
  it('--format mermaid prints a flowchart; the default is one HTML page with no external reference', async () => {
    const file = join(SCENARIOS, 'gdpr.json');
    const mermaid = await runCli(['scenario', 'graph', file, '--format', 'mermaid']);
    expect(mermaid.status).toBe(0);
    expect(mermaid.stdout.startsWith('flowchart TD\n')).toBe(true);
    const html = await runCli(['scenario', 'graph', file]);
    expect(html.status).toBe(0);
    expect(html.stdout.startsWith('<!doctype html>')).toBe(true);
    expect(html.stdout).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('an unknown --format is a usage error naming the flag; an invalid file is drawn, exit 0', async () => {
    const bad = await runCli(['scenario', 'graph', join(SCENARIOS, 'gdpr.json'), '--format', 'png']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format must be html or mermaid, got "png"/);
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-graph-'));
    try {
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, JSON.stringify({ name: 'broken', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi', next: 'gone' } } }));
      const drawn = await runCli(['scenario', 'graph', broken, '--format', 'mermaid']);
      expect(drawn.status).toBe(0);
      expect(drawn.stdout).toContain('<b>gone</b><br/>missing');
      expect(drawn.stderr).toBe(`broken.json: 1 error, drawn on their blocks; \`crisp-mcp scenario validate ${broken}\` lists them\n`);
      // A file that is no JSON at all has no block to pin its problem on: the chart says it anyway.
      const yaml = join(dir, 'hello.yaml');
      writeFileSync(yaml, 'name: hello\nstart: greet\n');
      const notJson = await runCli(['scenario', 'graph', yaml, '--format', 'mermaid']);
      expect(notJson.status).toBe(0);
      expect(notJson.stdout).toMatch(/\n {2}file_problems\["<b>the file<\/b><br\/>⛔ not JSON: a scenario file is one JSON object, starting with #quot;\{#quot;, but this one starts with #quot;n#quot;/);
      expect(notJson.stdout).toContain('\n  class file_problems error\n');
      expect(notJson.stderr).toMatch(/^hello\.yaml: 1 error, drawn on their blocks/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
