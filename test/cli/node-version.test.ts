// On a Node.js older than package.json's engines allow, every command stops with one line naming
// both versions and what to do, before any module that needs the newer Node is loaded. The older
// Node is played by the real one with process.versions.node rewritten before cli.js runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MINIMUM_NODE } from '../../src/node-support.js';
import { runCli } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; engines: { node: string } };

/** NODE_OPTIONS that make the spawned CLI see `version` as its Node.js version. */
function nodeReporting(version: string): Record<string, string> {
  const preload = `Object.defineProperty(process.versions,'node',{value:'${version}'})`;
  return { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(preload)}` };
}

describe('crisp-mcp on an unsupported Node.js', () => {
  it("takes its minimum from package.json's engines", () => {
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE}`);
  });

  it.each([
    ['18.20.8', ['serve', '--sandbox']],
    ['20.18.0', ['--help']],
  ])('Node %s: `crisp-mcp %s` exits 2 with one line naming both versions and the fix, and nothing on stdout', async (version, args) => {
    const run = await runCli(args as string[], { env: nodeReporting(version) });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`crisp-mcp: needs Node.js ${MINIMUM_NODE} or later, and this is Node.js ${version} (${process.execPath})`);
    expect(lines[0]).toContain('https://nodejs.org');
  });

  it('runs on the minimum itself', async () => {
    const run = await runCli(['--version'], { env: nodeReporting(MINIMUM_NODE) });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${pkg.version}\n`);
    expect(run.status).toBe(0);
  });
});
