// What a newcomer meets first, through the built CLI: every command explains its own flags, and a
// mistake names its cause (the setting, the file, the URL and the error code).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOT_FLAGS } from '../../src/commands/bot.js';
import { SERVE_FLAGS } from '../../src/config.js';
import { LOG_LEVELS } from '../../src/log.js';
import { SANDBOX_FLAGS } from '../../src/commands/sandbox.js';
import { SCENARIO_FLAGS } from '../../src/commands/scenario.js';
import { TOOLSETS } from '../../src/mcp/tools/index.js';
import { runCli, warningsIn, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('crisp-mcp <command> --help', () => {
  // A command's help is the same text each time it is asked for: each is run once, for every test that reads it.
  const helps = new Map<string, Promise<CliRun>>();
  const help = (args: string[]): Promise<CliRun> => {
    const key = args.join(' ');
    if (!helps.has(key)) helps.set(key, runCli(args));
    return helps.get(key)!;
  };

  it.each([
    ['serve', Object.keys(SERVE_FLAGS)],
    ['bot', Object.keys(BOT_FLAGS)],
    ['sandbox', Object.keys(SANDBOX_FLAGS)],
    ['scenario', Object.keys(SCENARIO_FLAGS)],
    ['auth', ['identifier', 'tier', 'key-stdin', 'key-file']],
  ])('%s --help exits 0 and lists every flag the command accepts', async (command, flags) => {
    const run = await help([command, '--help']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    for (const flag of flags) expect(run.stdout, `--${flag}`).toMatch(new RegExp(`--${flag}\\b`));
  });

  it('serve names where scenarios come from and where their state is kept', async () => {
    const run = await help(['serve', '--help']);
    expect(run.stdout).toMatch(/--scenarios DIR .*\n.*shipped with crisp-mcp/);
    expect(run.stdout).toMatch(/--store SPEC/);
  });

  it('serve --help names every toolset and the sandbox\'s settings; bot --help its websites', async () => {
    const run = await help(['serve', '--help']);
    const toolsets = /--toolsets a,b +(.*)/.exec(run.stdout)?.[1] ?? '';
    for (const { id } of TOOLSETS) expect(toolsets, id).toMatch(new RegExp(`\\b${id}\\b`));
    expect(run.stdout).toMatch(/CRISP_SANDBOX_WEBSITES/);
    expect(run.stdout).toMatch(/CRISP_SANDBOX_KEY/);
    expect((await help(['bot', '--help'])).stdout).toMatch(/CRISP_SANDBOX_WEBSITES/);
  });

  it('--help anywhere after the command wins over its other flags (bare flags are serve)', async () => {
    const serve = await runCli(['--sandbox', '--help']);
    expect(serve.status).toBe(0);
    expect(serve.stdout).toMatch(/^Usage: crisp-mcp \[serve\]/);
    const validate = await runCli(['scenario', 'validate', 'no-such-file.json', '-h']);
    expect(validate.status).toBe(0);
    expect(validate.stdout).toMatch(/^Usage: crisp-mcp scenario/);
  });

  it('the overall usage names every command and points at their --help', async () => {
    const run = await runCli(['--help']);
    expect(run.status).toBe(0);
    for (const command of ['serve', 'bot', 'sandbox', 'auth', 'scenario']) expect(run.stdout).toContain(`crisp-mcp ${command}`);
    expect(run.stdout).toContain('crisp-mcp <command> --help');
  });
});

describe('mistakes name their cause', () => {
  it('a bad CRISP_MCP_LOG_LEVEL lists the levels', async () => {
    const run = await runCli(['serve', '--sandbox'], { env: { CRISP_MCP_LOG_LEVEL: 'verbose' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`crisp-mcp: CRISP_MCP_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "verbose"\n`);
  });

  it('--scenarios FILE says it is a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-fc-'));
    dirs.push(dir);
    const file = join(dir, 'one.json');
    writeFileSync(file, '{}');
    const run = await runCli(['serve', '--sandbox', '--scenarios', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`crisp-mcp: --scenarios ${file} is a file: point it at the directory that holds the scenario files (*.json)`);
  });

  it('settings that do nothing without --http are warned about, and the server still starts', async () => {
    const { client, stderr } = await connect(['serve', '--sandbox', '--port', '9999'], { CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://127.0.0.1:1/replies' });
    try {
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      expect(warningsIn(stderr())).toEqual([
        '--port does nothing without --http (over stdio nothing listens); add --http, or drop it',
        'CRISP_MCP_CONVERSE_WEBHOOK_URL does nothing without --http (the converse API and the autopilot on /hooks/crisp are HTTP routes)',
      ]);
    } finally {
      await client.close();
    }
  });

  it('the start-up log says when scenario tools are off although scenarios are loaded', async () => {
    const { client, stderr } = await connect(['serve', '--sandbox', '--toolsets', 'conversations'], {});
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('list_scenarios');
      expect(stderr()).toContain('"msg":"scenario tools are off: none is selected (--toolsets, --tools, --exclude-tools)"');
    } finally {
      await client.close();
    }
  });

  it('an unreachable CRISP_API_URL is named in tool and resource errors, with the system error code', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { client } = await connect(['serve'], {
      CRISP_API_URL: url,
      CRISP_IDENTIFIER: 'a3a1f8a4-6a1c-4a43-9c5b-3f1e6d1b2c3d',
      CRISP_KEY: 'not-a-real-key',
      CRISP_WEBSITE_ID: '9972daab-2c86-459f-9d78-3fe1be4e3280',
    });
    try {
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBe(true);
      const text = (result.content as { text: string }[])[0]!.text;
      expect(text).toContain(`Could not reach Crisp at ${url} (ECONNREFUSED)`);
      expect(text).toMatch(/Check CRISP_API_URL and the network, then try again\.$/);
      expect(text).not.toContain('not-a-real-key');
      // A resource read says the same.
      await expect(client.readResource({ uri: 'crisp://conversations/9972daab-2c86-459f-9d78-3fe1be4e3280/session_0b7f0e0c-1d44-4c5e-9f1a-2b3c4d5e6f70' })).rejects.toThrow(
        `Could not reach Crisp at ${url} (ECONNREFUSED)`,
      );
    } finally {
      await client.close();
    }
  });
});

/** The built CLI over stdio, as an MCP host launches it, with only PATH from this environment plus `env`. */
function connect(args: string[], env: Record<string, string>): Promise<StdioHost> {
  const home = mkdtempSync(join(tmpdir(), 'crisp-mcp-fc-home-'));
  dirs.push(home);
  return connectStdio(args, { env: { HOME: home, XDG_STATE_HOME: home, ...env } });
}
