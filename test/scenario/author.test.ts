// A support lead's first scenarios and the mistakes they make, checked the way they check them:
// the built CLI's `scenario validate` as a child process, on files written to a temporary folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-author-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The triage scenario of a reader of docs/scenarios.md: an email, then an order number, then a human. */
function triage(edit: (blocks: Record<string, Record<string, unknown>>) => void = () => undefined): Record<string, unknown> {
  const blocks: Record<string, Record<string, unknown>> = {
    ask_email: { type: 'ask', text: "What's your email?", validation: 'email', save: { var: 'email', people_profile: 'email' }, next: 'ask_order' },
    ask_order: { type: 'ask', text: 'Thanks {{email}}. Your order number (like AB-12345)?', validation: { regex: '^[A-Z]{2}-\\d{5}$' }, save: { var: 'order' }, next: 'done' },
    done: { type: 'handoff', text: 'Order {{order}}: a human will look at it.', note: 'Order {{order}} from {{email}}' },
  };
  edit(blocks);
  return { name: 'triage', version: 1, start: 'ask_email', blocks };
}

async function validate(name: string, text: string): Promise<{ status: number | null; lines: string[] }> {
  const file = join(dir, name);
  writeFileSync(file, text);
  const run = await runCli(['scenario', 'validate', file]);
  return { status: run.status, lines: (run.stdout + run.stderr).trim().split('\n') };
}

interface ValidatedTogether {
  status: number | null;
  stderr: string;
  /** One file's lines: its problems, then its summary line. */
  linesOf: (name: string) => string[];
}

/**
 * `scenario validate` of several files in one run, as an author checks a folder's worth: each file is
 * compiled on its own (only a name used twice would tie them, so each has its own). The tests of a
 * group share the run (it is started by the first that asks), each reading its own file's lines: its
 * problems, then its summary line.
 */
function validateTogether(files: Array<[name: string, scenario: Record<string, unknown>]>): () => Promise<ValidatedTogether> {
  let run: Promise<ValidatedTogether> | undefined;
  return () =>
    (run ??= (async () => {
      const paths = files.map(([name, scenario]) => {
        const file = join(dir, name);
        writeFileSync(file, JSON.stringify({ ...scenario, name: name.replace(/\.json$/, '') }));
        return file;
      });
      const done = await runCli(['scenario', 'validate', ...paths]);
      const sections = new Map<string, string[]>();
      let lines: string[] = [];
      for (const line of done.stdout.trim().split('\n')) {
        lines.push(line);
        const summary = /^(\S+\.json): /.exec(line);
        if (summary && files.some(([name]) => name === summary[1])) {
          sections.set(summary[1]!, lines);
          lines = [];
        }
      }
      return { status: done.status, stderr: done.stderr, linesOf: (name: string) => sections.get(name) ?? [] };
    })());
}

