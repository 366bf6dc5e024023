import { createRequire } from 'node:module';

// Read at run time so the published dist/ and the tests agree without a build step.
const pkg = createRequire(import.meta.url)('../package.json') as { name: string; version: string };

export const VERSION = pkg.version;
export const USER_AGENT = `${pkg.name}/${pkg.version}`;
