// Scenario → program: validate the graph a human wrote, then LINEARIZE it into a flat instruction
// array whose edges are integer indexes (seed 001: resume by index, never by walking the graph).
// Runs once at boot; afterwards only the program is used. Pure: node:crypto's hash is the one
// import from outside, and it does no I/O. Written for 100 000-block graphs: blocks are numbered
// once, each edge is looked up once, the walks use typed arrays, and the hash streams bytes.
import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import {
  AskBlock,
  Block,
  BlockId,
  DAYS,
  HandoffBlock,
  MessageBlock,
  Scenario,
  WAITING_BLOCKS,
  type BusinessHours,
  type ChoiceBlock,
  type Condition,
  type SaveTarget,
  type Scalar,
} from './schema.js';

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
  /** From how many blocks zod's compiled parsers read the file (default COMPILED_PARSERS_FROM_BLOCKS; 0: always, as the tests of that path do). */
  compiledParsersFromBlocks?: number;
}

export const IMPLICIT_END = '$end';

// ---------------------------------------------------------------- entry points

/** Validates a scenario (already parsed from JSON) and linearizes it. */
export function compile(source: unknown, options: CompileOptions = {}): CompileResult {
  const input = read(source, options.compiledParsersFromBlocks ?? COMPILED_PARSERS_FROM_BLOCKS);
  if (Array.isArray(input)) return { ok: false, problems: input };
  const graph = layout(input);
  const problems: Problem[] = [];
  const built = build(input, graph, options, problems);
  if (built === undefined) return { ok: false, problems };
  const { code, hash, warnings } = built;
  const { scenario } = input;
  const program: Program = { scenario: scenario.name, version: scenario.version, hash, start: 0, code, index: graph.index, migrations: { ...scenario.migrations }, blocks: graph.order.length };
  return { ok: true, program, warnings };
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

/**
 * A valid scenario with its blocks numbered in file order: `ids[i]` names `blocks[i]`, whose edges
 * (the blocks it can go to, see pushTargets) are `edges[from[i]] … edges[from[i + 1] - 1]`, block
 * numbers (-1 for an unknown block).
 */
interface Source {
  scenario: Scenario;
  ids: string[];
  blocks: Block[];
  numbers: Map<string, number>;
  from: Int32Array;
  edges: number[];
  /** The variables the scenario sets (save, set vars, webhook map). */
  sets: Set<string>;
}

/**
 * The scenario as zod reads it, or every problem zod finds. The fast path checks each block with the
 * compiled schema of its own type (small functions V8 optimizes, where the whole-file parser is one
 * huge one) and keeps the caller's objects instead of a copy of every block. Whatever it is not sure
 * of goes to the full compiled parser, the reference, which also names the problems.
 */
/**
 * Below this many blocks a scenario is read by zod's plain parser: building the compiled parsers
 * (generated code) costs more than it saves on a small file, about 200 ms and 4 MiB for the six
 * shipped examples at a server's start-up (bench/startup). Past it, the compiled ones pay.
 */
export const COMPILED_PARSERS_FROM_BLOCKS = 256;

function read(source: unknown, compiledFrom: number): Source | Problem[] {
  const small = blockCount(source) < compiledFrom;
  const fast = small ? undefined : readFast(source);
  if (fast !== undefined) return fast;
  const parsed = (small ? Scenario : scenarioParser()).safeParse(source);
  if (!parsed.success) return zodProblems(parsed.error.issues);
  const record = parsed.data.blocks;
  const ids = Object.keys(record);
  const numbers = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) numbers.set(ids[i]!, i);
  const blocks = new Array<Block>(ids.length);
  const from = new Int32Array(ids.length + 1);
  const edges: number[] = [];
  const sets = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    blocks[i] = record[ids[i]!]!;
    from[i] = edges.length;
    pushTargets(blocks[i]!, numbers, edges);
    pushSets(blocks[i]!, sets);
  }
  from[ids.length] = edges.length;
  return { scenario: parsed.data, ids, blocks, numbers, from, edges, sets };
}

function blockCount(source: unknown): number {
  const blocks = typeof source === 'object' && source !== null ? (source as { blocks?: unknown }).blocks : undefined;
  return typeof blocks === 'object' && blocks !== null ? Object.keys(blocks).length : 0;
}

