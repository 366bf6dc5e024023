// Random mutations of the shipped example scenarios through `crisp-mcp scenario validate --json`
// (in-process, from a file, as a person runs it): it never throws, and every problem it reports
// carries the path of the field at fault — a path that leads into the mutated scenario —
// except a JSON syntax error, which points at a line and column instead.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/scenario/compile.js';
import { runScenarioCommand } from '../../src/commands/scenario.js';
import { exampleSources } from '../mcp/scenario-fixtures.js';
import { anyJson } from './json-schema.js';

/** Generated mutations per property; docs/operating.md's Reliability section quotes these numbers. */
export const TREE_MUTATION_RUNS = 400;
export const TEXT_MUTATION_RUNS = 150;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

const dir = mkdtempSync(join(tmpdir(), 'scenario-mutations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const examples = exampleSources().map(({ source }) => JSON.parse(source) as Json);
const texts = exampleSources().map(({ source }) => source);

/** Every path in the tree (the root excluded). */
function paths(node: Json, at: Path = []): Path[] {
  if (node === null || typeof node !== 'object') return [];
  const entries: Array<[string | number, Json]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  return entries.flatMap(([key, value]) => [[...at, key], ...paths(value, [...at, key])]);
}

function get(node: Json, path: Path): Json | undefined {
  let here: Json | undefined = node;
  for (const key of path) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string, Json>)[key as string];
  }
  return here;
}

const BLOCK_TYPES = ['message', 'choice', 'ask', 'match', 'condition', 'set', 'webhook', 'articles', 'handoff', 'end'];

type Mutation =
  | { kind: 'replace'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'rename'; suffix: string }
  | { kind: 'retarget'; target: string }
  | { kind: 'retype'; type: string }
  | { kind: 'wrap' }
  | { kind: 'copy-elsewhere'; to: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), value: anyJson }),
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('rename' as const), suffix: fc.string({ minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('retarget' as const), target: fc.oneof(fc.constantFrom('start', '$end', 'nowhere', ''), fc.string({ maxLength: 8 })) }),
  fc.record({ kind: fc.constant('retype' as const), type: fc.oneof(fc.constantFrom(...BLOCK_TYPES), fc.string({ maxLength: 6 })) }),
  fc.constant({ kind: 'wrap' as const }),
  fc.record({ kind: fc.constant('copy-elsewhere' as const), to: fc.nat() }),
);

/** `source` with one mutation applied at `path` (a structured clone; the original is left alone). */
function mutate(source: Json, path: Path, m: Mutation): Json {
  const copy = structuredClone(source);
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1]!;
  const parent = get(copy, parentPath) as Record<string | number, Json> | Json[];
  const value = (parent as Record<string | number, Json>)[key]!;
  const set = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
  switch (m.kind) {
    case 'replace':
      set(m.value);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Record<string, Json>)[key];
      break;
    case 'rename':
      if (Array.isArray(parent)) set(value);
      else {
        delete (parent as Record<string, Json>)[key];
        (parent as Record<string, Json>)[`${key}${m.suffix}`] = value;
      }
      break;
    case 'retarget':
      set(typeof value === 'string' ? m.target : value);
      break;
    case 'retype':
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) (value as Record<string, Json>).type = m.type;
      else set(m.type);
      break;
    case 'wrap':
      set([value]);
      break;
    case 'copy-elsewhere': {
      const all = paths(copy).filter((p) => p.length > 0);
      const target = all[m.to % all.length]!;
      const targetParent = get(copy, target.slice(0, -1)) as Record<string | number, unknown>;
      targetParent[target[target.length - 1]!] = structuredClone(value);
      break;
    }
  }
  return copy;
}

