// stdio `serve` answers initialize and tools/list without the scenario compiler and the scenario
// format's schemas (src/scenario/compile*, schema.ts), and loads them when it compiles its library:
// once tools/list is answered, or at the first request that reads a scenario (bench/startup).
// Checked on the built CLI (one esbuild bundle and its chunks) with the module-load trace, and on
// tsc's single modules, which `main` and the tests load.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { built, readTrace, traceModuleLoads, TRACE_STDIO_SERVER, type ModuleLoads } from '../helpers/module-loads.js';
import { connectStdio } from '../helpers/stdio.js';

const DIST = join(CLI, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The built file that holds `text`: a bundle chunk is named by its hash, so it is found by what it holds. */
function chunkHolding(text: string): string {
  const found = readdirSync(DIST).filter((f) => f.endsWith('.js') && readFileSync(join(DIST, f), 'utf8').includes(text));
  expect(found, text).toHaveLength(1);
  return found[0]!;
}

/** The chunks of the compiler (its entry point) and of the format's schemas (the scenario schema's description). */
const compilerChunks = () => [chunkHolding('function compileText('), chunkHolding('A crisp-mcp chatbot scenario: a graph of blocks')];

/**
 * `crisp-mcp serve ...args` over stdio from an empty folder (so the shipped scenarios, and a SQLite
 * store in its own state folder without --sandbox), traced: `use` runs with the connected client.
 */
async function tracedServe(args: string[], use: (client: Client) => Promise<void>): Promise<ModuleLoads> {
  const cwd = mkdtempSync(join(tmpdir(), 'crisp-mcp-compiler-'));
  dirs.push(cwd);
  // Credentials of a Crisp nobody answers: nothing here calls it.
  const crisp: Record<string, string> = args.includes('--sandbox') ? {} : { CRISP_API_URL: 'http://127.0.0.1:9', CRISP_IDENTIFIER: 'i', CRISP_KEY: 'k'.repeat(40), CRISP_WEBSITE_ID: '9972daab-2c86-459f-9d78-3fe1be4e3280' };
  const env = { XDG_STATE_HOME: join(cwd, 'state'), CRISP_MCP_LOG_LEVEL: 'warn', ...crisp };
  const { client, stderr } = await connectStdio(['serve', ...args], { nodeArgs: TRACE_STDIO_SERVER, cwd, env });
  try {
    await use(client);
  } finally {
    await client.close();
  }
  return readTrace(0, stderr());
}

const loadsOf = (trace: ModuleLoads, chunk: string) => trace.firstLoad(new RegExp(`/dist/${chunk.replace('.', '\\.')}$`));

describe.each([
  ['with the shipped scenarios and a SQLite store', []],
  ['--sandbox', ['--sandbox']],
])('stdio serve %s', (_name, args) => {
  it('answers tools/list before loading the compiler and the scenario schemas; list_scenarios then has them', async () => {
    const chunks = compilerChunks();
    const trace = await tracedServe(args, async (client) => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_scenarios');
      const listed = await client.callTool({ name: 'list_scenarios', arguments: {} });
      expect(listed.isError, JSON.stringify(listed.content)).toBeFalsy();
      expect((listed.structuredContent as { scenarios: Array<{ name: string }> }).scenarios.map((s) => s.name)).toContain('gdpr');
    });
    const answered = trace.at('tools/list');
    expect(answered, trace.stderr).toBeGreaterThan(0);
    expect(trace.firstLoad(/\/dist\/cli\.js$/)).toBeGreaterThanOrEqual(0); // the hook sees the bundle
    for (const chunk of chunks) {
      const loaded = loadsOf(trace, chunk);
      expect(loaded, `${chunk} is loaded after tools/list`).toBeGreaterThan(answered);
    }
  });
});

it('a host that reads scenarios before asking for tools/list gets them: each request compiles the library first', async () => {
  const trace = await tracedServe(['--sandbox'], async (client) => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toContain('crisp://scenarios/gdpr');
    const read = await client.readResource({ uri: 'crisp://scenarios/gdpr' });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ name: 'gdpr' });
    const completed = await client.complete({ ref: { type: 'ref/resource', uri: 'crisp://scenarios/{name}' }, argument: { name: 'name', value: 'gd' } });
    expect(completed.completion.values).toEqual(['gdpr']);
    const prompt = await client.getPrompt({ name: 'reply_to_pending_chats', arguments: { scenario: 'gdpr' } });
    expect(JSON.stringify(prompt.messages)).toContain('scenario \\"gdpr\\"');
    await expect(client.getPrompt({ name: 'reply_to_pending_chats', arguments: { scenario: 'nope' } })).rejects.toThrow(/unknown scenario "nope"; valid: .*gdpr/);
    const listed = await client.callTool({ name: 'list_scenarios', arguments: {} });
    expect(listed.isError, JSON.stringify(listed.content)).toBeFalsy();
  });
  expect(trace.at('tools/list')).toBe(-1); // none of it waited for the warm-up tools/list starts
  expect(loadsOf(trace, compilerChunks()[0]!)).toBeGreaterThan(0);
});

it("tsc's modules: the serve command, the MCP server and the stdio transport load no compiler; compiling a library loads it", () => {
  const script = `
    await import(${JSON.stringify(built('commands/serve.js'))});
    await import(${JSON.stringify(built('mcp/server.js'))});
    await import(${JSON.stringify(built('transport/stdio.js'))});
    const { loadScenarioLibrary, SHIPPED_SCENARIOS_DIR } = await import(${JSON.stringify(built('engine/library.js'))});
    const library = await loadScenarioLibrary(SHIPPED_SCENARIOS_DIR, { onFirstUse: true });
    process.stderr.write('MARK read\\n');
    await library.compiled();
    process.stderr.write('MARK compiled\\n' + 'NAMES ' + library.names().join(',') + '\\n');`;
  const trace = traceModuleLoads(script);
  expect(trace.status, trace.stderr).toBe(0);
  expect(trace.firstLoad(/\/dist\/engine\/library\.js$/)).toBeGreaterThanOrEqual(0); // the hook sees our modules
  expect(trace.stderr).toMatch(/^NAMES .*gdpr/m);
  for (const module of [/\/dist\/scenario\/compile\.js$/, /\/dist\/scenario\/schema\.js$/, /\/dist\/scenario\/compile\/validate\.js$/]) {
    expect(trace.firstLoad(module), String(module)).toBeGreaterThan(trace.at('read'));
    expect(trace.firstLoad(module), String(module)).toBeLessThan(trace.at('compiled'));
  }
});