let compiledSchema: typeof Scenario | undefined;
/** zod's ahead-of-time compiled parser for Scenario (faster than the runtime parser on big files), built on first use. */
function scenarioParser(): typeof Scenario {
  return (compiledSchema ??= z.compile(Scenario));
}

interface BlockSchema {
  schema: z.ZodType;
  /** Built on first use: only the block types a scenario uses are compiled. */
  compiled?: z.ZodType;
  probe: Probe | null;
}

let fastSchemas: { top: z.ZodType; topProbe: Probe | null; blockId: z.ZodType; blocks: Map<unknown, BlockSchema> } | undefined;
function fast(): NonNullable<typeof fastSchemas> {
  return (fastSchemas ??= {
    top: z.compile(Scenario.extend({ blocks: z.any() })),
    topProbe: probeFor(Scenario, new Set(['blocks'])),
    blockId: z.compile(BlockId),
    blocks: new Map(Block.options.map((schema): [unknown, BlockSchema] => [schema.shape.type.value, { schema, probe: probeFor(schema) }])),
  });
}

/**
 * The scenario if zod accepts it and its output would be the input itself (up to the order of object
 * keys, which nothing here relies on); a block whose output may differ (see `probeFor`) is taken as
 * zod outputs it. undefined: not sure, ask the full parser. Each block's edges and the variables it
 * sets are read while it is at hand.
 */
function readFast(source: unknown): Source | undefined {
  const schemas = fast();
  if (!z.validate(schemas.top, source) || schemas.topProbe?.(source)) return undefined;
  const scenario = source as Scenario;
  const record: unknown = scenario.blocks;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const proto: unknown = Object.getPrototypeOf(record);
  if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(record).length > 0) return undefined;
  const ids = Object.keys(record);
  const n = ids.length;
  const numbers = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    // zod's records skip a "__proto__" key: let the full parser say what that means
    if (id === '__proto__' || !z.validate(schemas.blockId, id)) return undefined;
    numbers.set(id, i);
  }
  const blocks = new Array<Block>(n);
  const from = new Int32Array(n + 1);
  const edges: number[] = [];
  const sets = new Set<string>();
  for (let i = 0; i < n; i++) {
    const value: unknown = (record as Record<string, unknown>)[ids[i]!];
    const entry = typeof value === 'object' && value !== null ? schemas.blocks.get((value as { type?: unknown }).type) : undefined;
    if (entry === undefined) return undefined;
    const schema = (entry.compiled ??= z.compile(entry.schema));
    if (!z.validate(schema, value)) return undefined;
    let block = value as Block;
    if (entry.probe !== null && entry.probe(value)) {
      const parsed = schema.safeParse(value);
      if (!parsed.success) return undefined;
      block = parsed.data as Block;
    }
    blocks[i] = block;
    from[i] = edges.length;
    pushTargets(block, numbers, edges);
    pushSets(block, sets);
  }
  from[n] = edges.length;
  return { scenario, ids, blocks, numbers, from, edges, sets };
}

/** What the fast path and the canonical form read of a zod schema's definition. */
interface SchemaDef {
  type: string;
  format?: string;
  coerce?: boolean;
  checks?: ReadonlyArray<{ _zod: { def: { check: string } } }>;
  shape?: Record<string, z.core.$ZodType>;
  catchall?: z.core.$ZodType;
  innerType?: z.core.$ZodType;
  element?: z.core.$ZodType;
  keyType?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  options?: readonly z.core.$ZodType[];
}

function defOf(schema: z.core.$ZodType): SchemaDef {
  return schema._zod.def as unknown as SchemaDef;
}

/** Whether zod's output for a value may differ from the value (beyond key order). */
type Probe = (value: unknown) => boolean;
const MAYBE: Probe = () => true;
/** Checks that only accept or reject (an `overwrite` check, like trim(), rewrites the value). */
const PURE_CHECKS = new Set(['min_length', 'max_length', 'length_equals', 'string_format', 'greater_than', 'less_than', 'number_format', 'multiple_of', 'custom', 'min_size', 'max_size', 'size_equals']);

/**
 * A probe for values of `schema`, or null if zod outputs any valid value as it is (strict objects
 * list their keys in schema order, which does not count). In the scenario format only URLs (zod
 * trims them) and records holding a "__proto__" key (zod drops it) can differ; anything the format
 * does not use (transforms, defaults, coercion, stripping objects…) counts as "may differ". A
 * wrong "may" costs one zod parse of the block; the probe is never wrong the other way.
 */
