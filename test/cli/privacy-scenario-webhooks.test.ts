// A scenario's webhook blocks post visitors' answers (booking: name, date, email) to whoever runs
// their URL. `scenario validate` said "ok, 8 blocks…" and nothing of it: a reviewer checking what
// a scenario sends to third parties had to read the JSON. Now each recipient has its line.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));

describe('scenario validate: where a scenario sends conversation data', () => {
  it('names each webhook URL under the summary, and none for a scenario without one', async () => {
    const run = await runCli(['scenario', 'validate', `${SCENARIOS}booking.json`, `${SCENARIOS}newsletter.json`]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^booking\.json: ok, /);
    expect(lines[1]).toBe('  sends conversation data (what its webhook body names) to https://booking.example.com/api/bookings');
    expect(lines[2]).toMatch(/^newsletter\.json: ok, /);
  });
});
