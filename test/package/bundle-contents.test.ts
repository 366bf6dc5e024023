// What the CLI bundle (build/bundle.js) holds: what every `serve` parses at start.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const bundleFiles = () => readdirSync(DIST).filter((f) => f === 'cli.js' || /^chunk-\w+\.js$/.test(f));

it("carries zod's English messages and none of its other locales", () => {
  const text = bundleFiles().map((f) => readFileSync(`${DIST}${f}`, 'utf8'));
  expect(text.length).toBeGreaterThan(1);
  expect(text.some((t) => t.includes('Invalid input: expected'))).toBe(true);
  // From zod/v4/locales/nl.js and id.js (ASCII: esbuild writes other characters as escapes).
  expect(text.filter((t) => t.includes('Ongeldige invoer') || t.includes('Input tidak valid'))).toEqual([]);
});

it('still says what a bad argument is, in English, through the built CLI', () => {
  const lines = [
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'set_conversation_state', arguments: { session_id: 'session_00000000-0000-4000-8000-000000000000', state: 7 } } }),
  ];
  const served = spawnSync(process.execPath, [`${DIST}cli.js`, 'serve', '--sandbox'], { input: `${lines.join('\n')}\n`, encoding: 'utf8', env: { ...process.env, CRISP_MCP_LOG_LEVEL: 'warn' } });
  const answer = served.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.id === 2);
  expect(answer.result.isError).toBe(true);
  expect(answer.result.content[0].text).toMatch(/state: Invalid option: expected one of "pending"\|"unresolved"\|"resolved"/);
});
