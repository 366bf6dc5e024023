// Installable without a registry account: from what a fresh clone holds, `npm pack` (its prepack
// builds) makes a package that, installed into an empty folder, serves every tool over stdio from
// any working directory. (`npm run mcpb`, the other package a clone makes: test/package/mcpb.test.ts.)
//
// Both packages are made once a run, in a copy of the checkout (tracked and untracked, not ignored,
// files: what a clone holds), so the build never touches the dist/ the other tests run: `npm run mcpb`
// first, whose `npm pack` builds dist/ (prepack), then the tarball (test/helpers/package-build.ts).
// The install is offline: the package's production dependencies come from npm's cache at the
// versions package-lock.json pins (`npm ci` put them there), with the install scripts skipped — as
// npm 12 and later skip a dependency's script unless it is allowed — so better-sqlite3's compiled
// module is missing until a test copies this checkout's in, instead of compiling it again.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relativeLinks } from '../helpers/markdown.js';
import { freshClonePackages } from '../helpers/package-build.js';
import { ALL_TOOL_NAMES, BUILD_TIMEOUT, hostEnv as hostEnvIn, listToolsOverStdio as listToolsIn, npm, overStdio as overStdioIn, pkg, ROOT, scratch } from '../helpers/package-clone.js';

let work: string;
let clone: string;
let tarball: string;
let packedFiles: string[];

beforeAll(async () => {
  work = scratch();
  ({ clone, tarball, packedFiles } = await freshClonePackages());
}, BUILD_TIMEOUT);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A wait for the first test's offline `npm ci` and a server's start, never a bound: 20 s timed out once at load 10 on two cores. */
const INSTALL_TIMEOUT = 60_000;

const hostEnv = (env: Record<string, string> = {}) => hostEnvIn(work, env);
const listToolsOverStdio = (entry: string, args: string[], env: Record<string, string>) => listToolsIn(work, entry, args, env);
function overStdio<T>(entry: string, args: string[], env: Record<string, string>, use: (client: Client) => Promise<T>): Promise<T> {
  return overStdioIn(work, entry, args, env, use);
}

describe('npm pack from a fresh clone', () => {
  it('builds the package (prepack) and ships the license, the shipped scenarios, the docs pages the README links to, and no source map without its source', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'docs/performance.md', 'docs/tools.md', 'package.json', 'dist/cli.js', 'dist/commands/serve.js', 'dist/sandbox/console/main.js', 'scenarios/gdpr.json']));
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it("links to no file it leaves out: every file the packed README links to, and every page the packed docs link to (their screenshots stay in the repository)", () => {
    const linked = (page: string) => relativeLinks(readFileSync(join(clone, page), 'utf8')).map((target) => posix.join(posix.dirname(page), target.split('#')[0]!)).filter((file) => file !== page && file !== posix.dirname(page));
    const pages = packedFiles.filter((f) => /^docs\/.*\.md$/.test(f));
    expect(pages.length).toBeGreaterThan(1);
    const missing = [...linked('README.md'), ...pages.flatMap(linked).filter((file) => file.endsWith('.md'))].filter((file) => !packedFiles.includes(file));
    expect(missing).toEqual([]);
    expect(packedFiles.filter((f) => f.endsWith('.png'))).toEqual([]);
  });

  it('installed into an empty folder, serves every tool over stdio from /, with the shipped scenarios', async () => {
    const consumer = installedConsumer();
    cpSync(join(ROOT, COMPILED_MODULE), join(consumer, COMPILED_MODULE));
    const installed = join(consumer, 'node_modules', pkg.name);
    const bin = join(installed, pkg.bin['crisp-mcp']!);
    const { tools, stderr } = await listToolsOverStdio(bin, ['serve', '--sandbox', '--store', `sqlite:${join(work, 'state.db')}`], {});
    expect(tools).toEqual(ALL_TOOL_NAMES);
    expect(stderr).toContain(`"msg":"scenarios loaded from ${join(installed, 'scenarios')}"`);
  }, INSTALL_TIMEOUT);

  it("installed with its install scripts skipped, says how to build SQLite's module: the bot in one line before it runs, a scenario tool in its answer", async () => {
    const consumer = installedConsumer();
    rmSync(join(consumer, COMPILED_MODULE), { force: true });
    const bin = join(consumer, 'node_modules', pkg.name, pkg.bin['crisp-mcp']!);
    const fix = `npm rebuild better-sqlite3\` in ${consumer} `;

    const bot = spawnSync(process.execPath, [bin, 'bot', '--sandbox', '--scenario', 'gdpr', '--store', `sqlite:${join(work, 'bot.db')}`], { cwd: '/', encoding: 'utf8', env: hostEnv(), timeout: 30_000 });
    expect(bot.status).toBe(2);
    const refusal = bot.stderr.split('\n').filter((line) => line.startsWith('crisp-mcp: '));
    expect(refusal).toHaveLength(1);
    expect(refusal[0]).toContain("better-sqlite3's compiled module is missing");
    expect(refusal[0]).toContain(fix);
    expect(refusal[0]).toContain('--store memory');
    expect(bot.stderr).not.toContain('Could not locate the bindings file');

    const answer = await overStdio(bin, ['serve', '--sandbox', '--store', `sqlite:${join(work, 'serve.db')}`], {}, async (client) => {
      const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
      const sessionId = (listed.structuredContent as { conversations: Array<{ session_id: string }> }).conversations[0]!.session_id;
      return client.callTool({ name: 'draft_scenario_reply', arguments: { session_id: sessionId, scenario: 'gdpr' } });
    });
    expect(answer.isError).toBe(true);
    const text = (answer.content as Array<{ text: string }>)[0]!.text;
    expect(text).toMatch(/^Scenario tools cannot run: cannot open the SQLite store at .*better-sqlite3's compiled module is missing/);
    expect(text).toContain(fix);
    expect(text).toMatch(/retrying will not help\.$/);
  }, INSTALL_TIMEOUT);
});

/**
 * `npm ci --offline` of the tarball into `dir`: a lockfile naming the tarball plus every production
 * package of ours at its pinned version, so npm takes them all from its cache.
 */
function installOffline(tgz: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  const spec = `file:${tgz}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && !entry.dev && !entry.link) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { [pkg.name]: spec } }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }));
  npm(dir, 'ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund');
}

/** Where better-sqlite3's install script leaves its compiled module, in a folder's node_modules. */
const COMPILED_MODULE = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

let consumerFolder: string | undefined;

/** The packed tarball installed (once) into an empty folder, its install scripts skipped. */
function installedConsumer(): string {
  if (!consumerFolder) {
    const dir = join(work, 'consumer');
    installOffline(tarball, dir);
    consumerFolder = dir;
  }
  return consumerFolder;
}

