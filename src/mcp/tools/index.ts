import type { z } from 'zod';
import { CONVERSATION_WRITE_TOOLS } from './conversation-writes.js';
import { CONVERSATION_TOOLS } from './conversations.js';
import type { AnyTool, ToolsetInfo } from './define.js';
import { hasScenarioDeps, type ToolDeps } from './deps.js';
import { KNOWLEDGE_TOOLS } from './knowledge.js';
import { PEOPLE_TOOLS } from './people.js';
import { ROUTING_TOOLS } from './routing.js';
import { SCENARIO_TOOLS } from './scenarios.js';

export const TOOLSETS: readonly ToolsetInfo[] = [
  { id: 'conversations', description: 'List, read and answer conversations', default: true },
  { id: 'routing', description: 'Operators, their availability, assignment', default: true },
  { id: 'people', description: 'Contact profiles, custom data and events', default: true },
  { id: 'knowledge', description: "The business's Crisp Helpdesk: search and read published articles", default: true },
  { id: 'scenarios', description: 'Run chatbot scenarios as drafts, review them, post them (needs --scenarios and a store)', default: true },
];

export const ALL_TOOLS: readonly AnyTool<ToolDeps>[] = ([...CONVERSATION_TOOLS, ...CONVERSATION_WRITE_TOOLS, ...ROUTING_TOOLS, ...PEOPLE_TOOLS, ...KNOWLEDGE_TOOLS, ...SCENARIO_TOOLS] as AnyTool<ToolDeps>[]).map(
  withoutDialect,
);

/**
 * Whether a tool can run with these deps. The scenarios toolset needs a scenario library and a
 * store: without them its tools are left out of registration (like read-only leaves out writes),
 * so a server started without --scenarios lists no tool it cannot serve. Selection itself
 * (selectTools) stays a pure function of the flags; this is applied after it.
 */
export function isUsable(tool: AnyTool<ToolDeps>, deps: Pick<ToolDeps, 'scenarios' | 'store'>): boolean {
  return tool.toolset !== 'scenarios' || hasScenarioDeps(deps as ToolDeps);
}

type Io = 'input' | 'output';
type Converter = Record<Io, (options: Record<string, unknown>) => Record<string, unknown>>;
/** Standard Schema's check, which the SDK calls on every tools/call's arguments. */
type Validate = (value: unknown) => unknown;
type StandardResult = { value?: unknown; issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> };

/** Every tool's JSON Schemas as tools/list sends them, for one conversion target. */
export interface BuiltToolSchemas {
  target: string;
  tools: Record<string, Record<Io, Record<string, unknown>>>;
}

/**
 * Set in the bundle by build/bundle.js (an esbuild `define`): the JSON text of the schemas below
 * converted at build time, from tsc's output of these same sources, so that tools/list at start-up
 * does not convert 21 × 2 zod schemas (about 8 ms, bench/startup). Undefined in tsc's output and in
 * the sources, which convert on first use.
 */
declare const BUILT_TOOL_SCHEMAS: string | undefined;
let built: BuiltToolSchemas | undefined;
const builtSchemas = (): BuiltToolSchemas | undefined => (built ??= typeof BUILT_TOOL_SCHEMAS === 'undefined' ? undefined : (JSON.parse(BUILT_TOOL_SCHEMAS) as BuiltToolSchemas));

/**
 * The same tool, with JSON Schemas that say only what a client or a model can use; every session
 * pays for each character of tools/list, on every tool. Left out:
 * - `"$schema": "https://json-schema.org/draft/2020-12/schema"`: MCP takes 2020-12 as the default
 *   dialect of tool schemas, so the line says nothing (~30 tokens per tool);
 * - a `pattern` beside a `format` (zod's e-mail regex): the format says it, and the server checks it;
 * - `propertyNames: {type: "string"}`: JSON keys are strings anyway;
 * - in output schemas, zod's `additionalProperties: false`, the ±2^53 bounds of every integer and the
 *   `required` lists: a result is produced by this server, never written by the client, and each
 *   handler's result is checked against the full zod schema by the SDK before it is sent.
 */
function withoutDialect(tool: AnyTool<ToolDeps>): AnyTool<ToolDeps> {
  return { ...tool, inputSchema: compact(tool.inputSchema, 'input', tool.name), outputSchema: compact(tool.outputSchema, 'output', tool.name) };
}