function probeFor(schema: z.core.$ZodType, omit?: ReadonlySet<string>): Probe | null {
  const def = defOf(schema);
  if (def.checks?.some((check) => !PURE_CHECKS.has(check._zod.def.check))) return MAYBE;
  switch (def.type) {
    case 'string':
      return def.format === undefined && !def.coerce ? null : MAYBE;
    case 'number':
    case 'boolean':
      return def.coerce ? MAYBE : null;
    case 'null':
    case 'literal':
    case 'enum':
      return null;
    case 'optional':
    case 'nullable': {
      const inner = probeFor(def.innerType!);
      return inner && ((value) => value !== undefined && value !== null && inner(value));
    }
    case 'array': {
      const element = probeFor(def.element!);
      return element && ((value) => (value as unknown[]).some(element));
    }
    case 'object': {
      if (def.catchall === undefined || defOf(def.catchall).type !== 'never') return MAYBE;
      const fields: Array<[string, Probe]> = [];
      for (const [key, field] of Object.entries(def.shape!)) {
        const probe = omit?.has(key) ? null : probeFor(field);
        if (probe !== null) fields.push([key, probe]);
      }
      if (fields.length === 0) return null;
      return (value) => {
        for (const [key, probe] of fields) {
          const field = (value as Record<string, unknown>)[key];
          if (field !== undefined && probe(field)) return true;
        }
        return false;
      };
    }
    case 'record': {
      if (defOf(def.keyType!).type !== 'string' || probeFor(def.keyType!) !== null) return MAYBE;
      const inner = probeFor(def.valueType!);
      return (value) => Object.hasOwn(value as object, '__proto__') || (inner !== null && Object.values(value as object).some(inner));
    }
    case 'union':
      return def.options!.every((option) => probeFor(option) === null) ? null : MAYBE;
    default:
      return MAYBE;
  }
}

/** The keys of the object schema inside `schema` (through optional and array), in schema order. */
function shapeKeys(schema: z.core.$ZodType): string[] {
  let def = defOf(schema);
  while (def.shape === undefined) def = defOf(def.innerType ?? def.element!);
  return Object.keys(def.shape);
}

const CARD_KEYS = shapeKeys(MessageBlock.shape.cards);
const FILE_KEYS = shapeKeys(MessageBlock.shape.file);
const SAVE_KEYS = shapeKeys(AskBlock.shape.save);
const ASSIGN_KEYS = shapeKeys(HandoffBlock.shape.assign);

/** A copy of a strict object with the fields zod's output would have, in its order. */
function pick<T extends object>(value: T, keys: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in value) out[key] = (value as Record<string, unknown>)[key];
  return out as T;
}

// ---------------------------------------------------------------- the graph

/**
 * The graph, laid out: `order[pc]` is the number of the block at instruction `pc` (depth-first from
 * start, first way on first; unreachable blocks after the `reachable` first ones, in file order), and
 * the edges of instruction pc are `to[first[pc]] … to[first[pc + 1] - 1]`, instruction indexes (-1
 * for an unknown block).
 */
interface Graph {
  order: Int32Array;
  /** Block id → instruction index, in instruction order (the program's index). */
  index: Map<string, number>;
  reachable: number;
  first: Int32Array;
  to: Int32Array;
}

