// The sandbox (and its browser console) loads only when a command runs it: `serve` over stdio
// without --sandbox never imports it. Its guide and its listening front (a few small functions,
// sandbox/guide.ts and sandbox/listen-first.ts) load with the command. Checked on the built files,
// with a module-resolution hook that reports every module the process loads.
import { expect, it } from 'vitest';
import { built, traceModuleLoads } from '../helpers/module-loads.js';

it('importing the serve command loads neither the sandbox server nor its console', () => {
  const { status, loaded } = traceModuleLoads(`await import(${JSON.stringify(built('commands/serve.js'))})`);
  expect(status).toBe(0);
  expect(loaded.some((l) => l.endsWith('/dist/commands/runtime.js'))).toBe(true); // the hook sees our modules
  expect(loaded.filter((l) => /\/dist\/sandbox\/(server|requests|console-page|data|state|rtm)\.js$|\/sandbox\/console\/|\/node_modules\/socket\.io\//.test(l))).toEqual([]);
});
