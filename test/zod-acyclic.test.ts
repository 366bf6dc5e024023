// src/zod-acyclic.ts turns off zod's reference-cycle support for the schemas built after it (cli.ts
// imports it first). The same schema built before and after must accept and reject the same values
// with the same answers and the same issues: only a value that contains a cycle, which JSON cannot
// carry, parses differently.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { config, memoizer } from 'zod/v4/core';

interface Node {
  name: string;
  children: Node[];
}

/** A recursive schema (the kind zod keeps its cycle bookkeeping for) inside the shapes tools use. */
function buildSchema() {
  const node: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string().min(1), children: z.array(node) }));
  return z.object({
    session_id: z.string().regex(/^session_[0-9a-f-]+$/),
    state: z.enum(['pending', 'unresolved', 'resolved']),
    tree: node.optional(),
    data: z.record(z.string(), z.unknown()).optional(),
    tags: z.array(z.string()).default([]),
  });
}

// The files of a vitest worker share their modules (vitest.config.ts: isolate off): an earlier file may
// have imported src/zod-acyclic.ts already. This one starts from zod's default, imports the module
// afresh, and leaves zod's memoizer as it found it.
const memoizerBefore = config().memoizer;
config({ memoizer: memoizer() });
afterAll(() => {
  config({ memoizer: memoizerBefore });
});

const withCycleSupport = buildSchema();
// z.lazy builds its schema on the first parse: done here, before the import, so it keeps zod's default.
withCycleSupport.parse({ session_id: 'session_1', state: 'pending', tree: { name: 'root', children: [{ name: 'leaf', children: [] }] } });
vi.resetModules();
await import('../src/zod-acyclic.js');
const withoutCycleSupport = buildSchema();

const leaf = { name: 'leaf', children: [] };
const values: Record<string, unknown> = {
  minimal: { session_id: 'session_9df2a21e', state: 'resolved' },
  'a tree, data and tags': { session_id: 'session_1', state: 'pending', tree: { name: 'root', children: [leaf, { name: 'b', children: [leaf] }] }, data: { a: 1, b: { c: [1, 2] } }, tags: ['x'] },
  'a bad session id': { session_id: 'nope', state: 'resolved' },
  'an unknown state': { session_id: 'session_1', state: 'open' },
  'a bad node deep in the tree': { session_id: 'session_1', state: 'pending', tree: { name: 'root', children: [{ name: '', children: [] }, { name: 'b', children: 'x' }] } },
  'not an object': 'session_1',
  'data not a record': { session_id: 'session_1', state: 'pending', data: [1] },
};

describe('zod without reference-cycle support', () => {
  for (const [name, value] of Object.entries(values)) {
    it(`answers as zod's default does: ${name}`, () => {
      const expected = withCycleSupport.safeParse(value);
      const actual = withoutCycleSupport.safeParse(value);
      expect(actual.success).toBe(expected.success);
      if (expected.success) expect(actual.data).toEqual(expected.data);
      else expect(actual.error?.issues).toEqual(expected.error.issues);
    });
  }

  it('parses an object met twice (not a cycle) twice, into equal copies', () => {
    const shared = { name: 'shared', children: [] };
    const parsed = withoutCycleSupport.parse({ session_id: 'session_1', state: 'pending', tree: { name: 'root', children: [shared, shared] } });
    expect(parsed.tree?.children[0]).toEqual(shared);
    expect(parsed.tree?.children[1]).toEqual(shared);
  });

  it('no longer follows a reference cycle, which JSON cannot express', () => {
    const root: Node = { name: 'root', children: [] };
    root.children.push(root);
    const value = { session_id: 'session_1', state: 'pending', tree: root };
    expect(withCycleSupport.safeParse(value).success).toBe(true);
    expect(() => withoutCycleSupport.safeParse(value)).toThrow(RangeError);
  });
});
