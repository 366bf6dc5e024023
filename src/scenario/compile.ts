// Scenario → program: validate the graph a human wrote, then LINEARIZE it into a flat instruction
// array whose edges are integer indexes (seed 001: resume by index, never by walking the graph).
// Runs once at boot; afterwards only the program is used. Pure: node:crypto's hash is the one
// import from outside, and it does no I/O. Written for 100 000-block graphs: the walks use typed
// arrays and build no per-block garbage.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DAYS, Scenario, WAITING_BLOCKS, type Block, type BusinessHours, type ChoiceBlock, type Condition, type SaveTarget, type Scalar } from './schema.js';

// ---------------------------------------------------------------- the program

/** A message the bot sends, as data; `text` may hold `{{var}}`, which run.ts fills in. */
export type OutMessage =
  | { type: 'text'; text: string }
  | { type: 'picker'; id: string; text: string; choices: Array<{ value: string; label: string; url?: string }> }
  | { type: 'carousel'; text: string; cards: Array<{ title: string; description?: string; image?: string; url?: string; button?: string; value?: string }> }
  | { type: 'file'; text?: string; file: { url: string; name: string; mime: string } };

export type CompiledCondition =
  | { kind: 'var'; var: string; op: 'equals' | 'not_equals' | 'exists' | 'contains' | 'matches' | 'gt' | 'lt'; value: Scalar; re?: RegExp }
  | { kind: 'hours'; timezone: string; ranges: Array<{ days: number; from: number; to: number }>; closed: string[] }
  | { kind: 'operators'; available: boolean };

export interface MatchRuleCode {
  kind: 'contains' | 'exact' | 'regex';
  /** Lowercased words (contains, exact). */
  words: string[];
  re?: RegExp;
  next: number;
}

/** One instruction per block. Every edge (`next`, `then`, `targets`…) is an index into `Program.code`. */
export type Instruction =
  | { op: 'say'; block: string; message: OutMessage; next: number }
  | {
      op: 'choice';
      block: string;
      message: OutMessage;
      /** Accepted answers, lowercased: `answers[2i]` is choice i's label, `answers[2i + 1]` its value. */
      answers: string[];
      /** The value each choice saves. */
      values: string[];
      targets: number[];
      /** -1: none (the buttons are shown again). */
      fallback: number;
      save: string | null;
    }
  | { op: 'ask'; block: string; message: OutMessage; check: 'email' | 'phone' | 'regex' | null; re?: RegExp; invalid: OutMessage | null; save: SaveTarget; next: number }
  | { op: 'match'; block: string; rules: MatchRuleCode[]; otherwise: number; save: string | null }
  | { op: 'cond'; block: string; when: CompiledCondition[]; then: number; else: number }
  | {
      op: 'set';
      block: string;
      vars: Record<string, Scalar> | null;
      conversation_data: Record<string, Scalar> | null;
      people_data: Record<string, Scalar> | null;
      segments: { add: string[]; remove: string[] } | null;
      next: number;
    }
  | { op: 'webhook'; block: string; url: string; method: 'POST' | 'GET'; body: Record<string, Scalar> | null; map: Array<[string, string[]]>; next: number; on_error: number }
  | { op: 'handoff'; block: string; message: OutMessage | null; assign: { user_id?: string; email?: string } | null; unassign: boolean; note: string | null; reason: string }
  | { op: 'end'; block: string; message: OutMessage | null; resolve: boolean };

export type Op = Instruction['op'];
/** Ops that end a turn waiting: for the visitor (choice, ask, match) or for a webhook's answer. */
export const WAITING_OPS: ReadonlySet<Op> = new Set(['choice', 'ask', 'match', 'webhook']);

