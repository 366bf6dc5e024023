// Which modules a script loads, and when: the script runs as an ES module in a child Node (from the
// project's root) with a module-resolution hook that writes `LOADED <url>` to stderr for every
// module the process loads; the script writes `MARK <name>` lines there to place them in time.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The hook runs on the loader's own thread, whose process.stderr reaches fd 2 through the main
// thread: on Node 24 its lines came after the main thread's next MARK. writeSync puts each line on
// fd 2 before the import it reports goes on, so the trace's order is the order of loading.
const HOOK = `import { writeSync } from 'node:fs'; export async function resolve(specifier, context, next) { const found = await next(specifier, context); writeSync(2, 'LOADED ' + found.url + '\\n'); return found; }`;
const REGISTER = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));`;
// For a process that answers on stdout (stdio `serve`): each stdout write puts `MARK stdout` in the
// trace first, `MARK tools/list` when it carries a tools/list result, so the trace shows what was
// loaded before that answer went out.
const MARK_STDOUT = `import { writeSync } from 'node:fs'; const write = process.stdout.write.bind(process.stdout); process.stdout.write = (chunk, ...rest) => { writeSync(2, (String(chunk).includes('"tools":[') ? 'MARK tools/list' : 'MARK stdout') + '\\n'); return write(chunk, ...rest); };`;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ModuleLoads {
  status: number | null;
  stderr: string;
  /** The `LOADED <url>` lines, in load order. */
  loaded: string[];
  /** Where `MARK <name>` is in the trace (-1: never written). */
  at(mark: string): number;
  /** Where the first module whose `LOADED <url>` line matches is in the trace (-1: none). */
  firstLoad(pattern: RegExp): number;
}

/** The path of a built module, as a script imports it. */
export function built(path: string): string {
  return fileURLToPath(new URL(`../../dist/${path}`, import.meta.url));
}

/** Runs `script` under `node` (default: this test's own) with the load trace. */
export function traceModuleLoads(script: string, node = process.execPath): ModuleLoads {
  const run = spawnSync(node, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: ROOT });
  return readTrace(run.status, run.stderr);
}

/** Node's arguments, before the script's, that put the load trace of a process on its stderr, with `MARK tools/list` where it answers tools/list on stdout. */
export const TRACE_STDIO_SERVER = ['--import', `data:text/javascript,${encodeURIComponent(REGISTER + MARK_STDOUT)}`];

/** The trace in a traced process's stderr. */
export function readTrace(status: number | null, stderr: string): ModuleLoads {
  const lines = stderr.split('\n');
  return {
    status,
    stderr,
    loaded: lines.filter((l) => l.startsWith('LOADED ')),
    at: (mark) => lines.indexOf(`MARK ${mark}`),
    firstLoad: (pattern) => lines.findIndex((l) => l.startsWith('LOADED ') && pattern.test(l)),
  };
}
