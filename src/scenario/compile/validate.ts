// Validation of a scenario's source: the zod schema (with a fast path for large graphs), problems
// named by their block path, and JSON text checks (duplicate keys, parse errors).
// Part of compile.ts (the entry point); pure, no I/O.
import { z } from 'zod';
import { AskBlock, Block, BlockId, HandoffBlock, MessageBlock, Scenario } from '../schema.js';
import { cut } from '../fold.js';
import { pushSets } from './build.js';
import { pushTargets } from './graph.js';
import type { Problem } from './program.js';

/**
 * A valid scenario with its blocks numbered in file order: `ids[i]` names `blocks[i]`, whose edges
 * (the blocks it can go to, see pushTargets) are `edges[from[i]] … edges[from[i + 1] - 1]`, block
 * numbers (-1 for an unknown block).
 */
export interface Source {
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

export function read(source: unknown, compiledFrom = COMPILED_PARSERS_FROM_BLOCKS): Source | Problem[] {
  const small = blockCount(source) < compiledFrom;
  const fast = small ? undefined : readFast(source);
  if (fast !== undefined) return fast;
  const parsed = (small ? Scenario : scenarioParser()).safeParse(source);
  if (!parsed.success) return zodProblems(source, parsed.error.issues);
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

export function defOf(schema: z.core.$ZodType): SchemaDef {
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

export const CARD_KEYS = shapeKeys(MessageBlock.shape.cards);
export const FILE_KEYS = shapeKeys(MessageBlock.shape.file);
export const SAVE_KEYS = shapeKeys(AskBlock.shape.save);
export const ASSIGN_KEYS = shapeKeys(HandoffBlock.shape.assign);

/** A copy of a strict object with the fields zod's output would have, in its order. */
export function pick<T extends object>(value: T, keys: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in value) out[key] = (value as Record<string, unknown>)[key];
  return out as T;
}


function zodProblems(source: unknown, issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The branch meant is the one whose shape fits: issues at the union itself (wrong shape, unknown
      // field, a rule across its fields) or a required field missing there mark a branch as the wrong one.
      const misfits = (branch: readonly z.core.$ZodIssue[]) =>
        branch.filter((i) => i.path.length === 0 || (i.path.length === 1 && i.code === 'invalid_type' && valueAt(source, [...path, ...i.path]) === undefined)).length;
      const best = issue.errors.reduce((a, b) => (misfits(b) * 1000 + b.length < misfits(a) * 1000 + a.length ? b : a));
      out.push(...zodProblems(source, best, path));
      continue;
    }
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      // The key itself is at fault (a block id, a variable name): it is what was found.
      const key = path.at(-1);
      for (const inner of issue.issues) out.push({ level: 'error', path: path.map(String).join('.'), message: issueMessage(inner as z.core.$ZodIssue, key) });
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      // One problem per key, at the key itself: a typo at the top of the file gets a path too; the
      // fields the object allows (schema.ts words them) follow each.
      const allowed = /; allowed: .*$/.exec(issue.message)?.[0] ?? '';
      for (const key of issue.keys) out.push({ level: 'error', path: [...path, key].map(String).join('.'), message: `unknown field "${key}"${allowed}` });
      continue;
    }
    const found = valueAt(source, path);
    // "required: a string" says nothing of what string: a missing way on is a block's id.
    const target = found === undefined && issue.code === 'invalid_type' && TARGET_FIELDS.has(String(path.at(-1)));
    out.push({ level: 'error', path: path.map(String).join('.'), message: target ? `required: the id of the block to go to, like "${String(path.at(-1))}": "ask_email"` : issueMessage(issue, found) });
  }
  return out;
}

/** The fields that name the block to go to (docs/scenarios.md: "A `next` (or `then`, …) names another block's id"). */
const TARGET_FIELDS = new Set(['next', 'then', 'else', 'otherwise', 'fallback', 'on_error', 'none']);

