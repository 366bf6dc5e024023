import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: forks keep native modules (better-sqlite3) and child processes isolated.
    pool: 'forks',
    // Two workers on two cores (vitest's default is cores − 1, one here): most suites wait on child
    // processes, sockets, a lock's expiry or a grace period, so one worker left a core idle and the
    // whole run took the sum of the files' times (340 s; 190–210 s with two, in three clean runs).
    maxWorkers: 2,
    // How long expect.poll waits for what it polls (a browser's render, a child's line): vitest's 1 s
    // default failed a Chromium test once at load 6; a wait, never a bound on how fast anything is.
    expect: { poll: { timeout: 10_000 } },
  },
});
