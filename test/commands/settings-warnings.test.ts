import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ignoredSettings, misspeltSettings } from '../../src/commands/settings-warnings.js';
import { parseServeFlags } from '../../src/config.js';

describe('ignoredSettings', () => {
  it('names what stdio serve ignores: --port, --host, the converse and autopilot variables', () => {
    expect(ignoredSettings(parseServeFlags(['--sandbox']), {})).toEqual([]);
    expect(ignoredSettings(parseServeFlags(['--port', '1', '--host', '0.0.0.0']), { CRISP_MCP_CONVERSE_SECRET: 'x', CRISP_MCP_BOT_SCENARIO: 'gdpr' })).toEqual([
      '--port does nothing without --http (over stdio nothing listens); add --http, or drop it',
      '--host does nothing without --http (over stdio nothing listens); add --http, or drop it',
      'CRISP_MCP_CONVERSE_SECRET, CRISP_MCP_BOT_SCENARIO do nothing without --http (the converse API and the autopilot on /hooks/crisp are HTTP routes)',
    ]);
    expect(ignoredSettings(parseServeFlags(['--http', '--port', '1']), { CRISP_MCP_CONVERSE_SECRET: 'x' })).toEqual([]);
  });
});

describe('misspeltSettings', () => {
  it('never names a variable the code reads: every CRISP_ name src/ reads is a known setting', () => {
    const src = new URL('../../src/', import.meta.url);
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const read = new Set<string>();
    for (const file of files) {
      for (const m of readFileSync(new URL(file, src), 'utf8').matchAll(/(?:env\.|read\('|envSwitch\(env, ')(CRISP_[A-Z_]+)/g)) read.add(m[1]!);
    }
    expect(read.size).toBeGreaterThan(20);
    expect(misspeltSettings(Object.fromEntries([...read].map((name) => [name, 'x'])))).toEqual([]);
  });
});