export interface Program {
  scenario: string;
  version: string | number;
  /** sha-256 of the canonical source (see hashSource). */
  hash: string;
  /** Index of the start instruction (always 0: the start block is laid out first). */
  start: number;
  code: Instruction[];
  /** Block id → instruction index; `$end` is the implicit end after a message without next. */
  index: ReadonlyMap<string, number>;
  /** Old block id → block id of this version (the scenario's `migrations`). */
  migrations: Record<string, string>;
  /** Blocks in the source (code may hold one more: `$end`). */
  blocks: number;
}

export interface Problem {
  level: 'error' | 'warning';
  /** Where, as a dotted path into the scenario (`blocks.ask_email.validation.regex`); "" for the file. */
  path: string;
  message: string;
}

export type CompileResult = { ok: true; program: Program; warnings: Problem[] } | { ok: false; problems: Problem[] };

export interface CompileOptions {
  /** Origins the server lets webhooks call; when given, a scenario may only list origins among them. */
  webhookOrigins?: readonly string[];
}

export const IMPLICIT_END = '$end';

// ---------------------------------------------------------------- entry points

/** Validates a scenario (already parsed from JSON) and linearizes it. */
export function compile(source: unknown, options: CompileOptions = {}): CompileResult {
  const parsed = scenarioParser().safeParse(source);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error.issues) };
  const scenario = parsed.data;
  const problems: Problem[] = [];
  const graph = analyze(scenario, options, problems);
  if (problems.length > 0) return { ok: false, problems };
  const warnings = warn(scenario, graph);
  return { ok: true, program: linearize(scenario, graph), warnings };
}

/** Like `compile`, from JSON text: also reports duplicate keys (duplicate block ids), which JSON.parse drops. */
export function compileText(json: string, options: CompileOptions = {}): CompileResult {
  let source: unknown;
  try {
    source = JSON.parse(json);
  } catch (error) {
    return { ok: false, problems: [{ level: 'error', path: '', message: jsonError(json, error) }] };
  }
  const duplicates = duplicateKeys(json);
  const result = compile(source, options);
  if (duplicates.length === 0) return result;
  const rest = result.ok ? result.warnings : result.problems;
  return { ok: false, problems: [...duplicates, ...rest.filter((p) => p.level === 'error'), ...rest.filter((p) => p.level === 'warning')] };
}

export interface ProgramSummary {
  scenario: string;
  version: string | number;
  hash: string;
  start: string;
  blocks: number;
  instructions: number;
  /** Blocks where a conversation can rest between turns. */
  waiting_points: string[];
  webhooks: string[];
  handoffs: number;
  ends: number;
}

export function summarize(program: Program): ProgramSummary {
  const code = program.code;
  return {
    scenario: program.scenario,
    version: program.version,
    hash: program.hash,
    start: code[program.start]?.block ?? '',
    blocks: program.blocks,
    instructions: code.length,
    waiting_points: code.filter((i) => WAITING_OPS.has(i.op)).map((i) => i.block),
    webhooks: [...new Set(code.flatMap((i) => (i.op === 'webhook' ? [i.url] : [])))],
    handoffs: code.filter((i) => i.op === 'handoff').length,
    ends: code.filter((i) => i.op === 'end').length,
  };
}

/** The program as JSON text (regexes as /source/flags, the index as an object), for `scenario compile`. */
export function programToJson(program: Program, space = 2): string {
  return JSON.stringify(program, (_key, value: unknown) => (value instanceof RegExp ? String(value) : value instanceof Map ? Object.fromEntries(value) : value), space);
}

// ---------------------------------------------------------------- validation

let compiledSchema: typeof Scenario | undefined;
/** zod's ahead-of-time compiled parser for Scenario (faster than the runtime parser on big files), built on first use. */
function scenarioParser(): typeof Scenario {
  return (compiledSchema ??= z.compile(Scenario));
}

/**
 * The graph, laid out: `order[pc]` is the block at instruction `pc` (depth-first from start, first
 * way on first; unreachable blocks after the `reachable` first ones), and the edges of instruction
 * pc are `to[first[pc]] … to[first[pc + 1] - 1]` (-1 for an unknown block).
 */