/**
 * The input check the SDK runs on every tools/call, with two rules beside the zod schema's:
 * - an argument the tool does not have is refused, named, with the ones it has. zod would drop it
 *   silently, and a model that guesses a name (`query` for `search`) would read the unfiltered
 *   answer as the one it asked for. (The advertised schemas leave out `additionalProperties:
 *   false`: every tools/list would pay for it, on every tool.)
 * - `null` for an optional argument that cannot be null is that argument left out. Clients that
 *   hand tools to a model in OpenAI's strict mode make every argument required and send null for
 *   the ones the model does not use (CrewAI's adapter, the OpenAI Agents SDK with strict schemas);
 *   refused, not one call of theirs would pass. Leaving the argument out stays the way to say it.
 */
function checkArguments(tool: string, schema: z.ZodObject, validate: Validate): Validate {
  const names = Object.keys(schema.shape);
  const dropsNull = new Map<string, boolean>();
  const optionalNotNullable = (key: string): boolean => {
    let drops = dropsNull.get(key);
    if (drops === undefined) {
      const property = schema.shape[key] as z.ZodType;
      drops = property.safeParse(undefined).success && !property.safeParse(null).success;
      dropsNull.set(key, drops);
    }
    return drops;
  };
  return (value) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return validate(value);
    const args = value as Record<string, unknown>;
    let kept: Record<string, unknown> | undefined;
    let unknown: string[] | undefined;
    for (const key in args) {
      if (!Object.hasOwn(schema.shape, key)) (unknown ??= []).push(key);
      else if (args[key] !== null || !optionalNotNullable(key)) continue;
      kept ??= { ...args };
      delete kept[key];
    }
    if (!unknown) return validate(kept ?? value);
    // The SDK joins the issues with ", ": the brackets keep the list apart from the next issue.
    const refused = unknown.map((key) => ({ message: `no such argument; ${tool} takes [${names.join(', ')}]`, path: [key] }));
    // The other arguments are checked too, so that one answer names every mistake.
    const rest = validate(kept) as StandardResult | Promise<StandardResult>;
    const merge = (result: StandardResult): StandardResult => ({ issues: [...refused, ...(result.issues ?? [])] });
    return rest instanceof Promise ? rest.then(merge) : merge(rest);
  };
}

function compact<S extends object>(schema: S, io: Io, tool: string): S {
  const standard = (schema as unknown as { '~standard': { jsonSchema?: Converter; validate: Validate } & Record<string, unknown> })['~standard'];
  const convert = standard.jsonSchema;
  if (!convert) return schema;
  const drop = (side: Io) => (options: Record<string, unknown>) => {
    // The build's answer to the SDK's one call, `{ target }`; any other call converts.
    const built = side === io ? builtSchemas() : undefined;
    const ready = built && options.target === built.target && Object.keys(options).length === 1 ? built.tools[tool]?.[io] : undefined;
    if (ready) return ready;
    const { $schema: _dialect, ...rest } = convert[side](options);
    return trim(rest, side === 'output' && io === 'output') as Record<string, unknown>;
  };
  const validate = io === 'input' ? checkArguments(tool, schema as unknown as z.ZodObject, standard.validate) : standard.validate;
  // A child of the zod schema: parsing, `_zod` and every method resolve on the original.
  const child = Object.create(schema) as S;
  Object.defineProperty(child, '~standard', { value: { ...standard, validate, jsonSchema: { input: drop('input'), output: drop('output') } }, enumerable: false });
  return child;
}

const SAFE_BOUND = Number.MAX_SAFE_INTEGER;

function trim(node: unknown, output: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => trim(n, output));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (key === 'pattern' && typeof record.format === 'string') continue;
    if (key === 'propertyNames' && JSON.stringify(value) === '{"type":"string"}') continue;
    if (output && key === 'additionalProperties' && value === false) continue;
    if (output && key === 'required' && Array.isArray(value)) continue;
    if (output && (key === 'maximum' || key === 'minimum') && Math.abs(value as number) === SAFE_BOUND) continue;
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, trim(v, output)])) : trim(value, output);
  }
  return out;
}
