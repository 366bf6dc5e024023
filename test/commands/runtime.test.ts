// The sandbox (and its browser console) loads only when a command runs it: `serve` over stdio
// without --sandbox never imports it. Its guide and its listening front (a few small functions,
// sandbox/guide.ts and sandbox/listen-first.ts) load with the command. Checked on the built files,
// with a module-resolution hook that reports every module the process loads.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SERVE = fileURLToPath(new URL('../../dist/commands/serve.js', import.meta.url));
const HOOK = `export async function resolve(specifier, context, next) { const found = await next(specifier, context); process.stderr.write('LOADED ' + found.url + '\\n'); return found; }`;
const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));`;

it('importing the serve command loads neither the sandbox server nor its console', () => {
  const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, '--input-type=module', '-e', `await import(${JSON.stringify(SERVE)})`], { encoding: 'utf8' });
  expect(run.status).toBe(0);
  const loaded = run.stderr.split('\n').filter((l) => l.startsWith('LOADED '));
  expect(loaded.some((l) => l.endsWith('/dist/commands/runtime.js'))).toBe(true); // the hook sees our modules
  expect(loaded.filter((l) => /\/dist\/sandbox\/(server|requests|console-page|data|state|rtm)\.js$|\/sandbox\/console\/|\/node_modules\/socket\.io\//.test(l))).toEqual([]);
});