/** The numbers of the blocks a block can go to, in order (the first is the usual way on); -1 for an unknown block. */
function pushTargets(block: Block, numbers: ReadonlyMap<string, number>, out: number[]): void {
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

/** Depth-first layout from start, unreachable blocks after in file order: integers only, the ids were looked up once (`Source`). */
function layout(source: Source): Graph {
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
function build(source: Source, graph: Graph, options: CompileOptions, problems: Problem[]): { code: Instruction[]; hash: string; warnings: Problem[] } | undefined {
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
  let implicitEnd = false;
  for (let pc = 0; pc < n; pc++) {
    const id = ids[order[pc]!]!;
    const block = blocks[order[pc]!]!;
    for (let e = first[pc]!; e < first[pc + 1]!; e++) {
      if (to[e] !== -1) continue;
      for (const [target, path] of edgesOf(id, block)) if (!index.has(target)) error(path, `unknown block "${target}"`);
      break;
    }
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
        const origin = originOf(block.url);
        if (origin === null || !allowed.has(origin)) error(`blocks.${id}.url`, `${origin ?? block.url} is not listed in webhook_origins`);
        break;
      }
      default:
        break;
    }
    if (problems.length > 0) continue; // no program: only the errors matter now
    warnings(id, block, sets, warned);
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
  return { code, hash: hash.digest(blocks), warnings: warned };
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

/** An error for each loop of non-waiting blocks: such a loop would spin without the visitor. */
function checkCycles(ids: readonly string[], graph: Graph, waits: Uint8Array, error: (path: string, message: string) => void): void {
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

const TEMPLATE_VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variables a block sets. */
function pushSets(block: Block, out: Set<string>): void {
  if (block.type === 'ask' && block.save.var) out.add(block.save.var);
  else if ((block.type === 'choice' || block.type === 'match') && block.save) out.add(block.save);
  else if (block.type === 'set' && block.vars) for (const name of Object.keys(block.vars)) out.add(name);
  else if (block.type === 'webhook' && block.map) for (const name of Object.keys(block.map)) out.add(name);
}

/** Warnings for a block that reads variables (`{{name}}`, conditions) no block sets. */
function warnings(id: string, b: Block, sets: ReadonlySet<string>, out: Problem[]): void {
  if ('text' in b) templates(id, 'text', b.text, sets, out);
  if (b.type === 'ask') templates(id, 'invalid_text', b.invalid_text, sets, out);
  else if (b.type === 'handoff') templates(id, 'note', b.note, sets, out);
  else if (b.type === 'set') {
    for (const map of ['vars', 'conversation_data', 'people_data'] as const) for (const [k, v] of Object.entries(b[map] ?? {})) templates(id, `${map}.${k}`, v, sets, out);
  } else if (b.type === 'webhook') for (const [k, v] of Object.entries(b.body ?? {})) templates(id, `body.${k}`, v, sets, out);
  else if (b.type === 'condition') {
    conditions(b.when).forEach((c, i) => {
      if ('var' in c && !sets.has(c.var)) out.push({ level: 'warning', path: Array.isArray(b.when) ? `blocks.${id}.when.${i}.var` : `blocks.${id}.when.var`, message: `variable "${c.var}" is never set by this scenario` });
    });
  }
}

function templates(id: string, field: string, text: unknown, sets: ReadonlySet<string>, out: Problem[]): void {
  if (typeof text !== 'string' || !text.includes('{{')) return;
  TEMPLATE_VAR.lastIndex = 0;
  for (let m = TEMPLATE_VAR.exec(text); m !== null; m = TEMPLATE_VAR.exec(text)) {
    if (!sets.has(m[1]!)) out.push({ level: 'warning', path: `blocks.${id}.${field}`, message: `{{${m[1]}}} is never set by this scenario (it shows as "")` });
  }
}

// ---------------------------------------------------------------- instructions

/** The block's targets are `to[e]`, `to[e + 1]`…, as instruction indexes, in the order pushTargets lists them. */
function instruction(id: string, b: Block, to: Int32Array, e: number, endPc: number, regexes: Map<string, RegExp>, answers: string[] | undefined): Instruction {
  switch (b.type) {
    case 'message':
      return { op: 'say', block: id, message: messageOf(id, b), next: b.next === undefined ? endPc : to[e]! };
    case 'choice': {
      const count = b.choices.length;
      const values = new Array<string>(count);
      const targets = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        values[i] = b.choices[i]!.value ?? b.choices[i]!.label;
        targets[i] = to[e++]!;
      }
      return { op: 'choice', block: id, message: choiceMessage(id, b), answers: answers!, values, targets, fallback: b.fallback === undefined ? -1 : to[e]!, save: b.save ?? null };
    }
    case 'ask': {
      const v = b.validation;
      return {
        op: 'ask',
        block: id,
        message: { type: 'text', text: b.text },
        ...(v === undefined ? { check: null } : typeof v === 'string' ? { check: v } : { check: 'regex', re: regexes.get(`blocks.${id}.validation.regex`)! }),
        invalid: b.invalid_text === undefined ? null : { type: 'text', text: b.invalid_text },
        save: pick(b.save, SAVE_KEYS),
        next: to[e]!,
      };
    }
    case 'match': {
      const rules = new Array<MatchRuleCode>(b.rules.length);
      for (let i = 0; i < rules.length; i++) {
        const r = b.rules[i]!;
        if (r.regex !== undefined) {
          rules[i] = { kind: 'regex', words: [], re: regexes.get(`blocks.${id}.rules.${i}.regex`)!, next: to[e++]! };
          continue;
        }
        const words = r.contains ?? r.exact ?? [];
        rules[i] = { kind: r.contains !== undefined ? 'contains' : 'exact', words: (Array.isArray(words) ? words : [words]).map(normalize), next: to[e++]! };
      }
      return { op: 'match', block: id, rules, otherwise: to[e]!, save: b.save ?? null };
    }
    case 'condition':
      return { op: 'cond', block: id, when: conditions(b.when).map(condition), then: to[e]!, else: to[e + 1]! };
    case 'set':
      return {
        op: 'set',
        block: id,
        vars: b.vars ? { ...b.vars } : null,
        conversation_data: b.conversation_data ? { ...b.conversation_data } : null,
        people_data: b.people_data ? { ...b.people_data } : null,
        segments: b.segments ? { add: [...(b.segments.add ?? [])], remove: [...(b.segments.remove ?? [])] } : null,
        next: to[e]!,
      };
    case 'webhook': {
      const next = to[e]!;
      return {
        op: 'webhook',
        block: id,
        url: b.url,
        method: b.method ?? 'POST',
        body: b.body ? { ...b.body } : null,
        map: Object.entries(b.map ?? {}).map(([name, path]) => [name, path.split('.')]),
        next,
        on_error: b.on_error === undefined ? next : to[e + 1]!,
      };
    }
    case 'handoff':
      return {
        op: 'handoff',
        block: id,
        message: b.text === undefined ? null : { type: 'text', text: b.text },
        assign: b.assign ? pick(b.assign, ASSIGN_KEYS) : null,
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
  // Most labels and answers are ASCII with single spaces: then only the case can change.
  let upper = false;
  for (let i = 0, n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x09 && c <= 0x0d) || (c === 0x20 && (i === 0 || i === n - 1 || text.charCodeAt(i + 1) === 0x20))) return text.trim().replace(/\s+/g, ' ').toLowerCase();
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? text.toLowerCase() : text;
}

function messageOf(id: string, b: Extract<Block, { type: 'message' }>): OutMessage {
  const text = b.text ?? '';
  if (b.buttons) return { type: 'picker', id, text, choices: b.buttons.map((x) => ({ value: x.label, label: x.label, url: x.url })) };
  if (b.cards) return { type: 'carousel', text, cards: b.cards.map((c) => pick(c, CARD_KEYS)) };
  if (b.file) return b.text === undefined ? { type: 'file', file: pick(b.file, FILE_KEYS) } : { type: 'file', text, file: pick(b.file, FILE_KEYS) };
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

/** The runtime's canonical IANA names, read once: a lookup here costs far less than a formatter. */
let knownTimeZones: ReadonlySet<string> | undefined;

function validTimeZone(tz: string): boolean {
  // A DateTimeFormat with a time zone loads the time-zone data (about 10 MiB resident, 50 ms), which
  // a server compiling its scenarios at start-up would pay before any conversation asks the hour
  // (bench/startup). Only names outside the canonical list (aliases such as UTC) build one.
  knownTimeZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (knownTimeZones.has(tz)) return true;
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


// ---------------------------------------------------------------- the program hash

/**
 * sha-256 of the scenario as canonical JSON: the UTF-8 of
 * `JSON.stringify([rest, migrations ?? null, ids, blocks])`, where `rest` is the scenario without
 * `$schema`, `description`, `blocks` and `migrations`; `ids` lists the blocks in layout order (fixed
 * by start and the edges, not by where they sit in the file), unreachable ones sorted by id; and
 * `blocks` holds those blocks without their `comment`. Every object lists its fields in schema order
 * (zod's output order) and every map its keys sorted (`sortKeys`). Editing `$schema`, `description`
 * or a comment restarts no conversation. The JSON text is never built: emitters derived from the zod
 * schema write its bytes straight into the hash.
 */
class ProgramHash {
  private readonly sink = new HashSink(createHash('sha256'));
  private readonly emit = emitters();
  /** Block numbers in hash order: instruction order, then the unreachable blocks sorted by id. */
  private readonly sequence: Int32Array;
  private written = 0;

  /** Writes what comes before the blocks: `[rest,migrations,[ids…],[`. */
  constructor(scenario: Scenario, ids: readonly string[], order: Int32Array, reachable: number) {
    const n = order.length;
    this.sequence = order;
    if (reachable < n) {
      this.sequence = new Int32Array(n);
      this.sequence.set(order.subarray(0, reachable));
      this.sequence.set(Array.from(order.subarray(reachable)).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0)), reachable);
    }
    const { sink, emit } = this;
    sink.ascii('[');
    emit.rest(scenario, sink);
    sink.ascii(',');
    if (scenario.migrations === undefined) sink.ascii('null');
    else emit.migrations(scenario.migrations, sink);
    sink.ascii(',[');
    for (let k = 0; k < n; k++) {
      if (k > 0) sink.byte(COMMA);
      sink.string(ids[this.sequence[k]!]!);
    }
    sink.ascii('],[');
  }

  /** The next block in hash order: `build` feeds the reachable ones as it lays them out. */
  block(block: Block): void {
    if (this.written++ > 0) this.sink.byte(COMMA);
    this.emit.blocks.get(block.type)!(block, this.sink);
  }

  /** Writes the blocks not fed yet (the unreachable ones) and `]]`; the hex digest. */
  digest(blocks: readonly Block[]): string {
    for (let k = this.written; k < this.sequence.length; k++) this.block(blocks[this.sequence[k]!]!);
    this.sink.ascii(']]');
    return this.sink.digest();
  }
}

/** Writes a valid value of some schema as canonical JSON. */
type Emit = (value: unknown, sink: HashSink) => void;

let canonical: { rest: Emit; migrations: Emit; blocks: Map<string, Emit> } | undefined;
function emitters(): NonNullable<typeof canonical> {
  return (canonical ??= {
    rest: emitterFor(Scenario, new Set(['$schema', 'description', 'blocks', 'migrations'])),
    migrations: emitterFor(Scenario.shape.migrations),
    blocks: new Map(Block.options.map((schema): [string, Emit] => [schema.shape.type.value, emitterFor(schema, new Set(['comment']))])),
  });
}

const COMMA = 0x2c;
const COLON = 0x3a;
const CLOSE_BRACE = 0x7d;
const UTF8 = new TextEncoder();

/** As JSON.stringify writes it, for values of `schema` (zod has checked them: no undefined where a value must be, no cycles). */
function emitterFor(schema: z.core.$ZodType, omit?: ReadonlySet<string>): Emit {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'literal':
    case 'enum':
      return emitScalar;
    case 'optional':
    case 'nullable': {
      const inner = emitterFor(def.innerType!);
      return (value, sink) => (value === undefined || value === null ? sink.ascii('null') : inner(value, sink));
    }
    case 'array': {
      const element = emitterFor(def.element!);
      return (value, sink) => {
        const array = value as unknown[];
        sink.ascii('[');
        for (let i = 0; i < array.length; i++) {
          if (i > 0) sink.byte(COMMA);
          const item = array[i];
          if (item === undefined) sink.ascii('null');
          else element(item, sink);
        }
        sink.ascii(']');
      };
    }
    case 'object': {
      const fields = Object.entries(def.shape!)
        .filter(([key]) => !omit?.has(key))
        .map(([key, field]) => ({ key, first: UTF8.encode(`{${JSON.stringify(key)}:`), next: UTF8.encode(`,${JSON.stringify(key)}:`), emit: emitterFor(field) }));
      return (value, sink) => {
        let empty = true;
        for (const field of fields) {
          const v = (value as Record<string, unknown>)[field.key];
          if (v === undefined) continue;
          sink.bytes(empty ? field.first : field.next);
          empty = false;
          // a string is written the same whatever the schema says
          if (typeof v === 'string') sink.string(v);
          else field.emit(v, sink);
        }
        if (empty) sink.ascii('{}');
        else sink.byte(CLOSE_BRACE);
      };
    }
    case 'record': {
      const element = emitterFor(def.valueType!);
      return (value, sink) => {
        const sorted = sortKeys(value as Record<string, unknown>);
        let empty = true;
        for (const key of Object.keys(sorted)) {
          const v = sorted[key];
          if (v === undefined) continue;
          sink.ascii(empty ? '{' : ',');
          empty = false;
          sink.string(key);
          sink.byte(COLON);
          element(v, sink);
        }
        if (empty) sink.ascii('{}');
        else sink.byte(CLOSE_BRACE);
      };
    }
    case 'union': {
      // zod's output is that of the first option that accepts the value.
      const branches = def.options!.map((option) => ({ option, kinds: kindsOf(option), emit: emitterFor(option) }));
      const objects = branches.filter((b) => b.kinds.has('object'));
      const arrays = branches.filter((b) => b.kinds.has('array'));
      return (value, sink) => {
        if (typeof value !== 'object' || value === null) return emitScalar(value, sink);
        const candidates = Array.isArray(value) ? arrays : objects;
        const branch = candidates.length === 1 ? candidates[0] : candidates.find((b) => z.validate(b.option, value));
        if (branch === undefined) throw new Error('canonical form: no option of a union accepts the value');
        branch.emit(value, sink);
      };
    }
    default:
      throw new Error(`canonical form: no rule for zod's "${def.type}" schemas`);
  }
}

/** Which kinds of JSON value a schema may accept. */
function kindsOf(schema: z.core.$ZodType): Set<'object' | 'array' | 'scalar'> {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
    case 'record':
      return new Set(['object']);
    case 'array':
      return new Set(['array']);
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'literal':
    case 'enum':
      return new Set(['scalar']);
    case 'optional':
    case 'nullable':
      return new Set([...kindsOf(def.innerType!), 'scalar']);
    case 'union':
      return new Set(def.options!.flatMap((option) => [...kindsOf(option)]));
    default:
      return new Set(['object', 'array', 'scalar']);
  }
}

const emitScalar: Emit = (value, sink) => {
  if (typeof value === 'string') sink.string(value);
  else if (typeof value === 'number') sink.ascii(Number.isFinite(value) ? String(value) : 'null');
  else if (typeof value === 'boolean') sink.ascii(value ? 'true' : 'false');
  else sink.text(JSON.stringify(value) ?? 'null');
};

const HEX = '0123456789abcdef';

/** The hash reads the canonical JSON in chunks of this many bytes. */
const CHUNK = 1 << 16;

/** Bytes into a hash, through a buffer that grows to CHUNK bytes: the canonical JSON in UTF-8 without building it. */
class HashSink {
  private buffer = new Uint8Array(1 << 10); // a small scenario fits: no 64 KiB buffer to clear for it
  private at = 0;

  constructor(private readonly hash: Hash) {}

  /** Room for `n` more bytes. */
  private room(n: number): void {
    if (this.at + n <= this.buffer.length) return;
    if (this.buffer.length < CHUNK) {
      const bigger = new Uint8Array(Math.max(Math.min(2 * this.buffer.length, CHUNK), this.at + n));
      bigger.set(this.buffer.subarray(0, this.at));
      this.buffer = bigger;
      return;
    }
    if (this.at > 0) this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
    if (n > this.buffer.length) this.buffer = new Uint8Array(n);
  }

  byte(b: number): void {
    this.room(1);
    this.buffer[this.at++] = b;
  }

  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.room(n);
    const buffer = this.buffer;
    let at = this.at;
    for (let i = 0; i < n; i++) buffer[at++] = bytes[i]!;
    this.at = at;
  }

  /** ASCII text. */
  ascii(s: string): void {
    this.room(s.length);
    const buffer = this.buffer;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buffer[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** Text as UTF-8, as the hash would encode the string (a lone surrogate becomes U+FFFD). */
  text(s: string): void {
    this.bytes(UTF8.encode(s));
  }

  /** JSON.stringify(s) as UTF-8: `"`, `\` and control characters escaped, lone surrogates as \uXXXX. */
  string(s: string): void {
    const n = s.length;
    this.room(6 * n + 2);
    const buffer = this.buffer;
    let at = this.at;
    buffer[at++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
          buffer[at++] = c;
          continue;
        }
        buffer[at++] = 0x5c;
        const short = c === 0x22 ? 0x22 : c === 0x5c ? 0x5c : c === 0x08 ? 0x62 : c === 0x0c ? 0x66 : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : c === 0x09 ? 0x74 : 0;
        if (short !== 0) buffer[at++] = short;
        else at = hexEscape(buffer, at, c);
      } else if (c < 0x800) {
        buffer[at++] = 0xc0 | (c >> 6);
        buffer[at++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buffer[at++] = 0xe0 | (c >> 12);
        buffer[at++] = 0x80 | ((c >> 6) & 0x3f);
        buffer[at++] = 0x80 | (c & 0x3f);
      } else {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buffer[at++] = 0xf0 | (cp >> 18);
          buffer[at++] = 0x80 | ((cp >> 12) & 0x3f);
          buffer[at++] = 0x80 | ((cp >> 6) & 0x3f);
          buffer[at++] = 0x80 | (cp & 0x3f);
          i++;
        } else {
          buffer[at++] = 0x5c;
          at = hexEscape(buffer, at, c);
        }
      }
    }
    buffer[at++] = 0x22;
    this.at = at;
  }

  digest(): string {
    if (this.at > 0) this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
    return this.hash.digest('hex');
  }
}

