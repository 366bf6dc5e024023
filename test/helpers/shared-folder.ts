// vitest.config.ts globalSetup: one empty folder for the whole run, which every test file reaches
// with inject('sharedFolder') whichever worker runs it, removed when the run ends, and emptied before
// each rerun in watch mode (the sources may have changed). Work that several files need is done there
// once (test/helpers/package-build.ts); creating it costs a run nothing.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedFolder: string;
  }
}

export default function setup(project: TestProject): () => void {
  const folder = mkdtempSync(join(tmpdir(), 'crisp-mcp-run-'));
  project.provide('sharedFolder', folder);
  project.onTestsRerun(() => {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
  });
  return () => rmSync(folder, { recursive: true, force: true });
}