interface Graph {
  order: string[];
  index: Map<string, number>;
  reachable: number;
  first: Int32Array;
  to: Int32Array;
  /** Instructions whose block may read variables (templates, conditions, saves): all but plain messages. */
  readers: number[];
  /** Per choice instruction, its accepted answers (see Instruction `answers`). */
  answers: Array<string[] | undefined>;
  regexes: Map<string, RegExp>;
  /** Some message has no next: the program gets an `$end` instruction. */
  implicitEnd: boolean;
}

/** The blocks a block can go to, in order (the first is the usual way on). */
function pushTargets(block: Block, out: string[]): void {
  switch (block.type) {
    case 'message':
      if (block.next !== undefined) out.push(block.next);
      return;
    case 'choice':
      for (const c of block.choices) out.push(c.next);
      if (block.fallback !== undefined) out.push(block.fallback);
      return;
    case 'ask':
    case 'set':
      out.push(block.next);
      return;
    case 'match':
      for (const r of block.rules) out.push(r.next);
      out.push(block.otherwise);
      return;
    case 'condition':
      out.push(block.then, block.else);
      return;
    case 'webhook':
      out.push(block.next);
      if (block.on_error !== undefined) out.push(block.on_error);
      return;
    case 'handoff':
    case 'end':
      return;
  }
}

/** The same targets with the path of the field naming each, for error messages. */
function edgesOf(id: string, block: Block): Array<[target: string, path: string]> {
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
    case 'handoff':
    case 'end':
      return [];
  }
}

/**
 * Depth-first layout from start, unreachable blocks after in file order. A block gets its index
 * when it is taken off the stack, and its targets are recorded then, so the edge list comes out
 * in instruction order at no extra cost.
 */
function layout(blocks: Scenario['blocks'], start: string): Pick<Graph, 'order' | 'index' | 'reachable' | 'first'> & { targets: string[] } {
  const order: string[] = [];
  const index = new Map<string, number>();
  const ids = Object.keys(blocks);
  const first = new Int32Array(ids.length + 1);
  const targets: string[] = [];
  const place = (id: string) => {
    index.set(id, order.length);
    first[order.length] = targets.length;
    order.push(id);
    pushTargets(blocks[id]!, targets);
  };
  const stack = [start];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (index.has(id) || !Object.hasOwn(blocks, id)) continue;
    const from = targets.length;
    place(id);
    for (let e = targets.length - 1; e >= from; e--) if (!index.has(targets[e]!)) stack.push(targets[e]!);
  }
  const reachable = order.length;
  if (reachable < ids.length) for (const id of ids) if (!index.has(id)) place(id);
  first[order.length] = targets.length;
  return { order, index, reachable, first, targets };
}

