import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: forks keep native modules (better-sqlite3) and child processes isolated.
    pool: 'forks',
    // How long expect.poll waits for what it polls (a browser's render, a child's line): vitest's 1 s
    // default failed a Chromium test once at load 6; a wait, never a bound on how fast anything is.
    expect: { poll: { timeout: 10_000 } },
  },
});
