// `crisp-mcp bot` as a user starts it: one clear line and exit 2 for a bad setting; with --sandbox
// and --events hooks it serves /healthz and /hooks/crisp, answers the sandbox's visitors, and
// stops on SIGTERM.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, CLI } from '../helpers/cli.js';
import { scenarioDir } from '../helpers/autopilot.js';
import { eventually } from '../helpers/events.js';
import { spawn } from 'node:child_process';
import { startSandbox } from '../../src/sandbox/server.js';
import { HOOK_SECRET } from '../helpers/autopilot.js';

describe('crisp-mcp bot (command line)', () => {
  it.each([
    [['bot'], {}, /bot needs --scenario NAME/],
    [['bot', '--scenario', 'echo', '--events', 'carrier-pigeon', '--sandbox'], {}, /--events must be rtm or hooks/],
    [['bot', '--scenario', 'echo', '--port', '9000', '--sandbox'], {}, /--port and --host are for the Web Hook server/],
    [['bot', '--scenario', 'nope', '--sandbox', '--scenarios', 'SCENARIOS'], {}, /--scenario names no loaded scenario: "nope" is not one of echo/],
    [['bot', '--scenario', 'echo', '--reply-budget', 'lots', '--sandbox'], {}, /--reply-budget must look like 20\/10m/],
    [['bot', '--scenario', 'echo', '--inboxes', ' , ', '--sandbox'], {}, /--inboxes lists no inbox, got " , "/],
    [
      ['bot', '--scenario', 'echo', '--events', 'hooks', '--scenarios', 'SCENARIOS'],
      { CRISP_IDENTIFIER: 'id', CRISP_KEY: 'key', CRISP_WEBSITE_ID: '11111111-1111-4111-8111-111111111111' },
      /--events hooks needs CRISP_HOOK_SECRET/,
    ],
  ])('%j → exit 2 with one line', async (args, env, message) => {
    const dir = scenarioDir();
    const run = await runCli(args.map((a) => (a === 'SCENARIOS' ? dir : a)), { env });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['a website the plugin is not on', { CRISP_WEBSITE_ID: '00000000-0000-4000-8000-00000000beef' }, ['rtm'], /cannot work website 00000000-0000-4000-8000-00000000beef: Crisp answered 404 not_subscribed.*remove it from CRISP_WEBSITE_ID/],
    ['a refused key, over Web Hooks', { CRISP_KEY: 'not-the-key' }, ['hooks', '--port', '0'], /Crisp answered 401 invalid_session.*check the identifier and key/],
  ])('%s: exits 1 at start with one line naming the setting, instead of running and answering nobody', async (_what, env, events, message) => {
    const sandbox = await startSandbox({ seed: 3 });
    try {
      const { identifier, key, tier } = sandbox.credentials[0]!;
      const run = await runCli(['bot', '--scenario', 'echo', '--scenarios', scenarioDir(), '--store', 'memory', '--events', ...events], {
        env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_TIER: tier, CRISP_WEBSITE_ID: sandbox.websiteId, CRISP_HOOK_SECRET: HOOK_SECRET, ...env },
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toContain('autopilot running');
      expect(run.stderr).not.toContain(key);
    } finally {
      await sandbox.close();
    }
  });

  it('--sandbox --events hooks: serves /healthz and /hooks/crisp, answers a visitor, stops on SIGTERM', async () => {
    expect(existsSync(CLI)).toBe(true);
    const child = spawn(process.execPath, [CLI, 'bot', '--scenario', 'echo', '--scenarios', scenarioDir(), '--sandbox', '--events', 'hooks', '--port', '0'], {
      env: { PATH: process.env.PATH ?? '', CRISP_MCP_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const logs = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const running = await eventually(() => logs().find((l) => l.msg === 'autopilot running'), 10_000, 'the bot starting');
      const sandbox = logs().find((l) => l.msg === 'embedded Crisp sandbox started')!;
      const hooks = new URL(running.url as string);
      expect(hooks.pathname).toBe('/hooks/crisp');
      const health = await fetch(new URL('/healthz', hooks));
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', scenario: 'echo' });
      expect((await fetch(hooks, { method: 'POST', body: '{}' })).status).toBe(403); // unsigned

      const started = await fetch(`${sandbox.url as string}/_sandbox/websites/${sandbox.website_id as string}/conversations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hi from the CLI test' }),
      });
      const session = ((await started.json()) as { data: { session_id: string } }).data.session_id;
      await eventually(() => logs().find((l) => l.msg === 'turn saved' && String(l.conversation).endsWith(session)), 5_000, 'the turn');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Stopping lets the conversation in flight finish: both replies were sent.
      expect(logs().find((l) => l.msg === 'stopped')).toMatchObject({ turns: 1, queued: 2, delivery: { sent: 2 } });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a plugin token on several websites: events of a website off CRISP_WEBSITE_ID are ignored, named once at info, never answered', async () => {
    const sandbox = await startSandbox({ seed: 5, websites: 2 });
    const [allowed, other] = sandbox.websiteIds as [string, string];
    const { identifier, key, tier } = sandbox.credentials[0]!;
    const child = spawn(process.execPath, [CLI, 'bot', '--scenario', 'echo', '--scenarios', scenarioDir(), '--store', 'memory', '--catch-up', '0'], {
      env: { PATH: process.env.PATH ?? '', CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: identifier, CRISP_KEY: key, CRISP_TIER: tier, CRISP_WEBSITE_ID: allowed, CRISP_MCP_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const visitor = async (website: string, text: string) => {
      const started = await fetch(`${sandbox.url}/_sandbox/websites/${website}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      return ((await started.json()) as { data: { session_id: string } }).data.session_id;
    };
    try {
      const logs = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      await eventually(() => logs().find((l) => l.msg === 'autopilot running'), 10_000, 'the bot starting');
      const elsewhere = [await visitor(other, 'hello over there'), await visitor(other, 'anyone?')];
      // One RTM socket carries both websites' events in order: once this one is answered, the others were read.
      const here = await visitor(allowed, 'hello here');
      await eventually(() => logs().find((l) => l.msg === 'turn saved' && String(l.conversation).endsWith(here)), 5_000, 'the allowed website answered');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const named = logs().filter((l) => l.website_id === other && (l.level as number) >= 30);
      expect(named).toHaveLength(1);
      expect(named[0]).toMatchObject({ level: 30, msg: expect.stringMatching(/^events of a website not in CRISP_WEBSITE_ID: ignored/) });
      expect(logs().find((l) => l.msg === 'stopped')).toMatchObject({ ignored: { website_not_allowed: 2 }, turns: 1 });
      for (const session of elsewhere) expect(sandbox.state.websites.get(other)!.messages.get(session)!.every((m) => m.from === 'user')).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await sandbox.close();
    }
  });
});
