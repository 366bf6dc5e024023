import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, longest first (measured with the JSON reporter): each worker takes
 * the next file when it is done, so these start first and the many short files fill in behind
 * them, and the two workers finish together. Without this, a fresh clone (no vitest cache of the
 * last run's durations) ran the files in the order they were found, and a long one starting last
 * kept one worker busy alone at the end.
 */
const SLOWEST_FIRST = [
  'test/package/mcpb.test.ts',
  'test/transport/body-limit.test.ts',
  'test/cli/stranger.test.ts',
  'test/cli/node-lts.test.ts',
  // After a few long files: it installs the tarball mcpb.test.ts's build makes (test/helpers/package-build.ts), ready by then.
  'test/package/install.test.ts',
  'test/cli/lifecycle.test.ts',
  'test/store/contract.test.ts',
  'test/autopilot/kill-held.test.ts',
  'test/mcp/post-draft-kill.test.ts',
  'test/property/secrets.test.ts',
  'test/cli/bot.test.ts',
  'test/transport/stdio.test.ts',
  'test/transport/converse-cli.test.ts',
  'test/sandbox/console-newcomer.test.ts',
  'test/credentials/auth.test.ts',
  'test/cli/first-contact.test.ts',
  'test/autopilot/kill.test.ts',
  'test/cli/sandbox.test.ts',
  'test/transport/http-cli.test.ts',
  'test/conformance/official-tools.test.ts',
];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = SLOWEST_FIRST.findIndex((path) => file.moduleId.endsWith(`/${path}`));
      return at < 0 ? SLOWEST_FIRST.length : at;
    };
    // Stable: the other files keep vitest's own order (the last run's failures, then the longest).
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: forks keep native modules (better-sqlite3) and child processes isolated.
    pool: 'forks',
    // Each worker process runs file after file, modules loaded once: a fresh process per file
    // (vitest's default) spent as long starting and importing as most files spend testing (45 quick
    // files: 123 s isolated, 43 s not, at load 10). The suites keep no state between files that
    // another reads: every server, store and child process is started by the file using it, and
    // closed in its afterAll/afterEach; fake timers are put back after each test; the secrets scrub()
    // was given are forgotten before each file (setupFiles).
    isolate: false,
    setupFiles: ['test/helpers/between-files.ts'],
    // One folder for the run, where work several files need (the packages' build) is done once.
    globalSetup: ['test/helpers/shared-folder.ts'],
    // Two workers on two cores (vitest's default is cores − 1, one here): most suites wait on child
    // processes, sockets, a lock's expiry or a grace period, so one worker left a core idle and the
    // whole run took the sum of the files' times (340 s; 190–210 s with two, in three clean runs).
    maxWorkers: 2,
    sequence: { sequencer: SlowestFirst },
    // How long expect.poll waits for what it polls (a browser's render, a child's line): vitest's 1 s
    // default failed a Chromium test once at load 6; a wait, never a bound on how fast anything is.
    expect: { poll: { timeout: 10_000 } },
  },
});
