// crisp-mcp under the Node.js versions users run (22, maintenance LTS; 24, active LTS) and the
// oldest that package.json's engines allows (20.18.1, undici's floor), while the whole suite runs on
// its own Node: a small set, each through a child process on that Node from npm
// (test/helpers/node-runtime.ts). Under CI=true a Node that cannot be fetched fails the run;
// locally each test is skipped, with the reason.
//
// The SQLite store needs better-sqlite3 compiled for that Node's ABI: it is built once from the
// installed package's sources into node_modules/.cache (offline: the headers come with that Node's
// package) and the child loads it in place of the installed one through a resolve hook.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { built, traceModuleLoads } from '../helpers/module-loads.js';
import { nodeDirOf, nodeFromNpm } from '../helpers/node-runtime.js';
import { connectStdio } from '../helpers/stdio.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SQLITE_STORE = pathToFileURL(built('store/sqlite.js')).href;
/** The V8 flag src/engine/limits.ts sets; setFlagsFromString ignores a name V8 no longer has, silently. */
const BACKTRACK_FLAG = '--enable-experimental-regexp-engine-on-excessive-backtracks';

const temp: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-node-lts-'));
  temp.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

function output(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
}

/** better-sqlite3 compiled for `node` (once, cached by ABI), and the --import hook that loads it instead of the installed one. */
async function sqliteFor(node: string): Promise<string[]> {
  const abi = output(node, ['-p', 'process.versions.modules']).trim();
  if (abi === process.versions.modules) return [];
  const copy = join(ROOT, 'node_modules', '.cache', 'crisp-mcp-node-lts', `abi-${abi}`, 'better-sqlite3');
  const binary = join(copy, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) {
    rmSync(copy, { recursive: true, force: true });
    cpSync(join(ROOT, 'node_modules', 'better-sqlite3'), copy, { recursive: true, filter: (source) => !source.includes(join('better-sqlite3', 'build')) });
    const nodeGyp = join(output('npm', ['root', '-g']).trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    // No npm_config_* from the environment: an npm config's nodedir (say /usr, for this Node's own headers) would win over --nodedir.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
    // -O0: SQLite compiles faster unoptimised, and the crash looked for is in Node's code, not SQLite's.
    const path = `${dirname(node)}:${process.env.PATH ?? ''}`;
    // Asynchronous: the compile runs while the other Nodes' tests do.
    await promisify(execFile)(node, [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDirOf(node)}`], { cwd: copy, maxBuffer: 64 * 1024 * 1024, env: { ...env, PATH: path, CFLAGS: '-O0', CXXFLAGS: '-O0' } });
  }
  const target = pathToFileURL(join(copy, 'lib', 'index.js')).href;
  const hook = `import { registerHooks } from 'node:module'; registerHooks({ resolve: (specifier, context, next) => specifier === 'better-sqlite3' ? { url: ${JSON.stringify(target)}, format: 'commonjs', shortCircuit: true } : next(specifier, context) });`;
  return ['--import', `data:text/javascript,${encodeURIComponent(hook)}`];
}

/** Node's own warnings and deprecations, as it prints them on stderr ("(node:PID) [DEP0040] DeprecationWarning: …"). */
const nodeWarnings = (stderr: string) => stderr.split('\n').filter((line) => /^\(node:\d+\)|(Deprecation|Experimental)Warning/.test(line));

const VERSIONS = ['20.18.1', '22', '24'];
/** The Node whose SQLite store test compiles better-sqlite3 for its ABI. */
const SQLITE_VERSION = '24.21.0';

/**
 * Every Node this file runs, fetched at once before its first test (each fetch mostly waits on the
 * registry), and better-sqlite3 compiled for SQLITE_VERSION as soon as that Node is in: the compile
 * then runs while the other Nodes' tests do.
 */
const fetching = new Map<string, Promise<string>>();
let compiling: Promise<string[]> | undefined;
beforeAll(() => {
  for (const version of [...VERSIONS, SQLITE_VERSION]) {
    const own = process.versions.node === version || process.versions.node.split('.')[0] === version;
    const node = own ? Promise.resolve(process.execPath) : nodeFromNpm(version);
    node.catch(() => {}); // awaited (and reported) by the version's own describe block
    fetching.set(version, node);
  }
  compiling = fetching.get(SQLITE_VERSION)!.then(sqliteFor);
  compiling.catch(() => {}); // awaited (and reported) by the test that needs it
});

/** A Node from npm for the tests of a describe block (fetched before them), and what each test calls to get it or be skipped. */
function nodeForSuite(version: string): (context: TestContext) => string {
  let node: string | undefined;
  let unavailable = '';
  beforeAll(async () => {
    try {
      node = await fetching.get(version)!;
    } catch (error) {
      if (process.env.CI === 'true') throw error;
      unavailable = (error as Error).message;
      console.warn(`[node ${version}] SKIPPED: ${unavailable}`);
    }
  }, 300_000);
  return (context) => {
    if (!node) context.skip(`no Node ${version}: ${unavailable}`);
    const got = output(node!, ['--version']).trim();
    expect(got === `v${version}` || got.startsWith(`v${version}.`), got).toBe(true);
    return node!;
  };
}

/** The module-load trace (test/helpers/module-loads.ts) under `runtime`: the start-up tests read its order. */
function testTraceOrder(runtime: (context: TestContext) => string): void {
  test('the module-load trace lists an import before the lines the code after it writes, as the start-up tests read it', (context) => {
    // As test/sandbox/listen-first.test.ts reads it: the module is imported, then the sandbox listens.
    const script = `const { listenFirst } = await import(${JSON.stringify(built('sandbox/listen-first.js'))}); const sandbox = await listenFirst({ seed: 1 }); process.stderr.write('MARK listening\\n'); await sandbox.close();`;
    const { status, stderr, at, firstLoad } = traceModuleLoads(script, runtime(context));
    expect(status, stderr).toBe(0);
    const loaded = firstLoad(/\/dist\/sandbox\/listen-first\.js$/);
    expect([loaded >= 0, loaded < at('listening')]).toEqual([true, true]);
  });
}

describe.each(VERSIONS)('under Node %s (a major: its latest)', (version) => {
  const runtime = nodeForSuite(version);

  test('serve --sandbox over stdio: the tools and a call, nothing but MCP on stdout, no warning from Node on stderr', async (context) => {
    // Any non-MCP byte on the server's stdout surfaces here as a parse error.
    const protocolErrors: Error[] = [];
    const { client, stderr } = await connectStdio(['serve', '--sandbox'], { node: runtime(context), beforeConnect: (client) => (client.onerror = (error) => protocolErrors.push(error)) });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['list_conversations', 'list_operators', 'draft_scenario_reply']));
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { operators: unknown[] }).operators).toHaveLength(4);
      expect(protocolErrors).toEqual([]);
    } finally {
      await client.close();
    }
    expect(stderr()).toContain('Embedded Crisp sandbox on');
    expect(nodeWarnings(stderr())).toEqual([]);
  });

  // ^(a.|.b)+$ reads each "ab" two ways, as ^(a|aa)+$ does, but in alternatives the compiler's check
  // (compile/regex-repeat.ts) does not compare, since neither is one character or plain text.
  test("a scenario's ^(a.|.b)+$ meeting 40 ab's and a '!' ends its turn (scenario chat): V8 still takes the flag limits.ts sets", async (context) => {
    const bin = runtime(context);
    expect(output(bin, ['--v8-options'])).toContain(`${BACKTRACK_FLAG} (`);
    const file = join(tempDir(), 'alternatives.json');
    const blocks = { ask: { type: 'ask', text: 'Your code?', validation: { regex: '^(a.|.b)+$' }, invalid_text: 'Not a code.', save: { var: 'code' }, next: 'done' }, done: { type: 'end', text: 'Thanks.' } };
    writeFileSync(file, JSON.stringify({ name: 'alternatives', version: 1, start: 'ask', blocks }));
    // Without the flag, 2^40 steps: the run would be killed at its timeout, status null.
    const chat = await runCli(['scenario', 'chat', file], { node: bin, env: {}, input: `${'ab'.repeat(40)}!\n/quit\n`, timeoutMs: 60_000 });
    expect(chat.stdout).toContain('Not a code.');
    expect(chat.status).toBe(0);
    expect(nodeWarnings(chat.stderr)).toEqual([]);
  });

  testTraceOrder(runtime);
});

// Node 24.21.0 aborts in an ObjectWrap's destructor when V8 collects one outside JavaScript
// (src/store/sqlite.ts); 24.22.3, the latest 24 on npm today, no longer does.
describe(`under Node ${SQLITE_VERSION}`, () => {
  const runtime = nodeForSuite(SQLITE_VERSION);

  test('the SQLite store opened and closed again and again, garbage collected meanwhile, never aborts the process', async (context) => {
    const bin = runtime(context);
    const hook = await compiling!;
    const file = join(tempDir(), 'state.db');
    // Each round leaves a closed store and a few hundred KB of garbage: V8 collects it in its own time.
    const worker = `
      const { SqliteStore } = await import(${JSON.stringify(SQLITE_STORE)});
      for (let round = 0; round < 150; round++) {
        const store = new SqliteStore(process.argv[1]);
        await store.savePosition('c' + round, 'demo', { round }, { expectedVersion: 0 });
        await store.close();
        const garbage = [];
        for (let i = 0; i < 2000; i++) garbage.push({ i, text: 'x'.repeat(100) });
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      process.stdout.write('done');
    `;
    const child = spawn(bin, [...hook, '--input-type=module', '-e', worker, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    expect({ code, signal, stdout }, stderr).toEqual({ code: 0, signal: null, stdout: 'done' });
  }, 300_000);
});
