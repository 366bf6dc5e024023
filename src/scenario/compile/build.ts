// Building the program from the laid-out graph: the instructions, the checks across blocks (choice
// answers, cycles) and the warnings (templates naming unset variables).
// Part of compile.ts (the entry point); pure, no I/O.
import { distance } from 'fastest-levenshtein';
import { WAITING_BLOCKS, type Block, type ChoiceBlock } from '../schema.js';
import { readBeforeSet } from './dataflow.js';
import { checkCycles, edgesOf, type Graph } from './graph.js';
import { ProgramHash } from './hash.js';
import { normalize } from '../fold.js';
import { conditions, instruction, originOf, validTimeZone } from './instructions.js';
import { IMPLICIT_END, type CompileOptions, type Instruction, type Problem } from './program.js';
import { nestedRepeat } from './regex-repeat.js';
import { type Source } from './validate.js';

/** The block a migration target leads to: itself, or through the migrations of blocks that are gone; undefined if none. */
function migrationEnd(target: string, migrations: Readonly<Record<string, string>>, index: ReadonlyMap<string, number>): string | undefined {
  const seen = new Set<string>();
  let at = target;
  while (!index.has(at)) {
    if (seen.has(at) || !Object.hasOwn(migrations, at)) return undefined;
    seen.add(at);
    at = migrations[at]!;
  }
  return at;
}

export function build(source: Source, graph: Graph, options: CompileOptions, problems: Problem[]): { code: Instruction[]; hash: string; warnings: Problem[]; migrations: Record<string, string> } | undefined {
  const error = (path: string, message: string) => problems.push({ level: 'error', path, message });
  const { scenario, ids, blocks, sets } = source;
  const { order, index, reachable, first, to } = graph;
  const n = order.length;
  const regexes = new Map<string, RegExp>();
  const regex = (path: string, source: string, flags: string) => {
    try {
      regexes.set(path, new RegExp(source, flags));
    } catch (e) {
      error(path, `bad regex: ${(e as Error).message}`);
      return;
    }
    const slow = nestedRepeat(source, flags);
    if (slow?.why === 'repeat') error(path, `regex ${slow.group} repeats a group that holds a repeat: on text that almost matches it can take exponential time, stalling every conversation; repeat the group's parts once each (e.g. ^\\w+(\\s\\w+)*$ for ^(\\w+\\s?)*$)`);
    else if (slow) error(path, `regex ${slow.group} repeats a group whose alternatives can match the same text: on text that almost matches it can take exponential time, stalling every conversation; make the alternatives exclusive or use one class (e.g. [\\w-]+ for (\\w|\\d|-)+)`);
  };

  // The blocks a mistyped id may have meant: named only while the errors are few (a hint, not a report).
  let hints = 20;
  const hint = (target: string) => (hints-- > 0 ? blockHint(target, ids) : '');
  if (!index.has(scenario.start)) error('start', `start block "${scenario.start}" does not exist${hint(scenario.start)}`);
  const allowed = new Set<string>();
  for (const [i, origin] of (scenario.webhook_origins ?? []).entries()) {
    const normal = originOf(origin);
    if (normal === null || normal !== origin.replace(/\/$/, '')) {
      error(`webhook_origins.${i}`, `"${origin}" is not an origin like https://host[:port]`);
      continue;
    }
    allowed.add(normal); // refused by the server: reported once, here
    if (options.webhookOrigins && !options.webhookOrigins.some((o) => originOf(o) === normal)) error(`webhook_origins.${i}`, `${normal} is not allowed by the server`);
  }
  // An entry may name a block an entry of a later edit moved on ({"a": "b"} kept when the next edit
  // removed b and added {"b": "c"}): a conversation that slept through both edits follows the chain.
  const migrations: Record<string, string> = {};
  for (const [from, target] of Object.entries(scenario.migrations ?? {})) {
    const end = migrationEnd(target, scenario.migrations!, index);
    if (end !== undefined) migrations[from] = end;
    else if (Object.hasOwn(scenario.migrations!, target)) error(`migrations.${from}`, `migration target "${target}" is no block, and its own migration leads to none`);
    else error(`migrations.${from}`, `migration target "${target}" does not exist${hint(target)}`);
  }

  // Labels repeat ("Yes", "No"…): each distinct one is normalized, and kept in the program, once.
  const normalized = new Map<string, string>();
  const normal = (text: string) => {
    let out = normalized.get(text);
    if (out === undefined) normalized.set(text, (out = normalize(text)));
    return out;
  };
  const hash = new ProgramHash(scenario, ids, order, reachable);
  const code = new Array<Instruction>(n);
  const waits = new Uint8Array(n);
  const warned: Problem[] = [];
  const reads: Reads = new Map();
  let implicitEnd = false;
  for (let pc = 0; pc < n; pc++) {
    const id = ids[order[pc]!]!;
    const block = blocks[order[pc]!]!;
    for (let e = first[pc]!; e < first[pc + 1]!; e++) {
      if (to[e] !== -1) continue;
      for (const [target, path] of edgesOf(id, block)) if (!index.has(target)) error(path, `unknown block "${target}"${hint(target)}`);
      break;
    }
    blankTexts(id, block, error);
    if (WAITING_BLOCKS.has(block.type)) waits[pc] = 1;
    let answers: string[] | undefined;
    switch (block.type) {
      case 'message':
        if (block.next === undefined) implicitEnd = true;
        break;
      case 'choice':
        answers = choiceAnswers(id, block, normal, error);
        break;
      case 'ask':
        if (typeof block.validation === 'object') regex(`blocks.${id}.validation.regex`, block.validation.regex, block.validation.flags ?? '');
        break;
      case 'match':
        block.rules.forEach((r, i) => r.regex !== undefined && regex(`blocks.${id}.rules.${i}.regex`, r.regex, r.flags ?? 'i'));
        break;
      case 'condition':
        conditions(block.when).forEach((c, i) => {
          const path = Array.isArray(block.when) ? `blocks.${id}.when.${i}` : `blocks.${id}.when`;
          if ('matches' in c && c.matches !== undefined) regex(`${path}.matches`, c.matches, 'i');
          if ('business_hours' in c && !validTimeZone(c.business_hours.timezone)) error(`${path}.business_hours.timezone`, `unknown time zone "${c.business_hours.timezone}" (use an IANA name like Europe/Paris)`);
        });
        break;
      case 'webhook': {
        // The URL is called as written (only its origin is checked against the allow-list), so a
        // template in it would reach the server as the braces themselves.
        if (block.url.includes('{{')) error(`blocks.${id}.url`, `a webhook URL is called exactly as written: {{name}} is not filled in there; send the variable in "body" (a GET sends the body as the query string)`);
        const origin = originOf(block.url);
        if (origin === null || !allowed.has(origin)) {
          const listed = scenario.webhook_origins ?? [];
          const fix = listed.length === 0 ? `add "webhook_origins": ["${origin ?? block.url}"] to the scenario` : `it lists ${listed.map((o) => JSON.stringify(o)).join(', ')}`;
          error(`blocks.${id}.url`, `${origin ?? block.url} is not listed in webhook_origins: ${fix}`);
        }
        break;
      }
      default:
        break;
    }
    if (problems.length > 0) continue; // no program: only the errors matter now
    warnings(id, block, sets, warned, reads, pc);
    code[pc] = instruction(id, block, to, first[pc]!, n, regexes, answers);
    if (pc < reachable) hash.block(block);
  }
  if (implicitEnd) {
    index.set(IMPLICIT_END, n);
    code.push({ op: 'end', block: IMPLICIT_END, message: null, resolve: false });
  }
  checkCycles(ids, graph, waits, error);
  if (problems.length > 0) return undefined;
  for (let pc = reachable; pc < n; pc++) warned.push({ level: 'warning', path: `blocks.${ids[order[pc]!]}`, message: 'unreachable from start' });
  readBeforeSet(ids, blocks, graph, reads, warned);
  return { code, hash: hash.digest(blocks), warnings: warned, migrations };
}

