// An SDK Client talking to our MCP server over a linked in-memory pair, the server's Crisp client
// pointed at a real sandbox: the setup every MCP behaviour test shares.
import { Client, InMemoryTransport, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/client';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import type { CrispClient, CrispClientOptions } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { buildServer, toolsFor } from '../../src/mcp/server.js';
import type { ToolDeps } from '../../src/mcp/tools/deps.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from './crisp.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';

export interface ToolCall<T> {
  out: T;
  text: string;
  isError: boolean;
}

/** A tool call reduced to what tests assert: the structured result, the text twin, the error flag. */
export async function callTool<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown>): Promise<ToolCall<T>> {
  const result = await client.callTool({ name, arguments: args });
  return { out: result.structuredContent as T, text: (result.content as { text: string }[])[0]!.text, isError: result.isError === true };
}

export type ScenarioExtras = Partial<Pick<ToolDeps, 'scenarios' | 'store' | 'clock'>>;

export class McpHarness {
  readonly #clients: Client[] = [];

  private constructor(
    readonly sandbox: Sandbox,
    readonly crisp: CrispClient,
    /** Connected with the default flags (`serve --sandbox`). */
    public client: Client,
    /** Extra deps every server of this harness gets (a scenario library, a store, a clock). */
    readonly extra: ScenarioExtras = {},
  ) {}

  /** With `scenarios`, the servers get a scenario library and a store, so the scenarios toolset is registered. */
  /** `websites`: how many demo websites the sandbox seeds (default 1); the default client's allow-list is the first alone. */
  static async start(options: { seed: number; crisp?: Partial<CrispClientOptions>; scenarios?: ScenarioExtras; websites?: number }): Promise<McpHarness> {
    const sandbox = await startSandbox({ seed: options.seed, websites: options.websites });
    const harness = new McpHarness(sandbox, clientFor(sandbox, options.crisp), undefined as unknown as Client, options.scenarios);
    harness.client = await harness.connect([]);
    return harness;
  }

  /**
   * Another client, on a server started with these extra `serve` flags (e.g. `--read-only`). With
   * `elicit`, the client declares form elicitation and answers every question with it.
   */
  async connect(argv: string[], elicit?: (request: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>, websites?: string[]): Promise<Client> {
    const config = resolveConfig(parseServeFlags(['--sandbox', ...argv]), { env: {} });
    const deps: ToolDeps = { crisp: this.crisp, guard: new Guard(websites ?? [this.sandbox.websiteId]), config, log: createLogger('silent'), openConversation: openCrispConversations(this.crisp), ...this.extra };
    const tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await buildServer(tools, deps).connect(serverSide);
    const client = new Client({ name: 'test', version: '1.0.0' }, elicit ? { capabilities: { elicitation: { form: {} } } } : {});
    if (elicit) client.setRequestHandler('elicitation/create', (request) => elicit(request.params));
    await client.connect(clientSide);
    this.#clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    for (const client of this.#clients) await client.close();
    await this.crisp.close();
    await this.sandbox.close();
  }
}