/** The value at `path` in the source, if there is one. */
function valueAt(source: unknown, path: readonly PropertyKey[]): unknown {
  let value = source;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * An issue in words a scenario author can act on: what was expected and what the file holds. The
 * schema's own messages (schema.ts) are kept; zod's generic ones ("Too small: expected string to
 * have >=1 characters") are reworded.
 */
function issueMessage(issue: z.core.$ZodIssue, found: unknown): string {
  const generic = /^(Invalid |Too (small|big):)/.test(issue.message);
  let message = issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (found === undefined) return generic ? `required: ${expectedKind(issue.expected)}` : issue.message;
      if (generic) message = `expected ${expectedKind(issue.expected)}`;
      break;
    case 'too_small':
      if (!generic) break;
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      message = issue.origin === 'array' ? `needs at least ${plural(Number(issue.minimum), 'item')}` : issue.origin === 'string' ? `needs at least ${plural(Number(issue.minimum), 'character')}` : `must be at least ${String(issue.minimum)}`;
      break;
    case 'too_big':
      if (!generic) break;
      message = issue.origin === 'array' ? `takes at most ${plural(Number(issue.maximum), 'item')}` : issue.origin === 'string' ? `takes at most ${plural(Number(issue.maximum), 'character')}` : `must be at most ${String(issue.maximum)}`;
      break;
    case 'invalid_value':
      if (generic) message = `expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}`;
      break;
    case 'invalid_format':
      if (generic) message = issue.format === 'url' ? 'expected a URL like https://example.com/page' : issue.format === 'email' ? 'expected an email address' : `expected ${issue.format}`;
      break;
    default:
      return message;
  }
  return found === undefined || / got /.test(message) ? message : `${message}; got ${describeValue(found)}`;
}

function expectedKind(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'an object';
    default:
      return expected;
  }
}

/** A value from the file, short: scalars as JSON (long strings clipped), lists and objects by kind. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${plural(value.length, 'item')}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  const json = JSON.stringify(value);
  return json.length > 60 ? `${cut(json, 57)}…"` : json;
}

/** "1 item", "2 items": the counts in messages. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

const EXAMPLE_FILE = '{"name": "hello", "version": 1, "start": "hi", "blocks": {"hi": {"type": "message", "text": "Hello!"}}}';

/** What is wrong with JSON text that JSON.parse refused, with the line and column where it can tell. */
export function jsonError(json: string, error: unknown): string {
  const first = /\S/.exec(json);
  if (first === null) return `the file is empty: a scenario is one JSON object like ${EXAMPLE_FILE}`;
  // Not JSON from its first character (YAML, a JavaScript module…): what it starts with says more than the parser.
  if (first[0] !== '{' && first[0] !== '[' && first[0] !== '"') {
    return `not JSON: a scenario file is one JSON object, starting with "{", but this one starts with ${JSON.stringify(first[0])} at line ${lineOf(json, first.index)} (YAML and JavaScript are not read: write the scenario as JSON)`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const at = /position (\d+)/.exec(message);
  // Node's "Unexpected token" errors quote the text instead of saying where: find the place by bisection.
  const offset = at ? Number(at[1]) : /^Unexpected token/.test(message) ? firstBadOffset(json) : undefined;
  const reason = message.replace(/ in JSON at position \d+.*$/, '').replace(/^Unexpected token '([^]{1,2})', .*$/s, (_, token: string) => `unexpected ${JSON.stringify(token)}${token === "'" ? ' (JSON strings take double quotes)' : ''}`);
  if (offset === undefined) return `not valid JSON: ${reason}`;
  const before = json.slice(0, offset);
  const column = before.length - before.lastIndexOf('\n');
  return `not valid JSON at line ${lineOf(json, offset)}, column ${column}: ${reason}${fixFor(json, offset)}`;
}

/** What to do about the mistakes people make most, which the parser names without saying how to fix. */
function fixFor(json: string, offset: number): string {
  const at = json[offset];
  if (at === '\t' || at === '\n' || at === '\r') return ' (a tab or line break inside a string is written \\t or \\n; between fields, tabs and line breaks are fine)';
  const previous = /\S(?=\s*$)/.exec(json.slice(Math.max(0, offset - 200), offset))?.[0];
  if (previous === ',' && (at === '}' || at === ']')) return ' (a comma before it: JSON takes none after the last field or item; remove it)';
  return '';
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * The offset of the character JSON.parse stumbles on: the shortest prefix that fails for a reason other
 * than stopping early. Every longer prefix fails too, so a binary search finds it in log2(length) parses.
 */
function firstBadOffset(json: string): number | undefined {
  const cutShort = (prefix: string): boolean => {
    try {
      JSON.parse(prefix);
      return true;
    } catch (error) {
      const message = (error as Error).message;
      const at = /position (\d+)/.exec(message);
      return /end of JSON input|Unterminated/.test(message) || (at !== null && Number(at[1]) >= prefix.length);
    }
  };
  let good = 0; // a prefix of this length only stops early
  let bad = json.length; // a prefix of this length holds the mistake
  if (cutShort(json)) return undefined;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (cutShort(json.slice(0, mid))) good = mid;
    else bad = mid;
  }
  return bad - 1;
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

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
