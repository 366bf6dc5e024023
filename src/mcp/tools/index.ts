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

/**
 * The same tool, whose JSON Schemas leave out `"$schema": "https://json-schema.org/draft/2020-12/schema"`.
 * MCP takes 2020-12 as the default dialect of tool schemas, so the line says nothing, yet it came
 * twice per tool: ~30 tokens per tool, ~500 over tools/list, which every session pays.
 */
function withoutDialect(tool: AnyTool<ToolDeps>): AnyTool<ToolDeps> {
  return { ...tool, inputSchema: strip(tool.inputSchema), outputSchema: strip(tool.outputSchema) };
}

function strip<S extends object>(schema: S): S {
  const standard = (schema as unknown as { '~standard': { jsonSchema?: Converter } & Record<string, unknown> })['~standard'];
  const convert = standard.jsonSchema;
  if (!convert) return schema;
  const drop = (io: Io) => (options: Record<string, unknown>) => {
    const { $schema: _dialect, ...rest } = convert[io](options);
    return rest;
  };
  // A child of the zod schema: parsing, `_zod` and every method resolve on the original.
  const child = Object.create(schema) as S;
  Object.defineProperty(child, '~standard', { value: { ...standard, jsonSchema: { input: drop('input'), output: drop('output') } }, enumerable: false });
  return child;
}
