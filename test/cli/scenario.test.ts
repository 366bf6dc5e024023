// `crisp-mcp scenario …` through the built CLI: the wiring, not the checks (test/scenario has those).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('crisp-mcp scenario', () => {
  it('validates the shipped examples, and names the block path of a problem', async () => {
    const ok = await runCli(['scenario', 'validate', 'scenarios/cancel-account.json'], { env: {} });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/cancel-account\.json: ok/);
    const file = join(mkdtempSync(join(tmpdir(), 'scenario-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'bad', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'hi', next: 'nowhere' } } }));
    const bad = await runCli(['scenario', 'validate', file], { env: {} });
    expect(bad.status).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/blocks\.a\.next.*nowhere/);
  });

  it('prints the JSON Schema of the format', async () => {
    const run = await runCli(['scenario', 'schema'], { env: {} });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ title: 'crisp-mcp scenario' });
  });
});
