// The on-call engineer's view of a Redis outage while the bot works many conversations at once: the
// store being down fails every one of them, and it is ONE outage — one warning when it starts, one
// line when the last conversation is worked again (with how many it failed), the rest at debug.
// Before, each conversation had an outage of its own: a warning and an end line per conversation,
// so 8 conversations were 16 lines for one Redis restart, and a busy bot's were thousands.
// A real redis-server stopped and started again on its port, the sandbox over RTM, the autopilot
// in-process with its log captured at debug; every visitor message still gets its replies once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { RedisStore } from '../../src/store/redis.js';
import { botTexts, echoOf, startTestBot, capturedLog } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

const WARN = 40;
const INFO = 30;
const CONVERSATIONS = 8;

describeWithRedis('the autopilot working many conversations through a Redis outage', () => {
  let sandbox: Sandbox;
  let redis: TestRedis;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 31 });
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    await sandbox?.close();
  });

  it('tells the outage once, not once per conversation, and answers every visitor once after it', async () => {
    const { lines, log } = capturedLog();
    const store = await RedisStore.connect(redis.url, { prefix: `outage-many-${process.pid}-${Date.now()}:`, offlineGraceMs: 300 });
    const bot = await startTestBot(sandbox, { events: 'rtm', store, log });
    const failed = () => lines.filter((l) => l.msg === 'working the conversation failed; trying again later');
    const workedAgain = () => lines.filter((l) => l.msg === 'the conversation is worked again');
    try {
      const sessions: string[] = [];
      for (let i = 0; i < CONVERSATIONS; i++) sessions.push(await visitorStarts(sandbox, `first ${i}`));
      await eventually(() => sessions.every((s, i) => botTexts(sandbox, s).length === echoOf(`first ${i}`).length), 20_000, 'the first replies');

      await redis.stop();
      for (const [i, session] of sessions.entries()) await visitorWrites(sandbox, session, `during ${i}`);
      // Every conversation's run has failed at least once: each is down.
      await eventually(() => new Set(failed().map((l) => l.conversation)).size === CONVERSATIONS, 30_000, 'every conversation failing');
      await redis.restart();

      const expected = sessions.map((_, i) => [`first ${i}`, `during ${i}`].flatMap(echoOf));
      await eventually(() => sessions.every((s, i) => botTexts(sandbox, s).length === expected[i]!.length), 60_000, 'every visitor answered once Redis is back');
      await eventually(() => workedAgain().some((l) => l.level === INFO), 30_000, 'the end of the outage');
      expect(sessions.map((s) => botTexts(sandbox, s))).toEqual(expected);

      // One warning for the outage, not one per conversation. A conversation whose lock renewal met the
      // outage first fails as store_lock_lost: a second kind of failure is warned once too (OutageLog).
      const warned = failed().filter((l) => l.level >= WARN);
      expect(warned[0]).toMatchObject({ level: WARN, failures: 1 });
      expect(warned.map((l) => l.code)).toEqual([...new Set(warned.map((l) => l.code))]);
      expect(warned.map((l) => l.code).every((code) => code === 'store_unavailable' || code === 'store_lock_lost')).toBe(true);
      expect(warned.some((l) => l.code === 'store_unavailable')).toBe(true);
      expect(workedAgain().filter((l) => l.level >= INFO)).toEqual([
        expect.objectContaining({ level: INFO, conversations: CONVERSATIONS, failures: failed().length, down_ms: expect.any(Number) }),
      ]);
    } finally {
      await bot.stop();
      await store.close();
    }
  }, 150_000);
});
