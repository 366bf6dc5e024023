// What bench/soak*.js read of a long-lived process: a preload (node --require) that answers SIGUSR2
// with a full GC and one JSON line of figures in a file (and a heap snapshot in SOAK_HEAPSNAPSHOT_DIR
// when set, to compare two rounds in DevTools), and the reading of it beside /proc and the SQLite
// store's row counts.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rssMb } from './proc.js';

// Loaded as src/store/sqlite-binding.ts loads it (a native addon, only where used).
const Database = createRequire(import.meta.url)('better-sqlite3');

const PROBE = `
const { writeFileSync } = require('node:fs');
let snapshots = 0;
process.on('SIGUSR2', () => {
  globalThis.gc();
  if (process.env.SOAK_HEAPSNAPSHOT_DIR) require('node:v8').writeHeapSnapshot(require('node:path').join(process.env.SOAK_HEAPSNAPSHOT_DIR, 'soak-' + ++snapshots + '.heapsnapshot'));
  const by = {};
  for (const h of process.getActiveResourcesInfo()) by[h] = (by[h] ?? 0) + 1;
  writeFileSync(process.env.SOAK_PROBE_OUT, JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, handles: by }));
});
`;

/** Node arguments and environment that load the probe into a child, its answers written under `dir`. */
export function probeInto(dir) {
  const script = join(dir, 'probe.cjs');
  writeFileSync(script, PROBE);
  const snapshots = process.env.SOAK_HEAPSNAPSHOT_DIR ? { SOAK_HEAPSNAPSHOT_DIR: process.env.SOAK_HEAPSNAPSHOT_DIR } : {};
  return { args: ['--expose-gc', '--require', script], env: { SOAK_PROBE_OUT: join(dir, 'probe.json'), ...snapshots }, out: join(dir, 'probe.json') };
}

/** RSS, heap used after a full GC, open fds, active handles by kind, and the rows of each table of the SQLite file `db`. */
export async function measure(pid, probeOut, db) {
  rmSync(probeOut, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    let probe;
    try {
      probe = JSON.parse(readFileSync(probeOut, 'utf8'));
    } catch {
      continue; // not written yet
    }
    const tables = ['positions', 'outbox', 'outbox_once', 'drafts', 'locks'];
    let rows = Object.fromEntries(tables.map((t) => [t, 0])); // the store is opened on first use (serve over stdio)
    if (existsSync(db)) {
      const file = new Database(db, { readonly: true, fileMustExist: true });
      rows = Object.fromEntries(tables.map((t) => [t, file.prepare(`SELECT count(*) AS n FROM ${t}`).get().n]));
      file.close();
    }
    const handles = Object.values(probe.handles).reduce((a, b) => a + b, 0);
    return { rss: rssMb(pid), heap: probe.heapUsed / 2 ** 20, fds: readdirSync(`/proc/${pid}/fd`).length, handles, handleKinds: probe.handles, rows };
  }
  throw new Error('the probe did not answer');
}

/** One markdown row of a measure(). */
export const row = (label, load, m) =>
  `| ${label} | ${load} | ${m.rss.toFixed(1)} | ${m.heap.toFixed(1)} | ${m.fds} | ${m.handles} | ${m.rows.positions} | ${m.rows.outbox} | ${m.rows.outbox_once} | ${m.rows.drafts} | ${m.rows.locks} |`;
export const HEADER = '| after | load | RSS MB | heap after GC MB | fds | handles | positions | outbox | once-keys | drafts | locks |\n|---|---|---|---|---|---|---|---|---|---|---|';
