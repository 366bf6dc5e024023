// Over HTTP the MCP server is built per request, and the SDK converts zod to JSON Schema per
// McpServer instance: every tools/list converts all tools (≈3 ms for ours), every tools/call
// converts the called tool's input schema (for the Mcp-Param header check) and output schema.
// The schemas never change, so the conversion is done once per process here, and each request's
// server gets tool values whose schemas answer from the cache.
import type { AnyTool } from '../mcp/tools/define.js';

type Io = 'input' | 'output';
type JsonSchemaOptions = { target?: string; libraryOptions?: unknown };
type StandardProps = { jsonSchema?: Record<Io, (options: JsonSchemaOptions) => Record<string, unknown>> } & Record<string, unknown>;

/** The same tools, whose input and output schemas convert to JSON Schema once per target. */
export function withCachedJsonSchemas<T extends AnyTool>(tools: readonly T[]): T[] {
  return tools.map((tool) => ({ ...tool, inputSchema: cached(tool.inputSchema), outputSchema: cached(tool.outputSchema) }));
}

const wrapped = new WeakMap<object, object>();

function cached<S extends object>(schema: S): S {
  const known = wrapped.get(schema);
  if (known) return known as S;
  const standard = (schema as { '~standard': StandardProps })['~standard'];
  const convert = standard.jsonSchema;
  if (!convert) return schema;
  const memo = new Map<string, Record<string, unknown>>();
  const once = (io: Io) => (options: JsonSchemaOptions) => {
    // Only the plain `{ target }` call the SDK makes is cached; anything else goes straight through.
    if (options.libraryOptions !== undefined) return convert[io](options);
    const key = `${io}:${options.target ?? ''}`;
    let json = memo.get(key);
    if (!json) memo.set(key, (json = deepFreeze(convert[io](options))));
    return json;
  };
  // A child of the zod schema: parsing, `_zod` and every method resolve on the original.
  const child = Object.create(schema) as S;
  Object.defineProperty(child, '~standard', { value: { ...standard, jsonSchema: { input: once('input'), output: once('output') } }, enumerable: false });
  wrapped.set(schema, child);
  return child;
}

/** Frozen, so a consumer that tried to edit the shared JSON would fail loudly instead of corrupting it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