let fileCount = 0;
async function validate(text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `s${++fileCount}.json`);
  writeFileSync(file, text);
  let stdout = '';
  let stderr = '';
  const code = await runScenarioCommand(['validate', '--json', file], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

/**
 * Whether `path` (dotted) leads into `source`: every segment but the last names an existing key, and
 * the last names a key of an existing object (it may be the missing one). Keys may hold dots.
 */
function pathLeadsIn(source: unknown, path: string): boolean {
  const walk = (node: unknown, segments: string[]): boolean => {
    if (segments.length === 0) return true;
    if (node === null || typeof node !== 'object') return false;
    if (segments.length === 1) return true;
    for (let k = 1; k <= segments.length; k++) {
      const key = segments.slice(0, k).join('.');
      if (Object.hasOwn(node, key) && walk((node as Record<string, unknown>)[key], segments.slice(k))) return true;
    }
    return false;
  };
  return walk(source, path.split('.'));
}

describe('mutated example scenarios through `scenario validate`', () => {
  const mutationCase = fc
    .nat(examples.length - 1)
    .chain((i) => fc.tuple(fc.constant(i), fc.constantFrom(...paths(examples[i]!)), fc.array(mutationArb, { minLength: 1, maxLength: 3 })));

  it('one to three structural mutations: validate answers, and every problem has a path into the scenario', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(mutationCase, async ([i, path, mutations]) => {
        let source: Json = examples[i]!;
        for (const m of mutations) {
          const reachable = get(source, path.slice(0, -1));
          source = reachable !== null && typeof reachable === 'object' && get(source, path) !== undefined ? mutate(source, path, m) : source;
        }
        const run = await validate(JSON.stringify(source));
        expect(run.stderr, 'validate never throws').toBe('');
        expect([0, 1]).toContain(run.code);
        const report = JSON.parse(run.stdout) as { ok: boolean; problems: Problem[] };
        expect(report.ok).toBe(run.code === 0);
        for (const problem of report.problems) {
          expect(problem.message.length).toBeGreaterThan(0);
          if (source !== null && typeof source === 'object' && !Array.isArray(source)) {
            expect(problem.path, JSON.stringify(problem)).not.toBe('');
            expect(pathLeadsIn(source, problem.path), `${JSON.stringify(problem)} in ${JSON.stringify(source).slice(0, 300)}`).toBe(true);
          }
        }
      }),
      { numRuns: TREE_MUTATION_RUNS },
    );
  });

  it('text mutations (characters cut, inserted, lines swapped): validate answers, problems have a path or a line', { timeout: 120_000 }, async () => {
    const textCase = fc.tuple(
      fc.nat(texts.length - 1),
      fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.oneof(fc.constant(''), fc.string({ maxLength: 4 }), fc.constantFrom('{', '}', '"', ',', ':', '[', ']', '\\'))), { minLength: 1, maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(textCase, async ([i, edits]) => {
        let text = texts[i]!;
        for (const [where, insert] of edits) {
          const at = Math.floor(where * text.length);
          text = text.slice(0, at) + insert + text.slice(at + (insert === '' ? 1 : 0));
        }
        const run = await validate(text);
        expect(run.stderr, 'validate never throws').toBe('');
        expect([0, 1]).toContain(run.code);
        const report = JSON.parse(run.stdout) as { ok: boolean; problems: Problem[] };
        for (const problem of report.problems) {
          expect(problem.message.length).toBeGreaterThan(0);
          if (problem.path === '') expect(problem.message, 'a problem of the whole file says where').toMatch(/line \d+|position \d+|JSON|object/i);
        }
      }),
      { numRuns: TEXT_MUTATION_RUNS },
    );
  });
});

describe('bugs the mutations found', () => {
  it('an unknown field at the top of the file is reported at its own path (it was reported at "", the whole file)', async () => {
    const source = { ...(examples[0] as Record<string, Json>), nmae: 'typo' };
    const run = await validate(JSON.stringify(source));
    const report = JSON.parse(run.stdout) as { ok: boolean; problems: Problem[] };
    expect(report.problems).toContainEqual({ level: 'error', path: 'nmae', message: 'unknown field "nmae"; allowed: $schema, name, version, description, start, webhook_origins, migrations, blocks' });
  });
});
