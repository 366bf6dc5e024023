// A tool is a value: its MCP definition, its toolset, and a handler that returns data. The server
// (src/mcp/server.ts) registers these values and builds every CallToolResult in one place.
import type { z } from 'zod';

/** All four hints are required: the host decides what to approve from them. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolDef<In extends z.ZodObject, Out extends z.ZodObject, Deps> {
  name: string;
  toolset: string;
  title: string;
  /** At most two lines: the model pays for every word. */
  description: string;
  inputSchema: In;
  outputSchema: Out;
  annotations: ToolAnnotations;
  handler(input: z.infer<In>, deps: Deps, call: CallContext): Promise<z.infer<Out>>;
  /** The compact text twin of the structured result: ids first, one line per item. */
  text(output: z.infer<Out>, deps: Deps): string;
}

/** Returns its argument: it exists so the handler's types are inferred from the schemas. */
export function defineTool<In extends z.ZodObject, Out extends z.ZodObject, Deps>(def: ToolDef<In, Out, Deps>): ToolDef<In, Out, Deps> {
  return def;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of tools of every shape
export type AnyTool<Deps = any> = ToolDef<z.ZodObject, z.ZodObject, Deps>;

export interface ToolsetInfo {
  id: string;
  description: string;
  /** Enabled when neither --toolsets nor --tools is given. */
  default: boolean;
}

export interface Selection {
  readOnly: boolean;
  toolsets?: readonly string[];
  tools?: readonly string[];
  exclude?: readonly string[];
}

/**
 * What a handler may learn about the person behind the client during one call. Written once for
 * both protocol eras: the server turns a thrown ConfirmationNeeded into an elicitation (2025-era
 * clients) or an input-required result (2026-07-28 clients) and calls the handler again with the answer.
 */
export interface CallContext {
  /** The client declared it can show the user a form (elicitation). */
  readonly canAsk: boolean;
  /** The user's answer to the question `key` asked about exactly these arguments, if this call carries one; `dismissed`: the question was closed unanswered. */
  answer(key: string): 'accepted' | 'declined' | 'dismissed' | 'unasked';
  /**
   * Aborted when the host cancels the call (notifications/cancelled) or goes away. The read tools
   * hand it to their Crisp calls, so a cancelled read stops waiting and retrying at once; the writes
   * do not: a write cut short may or may not have happened.
   */
  readonly signal?: AbortSignal;
}

/** Thrown by a handler that must not go on without the user's yes to `question`. */
export class ConfirmationNeeded extends Error {
  override readonly name = 'ConfirmationNeeded';
  constructor(
    readonly key: string,
    readonly question: string,
  ) {
    super(question);
  }
}

/** An argument the schema accepted but the tool cannot use (a foreign cursor, an unknown operator email). */
export class ToolInputError extends Error {
  override readonly name = 'ToolInputError';
  readonly code = 'invalid_argument';
}

export class SelectionError extends Error {
  override readonly name = 'SelectionError';
}

/**
 * The tools to register, in GitHub's precedence: read-only removes every write tool (it wins over
 * everything); exclude beats include; a tool named with --tools skips the toolset check; with
 * neither --toolsets nor --tools the default toolsets are used. Unknown names are an error that
 * lists the valid ones. Sorted by toolset, then name.
 */
export function selectTools<T extends AnyTool>(all: readonly T[], toolsets: readonly ToolsetInfo[], s: Selection): T[] {
  const knownToolsets = new Set(toolsets.map((t) => t.id));
  const knownTools = new Set(all.map((t) => t.name));
  const wantedToolsets = s.toolsets?.includes('all') ? [...knownToolsets] : s.toolsets;
  const unknownSets = (wantedToolsets ?? []).filter((id) => !knownToolsets.has(id));
  if (unknownSets.length) throw new SelectionError(`unknown toolset ${unknownSets.join(', ')}; valid: all, ${[...knownToolsets].join(', ')}`);
  const unknownTools = [...(s.tools ?? []), ...(s.exclude ?? [])].filter((name) => !knownTools.has(name));
  if (unknownTools.length) throw new SelectionError(`unknown tool ${unknownTools.join(', ')}; valid: ${[...knownTools].sort().join(', ')}`);

  const enabledSets = new Set(wantedToolsets ?? (s.tools ? [] : toolsets.filter((t) => t.default).map((t) => t.id)));
  const named = new Set(s.tools ?? []);
  const excluded = new Set(s.exclude ?? []);
  const selected = all.filter((t) => named.has(t.name) || enabledSets.has(t.toolset));
  const served = selected
    .filter((t) => !s.readOnly || t.annotations.readOnlyHint)
    .filter((t) => !excluded.has(t.name))
    // Code-unit order (ids and names are ASCII snake_case): localeCompare would load ICU's collation
    // data at start-up, about 5 MiB and 60 ms (bench/startup).
    .sort((a, b) => byCodeUnits(a.toolset, b.toolset) || byCodeUnits(a.name, b.name));
  // A server with no tool is never what was meant (an empty "$TOOLS" in a script, --read-only over write tools only).
  if (served.length === 0) throw new SelectionError(`no tool left to serve: ${whyNone(s, selected)}`);
  return served;
}

/** Why a selection came out empty, naming the flag to change. */
function whyNone(s: Selection, selected: readonly AnyTool[]): string {
  if (selected.length === 0) {
    const empty = [s.toolsets?.length === 0 && '--toolsets', s.tools?.length === 0 && '--tools'].filter(Boolean).join(' and ');
    return `${empty || 'the selection'} ${empty.includes(' and ') ? 'name' : 'names'} none: name at least one, or drop the flag for the default toolsets`;
  }
  if (s.readOnly && !selected.some((t) => t.annotations.readOnlyHint)) return `--read-only removes every write tool, and only write tools are selected (${selected.map((t) => t.name).join(', ')}); select a read tool, or drop --read-only`;
  return `--exclude-tools removes every selected tool${s.readOnly ? ' that --read-only keeps' : ''}; exclude fewer`;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
