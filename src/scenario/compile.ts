// Scenario → program: validate the graph a human wrote, then LINEARIZE it into a flat instruction
// array whose edges are integer indexes (seed 001: resume by index, never by walking the graph).
// Runs once at boot; afterwards only the program is used. Pure: node:crypto's hash is the one
// import from outside, and it does no I/O. Written for 100 000-block graphs: blocks are numbered
// once, each edge is looked up once, the walks use typed arrays, and the hash streams bytes.
// The work is split by job under compile/: validate.ts, graph.ts, build.ts, instructions.ts, hash.ts,
// with the program's types in program.ts; this file is the entry point and the public surface.
import { build } from './compile/build.js';
import { layout } from './compile/graph.js';
import { WAITING_OPS, type CompileOptions, type CompileResult, type Problem, type Program } from './compile/program.js';
import { duplicateKeys, jsonError, read } from './compile/validate.js';
export { type OutMessage, type CompiledCondition, type Instruction, WAITING_OPS, type Program, type Problem, type CompileResult, type CompileOptions, IMPLICIT_END } from './compile/program.js';
export { duplicateKeys, plural } from './compile/validate.js';

// ---------------------------------------------------------------- entry points

/** Validates a scenario (already parsed from JSON) and linearizes it. */
export function compile(source: unknown, options: CompileOptions = {}): CompileResult {
  const input = read(source, options.compiledParsersFromBlocks);
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

/** JSON text without the byte order mark some editors write at the start of a UTF-8 file (JSON.parse refuses it). */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Like `compile`, from JSON text: also reports duplicate keys (duplicate block ids), which JSON.parse drops. */
export function compileText(text: string, options: CompileOptions = {}): CompileResult {
  const json = withoutBom(text);
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
