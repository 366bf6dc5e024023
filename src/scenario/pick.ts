// Which way a visitor's input goes at a block that waits on it: the choice it picks (its button,
// or its label or value typed), or the `match` rule its text meets. Pure; the comparison key is
// fold.ts's.
import type { Instruction } from './compile.js';
import { compatible, normalize, words } from './fold.js';

type ChoiceInstruction = Extract<Instruction, { op: 'choice' }>;

/** Each choice instruction's answers as `words` reads them (made on first need: most answers match exactly). */
const wordsOf = new WeakMap<ChoiceInstruction, string[]>();

/**
 * The choice the input picks: its card's index, or the choice whose label or value the text is
 * (normalized); failing that, the one whose label or value has the same words once emoji, symbols
 * and punctuation are dropped (`返金` picks `返金 💴`). `ambiguous`: those words are two choices'
 * (labels that differ only by their emoji): the visitor is asked again. Undefined: none.
 */
export function pick(ins: ChoiceInstruction, input: { kind: 'text'; text: string } | { kind: 'card'; index: number }): number | 'ambiguous' | undefined {
  if (input.kind === 'card') return Number.isInteger(input.index) && input.index >= 0 && input.index < ins.targets.length ? input.index : undefined;
  if (input.text.length > 1_000) return undefined; // longer than any label or value
  const typed = normalize(input.text);
  const i = ins.answers.indexOf(typed);
  if (i >= 0) return i >> 1;
  const wanted = words(typed);
  if (wanted === '') return undefined;
  let answers = wordsOf.get(ins);
  if (!answers) wordsOf.set(ins, (answers = ins.answers.map(words)));
  let found: number | undefined;
  for (let j = 0; j < answers.length; j++) {
    if (answers[j] !== wanted) continue;
    if (found !== undefined && found !== j >> 1) return 'ambiguous';
    found = j >> 1;
  }
  return found;
}

/** The `match` rule the text meets first (its target), else the block's `otherwise`. */
export function route(ins: Extract<Instruction, { op: 'match' }>, text: string): number {
  const lower = normalize(text);
  let forRegex: string | undefined;
  for (const rule of ins.rules) {
    if (rule.kind === 'regex') {
      if (rule.re!.test((forRegex ??= compatible(text)))) return rule.next;
    } else if (rule.kind === 'exact') {
      if (rule.words.includes(lower)) return rule.next;
    } else if (rule.words.some((w) => lower.includes(w))) return rule.next;
  }
  return ins.otherwise;
}
