// What the on-call engineer reads on the built bot's stderr: the start-up line says which release
// runs what, and a conversation the bot went silent in because its scenario handed it to a human
// is found at `info` by its id, with the reason, once (before, only a `debug` line said so); the
// visitor's words are in no line at `info`. A key revoked while a Web Hooks bot runs drops each
// event with an `error` line (it was a warning, like a conversation deleted meanwhile). A hook
// secret that is not the one Crisp signs with is one warning, not one per refused delivery.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { VERSION } from '../../src/version.js';
import { botTexts, HOOK_SECRET, hooksUrl, postHook, scenarioDir, spawnBot, thread } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { freePort } from '../helpers/net.js';

const DEBUG = 20;
const WARN = 40;
const INFO = 30;
const ERROR = 50;

describe('bot: what its stderr says', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 23 });
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-oncall-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the release at start-up, and a scenario handoff once at info with the conversation and the reason', async () => {
    const store = join(dir, 'state.db');
    const bot = await spawnBot(sandbox, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--store', `sqlite:${store}`], { CRISP_MCP_LOG_LEVEL: 'debug' });
    try {
      expect(bot.logs().find((l) => l.msg === 'autopilot running')).toMatchObject({ version: VERSION, scenario: 'echo', events: 'rtm', websites: [sandbox.websiteId], store });

      const session = await visitorStarts(sandbox, 'a human please, my card 4242 was charged twice');
      await eventually(() => botTexts(sandbox, session).length === 1, 10_000, 'the handoff message');
      await visitorWrites(sandbox, session, 'hello? anyone?');
      const conversation = `${sandbox.websiteId}/${session}`;
      // The bot worked the second message and decided not to answer it (the debug line proves it was read).
      await eventually(() => bot.logs().some((l) => l.msg === 'visitor message not answered' && l.conversation === conversation && l.reason === 'handed_off'), 10_000, 'the second message read');
      expect(botTexts(sandbox, session)).toEqual(['Passing you to a human.']);

      const info = bot.logs().filter((l) => (l.level as number) >= INFO);
      expect(info.filter((l) => l.conversation === conversation)).toEqual([
        expect.objectContaining({ msg: 'the scenario handed the conversation to a human: the bot is silent here until it is resolved', reason: 'asked_for_human' }),
      ]);
      const atInfo = JSON.stringify(info);
      for (const words of ['4242', 'charged twice', 'anyone?']) expect(atInfo).not.toContain(words);
    } finally {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
  }, 60_000);

  it('a key revoked while a Web Hooks bot runs: each dropped event is an error line naming the conversation and the 401, never the key', async () => {
    const port = await freePort();
    const revoked = await startSandbox({ seed: 24, hooks: { url: hooksUrl(port), secret: HOOK_SECRET } });
    const key = revoked.credentials[0]!.key;
    try {
      const bot = await spawnBot(revoked, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(port), '--store', 'memory']);
      try {
        revoked.credentials.splice(0);
        const session = await visitorStarts(revoked, 'hello after the key was revoked');
        const dropped = await eventually(() => bot.logs().find((l) => l.msg === 'cannot read the conversation; its event is dropped'), 10_000, 'the dropped event logged');
        expect(dropped).toMatchObject({ level: ERROR, conversation: `${revoked.websiteId}/${session}`, status: 401, code: 'crisp_unauthorized' });
        expect(bot.stderr()).not.toContain(key);
      } finally {
        bot.child.kill('SIGTERM');
        await bot.exited;
      }
    } finally {
      await revoked.close();
    }
  }, 60_000);

  it('a hook secret that is not the one Crisp signs with: one warning, the refusals after it at debug, one line once a delivery is let in again', async () => {
    const port = await freePort();
    const misconfigured = await startSandbox({ seed: 25, hooks: { url: hooksUrl(port), secret: 'not-the-secret-the-bot-was-given' } });
    try {
      const bot = await spawnBot(misconfigured, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(port), '--store', 'memory'], { CRISP_MCP_LOG_LEVEL: 'debug' });
      try {
        const session = await visitorStarts(misconfigured, 'hello through a wrong secret');
        await visitorWrites(misconfigured, session, 'and again');
        const refused = () => bot.logs().filter((l) => l.msg === 'web hook delivery refused');
        // Each event of the two messages is delivered once and refused (a 403 is not retried).
        await eventually(() => misconfigured.hooks!.stats().failed >= 3 && refused().length === misconfigured.hooks!.stats().failed, 15_000, 'the refused deliveries logged');
        expect(refused().map((l) => l.level)).toEqual([WARN, ...refused().slice(1).map(() => DEBUG)]);
        expect(refused()[0]).toMatchObject({ status: 403 });

        // The secret is fixed (here: a delivery signed with the bot's): it says so once.
        expect(await postHook(hooksUrl(port), thread(misconfigured, session).at(-1)!)).toBe(200);
        const back = await eventually(() => bot.logs().find((l) => l.msg === 'web hook deliveries are let in again'), 10_000, 'the line saying deliveries are let in');
        expect(back).toMatchObject({ level: INFO, failures: expect.any(Number), down_ms: expect.any(Number) });
      } finally {
        bot.child.kill('SIGTERM');
        await bot.exited;
      }
    } finally {
      await misconfigured.close();
    }
  }, 60_000);
});