/** A choice's accepted answers, normalized: label then value of each choice; two choices may not share one. */
function choiceAnswers(id: string, block: ChoiceBlock, normal: (text: string) => string, error: (path: string, message: string) => void): string[] {
  const count = block.choices.length;
  const answers = new Array<string>(count * 2);
  for (let i = 0; i < count; i++) {
    const c = block.choices[i]!;
    answers[2 * i] = normal(c.label);
    answers[2 * i + 1] = c.value === undefined ? answers[2 * i]! : normal(c.value);
    let j = answers.indexOf(answers[2 * i]!);
    if (j < 2 * i) error(`blocks.${id}.choices.${i}.label`, `"${c.label}" is also choice ${j >> 1}: answers would be ambiguous`);
    if (c.value === undefined) continue;
    j = answers.indexOf(answers[2 * i + 1]!);
    if (j < 2 * i) error(`blocks.${id}.choices.${i}.value`, `"${c.value}" is also choice ${j >> 1}: answers would be ambiguous`);
  }
  return answers;
}

/**
 * Text that is only white space: the schema refuses "" but not "  ", which the visitor would get as
 * an empty message or an empty button.
 */
function blankTexts(id: string, block: Block, error: (path: string, message: string) => void): void {
  // Most text starts with a printable character: only the rest is trimmed.
  const blank = (value: unknown) => typeof value === 'string' && value.charCodeAt(0) <= 0x20 && value.trim() === '';
  if ('text' in block && blank(block.text)) error(`blocks.${id}.text`, 'is only white space: the visitor would get an empty message; write the text (or leave the field out where it is optional)');
  if (block.type === 'ask' && blank(block.invalid_text)) error(`blocks.${id}.invalid_text`, 'is only white space: write what to say, or leave it out to ask the question again');
  if (block.type === 'choice') {
    for (let i = 0; i < block.choices.length; i++) if (blank(block.choices[i]!.label)) error(`blocks.${id}.choices.${i}.label`, 'is only white space: the visitor would get an empty button; write its label');
  }
}

/** A `{{…}}` in a text: group 1 the variable name it holds, else group 2 whatever else it holds. */
const TEMPLATE = /\{\{(?:\s*([A-Za-z_][A-Za-z0-9_]*)\s*|([^{}]*))\}\}/g;

