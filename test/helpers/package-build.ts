// The two packages a fresh clone makes, built once a run for the two files that test them
// (test/package/mcpb.test.ts, test/package/install.test.ts). Each package is the project's whole
// build (tsc twice, esbuild: ~20 s of CPU on two cores), and the files run on different workers, so
// the first to ask builds in the run's shared folder (test/helpers/shared-folder.ts) and the other
// waits for what it wrote.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import { freshClone, npm, pkg } from './package-clone.js';

export interface FreshClonePackages {
  /** The copy of the checkout, as a fresh clone holds it, that both were made in. */
  clone: string;
  /** crisp-mcp-<version>.mcpb, where `npm run mcpb` wrote it. */
  bundle: string;
  /** `npm pack`'s tarball, and the paths of the files it holds. */
  tarball: string;
  packedFiles: string[];
}

type Outcome = { built: FreshClonePackages } | { failed: string };

/** The packages, built by this call or by another file's (on any worker); a failed build fails every caller, with its error. */
export async function freshClonePackages(): Promise<FreshClonePackages> {
  const folder = join(inject('sharedFolder'), 'packages');
  const outcomeFile = join(folder, 'outcome.json');
  let outcome: Outcome;
  try {
    mkdirSync(folder); // atomic: exactly one caller creates it, and builds
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    while (!existsSync(outcomeFile)) await sleep(200); // the caller's hook timeout bounds the wait
    outcome = JSON.parse(readFileSync(outcomeFile, 'utf8')) as Outcome;
    return unwrap(outcome);
  }
  try {
    outcome = { built: build(folder) };
  } catch (error) {
    outcome = { failed: (error as Error).message };
  }
  // Written whole, then renamed: a waiter never reads half of it.
  writeFileSync(`${outcomeFile}.partial`, JSON.stringify(outcome));
  renameSync(`${outcomeFile}.partial`, outcomeFile);
  return unwrap(outcome);
}

function unwrap(outcome: Outcome): FreshClonePackages {
  if ('failed' in outcome) throw new Error(`building the packages of a fresh clone failed: ${outcome.failed}`);
  return outcome.built;
}

function build(folder: string): FreshClonePackages {
  const clone = freshClone(folder);
  if (existsSync(join(clone, 'dist'))) throw new Error(`a fresh clone has no dist/, but ${clone} has`);
  // `npm run mcpb` as a clone's user runs it: its `npm pack` runs prepack, which builds dist/ from nothing.
  npm(clone, 'run', 'mcpb');
  // `npm pack` again in the same clone would only run that same prepack again (remove dist/, the whole
  // build): it packs the dist/ just built, as it would have been built.
  const [packed] = JSON.parse(npm(clone, 'pack', '--ignore-scripts', '--pack-destination', folder, '--json')) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { clone, bundle: join(clone, `crisp-mcp-${pkg.version}.mcpb`), tarball: join(folder, packed!.filename), packedFiles: packed!.files.map((f) => f.path) };
}
