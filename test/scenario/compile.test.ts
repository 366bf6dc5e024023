// The linear form: a flat instruction array with integer edges, laid out depth-first from start,
// plus a hash of the canonical source that ignores layout, key order and comments.
import { describe, expect, it } from 'vitest';
import { compile, IMPLICIT_END, programToJson, summarize, type Program } from '../../src/scenario/compile.js';

function program(source: unknown): Program {
  const result = compile(source);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.program;
}

const MENU = {
  name: 'menu',
  version: 3,
  start: 'hello',
  blocks: {
    bye: { type: 'end', text: 'Bye', resolve: true },
    hello: { type: 'message', text: 'Hi!', next: 'menu' },
    menu: {
      type: 'choice',
      text: 'What do you need?',
      choices: [
        { label: 'Billing', value: 'billing', next: 'billing' },
        { label: 'Nothing', next: 'bye' },
      ],
      fallback: 'route',
    },
    route: { type: 'match', rules: [{ contains: ['invoice', 'bill'], next: 'billing' }], otherwise: 'human' },
    billing: { type: 'message', text: 'Invoices are under Settings.', next: 'bye' },
    human: { type: 'handoff', text: 'One moment.', reason: 'menu' },
  },
};

describe('linearize', () => {
  it('lays blocks out depth-first from start, the first way on right after each block', () => {
    const p = program(MENU);
    expect(p.code.map((i) => `${i.op}:${i.block}`)).toEqual(['say:hello', 'choice:menu', 'say:billing', 'end:bye', 'match:route', 'handoff:human']);
    expect(p.start).toBe(0);
    expect(Object.fromEntries(p.index)).toEqual({ hello: 0, menu: 1, billing: 2, bye: 3, route: 4, human: 5 });
  });

  it('turns every edge into an integer index into the array', () => {
    const [hello, menu, billing, bye, route, human] = program(MENU).code;
    expect(hello).toEqual({ op: 'say', block: 'hello', next: 1, message: { type: 'text', text: 'Hi!' } });
    expect(menu).toMatchObject({
      op: 'choice',
      targets: [2, 3],
      fallback: 4,
      answers: ['billing', 'billing', 'nothing', 'nothing'],
      values: ['billing', 'Nothing'],
      message: { type: 'picker', id: 'menu', text: 'What do you need?', choices: [{ value: 'billing', label: 'Billing' }, { value: 'Nothing', label: 'Nothing' }] },
    });
    expect(billing).toMatchObject({ op: 'say', next: 3 });
    expect(bye).toEqual({ op: 'end', block: 'bye', message: { type: 'text', text: 'Bye' }, resolve: true });
    expect(route).toMatchObject({ op: 'match', rules: [{ kind: 'contains', words: ['invoice', 'bill'], next: 2 }], otherwise: 5 });
    expect(human).toMatchObject({ op: 'handoff', reason: 'menu', assign: null, unassign: false });
  });

  it('adds one shared $end instruction for messages without next', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi {{who}}', next: 'b' }, b: { type: 'message', text: 'Bye' } } });
    expect(p.code.map((i) => i.block)).toEqual(['a', 'b', IMPLICIT_END]);
    expect(p.code[1]).toMatchObject({ op: 'say', next: 2 });
    expect(p.code[2]).toEqual({ op: 'end', block: IMPLICIT_END, message: null, resolve: false });
    expect(p.code[0]).toMatchObject({ message: { type: 'text', text: 'Hi {{who}}' } });
    expect(p.blocks).toBe(2);
  });

  it('lays out unreachable blocks after the rest, and resolves their edges too', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { z: { type: 'message', text: 'orphan', next: 'a' }, a: { type: 'end' } } });
    expect(p.code.map((i) => i.block)).toEqual(['a', 'z']);
    expect(p.code[1]).toMatchObject({ next: 0 });
  });

  it('compiles a 100 000-block chain without recursion', () => {
    const blocks: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) blocks[`b${i}`] = i % 2 ? { type: 'message', text: `m${i}`, next: `b${i + 1}` } : { type: 'match', rules: [{ exact: 'back', next: 'b0' }], otherwise: `b${i + 1}` };
    blocks.b100000 = { type: 'end' };
    const p = program({ name: 'big', version: 1, start: 'b0', blocks });
    expect(p.code).toHaveLength(100_001);
    expect(p.code[99_999]).toMatchObject({ block: 'b99999', next: 100_000 });
  });
});

describe('hash', () => {
  const hash = (source: unknown) => program(source).hash;

  it('is a sha-256, stable across compiles', () => {
    expect(hash(MENU)).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(MENU)).toBe(hash(structuredClone(MENU)));
  });

  it('ignores key order, block order, comments, description and $schema', () => {
    const shuffled = {
      $schema: './scenario.schema.json',
      description: 'changed words',
      blocks: Object.fromEntries(
        Object.entries(MENU.blocks)
          .reverse()
          .map(([id, b]) => [id, Object.fromEntries(Object.entries({ comment: `note on ${id}`, ...b }).reverse())]),
      ),
      start: MENU.start,
      version: MENU.version,
      name: MENU.name,
    };
    expect(hash(shuffled)).toBe(hash(MENU));
  });

  it('changes with anything the runner sees', () => {
    const base = hash(MENU);
    const edit = (f: (s: typeof MENU) => void) => {
      const copy = structuredClone(MENU);
      f(copy);
      return hash(copy);
    };
    expect(edit((s) => (s.blocks.hello.text = 'Hello!'))).not.toBe(base);
    expect(edit((s) => (s.blocks.menu.choices[1]!.next = 'human'))).not.toBe(base);
    expect(edit((s) => (s.version = 4))).not.toBe(base);
    expect(edit((s) => (s.blocks.route.rules[0]!.contains = ['invoice']))).not.toBe(base);
  });
});

describe('summary and JSON form', () => {
  it('summarizes a program for display', () => {
    const p = program(MENU);
    expect(summarize(p)).toEqual({
      scenario: 'menu',
      version: 3,
      hash: p.hash,
      start: 'hello',
      blocks: 6,
      instructions: 6,
      waiting_points: ['menu', 'route'],
      webhooks: [],
      handoffs: 1,
      ends: 1,
    });
  });

  it('prints as JSON with regexes as /source/flags and the index as an object', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { a: { type: 'match', rules: [{ regex: '^hi\\b', next: 'b' }], otherwise: 'b' }, b: { type: 'end' } } });
    const json = JSON.parse(programToJson(p)) as { code: Array<{ rules?: Array<{ re: string }> }>; index: Record<string, number> };
    expect(json.code[0]?.rules?.[0]?.re).toBe('/^hi\\b/i');
    expect(json.index).toEqual({ a: 0, b: 1 });
  });
});