/** The variables a block sets. */
export function pushSets(block: Block, out: Set<string>): void {
  if (block.type === 'ask' && block.save.var) out.add(block.save.var);
  else if ((block.type === 'choice' || block.type === 'match') && block.save) out.add(block.save);
  else if (block.type === 'set' && block.vars) for (const name of Object.keys(block.vars)) out.add(name);
  else if (block.type === 'webhook' && block.map) for (const name of Object.keys(block.map)) out.add(name);
}

/**
 * Warnings for a block that reads variables (`{{name}}`, conditions) no block sets; the `{{name}}`
 * it reads that some block does set go to `reads` (for readBeforeSet, dataflow.ts).
 */
export function warnings(id: string, b: Block, sets: ReadonlySet<string>, out: Problem[], reads: Reads, pc: number): void {
  const read = (field: string, text: unknown) => templates(id, field, text, sets, out, reads, pc);
  if ('text' in b) read('text', b.text);
  if (b.type === 'message' && b.cards) {
    for (let i = 0; i < b.cards.length; i++) {
      const card = b.cards[i]!;
      if (card.button !== undefined && card.url === undefined) out.push({ level: 'warning', path: `blocks.${id}.cards.${i}.button`, message: 'a card\'s button is a link to its "url": without one, no button is shown' });
    }
  }
  if (b.type === 'choice' && b.display !== 'carousel') {
    // Plain loops: this runs for every choice block of every scenario compiled (bench/scenario: 50,000).
    for (let i = 0; i < b.choices.length; i++) {
      const choice = b.choices[i]!;
      if (choice.description !== undefined) out.push(carouselOnly(id, i, 'description'));
      if (choice.image !== undefined) out.push(carouselOnly(id, i, 'image'));
    }
  }
  if (b.type === 'ask') read('invalid_text', b.invalid_text);
  else if (b.type === 'handoff') read('note', b.note);
  else if (b.type === 'set') {
    for (const map of ['vars', 'conversation_data', 'people_data'] as const) for (const [k, v] of Object.entries(b[map] ?? {})) read(`${map}.${k}`, v);
  } else if (b.type === 'webhook') for (const [k, v] of Object.entries(b.body ?? {})) read(`body.${k}`, v);
  else if (b.type === 'articles') read('query', b.query);
  else if (b.type === 'condition') {
    conditions(b.when).forEach((c, i) => {
      if ('var' in c && !sets.has(c.var)) out.push({ level: 'warning', path: Array.isArray(b.when) ? `blocks.${id}.when.${i}.var` : `blocks.${id}.when.var`, message: `variable "${c.var}" is never set by this scenario` });
    });
  }
}

/** Where each variable that some block sets is read: instruction index and field, per name. */
export type Reads = Map<string, Array<[pc: number, field: string]>>;

function templates(id: string, field: string, text: unknown, sets: ReadonlySet<string>, out: Problem[], reads: Reads, pc: number): void {
  if (typeof text !== 'string' || !text.includes('{{')) return;
  // One pass over every {{…}}: a variable name is checked against what the scenario sets; braces
  // around anything else are not filled in, and the visitor would see them.
  TEMPLATE.lastIndex = 0;
  for (let m = TEMPLATE.exec(text); m !== null; m = TEMPLATE.exec(text)) {
    const name = m[1];
    if (name === undefined) out.push({ level: 'warning', path: `blocks.${id}.${field}`, message: `${m[0]} is not a variable name (ASCII letters, digits and "_"), so it shows as written` });
    else if (!sets.has(name)) out.push({ level: 'warning', path: `blocks.${id}.${field}`, message: `{{${name}}} is never set by this scenario (it shows as "")` });
    else {
      const list = reads.get(name);
      if (list === undefined) reads.set(name, [[pc, field]]);
      else list.push([pc, field]);
    }
  }
}

function carouselOnly(id: string, choice: number, field: 'description' | 'image'): Problem {
  return { level: 'warning', path: `blocks.${id}.choices.${choice}.${field}`, message: `${field} is shown on carousel cards only: add "display": "carousel" to the block, or drop it` };
}

/** "; did you mean …" for an id a typo (or only case) away from a block's, else the ids of a small scenario. */
function blockHint(target: string, ids: readonly string[]): string {
  const lower = target.toLowerCase();
  let best: string | undefined;
  // Short ids are all a letter or two apart: the longer the id, the more edits still look like a typo.
  let bestDistance = target.length >= 7 ? 3 : target.length >= 4 ? 2 : 1;
  for (const id of ids) {
    const d = id.toLowerCase() === lower ? 0 : Math.abs(id.length - target.length) < bestDistance ? distance(id, target) : bestDistance;
    if (d < bestDistance) [best, bestDistance] = [id, d];
    if (d === 0) break;
  }
  if (best !== undefined) return `; did you mean "${best}"?`;
  if (ids.length === 0) return ' (blocks is empty)';
  return ids.length <= 12 ? ` (the blocks are ${ids.join(', ')})` : '';
}