/** Lays the graph out and reports every error: unknown targets, missing start, loops that never wait, bad regexes and time zones… */
function analyze(scenario: Scenario, options: CompileOptions, problems: Problem[]): Graph {
  const error = (path: string, message: string) => problems.push({ level: 'error', path, message });
  const { blocks } = scenario;
  const { order, index, reachable, first, targets } = layout(blocks, scenario.start);
  const n = order.length;
  const regexes = new Map<string, RegExp>();
  const regex = (path: string, source: string, flags: string) => {
    try {
      regexes.set(path, new RegExp(source, flags));
    } catch (e) {
      error(path, `bad regex: ${(e as Error).message}`);
    }
  };

  if (!index.has(scenario.start)) error('start', `start block "${scenario.start}" does not exist`);
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
  for (const [from, target] of Object.entries(scenario.migrations ?? {})) if (!index.has(target)) error(`migrations.${from}`, `migration target "${target}" does not exist`);

  const to = new Int32Array(targets.length);
  for (let e = 0; e < targets.length; e++) to[e] = index.get(targets[e]!) ?? -1;
  const waits = new Uint8Array(n);
  const readers: number[] = [];
  const answers: Array<string[] | undefined> = [];
  let implicitEnd = false;
  for (let pc = 0; pc < n; pc++) {
    const id = order[pc]!;
    const block = blocks[id]!;
    for (let e = first[pc]!; e < first[pc + 1]!; e++) {
      if (to[e] !== -1) continue;
      for (const [target, path] of edgesOf(id, block)) if (!index.has(target)) error(path, `unknown block "${target}"`);
      break;
    }
    if (WAITING_BLOCKS.has(block.type)) waits[pc] = 1;
    if (block.type === 'message') {
      if (block.next === undefined) implicitEnd = true;
      if (block.text?.includes('{{')) readers.push(pc);
      continue;
    }
    readers.push(pc);
    switch (block.type) {
      case 'choice':
        answers[pc] = choiceAnswers(id, block, error);
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
        const origin = originOf(block.url);
        if (origin === null || !allowed.has(origin)) error(`blocks.${id}.url`, `${origin ?? block.url} is not listed in webhook_origins`);
        break;
      }
      default:
        break;
    }
  }
  const graph: Graph = { order, index, reachable, first, to, readers, answers, regexes, implicitEnd };
  checkCycles(graph, waits, error);
  return graph;
}

/** A choice's accepted answers, normalized: label then value of each choice; two choices may not share one. */
function choiceAnswers(id: string, block: ChoiceBlock, error: (path: string, message: string) => void): string[] {
  const count = block.choices.length;
  const answers = new Array<string>(count * 2);
  for (let i = 0; i < count; i++) {
    const c = block.choices[i]!;
    answers[2 * i] = normalize(c.label);
    answers[2 * i + 1] = c.value === undefined ? answers[2 * i]! : normalize(c.value);
    for (const field of ['label', 'value'] as const) {
      if (c[field] === undefined) continue;
      const j = answers.indexOf(answers[field === 'label' ? 2 * i : 2 * i + 1]!);
      if (j < 2 * i) error(`blocks.${id}.choices.${i}.${field}`, `"${c[field]}" is also choice ${j >> 1}: answers would be ambiguous`);
    }
  }
  return answers;
}

/** An error for each loop of non-waiting blocks: such a loop would spin without the visitor. */
function checkCycles(graph: Graph, waits: Uint8Array, error: (path: string, message: string) => void): void {
  const { order, first, to } = graph;
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
        const loop = [...stack.subarray(from, depth), t].map((x) => order[x]!);
        error(`blocks.${order[t]}`, `the loop ${loop.join(' → ')} never waits for the visitor (put a choice, ask or match in it)`);
      } else if (color[t] === 0) {
        color[t] = 1;
        cursor[t] = first[t]!;
        stack[depth++] = t;
      }
    }
  }
}

