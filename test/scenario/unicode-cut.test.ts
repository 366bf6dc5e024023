// Where the scenario tools cut a visitor's or an author's text, through the built CLI as an author
// runs it: the cut falls between two user-perceived characters, never inside an emoji sequence
// (👨‍👩‍👧, a flag) or a surrogate pair, which a terminal shows as U+FFFD and JSON carries as a lone \ud83d.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-unicode-cut-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scenarioFile(name: string, scenario: unknown): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(scenario));
  return path;
}

/** Half of a surrogate pair, or the U+FFFD an encoder writes in its place. */
const BROKEN = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\ufffd/;
const FAMILY = '👨‍👩‍👧';

describe('scenario validate quotes a long value cut between two characters', () => {
  // 28 letters then ZWJ families: the 57-unit cut of the quoted JSON falls inside the fourth family.
  const file = scenarioFile('bad-resolve', { name: 'x', version: 1, start: 'a', blocks: { a: { type: 'end', text: 'hi', resolve: `${'x'.repeat(28)}${FAMILY.repeat(10)}` } } });

  it('in the terminal', async () => {
    const run = await runCli(['scenario', 'validate', file]);
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).not.toMatch(BROKEN);
    expect(run.stdout).toContain(`blocks.a.resolve: expected true or false; got "${'x'.repeat(28)}${FAMILY.repeat(3)}…"`);
  });

  it('as JSON', async () => {
    const run = await runCli(['scenario', 'validate', '--json', file]);
    // A lone surrogate leaves JSON.stringify as a \ud83d escape: valid JSON that strict parsers refuse.
    expect(run.stdout).not.toMatch(/\\ud[89ab][0-9a-f]{2}/i);
    const { problems } = JSON.parse(run.stdout) as { problems: { message: string }[] };
    expect(problems[0]!.message).not.toMatch(BROKEN);
  });
});

it('scenario graph clips a long choice label on its edge between two flags', async () => {
  const label = `${'x'.repeat(46)}🇫🇷🇯🇵`;
  const file = scenarioFile('flags', {
    name: 'flags',
    version: 1,
    start: 'ask',
    blocks: { ask: { type: 'choice', text: 'Where?', choices: [{ label, next: 'done' }] }, done: { type: 'end', text: 'ok' } },
  });
  const run = await runCli(['scenario', 'graph', '--format', 'mermaid', file]);
  expect(run.status).toBe(0);
  expect(run.stdout).not.toMatch(BROKEN);
  expect(run.stdout).toContain(`${'x'.repeat(46)}…`);
});

it('scenario chat keeps the first 4,000 units of a long message without half a flag at the cut', async () => {
  const file = scenarioFile('echo', {
    name: 'echo',
    version: 1,
    start: 'route',
    blocks: { route: { type: 'match', rules: [{ contains: 'zzz', next: 'said' }], otherwise: 'said', save: 'said' }, said: { type: 'end', text: 'You said: {{said}}' } },
  });
  // 🇫 ends at unit 4,000, 🇷 starts there: the flag is the first character past the cut.
  const run = await runCli(['scenario', 'chat', file], { input: `${'a'.repeat(3_998)}🇫🇷 tail\n` });
  const reply = run.stdout.split('\n').find((line) => line.includes('You said:'))!;
  expect(reply).toBeDefined();
  expect(reply).not.toMatch(BROKEN);
  expect(reply).not.toContain('🇫');
  expect(reply).toMatch(new RegExp(`You said: a{3998}$`));
});
