// The wire schemas (src/crisp/schemas.ts, ~70 zod schemas) are built with the client's first call,
// not at start: `serve` over stdio answers tools/list without them (bench/startup). Checked on the
// built files, with the module-resolution hook that reports every module the process loads.
import { expect, it } from 'vitest';
import { built, traceModuleLoads } from '../helpers/module-loads.js';

it('importing serve and making a Crisp client load no wire schema; the first call loads them', () => {
  const script = `
    await import(${JSON.stringify(built('commands/serve.js'))});
    const { CrispClient } = await import(${JSON.stringify(built('crisp/client.js'))});
    const crisp = new CrispClient({ baseUrl: 'http://127.0.0.1:9', credentials: { identifier: 'i', key: 'k', tier: 'plugin' }, retry: { maxAttempts: 1 } });
    process.stderr.write('MARK client-made\\n');
    const failure = await crisp.conversations.list('00000000-0000-4000-8000-000000000000').then(() => 'answered', (error) => error.code);
    process.stderr.write('MARK first-call-done\\n' + 'FAILURE ' + failure + '\\n');
    await crisp.close();`;
  const trace = traceModuleLoads(script);
  expect(trace.status, trace.stderr).toBe(0);
  expect(trace.firstLoad(/\/dist\/commands\/serve\.js$/)).toBeGreaterThanOrEqual(0); // the hook sees our modules
  expect(trace.firstLoad(/\/dist\/crisp\/vocabulary\.js$/)).toBeLessThan(trace.at('client-made')); // config's tiers
  const schemas = trace.firstLoad(/\/dist\/crisp\/schemas\.js$/);
  expect(schemas).toBeGreaterThan(trace.at('client-made'));
  expect(schemas).toBeLessThan(trace.at('first-call-done'));
  // Nothing listens on port 9: the call failed as unreachable, and its schema import did not crash the process.
  expect(trace.stderr).toMatch(/^FAILURE crisp_unavailable$/m);
});
