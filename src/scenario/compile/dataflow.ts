// Variables read before any block sets them: `{{order}}` in the first question, set by the question
// after it, shows as "" to every visitor. The "never set" warning (build.ts) misses it, since a
// block does set it, later. Part of compile/ (pure).
import type { Block } from '../schema.js';
import { pushSets, type Reads } from './build.js';
import type { Graph } from './graph.js';
import type { Problem } from './program.js';

/**
 * Past this many steps (variables read × the graph's size) the check is skipped: it is a warning,
 * and a generated 100 000-block graph reading hundreds of variables should not pay a second per boot.
 */
const BUDGET = 20_000_000;

/**
 * A warning for each `{{name}}` read (`reads`, gathered with the other template warnings) in a
 * reachable block that no path from the start passes a block setting `name` before reaching it. A
 * block's own save happens after it is shown (an ask's answer, a choice's pick), so it counts only
 * if a loop comes back to the block.
 */
export function readBeforeSet(ids: readonly string[], blocks: readonly Block[], graph: Graph, reads: Reads, out: Problem[]): void {
  const { order, reachable, first, to } = graph;
  if (reads.size === 0 || reads.size * (reachable + to.length) > BUDGET) return;
  const setters = new Map<string, number[]>();
  const names = new Set<string>();
  for (let pc = 0; pc < reachable; pc++) {
    names.clear();
    pushSets(blocks[order[pc]!]!, names);
    for (const name of names) if (reads.has(name)) (setters.get(name) ?? setters.set(name, []).get(name)!).push(pc);
  }
  const seen = new Uint8Array(reachable);
  const stack: number[] = [];
  for (const [name, list] of reads) {
    seen.fill(0);
    for (const pc of setters.get(name) ?? []) stack.push(pc);
    // Mark every block some edge out of a setter leads to, and every block after those.
    while (stack.length > 0) {
      const pc = stack.pop()!;
      for (let e = first[pc]!; e < first[pc + 1]!; e++) {
        const t = to[e]!;
        if (t >= 0 && t < reachable && !seen[t]) {
          seen[t] = 1;
          stack.push(t);
        }
      }
    }
    const where = (setters.get(name) ?? []).map((pc) => `"${ids[order[pc]!]}"`);
    const by = where.length === 0 ? 'an unreachable block sets it' : `${where.slice(0, 3).join(', ')}${where.length > 3 ? '…' : ''} set${where.length === 1 ? 's' : ''} it, only after`;
    for (const [pc, field] of list) {
      if (pc < reachable && !seen[pc]) out.push({ level: 'warning', path: `blocks.${ids[order[pc]!]}.${field}`, message: `{{${name}}} is read before any block sets it (${by}), so it shows as "" here: move the block that sets it before this one, or drop it here` });
    }
  }
}
