import { createRequire } from 'node:module';

// Read at run time so the published dist/ and the tests agree without a build step.
const pkg = createRequire(import.meta.url)('../package.json') as { name: string; version: string; engines: { node: string } };

export const VERSION = pkg.version;
export const USER_AGENT = `${pkg.name}/${pkg.version}`;
/** package.json's `engines.node`: the Node.js versions the package supports. */
export const NODE_ENGINES = pkg.engines.node;
