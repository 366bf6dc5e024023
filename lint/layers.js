// @ts-check
// The dependency rules between the folders of src/, checked on every import in src/ by `npm run lint`.
// Each folder of src/ lists what of ours it may import (its own folder always); an import of
// anything else, or of a package outside a pure folder's short list, is reported with the rule
// it breaks. test/lint/layers.test.ts proves a forbidden import fails.
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * @typedef {{ may: string[], packages?: string[], why: string }} Layer
 * `may`: folders or files under src/ (without extension) this folder may import.
 * `packages`: when set, the only non-relative imports allowed (pure folders).
 */

/** @type {Record<string, Layer>} */
export const LAYERS = {
  scenario: {
    may: [],
    packages: ['node:crypto', 'zod', 'fastest-levenshtein'],
    why: 'scenario/ is pure: it imports nothing of ours and does no I/O',
  },
  crisp: { may: ['version', 'retry', 'text-cut'], why: 'crisp/ knows nothing of MCP, scenarios, the engine or bots' },
  store: { may: ['scenario', 'credentials/redact'], why: 'store/ is the durable store behind one contract' },
  engine: {
    may: ['scenario', 'store', 'log', 'version', 'retry'],
    why: 'engine/ knows no Crisp, no transport, no MCP, no channel and no sandbox: Crisp and webhooks reach it only through its effect port',
  },
  autopilot: {
    may: ['engine', 'scenario', 'store', 'crisp', 'log', 'version', 'retry'],
    why: 'a channel may import engine/, never another channel, sandbox/ or commands/',
  },
  converse: {
    may: ['engine', 'scenario', 'store', 'log', 'version', 'retry', 'text-check'],
    why: 'a channel may import engine/, never another channel, sandbox/ or commands/',
  },
  mcp: {
    may: ['engine', 'scenario', 'store', 'crisp', 'config', 'log', 'version', 'text-cut', 'text-check'],
    why: 'a channel may import engine/, never another channel, sandbox/ or commands/',
  },
  transport: {
    may: ['mcp', 'autopilot', 'converse', 'crisp', 'config', 'log', 'version'],
    why: 'transport/ serves routes; only commands/ wire it to the sandbox',
  },
  sandbox: { may: ['crisp/schemas', 'version'], why: 'sandbox/ shares at most the wire schemas of crisp/' },
  credentials: { may: ['crisp', 'config'], why: 'credentials/ resolves and redacts secrets' },
  config: { may: ['crisp', 'store', 'credentials'], why: 'config.ts only validates settings' },
  log: { may: ['credentials'], why: 'log.ts only writes log lines' },
  version: { may: [], why: 'version.ts reads the package version' },
  retry: { may: [], why: 'retry.ts is the one retry policy, pure' },
  'text-cut': { may: [], why: 'text-cut.ts says where text may be cut (between graphemes), pure' },
  'text-check': { may: [], why: 'text-check.ts says when text handed to us is no text, pure' },
  'compile-cache': { may: [], why: 'compile-cache.ts turns on V8\'s compile cache before cli.ts loads anything else' },
  'node-support': { may: ['version'], why: 'node-support.ts checks the Node.js version before cli.ts loads a command' },
  'zod-acyclic': { may: [], why: 'zod-acyclic.ts sets how zod parses before cli.ts builds any schema' },
  commands: { may: ['*'], why: 'commands/ wire every part together' },
  cli: { may: ['*'], why: 'cli.ts dispatches to a command' },
};

/** Turns an import specifier into its path under src/ without extension, or undefined. */
function targetUnderSrc(srcDir, fromFile, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const rel = relative(srcDir, resolve(dirname(fromFile), specifier));
  if (rel.startsWith('..')) return undefined;
  return rel.split(sep).join('/').replace(/\.(js|ts)$/, '');
}

const layerOf = (path) => path.split('/')[0] ?? path;

/** @type {import('eslint').Rule.RuleModule} */
const noForbiddenArrow = {
  meta: {
    type: 'problem',
    docs: { description: 'imports between src/ folders follow the dependency rules in LAYERS' },
    schema: [],
  },
  create(context) {
    const srcDir = resolve(context.cwd, 'src');
    const file = context.filename;
    const own = relative(srcDir, file);
    if (own.startsWith('..')) return {};
    const from = layerOf(own.split(sep).join('/').replace(/\.(js|ts)$/, ''));
    const layer = LAYERS[from];
    if (!layer) {
      return {
        Program(node) {
          context.report({ node, message: `src/${own} is in no layer (add it to LAYERS in lint/layers.js)` });
        },
      };
    }
    function check(node, source) {
      if (!source || typeof source.value !== 'string') return;
      const specifier = source.value;
      const target = targetUnderSrc(srcDir, file, specifier);
      if (target === undefined) {
        if (!specifier.startsWith('.') && layer.packages && !layer.packages.includes(specifier)) {
          context.report({ node, message: `'${specifier}' is not allowed in src/${from}/: ${layer.why}` });
        }
        return;
      }
      const to = layerOf(target);
      if (to === from) return;
      if (to === 'commands' && from !== 'cli' && from !== 'commands') {
        context.report({ node, message: `nothing but cli.ts imports commands/ ('${specifier}')` });
        return;
      }
      if (layer.may.includes('*')) return;
      const allowed = layer.may.some((entry) => target === entry || target.startsWith(`${entry}/`));
      if (!allowed) context.report({ node, message: `src/${from} must not import '${specifier}': ${layer.why}` });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : undefined),
    };
  },
};

export const layersPlugin = { rules: { 'no-forbidden-arrow': noForbiddenArrow } };
