// `npm run bench` imports every benchmark (bench/run.js) from the build before it measures any:
// one import that the build no longer exports (bench/store.js asked dist/scenario/index.js for
// compileText after the compiler left the start path) broke the whole command, and no test saw it.
// Each module bench/run.js imports is loaded here from dist/, as the command loads it; none runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const runner = new URL('../../bench/run.js', import.meta.url);
const modules = [...readFileSync(runner, 'utf8').matchAll(/^import \{ (.+) \} from '(\.\/[\w-]+\.js)';$/gm)].map(([, names, path]) => ({ path: path!, names: names!.split(', ') }));

describe('npm run bench', () => {
  it('imports at least the benchmarks it runs', () => {
    expect(modules.map((m) => m.path)).toEqual(expect.arrayContaining(['./startup.js', './mcp-stdio.js', './store.js', './scenario.js']));
  });

  it.each(modules)('$path loads from the build and exports what bench/run.js takes', async ({ path, names }) => {
    const loaded = (await import(new URL(path, runner).href)) as Record<string, unknown>;
    for (const name of names) expect(typeof loaded[name], `${path} exports ${name}`).toBe('function');
  });
});