/** `uXXXX` (lowercase hex, as JSON.stringify writes it) after a backslash already written. */
function hexEscape(buffer: Uint8Array, at: number, c: number): number {
  buffer[at++] = 0x75;
  buffer[at++] = HEX.charCodeAt(c >> 12);
  buffer[at++] = HEX.charCodeAt((c >> 8) & 0xf);
  buffer[at++] = HEX.charCodeAt((c >> 4) & 0xf);
  buffer[at++] = HEX.charCodeAt(c & 0xf);
  return at;
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
    if (issue.code === 'unrecognized_keys' && message.startsWith('Unrecognized key')) message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
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

/** An open object or array of the JSON text, in `duplicateKeys`: one per nesting depth, reused. */
interface Frame {
  object: boolean;
  /** How the parent names this value (its key, or its index as text); unused at the root. */
  name: string;
  /** The keys seen so far (an object), in a Set once there are many. */
  keys: string[];
  set: Set<string> | null;
  key: string;
  expectKey: boolean;
  index: number;
}

/** Duplicate keys in (valid) JSON text, which JSON.parse silently collapses; one linear scan. */
export function duplicateKeys(json: string): Problem[] {
  const problems: Problem[] = [];
  const frames: Frame[] = [];
  let depth = 0; // open objects and arrays: frames[0 … depth - 1]
  const pathOf = (d: number) => {
    let path = '';
    for (let k = 1; k <= d; k++) path = join(path, frames[k]!.name);
    return path;
  };
  for (let i = 0, n = json.length; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // the closing quote: the first one not escaped (preceded by an even number of backslashes)
      let j = json.indexOf('"', i + 1);
      for (;;) {
        if (j < 0) {
          j = n;
          break;
        }
        let b = j - 1;
        while (json.charCodeAt(b) === 0x5c) b--;
        if ((j - 1 - b) % 2 === 0) break;
        j = json.indexOf('"', j + 1);
      }
      const top = depth > 0 ? frames[depth - 1]! : undefined;
      if (top?.object && top.expectKey) {
        const raw = json.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(json.slice(i, j + 1)) as string) : raw;
        if (top.set === null ? top.keys.includes(key) : top.set.has(key)) {
          const path = pathOf(depth - 1);
          const message = path === 'blocks' ? `duplicate block id "${key}" (JSON keeps only the last one)` : `duplicate key "${key}"`;
          problems.push({ level: 'error', path: join(path, key), message });
        } else if (top.set !== null) top.set.add(key);
        else if (top.keys.push(key) > 16) top.set = new Set(top.keys);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      const parent = depth > 0 ? frames[depth - 1]! : undefined;
      const frame = (frames[depth] ??= { object: false, name: '', keys: [], set: null, key: '', expectKey: false, index: 0 });
      frame.object = c === 0x7b;
      frame.name = parent === undefined ? '' : parent.object ? parent.key : String(parent.index);
      frame.keys.length = 0;
      frame.set = null;
      frame.key = '';
      frame.expectKey = frame.object;
      frame.index = 0;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0) depth--;
    } else if (c === 0x2c && depth > 0) {
      const top = frames[depth - 1]!;
      if (top.object) top.expectKey = true;
      else top.index++;
    }
  }
  return problems;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
