// The scenario's graph laid out: blocks numbered once, depth-first from start into instruction
// order, and the cycle check (every cycle passes a waiting block).
// Part of compile.ts (the entry point); pure, no I/O.
import type { Block } from '../schema.js';
import type { Source } from './validate.js';

/**
 * The graph, laid out: `order[pc]` is the number of the block at instruction `pc` (depth-first from
 * start, first way on first; unreachable blocks after the `reachable` first ones, in file order), and
 * the edges of instruction pc are `to[first[pc]] … to[first[pc + 1] - 1]`, instruction indexes (-1
 * for an unknown block).
 */
export interface Graph {
  order: Int32Array;
  /** Block id → instruction index, in instruction order (the program's index). */
  index: Map<string, number>;
  reachable: number;
  first: Int32Array;
  to: Int32Array;
}

/** The numbers of the blocks a block can go to, in order (the first is the usual way on); -1 for an unknown block. */
export function pushTargets(block: Block, numbers: ReadonlyMap<string, number>, out: number[]): void {
  switch (block.type) {
    case 'message':
      if (block.next !== undefined) out.push(numbers.get(block.next) ?? -1);
      return;
    case 'choice':
      for (const c of block.choices) out.push(numbers.get(c.next) ?? -1);
      if (block.fallback !== undefined) out.push(numbers.get(block.fallback) ?? -1);
      return;
    case 'ask':
    case 'set':
      out.push(numbers.get(block.next) ?? -1);
      return;
    case 'match':
      for (const r of block.rules) out.push(numbers.get(r.next) ?? -1);
      out.push(numbers.get(block.otherwise) ?? -1);
      return;
    case 'condition':
      out.push(numbers.get(block.then) ?? -1, numbers.get(block.else) ?? -1);
      return;
    case 'webhook':
      out.push(numbers.get(block.next) ?? -1);
      if (block.on_error !== undefined) out.push(numbers.get(block.on_error) ?? -1);
      return;
    case 'articles':
      out.push(numbers.get(block.next) ?? -1, numbers.get(block.none) ?? -1);
      return;
    case 'handoff':
    case 'end':
      return;
  }
}

/** The same targets with the path of the field naming each, for error messages. */
export function edgesOf(id: string, block: Block): Array<[target: string, path: string]> {
  const edge = (target: string, field: string): [string, string] => [target, `blocks.${id}.${field}`];
  switch (block.type) {
    case 'message':
      return block.next === undefined ? [] : [edge(block.next, 'next')];
    case 'choice':
      return [...block.choices.map((c, i) => edge(c.next, `choices.${i}.next`)), ...(block.fallback === undefined ? [] : [edge(block.fallback, 'fallback')])];
    case 'ask':
    case 'set':
      return [edge(block.next, 'next')];
    case 'match':
      return [...block.rules.map((r, i) => edge(r.next, `rules.${i}.next`)), edge(block.otherwise, 'otherwise')];
    case 'condition':
      return [edge(block.then, 'then'), edge(block.else, 'else')];
    case 'webhook':
      return [edge(block.next, 'next'), ...(block.on_error === undefined ? [] : [edge(block.on_error, 'on_error')])];
    case 'articles':
      return [edge(block.next, 'next'), edge(block.none, 'none')];
    case 'handoff':
    case 'end':
      return [];
  }
}

/** Depth-first layout from start, unreachable blocks after in file order: integers only, the ids were looked up once (`Source`). */
export function layout(source: Source): Graph {
  const { ids, numbers, from, edges } = source;
  const n = ids.length;
  const pcOf = new Int32Array(n).fill(-1);
  const order = new Int32Array(n);
  let count = 0;
  const start = numbers.get(source.scenario.start);
  if (start !== undefined) {
    const stack = [start];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (pcOf[i] !== -1) continue;
      pcOf[i] = count;
      order[count++] = i;
      for (let e = from[i + 1]! - 1; e >= from[i]!; e--) {
        const t = edges[e]!;
        if (t >= 0 && pcOf[t] === -1) stack.push(t);
      }
    }
  }
  const reachable = count;
  for (let i = 0; count < n; i++) {
    if (pcOf[i] !== -1) continue;
    pcOf[i] = count;
    order[count++] = i;
  }

  const first = new Int32Array(n + 1);
  const to = new Int32Array(edges.length);
  let inFileOrder = true;
  let e = 0;
  for (let pc = 0; pc < n; pc++) {
    const i = order[pc]!;
    if (i !== pc) inFileOrder = false;
    first[pc] = e;
    for (let k = from[i]!; k < from[i + 1]!; k++) {
      const t = edges[k]!;
      to[e++] = t < 0 ? -1 : pcOf[t]!;
    }
  }
  first[n] = e;
  // Files often list blocks in the order they run: then the block numbers are the index already.
  let index = numbers;
  if (!inFileOrder) {
    index = new Map();
    for (let pc = 0; pc < n; pc++) index.set(ids[order[pc]!]!, pc);
  }
  return { order, index, reachable, first, to };
}

/**
 * One pass over the blocks in instruction order, so that each block is read while it is at hand:
 * checks it (every error is reported: unknown targets, bad regexes and time zones, ambiguous answers,
 * unlisted webhooks), builds its instruction, and feeds it to the program hash. The scenario-wide
 * checks (start, origins, migrations) come first, loops that never wait last; after the first
 * error it only checks. The warnings: variables read that no block sets, unreachable blocks.
 * undefined: errors (in `problems`).
 */

export function checkCycles(ids: readonly string[], graph: Graph, waits: Uint8Array, error: (path: string, message: string) => void): void {
  const { order, first, to } = graph;
  const name = (pc: number) => ids[order[pc]!]!;
  const n = order.length;
  const color = new Uint8Array(n); // 0 unseen, 1 on the DFS stack, 2 done
  const stack = new Int32Array(n);
  const cursor = new Int32Array(n); // next edge to try, per block on the stack
  for (let root = 0; root < n; root++) {
    if (waits[root] || color[root]) continue;
    let depth = 0;
    stack[depth++] = root;
    color[root] = 1;
    cursor[root] = first[root]!;
    while (depth > 0) {
      const k = stack[depth - 1]!;
      if (cursor[k]! >= first[k + 1]!) {
        color[k] = 2;
        depth--;
        continue;
      }
      const t = to[cursor[k]!++]!;
      if (t < 0 || waits[t]) continue;
      if (color[t] === 1) {
        const from = stack.subarray(0, depth).indexOf(t);
        const loop = [...stack.subarray(from, depth), t].map(name);
        error(`blocks.${name(t)}`, `the loop ${loop.join(' → ')} never waits for the visitor (put a choice, ask or match in it)`);
      } else if (color[t] === 0) {
        color[t] = 1;
        cursor[t] = first[t]!;
        stack[depth++] = t;
      }
    }
  }
}
