// Conformance judged by tools no one here wrote: the official MCP conformance suite against
// `serve --http --sandbox`, and the MCP Inspector's CLI against stdio `serve --sandbox`. Both are
// devDependencies; both need Node 22 (the suite uses fs.globSync, the Inspector asks for
// ≥ 22.19), so on an older runtime they run under Node 22 from the npm `node` package, fetched
// once by npx (see test/helpers/node-runtime.ts). The server itself runs on this test's own Node.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { nodeFromNpm } from '../helpers/node-runtime.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const INSPECTOR = join(ROOT, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const BASELINE = fileURLToPath(new URL('./expected-failures.yml', import.meta.url));
/** The scenarios that do not depend on the suite's fixture tools: each must pass. */
const MUST_PASS = ['server-initialize', 'ping', 'tools-list', 'resources-list', 'prompts-list', 'server-sse-multiple-streams', 'dns-rebinding-protection'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** A Node ≥ 22.19: this one if it is, else Node 22 from the npm `node` package. */
async function node22(): Promise<string> {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  if (major > 22 || (major === 22 && minor >= 19)) return process.execPath;
  return nodeFromNpm(22);
}

let node: string;
const temp: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temp.push(dir);
  return dir;
};

beforeAll(async () => {
  node = await node22();
  expect(Number(/^v(\d+)/.exec((await run(node, ['--version'], { timeoutMs: 30_000 })).stdout)![1])).toBeGreaterThanOrEqual(22);
}, 300_000);

afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe('the official MCP conformance suite against serve --http --sandbox', () => {
  let server: HttpCli | undefined;
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  test('every scenario passes but those in the expected-failures baseline, and no baseline entry passes', async () => {
    server = await spawnHttpCli(['--sandbox', '--port', '0'], { CRISP_MCP_LOG_LEVEL: 'info' });
    const out = tempDir('crisp-mcp-conformance-');
    const result = await run(node, [CONFORMANCE, 'server', '--url', server.url, '--expected-failures', BASELINE, '-o', out], { timeoutMs: 240_000 });
    // Exit 0: every failure is listed in the baseline, and every listed scenario still fails.
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);

    // Read the suite's own verdicts: which scenarios ran, and which had every check succeed.
    const verdicts = new Map<string, boolean>();
    for (const dir of readdirSync(out)) {
      const checks = JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8')) as Array<{ id: string; status: string }>;
      const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
      verdicts.set(scenario, checks.length > 0 && checks.every((c) => c.status === 'SUCCESS' || c.status === 'INFO'));
    }
    const baseline = [...readFileSync(BASELINE, 'utf8').matchAll(/^\s+- ([\w-]+)/gm)].map((m) => m[1]!);
    const passed = [...verdicts].filter(([, ok]) => ok).map(([name]) => name).sort();
    expect(passed).toEqual(expect.arrayContaining(MUST_PASS));
    // Nothing ran outside the two lists: a scenario the suite adds shows up here until it is judged.
    expect([...verdicts.keys()].filter((name) => !baseline.includes(name) && !passed.includes(name))).toEqual([]);
    expect(passed.filter((name) => baseline.includes(name))).toEqual([]);
  }, 300_000);
});

describe('the MCP Inspector CLI against stdio serve --sandbox', () => {
  // Its own HOME: the Inspector keeps a catalog (and stdio env values) under ~/.mcp-inspector.
  const inspect = (args: string[]) => {
    const home = tempDir('crisp-mcp-inspector-');
    return run(node, [INSPECTOR, '--cli', process.execPath, CLI, 'serve', '--sandbox', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, CRISP_MCP_LOG_LEVEL: 'warn' },
      cwd: home,
      timeoutMs: 120_000,
    });
  };

  test('lists every tool, each with a title, an input and an output schema', async () => {
    const result = await inspect(['--method', 'tools/list']);
    expect(result.code, result.stderr).toBe(0);
    const { tools } = JSON.parse(result.stdout) as { tools: Array<{ name: string; title?: string; inputSchema?: unknown; outputSchema?: unknown }> };
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['list_conversations', 'get_conversation', 'send_message', 'search_people', 'list_operators', 'draft_scenario_reply']));
    for (const tool of tools) expect({ name: tool.name, title: typeof tool.title, input: typeof tool.inputSchema, output: typeof tool.outputSchema }).toEqual({ name: tool.name, title: 'string', input: 'object', output: 'object' });
  }, 150_000);

  test('calls list_conversations and gets the demo inbox as structured content', async () => {
    const result = await inspect(['--method', 'tools/call', '--tool-name', 'list_conversations', '--tool-arg', 'state=pending']);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { isError?: boolean; structuredContent?: { conversations: Array<{ session_id: string; state: string }> } };
    expect(answer.isError ?? false).toBe(false);
    const conversations = answer.structuredContent!.conversations;
    expect(conversations.length).toBeGreaterThan(0);
    for (const c of conversations) expect(c).toMatchObject({ session_id: expect.stringMatching(/^session_/), state: 'pending' });
  }, 150_000);
});