const TEMPLATE_VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Warnings: unreachable blocks, and variables read (`{{name}}`, conditions) that no block sets. */
function warn(scenario: Scenario, graph: Graph): Problem[] {
  const { blocks } = scenario;
  const { order, readers } = graph;
  const warnings: Problem[] = [];
  const set = new Set<string>();
  for (const pc of readers) {
    const b = blocks[order[pc]!]!;
    if (b.type === 'ask' && b.save.var) set.add(b.save.var);
    else if ((b.type === 'choice' || b.type === 'match') && b.save) set.add(b.save);
    else if (b.type === 'set' && b.vars) for (const name in b.vars) set.add(name);
    else if (b.type === 'webhook' && b.map) for (const name in b.map) set.add(name);
  }
  const templates = (path: string, text: unknown) => {
    if (typeof text !== 'string' || !text.includes('{{')) return;
    TEMPLATE_VAR.lastIndex = 0;
    for (let m = TEMPLATE_VAR.exec(text); m !== null; m = TEMPLATE_VAR.exec(text)) {
      if (!set.has(m[1]!)) warnings.push({ level: 'warning', path, message: `{{${m[1]}}} is never set by this scenario (it shows as "")` });
    }
  };
  for (const pc of readers) {
    const id = order[pc]!;
    const b = blocks[id]!;
    if ('text' in b) templates(`blocks.${id}.text`, b.text);
    if (b.type === 'ask') templates(`blocks.${id}.invalid_text`, b.invalid_text);
    else if (b.type === 'handoff') templates(`blocks.${id}.note`, b.note);
    else if (b.type === 'set') {
      for (const map of ['vars', 'conversation_data', 'people_data'] as const) for (const [k, v] of Object.entries(b[map] ?? {})) templates(`blocks.${id}.${map}.${k}`, v);
    } else if (b.type === 'webhook') for (const [k, v] of Object.entries(b.body ?? {})) templates(`blocks.${id}.body.${k}`, v);
    else if (b.type === 'condition') {
      conditions(b.when).forEach((c, i) => {
        if ('var' in c && !set.has(c.var)) warnings.push({ level: 'warning', path: Array.isArray(b.when) ? `blocks.${id}.when.${i}.var` : `blocks.${id}.when.var`, message: `variable "${c.var}" is never set by this scenario` });
      });
    }
  }
  for (let pc = graph.reachable; pc < order.length; pc++) warnings.push({ level: 'warning', path: `blocks.${order[pc]}`, message: 'unreachable from start' });
  return warnings;
}

// ---------------------------------------------------------------- linearization

/** One instruction per block, in layout order; edges resolved to instruction indexes. */
function linearize(scenario: Scenario, graph: Graph): Program {
  const { blocks } = scenario;
  const { order, index } = graph;
  const n = order.length;
  if (graph.implicitEnd) index.set(IMPLICIT_END, n);
  const code = new Array<Instruction>(n);
  const endPc = n;
  for (let pc = 0; pc < n; pc++) {
    let e = graph.first[pc]!;
    const edge = () => graph.to[e++]!; // the block's targets, in pushTargets order
    code[pc] = instruction(order[pc]!, blocks[order[pc]!]!, edge, endPc, graph.regexes, graph.answers[pc]);
  }
  if (graph.implicitEnd) code.push({ op: 'end', block: IMPLICIT_END, message: null, resolve: false });
  return {
    scenario: scenario.name,
    version: scenario.version,
    hash: hashSource(scenario, order, graph.reachable),
    start: 0,
    code,
    index,
    migrations: { ...scenario.migrations },
    blocks: n,
  };
}

