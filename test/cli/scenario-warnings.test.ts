// A scenario that compiles with warnings (here a block no way reaches) is legal, but likely not
// what its author meant: `serve` (stdio, once its scenarios are compiled; HTTP, at start) and
// `bot` say so in their log, as a user runs them (the built CLI as a child process). Only
// `scenario validate` and an MCP resource showed those warnings before: an author who skipped
// validate never saw them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';
import { spawnHttpCli } from '../helpers/http.js';
import { connectStdio } from '../helpers/stdio.js';

let dir: string;
const SCENARIO = {
  name: 'greeting',
  version: 1,
  description: 'Says hello; its "later" block is left over from an edit.',
  start: 'hello',
  blocks: {
    hello: { type: 'message', text: 'Hello!', next: 'done' },
    later: { type: 'message', text: 'Nobody reaches this.', next: 'done' },
    done: { type: 'end' },
  },
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-scenario-warnings-'));
  writeFileSync(join(dir, 'greeting.json'), JSON.stringify(SCENARIO, null, 2));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => ({ PATH: process.env.PATH ?? '', CRISP_MCP_STORE: 'memory', CRISP_MCP_LOG_LEVEL: 'info' });

/** The warning line about greeting.json among the JSON log lines of `stderr`, if there is one yet. */
function warningLine(stderr: string): Record<string, unknown> | undefined {
  const line = stderr.split('\n').find((l) => l.startsWith('{') && l.includes('"scenario":"greeting"') && l.includes('compiled with'));
  return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
}

const expected = () => ({
  level: 40,
  scenario: 'greeting',
  file: join(dir, 'greeting.json'),
  warnings: ['blocks.later: unreachable from start'],
  msg: `scenario "greeting" compiled with 1 warning (\`crisp-mcp scenario validate ${join(dir, 'greeting.json')}\` shows them): blocks.later: unreachable from start`,
});

describe('a scenario compiled with warnings', () => {
  it('stdio serve logs them once it has compiled its scenarios (after tools/list)', async () => {
    const { client, stderr } = await connectStdio(['serve', '--sandbox', '--scenarios', dir], { env: env() });
    try {
      await client.listTools();
      expect(await eventually(() => warningLine(stderr()), 10_000, 'the warning line')).toMatchObject(expected());
    } finally {
      await client.close();
    }
  }, 20_000);

  it('bot logs the warnings of the scenario it runs at start', async () => {
    const child = spawn(process.execPath, [CLI, 'bot', '--sandbox', '--scenarios', dir, '--scenario', 'greeting'], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      expect(await eventually(() => warningLine(stderr), 10_000, 'the warning line')).toMatchObject(expected());
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 20_000);

  it('serve --http logs them at start, where it compiles its scenarios', async () => {
    const cli = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', dir], { CRISP_MCP_STORE: 'memory', CRISP_MCP_LOG_LEVEL: 'info' });
    try {
      expect(warningLine(cli.stderr())).toMatchObject(expected());
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  }, 20_000);
});
