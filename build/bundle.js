#!/usr/bin/env node
// The last step of `npm run build`: dist/cli.js, which tsc has just written, becomes one esbuild
// bundle of the CLI and everything it imports, with each dynamic import (a command, the sandbox,
// Redis…) a chunk of its own beside it. Node loading a few large files instead of hundreds of small
// ones is most of what `serve` spends starting (bench/startup). The rest of dist/ stays tsc's, for
// `main` and for the tests that load single built modules.
import { readdir, readFile, rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = `${root}src/`;
const dist = `${root}dist/`;

// Native addons stay in node_modules, and so does undici: the Crisp client imports it on its first
// call, and a bundled CommonJS package imported dynamically would only have a default export.
const EXTERNAL = ['better-sqlite3', '@napi-rs/keyring', 'undici'];

/**
 * A module that finds files next to itself (the shipped scenarios, the console's scripts,
 * package.json) does so from import.meta.url. In the bundle that URL is the chunk's, so each
 * source's import.meta.url becomes the URL its tsc-built twin has: every output file sits directly
 * in dist/, so the same relative path holds from any of them.
 */
const importMetaUrlAsBuilt = {
  name: 'import-meta-url-as-built',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\/src\/.*\.ts$/ }, async ({ path }) => {
      const contents = await readFile(path, 'utf8');
      if (!contents.includes('import.meta.url')) return undefined;
      const built = `./${relative(src, path).replaceAll('\\', '/').replace(/\.ts$/, '.js')}`;
      return { contents: contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(built)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

/**
 * Every tool's JSON Schemas as tools/list sends them, converted now from tsc's output of the same
 * sources (src/mcp/tools/index.ts serves them from BUILT_TOOL_SCHEMAS): converting 21 × 2 zod schemas
 * was about 8 ms of each start-up (bench/startup). The SDK converts for this target; should it ask
 * for another, the bundle converts at run time as tsc's output does.
 */
async function builtToolSchemas() {
  const target = 'draft-2020-12';
  const { ALL_TOOLS } = await import(pathToFileURL(`${dist}mcp/tools/index.js`).href);
  const json = (schema, io) => schema['~standard'].jsonSchema[io]({ target });
  return { target, tools: Object.fromEntries(ALL_TOOLS.map((t) => [t.name, { input: json(t.inputSchema, 'input'), output: json(t.outputSchema, 'output') }])) };
}

/**
 * pino's transports run in a worker thread (thread-stream, node:worker_threads); crisp-mcp writes
 * its log to fd 2 itself and never starts one, so the bundle's pino gets a stand-in that says so
 * instead of loading them at every start (bench/startup).
 */
const withoutPinoTransports = {
  name: 'without-pino-transports',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^thread-stream$/ }, () => ({ path: 'thread-stream', namespace: 'no-pino-transports' }));
    esbuild.onLoad({ filter: /.*/, namespace: 'no-pino-transports' }, () => ({
      contents: "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not part of the crisp-mcp bundle'); } };",
      loader: 'js',
    }));
  },
};

/**
 * zod re-exports its ~50 locales (`z.locales`, error messages in other languages) from one index,
 * and a namespace re-export keeps every one of them in the bundle: about 290 KB, a fifth of what
 * `serve` parses at each start (bench/startup). crisp-mcp speaks English only, and zod takes its
 * English default from locales/en.js directly; the bundle's `z.locales` holds English alone.
 */
const englishZodLocaleOnly = {
  name: 'english-zod-locale-only',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: "export { default as en } from './en.js';", loader: 'js' }));
  },
};

// The chunks of an earlier build would otherwise stay in dist/ and be packed with the new ones.
for (const file of await readdir(dist)) if (/^chunk-\w+\.js$/.test(file)) await rm(`${dist}${file}`);

await build({
  entryPoints: { cli: `${src}cli.ts` },
  outdir: dist,
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // Bundled CommonJS packages call require() for Node's built-ins; an ES module has no require of its own.
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module';\nconst require = __bundleCreateRequire(import.meta.url);" },
  // Less to read and parse at each start; identifiers keep their names, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [importMetaUrlAsBuilt, withoutPinoTransports, englishZodLocaleOnly],
  // A string literal, parsed on the first tools/list: an object here would be a module every chunk initialises.
  define: { BUILT_TOOL_SCHEMAS: JSON.stringify(JSON.stringify(await builtToolSchemas())) },
  logLevel: 'warning',
});