describe('scenario validate, on the mistakes a first scenario makes', () => {
  it('the triage as written compiles with no warning', async () => {
    const { status, lines } = await validate('triage.json', JSON.stringify(triage(), null, 2));
    expect(lines).toEqual([expect.stringMatching(/^triage\.json: ok, 3 blocks, .* 0 warnings/)]);
    expect(status).toBe(0);
  });

  it('a variable shown before the block that sets it warns, naming that block', async () => {
    const { status, lines } = await validate('early.json', JSON.stringify(triage((b) => (b.ask_email!.text = 'Hi {{order}}, your email?')), null, 2));
    expect(lines).toEqual([
      'warning blocks.ask_email.text: {{order}} is read before any block sets it ("ask_order" sets it, only after), so it shows as "" here: move the block that sets it before this one, or drop it here',
      'early.json: ok, 3 blocks, 3 instructions, 2 waiting points, 1 warning, hash ' + lines[1]!.slice(-12),
    ]);
    expect(status).toBe(0);
  });

  it('a variable set on one way in, or by a loop back to the block, does not warn', async () => {
    const scenario = {
      name: 'loop',
      version: 1,
      start: 'pick',
      blocks: {
        pick: { type: 'choice', text: 'Last time: {{topic}}. Now?', save: 'topic', choices: [{ label: 'Billing', next: 'pick' }, { label: 'Other', next: 'bye' }] },
        bye: { type: 'end', text: 'Bye ({{topic}})' },
      },
    };
    const { status, lines } = await validate('loop.json', JSON.stringify(scenario));
    expect(lines).toEqual([expect.stringMatching(/^loop\.json: ok, .* 0 warnings/)]);
    expect(status).toBe(0);
  });

  it('text that is only white space is refused at its field, as empty text is', async () => {
    const { status, lines } = await validate(
      'blank.json',
      JSON.stringify(
        triage((b) => {
          b.ask_email!.text = '   ';
          b.ask_order!.invalid_text = '\n';
          b.pick = { type: 'choice', text: 'Go?', choices: [{ label: ' ', next: 'ask_email' }] };
        }),
      ),
    );
    expect(lines).toEqual([
      'error   blocks.ask_email.text: is only white space: the visitor would get an empty message; write the text (or leave the field out where it is optional)',
      'error   blocks.ask_order.invalid_text: is only white space: write what to say, or leave it out to ask the question again',
      'error   blocks.pick.choices.0.label: is only white space: the visitor would get an empty button; write its label',
      'blank.json: 3 errors, 0 warnings',
    ]);
    expect(status).toBe(1);
  });

  const SLOW: Array<[regex: string, group: string, why: string]> = [
    ['^(\\w|\\d)+$', '(\\w|\\d)', 'alternatives can match the same text'],
    ['^(a|aa)+$', '(a|aa)', 'alternatives can match the same text'],
    ['^(.|\\s)*$', '(.|\\s)', 'alternatives can match the same text'],
    ['^(.*a){12}$', '(.*a)', 'holds a repeat'],
  ];
  const withRegex = (regex: string) => triage((b) => (b.ask_order!.validation = { regex }));
  const slowRun = validateTogether(SLOW.map(([regex], i) => [`slow-${i}.json`, withRegex(regex)]));
  it.each(SLOW.map((row, i) => [...row, i] as const))('a regex %s that backtracks for ever on text that almost matches is refused', async (_regex, group, why, i) => {
    const { status, stderr, linesOf } = await slowRun();
    const lines = linesOf(`slow-${i}.json`);
    expect(lines[0]).toContain(`error   blocks.ask_order.validation.regex: regex ${group} repeats a group ${why === 'holds a repeat' ? 'that holds a repeat' : `whose ${why}`}`);
    expect(lines.at(-1)).toBe(`slow-${i}.json: 1 error, 0 warnings`);
    expect(stderr).toBe('');
    expect(status).toBe(1);
  });

  const FAST = ['^(yes|no)+$', '^(https?|ftp)://\\S+$', '^(\\d{3}-)+\\d{4}$', '^([A-Z]{2}-\\d{5})$', '^(ab|a)*$', '^(\\d+,){3}\\d+$', '^(a|b|c)+$'];
  const fastRun = validateTogether(FAST.map((regex, i) => [`fast-${i}.json`, withRegex(regex)]));
  it.each(FAST.map((regex, i) => [regex, i] as const))('a regex %s whose repeats read text one way only is accepted', async (_regex, i) => {
    const { status, stderr, linesOf } = await fastRun();
    expect(linesOf(`fast-${i}.json`)).toEqual([expect.stringMatching(new RegExp(`^fast-${i}\\.json: ok`))]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });

  it('a tab typed inside a string, and a comma after the last field, say what to do', async () => {
    const tab = await validate('tab.json', '{\n\t"name": "tabs",\n\t"version": 1,\n\t"start": "a",\n\t"blocks": {\n\t\t"a": {"type": "end", "text": "one\ttwo"}\n\t}\n}\n');
    expect(tab.lines[0]).toBe('error   (file): not valid JSON at line 6, column 36: Bad control character in string literal (a tab or line break inside a string is written \\t or \\n; between fields, tabs and line breaks are fine)');
    const comma = await validate('comma.json', '{\n  "name": "x",\n  "version": 1,\n  "start": "a",\n  "blocks": {\n    "a": {"type": "end"},\n  }\n}\n');
    expect(comma.lines[0]).toBe('error   (file): not valid JSON at line 7, column 3: Expected double-quoted property name (a comma before it: JSON takes none after the last field or item; remove it)');
    expect([tab.status, comma.status]).toEqual([1, 1]);
  });

  it('a folder is checked as serve and bot load it: its *.json files, two with one name refused, a YAML one named as not read', async () => {
    const folder = join(dir, 'scenarios');
    mkdirSync(folder);
    writeFileSync(join(folder, 'triage.json'), JSON.stringify(triage()));
    writeFileSync(join(folder, 'triage-copy.json'), JSON.stringify(triage()));
    writeFileSync(join(folder, 'notes.txt'), 'not a scenario');
    writeFileSync(join(folder, 'greeting.yaml'), 'name: greeting\n');
    const run = await runCli(['scenario', 'validate', folder]);
    expect(run.stderr).toBe(`${join(folder, 'greeting.yaml')}: not read (scenario files are JSON, named *.json; serve and bot skip it too)\n`);
    expect(run.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^triage-copy\.json: ok, 3 blocks/),
      `error   name: "triage" is also the name of ${join(folder, 'triage-copy.json')}: scenario names must be unique in a folder`,
      'triage.json: 1 error, 0 warnings',
    ]);
    expect(run.status).toBe(1);
  });

  it('"scenario check", as other tools name it, points to validate', async () => {
    const run = await runCli(['scenario', 'check', join(dir, 'triage.json')]);
    expect(run.stderr).toMatch(/^crisp-mcp scenario: unknown subcommand "check" \(files are checked with validate\); usage: /);
    expect(run.status).toBe(2);
  });

  it('a choice, an ask or a condition missing its way on is told a block id goes there', async () => {
    const scenario = triage((b) => {
      delete b.ask_email!.next;
      b.pick = { type: 'choice', text: 'Go?', choices: [{ label: 'Yes' }] };
      b.check = { type: 'condition', when: { var: 'email', exists: true }, then: 'done' };
    });
    const { status, lines } = await validate('no-next.json', JSON.stringify(scenario));
    expect(lines).toEqual([
      'error   blocks.ask_email.next: required: the id of the block to go to, like "next": "ask_email"',
      'error   blocks.pick.choices.0.next: required: the id of the block to go to, like "next": "ask_email"',
      'error   blocks.check.else: required: the id of the block to go to, like "else": "ask_email"',
      'no-next.json: 3 errors, 0 warnings',
    ]);
    expect(status).toBe(1);
  });
});