/** `edge()` yields the block's targets as instruction indexes, in the order pushTargets lists them. */
function instruction(id: string, b: Block, edge: () => number, endPc: number, regexes: Map<string, RegExp>, answers: string[] | undefined): Instruction {
  switch (b.type) {
    case 'message':
      return { op: 'say', block: id, message: messageOf(id, b), next: b.next === undefined ? endPc : edge() };
    case 'choice': {
      const count = b.choices.length;
      const values = new Array<string>(count);
      const targets = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        values[i] = b.choices[i]!.value ?? b.choices[i]!.label;
        targets[i] = edge();
      }
      return { op: 'choice', block: id, message: choiceMessage(id, b), answers: answers!, values, targets, fallback: b.fallback === undefined ? -1 : edge(), save: b.save ?? null };
    }
    case 'ask': {
      const v = b.validation;
      return {
        op: 'ask',
        block: id,
        message: { type: 'text', text: b.text },
        ...(v === undefined ? { check: null } : typeof v === 'string' ? { check: v } : { check: 'regex', re: regexes.get(`blocks.${id}.validation.regex`)! }),
        invalid: b.invalid_text === undefined ? null : { type: 'text', text: b.invalid_text },
        save: { ...b.save },
        next: edge(),
      };
    }
    case 'match':
      return {
        op: 'match',
        block: id,
        rules: b.rules.map((r, i): MatchRuleCode => {
          if (r.regex !== undefined) return { kind: 'regex', words: [], re: regexes.get(`blocks.${id}.rules.${i}.regex`)!, next: edge() };
          const words = r.contains ?? r.exact ?? [];
          return { kind: r.contains !== undefined ? 'contains' : 'exact', words: (Array.isArray(words) ? words : [words]).map(normalize), next: edge() };
        }),
        otherwise: edge(),
        save: b.save ?? null,
      };
    case 'condition':
      return { op: 'cond', block: id, when: conditions(b.when).map(condition), then: edge(), else: edge() };
    case 'set':
      return {
        op: 'set',
        block: id,
        vars: b.vars ? { ...b.vars } : null,
        conversation_data: b.conversation_data ? { ...b.conversation_data } : null,
        people_data: b.people_data ? { ...b.people_data } : null,
        segments: b.segments ? { add: [...(b.segments.add ?? [])], remove: [...(b.segments.remove ?? [])] } : null,
        next: edge(),
      };
    case 'webhook': {
      const next = edge();
      return {
        op: 'webhook',
        block: id,
        url: b.url,
        method: b.method ?? 'POST',
        body: b.body ? { ...b.body } : null,
        map: Object.entries(b.map ?? {}).map(([name, path]) => [name, path.split('.')]),
        next,
        on_error: b.on_error === undefined ? next : edge(),
      };
    }
    case 'handoff':
      return {
        op: 'handoff',
        block: id,
        message: b.text === undefined ? null : { type: 'text', text: b.text },
        assign: b.assign ? { ...b.assign } : null,
        unassign: b.unassign ?? false,
        note: b.note ?? null,
        reason: b.reason ?? 'handoff',
      };
    case 'end':
      return { op: 'end', block: id, message: b.text === undefined ? null : { type: 'text', text: b.text }, resolve: b.resolve ?? false };
  }
}

/** How visitor text and answers are compared: trimmed, inner spaces collapsed, lowercase. */
export function normalize(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

function messageOf(id: string, b: Extract<Block, { type: 'message' }>): OutMessage {
  const text = b.text ?? '';
  if (b.buttons) return { type: 'picker', id, text, choices: b.buttons.map((x) => ({ value: x.label, label: x.label, url: x.url })) };
  if (b.cards) return { type: 'carousel', text, cards: b.cards.map((c) => ({ ...c })) };
  if (b.file) return b.text === undefined ? { type: 'file', file: { ...b.file } } : { type: 'file', text, file: { ...b.file } };
  return { type: 'text', text };
}

function choiceMessage(id: string, b: ChoiceBlock): OutMessage {
  if (b.display === 'carousel') {
    return {
      type: 'carousel',
      text: b.text,
      cards: b.choices.map((c) => ({ title: c.label, value: c.value ?? c.label, ...(c.description ? { description: c.description } : {}), ...(c.image ? { image: c.image } : {}) })),
    };
  }
  return { type: 'picker', id, text: b.text, choices: b.choices.map((c) => ({ value: c.value ?? c.label, label: c.label })) };
}

function conditions(when: Condition | Condition[]): Condition[] {
  return Array.isArray(when) ? when : [when];
}

function condition(c: Condition): CompiledCondition {
  if ('business_hours' in c) return hours(c.business_hours);
  if ('operators_available' in c) return { kind: 'operators', available: c.operators_available };
  const op = (['equals', 'not_equals', 'exists', 'contains', 'matches', 'gt', 'lt'] as const).find((k) => c[k] !== undefined)!;
  const value = c[op] as Scalar;
  if (op === 'matches') return { kind: 'var', var: c.var, op, value, re: new RegExp(String(value), 'i') };
  return { kind: 'var', var: c.var, op, value: op === 'contains' ? String(value).toLowerCase() : value };
}

function hours(h: BusinessHours): CompiledCondition {
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  return {
    kind: 'hours',
    timezone: h.timezone,
    ranges: h.hours.map((r) => ({ days: r.days.reduce((mask, d) => mask | (1 << DAYS.indexOf(d)), 0), from: minutes(r.from), to: minutes(r.to) })),
    closed: [...(h.closed_dates ?? [])],
  };
}

// ---------------------------------------------------------------- helpers

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * sha-256 of the scenario as canonical JSON: zod's output lists each object's fields in schema
 * order; blocks come in layout order (fixed by start and the edges, not by where they sit in the
 * file), unreachable ones sorted by id; maps are sorted by key; `$schema`, `description` and block
 * comments are left out (editing them restarts no conversation). The blocks go to JSON.stringify as
 * one array, its fast path: 100 000 blocks hash in one native pass.
 */
function hashSource(scenario: Scenario, order: string[], reachable: number): string {
  const { $schema: _schema, description: _description, blocks, migrations, ...rest } = scenario;
  const ids = reachable === order.length ? order : [...order.slice(0, reachable), ...order.slice(reachable).sort()];
  const values = new Array<unknown>(ids.length);
  for (let i = 0; i < ids.length; i++) values[i] = canonicalBlock(blocks[ids[i]!]!);
  return createHash('sha256')
    .update(JSON.stringify([rest, migrations === undefined ? null : sortKeys(migrations), ids, values]))
    .digest('hex');
}

function canonicalBlock(block: Block): unknown {
  if (block.comment === undefined && block.type !== 'set' && block.type !== 'webhook') return block;
  const copy: Record<string, unknown> = { ...block, comment: undefined };
  for (const key of ['vars', 'conversation_data', 'people_data', 'body', 'map']) {
    const v = copy[key];
    if (v !== undefined) copy[key] = sortKeys(v as Record<string, unknown>);
  }
  return copy;
}

function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key];
  return out;
}

function zodProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => zodProblems(branch, path));
      // A branch whose issues sit at the union itself (wrong shape, unknown key) is the wrong branch.
      const depth = path.length;
      const score = (ps: Problem[]) => ps.filter((p) => (p.path === '' ? 0 : p.path.split('.').length) <= depth).length * 1000 + ps.length;
      out.push(...branches.reduce((best, b) => (score(b) < score(best) ? b : best)));
      continue;
    }
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      out.push(...zodProblems(issue.issues, path).map((p) => ({ ...p, path: path.map(String).join('.') })));
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined$/.test(message)) message = `required (${issue.expected})`;
    if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    out.push({ level: 'error', path: path.map(String).join('.'), message });
  }
  return out;
}

function jsonError(json: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const at = /position (\d+)/.exec(message);
  if (!at) return `not valid JSON: ${message}`;
  const before = json.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `not valid JSON at line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/, '')}`;
}

interface Frame {
  object: boolean;
  path: string;
  keys: Set<string> | null;
  key: string;
  expectKey: boolean;
  index: number;
}

/** Duplicate keys in (valid) JSON text, which JSON.parse silently collapses; one linear scan. */
export function duplicateKeys(json: string): Problem[] {
  const problems: Problem[] = [];
  const stack: Frame[] = [];
  const childPath = (top: Frame | undefined) => (top === undefined ? '' : join(top.path, top.object ? top.key : String(top.index)));
  for (let i = 0, n = json.length; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = json.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j += 2;
        } else if (d === 0x22 || Number.isNaN(d)) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top?.object && top.expectKey) {
        const key = escaped ? (JSON.parse(json.slice(i, j + 1)) as string) : json.slice(i + 1, j);
        if (top.keys!.has(key)) {
          const message = top.path === 'blocks' ? `duplicate block id "${key}" (JSON keeps only the last one)` : `duplicate key "${key}"`;
          problems.push({ level: 'error', path: join(top.path, key), message });
        } else top.keys!.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      const object = c === 0x7b;
      stack.push({ object, path: childPath(stack[stack.length - 1]), keys: object ? new Set() : null, key: '', expectKey: object, index: 0 });
    } else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.object) top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return problems;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
