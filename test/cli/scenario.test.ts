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

  it('refuses a regex that backtracks exponentially; a visitor cannot stall `chat` with one the check lets through either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
    const write = (name: string, regex: string) => {
      const file = join(dir, `${name}.json`);
      const blocks = { ask: { type: 'ask', text: 'Your code?', validation: { regex }, invalid_text: 'Not a code.', save: { var: 'code' }, next: 'done' }, done: { type: 'end', text: 'Thanks.' } };
      writeFileSync(file, JSON.stringify({ name, version: 1, start: 'ask', blocks }));
      return file;
    };
    const nested = await runCli(['scenario', 'validate', write('nested', '^(\\w+\\s?)*$')], { env: {} });
    expect(nested.status).toBe(1);
    expect(nested.stdout + nested.stderr).toMatch(/blocks\.ask\.validation\.regex.*\(\\w\+\\s\?\) repeats a group that holds a repeat/);
    // Alternatives that overlap beyond one character or plain text, like a. and .b, are not seen by
    // that check: 40 "ab"s and a "!" would take 2^40 steps; V8 finishes the match on its linear
    // engine instead, and the bot answers.
    const chat = await runCli(['scenario', 'chat', write('alternatives', '^(a.|.b)+$')], { env: {}, input: `${'ab'.repeat(40)}!\n/quit\n`, timeoutMs: 60_000 });
    expect(chat.stdout).toContain('Not a code.');
    expect(chat.status).toBe(0);
  });

  it('prints the JSON Schema of the format', async () => {
    const run = await runCli(['scenario', 'schema'], { env: {} });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ title: 'crisp-mcp scenario' });
  });
});
