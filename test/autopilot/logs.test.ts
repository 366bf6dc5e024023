// What the on-call engineer reads when the bot's Redis goes away for a while and comes back: each
// thing that keeps failing on its own (the outbox sweep on its timer, the catch-up, a conversation
// retried with backoff) says so in ONE warning, counts the rest at debug, and says once that it
// works again. Before, each sweep (every 5 s) and each retry (every 30 s at most, forever) wrote
// its own warning: an hour's outage was hundreds of lines per conversation.
// A real redis-server stopped and started again on its port, the sandbox over RTM, the autopilot
// in-process with its log captured at debug. And one bot action Crisp keeps refusing with 503s:
// one warning for it, its retries at debug (they were a warning each, up to 10 per action). And a
// stop that cuts conversations off after its grace period says how many (it said nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { botTexts, echoOf, startTestBot, capturedLog } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

const WARN = 40;
const INFO = 30;
const DEBUG = 20;

describe('the autopilot while Crisp refuses one of its sends', () => {
  it('warns once for the action, counts its retries at debug, and sends it once Crisp takes it', async () => {
    const sandbox = await startSandbox({ seed: 18 });
    const { lines, log } = capturedLog();
    const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), log });
    try {
      const session = await visitorStarts(sandbox, 'one');
      await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
      // Enough 503s for the client's own attempts and three of the outbox's.
      sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 14, method: 'POST', pathIncludes: `${session}/message` });
      await visitorWrites(sandbox, session, 'two');
      await eventually(() => botTexts(sandbox, session).length === 4, 20_000, 'the replies to "two"');
      expect(botTexts(sandbox, session)).toEqual(['one', 'two'].flatMap(echoOf));
      const retried = lines.filter((l) => l.msg === 'a Crisp call failed; it will be retried with the same fingerprint');
      expect(retried.length).toBeGreaterThanOrEqual(2);
      expect(retried.map((l) => [l.level, l.attempt])).toEqual(retried.map((_, i) => [i === 0 ? WARN : DEBUG, i + 1]));
      expect(retried[0]).toMatchObject({ conversation: `${sandbox.websiteId}/${session}`, status: 503, code: 'crisp_unavailable', action: 'send_message' });
    } finally {
      await bot.stop();
      await sandbox.close();
    }
  }, 60_000);
});

describe('the autopilot stopping with a conversation still being worked', () => {
  it('says how many conversations the grace period cut off', async () => {
    const sandbox = await startSandbox({ seed: 19 });
    const { lines, log } = capturedLog();
    const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), log });
    try {
      // Every Crisp call now takes a while: the conversation's run is still reading its thread when the stop comes.
      sandbox.faults.configure('latency:2000ms');
      const events = bot.autopilot.stats().events;
      await visitorStarts(sandbox, 'hello just before the stop');
      await eventually(() => bot.autopilot.stats().events > events, 5_000, 'the event handed to the autopilot');
      await bot.autopilot.close(50);
      expect(lines.filter((l) => l.level === WARN)).toEqual([
        expect.objectContaining({ running: 1, waiting: 0, grace_ms: 50, msg: '1 conversation still in flight after the 0.05 s grace period cut off: the next start delivers what the outbox holds and catches up on the rest' }),
      ]);
    } finally {
      sandbox.faults.configure('latency:0ms');
      await bot.stop();
      await sandbox.close();
    }
  }, 60_000);
});

describeWithRedis('the autopilot through a Redis outage', () => {
  let sandbox: Sandbox;
  let redis: TestRedis;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 17 });
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    await sandbox?.close();
  });

  it('warns once per repeating failure, counts the rest at debug, says once when each works again, and answers the visitor after', async () => {
    const { lines, log } = capturedLog();
    const store = await RedisStore.connect(redis.url, { prefix: `outage-log-${process.pid}-${Date.now()}:`, offlineGraceMs: 300 });
    const bot = await startTestBot(sandbox, { events: 'rtm', store, log, catchUpEveryMs: 200 });
    const of = (msg: string, level?: number) => lines.filter((l) => l.msg === msg && (level === undefined || l.level === level));
    try {
      await redis.stop();
      const session = await visitorStarts(sandbox, 'hello while Redis is down');
      // Enough failures of each kind that a warning per failure would show.
      await eventually(() => of('the outbox sweep failed', DEBUG).length >= 3, 20_000, 'three more sweep failures counted');
      await eventually(() => of('working the conversation failed; trying again later', DEBUG).length >= 2, 20_000, 'the conversation retried twice more');

      await redis.restart();
      await eventually(() => botTexts(sandbox, session).length === 2, 20_000, 'the visitor answered once Redis is back');
      expect(botTexts(sandbox, session)).toEqual(echoOf('hello while Redis is down'));
      await eventually(() => of('the outbox sweep works again').length === 1, 10_000, 'the sweep says it works again');
      // The replies go out before the run that sent them ends and says so.
      await eventually(() => of('the conversation is worked again').length === 1, 10_000, 'the conversation says it is worked again');

      const sweep = of('the outbox sweep failed');
      expect(sweep.filter((l) => l.level === WARN)).toHaveLength(1);
      expect(sweep[0]).toMatchObject({ level: WARN, code: 'store_unavailable' });
      expect(of('the outbox sweep works again', INFO)[0]).toMatchObject({ failures: sweep.length, down_ms: expect.any(Number) });

      const conversation = `${sandbox.websiteId}/${session}`;
      const runs = of('working the conversation failed; trying again later');
      expect(runs.filter((l) => l.level === WARN)).toEqual([expect.objectContaining({ conversation, failures: 1, code: 'store_unavailable' })]);
      expect(runs.slice(1).every((l) => l.level === DEBUG && l.conversation === conversation)).toBe(true);
      expect(of('the conversation is worked again', INFO)).toEqual([expect.objectContaining({ conversation, down_ms: expect.any(Number) })]);

      // The catch-up, when it failed at all, warned once too.
      expect(of('catch-up could not list conversations', WARN).length).toBeLessThanOrEqual(1);
      // Nothing else warned: no other line per failure.
      expect(lines.filter((l) => l.level >= WARN && l.msg !== 'the outbox sweep failed' && l.msg !== 'working the conversation failed; trying again later' && l.msg !== 'catch-up could not list conversations')).toEqual([]);
    } finally {
      await bot.stop();
      await store.close();
    }
  }, 90_000);
});
