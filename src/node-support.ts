// The Node.js this package runs on, checked before any command loads its modules: on an older Node
// the first sign would otherwise be a module link error (on Node 18: "The requested module
// 'node:crypto' does not provide an export named 'hash'"), which says nothing of the cause or the fix.
import { NODE_ENGINES } from './version.js';

/** package.json's `engines.node`, which is a lower bound (`>=X.Y.Z`): npm warns on it, this enforces it. */
export const MINIMUM_NODE = minimumOf(NODE_ENGINES);

/** Why `version` (as in process.versions.node) cannot run crisp-mcp, or undefined when it can. */
export function unsupportedNode(version: string, runtimePath: string): string | undefined {
  if (compareVersions(version, MINIMUM_NODE) >= 0) return undefined;
  return (
    `needs Node.js ${MINIMUM_NODE} or later, and this is Node.js ${version} (${runtimePath}). ` +
    'Install a current Node.js LTS (https://nodejs.org) and start crisp-mcp with it; an MCP host runs the node ' +
    'its "command" names, or the first one on its PATH.'
  );
}

function minimumOf(range: string): string {
  const match = /^>=\s*(\d+\.\d+\.\d+)$/.exec(range.trim());
  if (!match) throw new Error(`package.json engines.node must be ">=X.Y.Z", got "${range}"`);
  return match[1]!;
}

function compareVersions(a: string, b: string): number {
  const left = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const right = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
