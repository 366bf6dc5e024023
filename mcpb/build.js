#!/usr/bin/env node
// `npm run mcpb`: the MCP Bundle Claude Desktop installs with one click, written to
// crisp-mcp-<version>.mcpb at the project root. The bundle holds exactly what `npm pack` ships
// (prepack builds dist/ first), the production dependencies taken from this checkout's
// node_modules, and mcpb/manifest.json. better-sqlite3's native binary is the one built here, so a
// bundle runs on the platform and CPU it was built on; the manifest says which platform.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = readJson(join(root, 'package.json'));
const manifest = readJson(join(root, 'mcpb', 'manifest.json'));
if (manifest.version !== pkg.version) fail(`mcpb/manifest.json says version ${manifest.version}, package.json ${pkg.version}: make them the same`);
const mcpbCli = join(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb'), '..', 'cli', 'cli.js');
const output = join(root, `crisp-mcp-${pkg.version}.mcpb`);
const UNUSED_FOLDERS = new Set(['test', 'tests', '__tests__', 'fixtures', 'docs', 'benchmark', 'benchmarks', 'example', 'examples', '.github', '.husky']);

const work = mkdtempSync(join(tmpdir(), 'crisp-mcp-mcpb-'));
try {
  const [packed] = JSON.parse(run(...npm('pack', '--pack-destination', work, '--json')));
  run('tar', '-xzf', join(work, packed.filename), '-C', work);
  const bundle = join(work, 'package');
  copyProductionDependencies(bundle);
  const platforms = [process.platform];
  writeFileSync(join(bundle, 'manifest.json'), `${JSON.stringify({ ...manifest, compatibility: { ...manifest.compatibility, platforms } }, null, 2)}\n`);
  rmSync(output, { force: true });
  run(process.execPath, mcpbCli, 'pack', bundle, output);
  process.stderr.write(`wrote ${output} (for ${platforms.join(', ')}/${process.arch})\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Every package the lockfile marks as not dev-only, copied from node_modules as installed (native builds included). */
function copyProductionDependencies(bundle) {
  const lock = readJson(join(root, 'package-lock.json'));
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || entry.dev || entry.link) continue;
    const from = join(root, path);
    // Optional packages for other platforms (the keychain's prebuilt binaries) are not installed here.
    if (!existsSync(from)) continue;
    cpSync(from, join(bundle, path), { recursive: true, dereference: true });
  }
  // better-sqlite3 needs only its compiled module at run time, not the SQLite sources or the build's objects.
  const sqlite = join(bundle, 'node_modules', 'better-sqlite3');
  for (const leftover of ['deps', 'src', 'build/Release/obj', 'build/Release/obj.target', 'build/Release/test_extension.node', 'build/Release/.deps', 'build/deps']) {
    rmSync(join(sqlite, leftover), { recursive: true, force: true });
  }
  pruneUnusedAtRunTime(join(bundle, 'node_modules'));
}

/** The packages' own tests, docs, benchmarks and examples, TypeScript sources and types, markdown but their licences: a third of node_modules, none of it run. */
function pruneUnusedAtRunTime(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (UNUSED_FOLDERS.has(entry.name)) rmSync(path, { recursive: true, force: true });
      else pruneUnusedAtRunTime(path);
    } else if (/\.(d\.)?[cm]?ts$|\.md$|\.map$/i.test(entry.name) && !/^licen[cs]e/i.test(entry.name)) {
      rmSync(path, { force: true });
    }
  }
}

/** npm itself: the one running this script when it came from `npm run`, else npm on the PATH. */
function npm(...args) {
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.[cm]?js$/.test(cli) ? [process.execPath, cli, ...args] : ['npm', ...args];
}

function run(command, ...args) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: process.platform === 'win32' && command === 'npm' });
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
  return result.stdout;
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function fail(message) {
  process.stderr.write(`npm run mcpb: ${message}\n`);
  process.exit(1);
}
