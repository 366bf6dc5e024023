// The bot's reply reached Crisp, but the store could not record it: Redis froze during the send, so
// neither the ack nor the retry was written. Once Redis answers again the same process finds the
// item still at the head of the outbox, untried as far as the store knows. It must look for the
// reply in the conversation before sending it: before, it sent it blind (it had appended the item
// itself, and the store said 0 attempts), and the visitor got the same reply twice wherever Crisp
// does not drop a repeated fingerprint (the sandbox's `dedupe:off`; Crisp's behaviour there is
// unverified, see docs/sandbox.md).
// A real redis-server frozen with SIGSTOP (its data kept) and thawed with SIGCONT; the sandbox as a
// real HTTP server that takes the reply and holds its answer back (a `latency-after` burst on the
// message route) until the bot gives up on it while Redis is frozen (the sandbox's `abandoned`
// count); the autopilot in-process with its log captured.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBot } from '../../src/commands/bot.js';
import { DEFAULT_GUARDRAILS } from '../../src/autopilot/guardrails.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { RedisStore } from '../../src/store/redis.js';
import { botTexts, echoOf, echoScenario, capturedLog } from '../helpers/autopilot.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { describeWithRedis } from '../helpers/redis.js';
import { startFreezableRedis, type FreezableRedis } from '../store/freezable-redis.js';


describeWithRedis('a reply sent while the store could not record it', () => {
  let sandbox: Sandbox;
  let redis: FreezableRedis;
  beforeAll(async () => {
    // Crisp may post a repeated fingerprint again: only the bot's own check keeps a reply single.
    sandbox = await startSandbox({ seed: 41, faults: 'dedupe:off' });
    redis = await startFreezableRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    await sandbox?.close();
  });

  it('is looked for before it is sent again once the store is back: the visitor gets it once', async () => {
    const { lines, log } = capturedLog();
    // One attempt per call, given up after a second and a half: the send's failure is the outbox's to record.
    const crisp = clientFor(sandbox, { attemptTimeoutMs: 1_500, retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 50 } });
    const { identifier, key, tier } = sandbox.credentials[0]!;
    const store = await RedisStore.connect(redis.url, { prefix: `lost-ack-${process.pid}-${Date.now()}:`, offlineGraceMs: 300 });
    const bot = await startBot({
      crisp,
      credentials: { identifier, key, tier },
      store,
      scenario: echoScenario(),
      guardrails: { ...DEFAULT_GUARDRAILS, inboxes: undefined, websites: new Set([sandbox.websiteId]) },
      events: 'rtm',
      log,
      lockTtlMs: 1_000,
      retry: { baseMs: 50, maxMs: 500 },
      sweepMs: 200,
      rtmReconnect: { delayMs: 50, maxDelayMs: 200 },
    });
    try {
      // The bot's first reply reaches the sandbox; its answer comes back only long after the bot gave up.
      sandbox.faults.burst({ fault: { kind: 'latency-after', delayMs: 60_000 }, count: 1, method: 'POST', pathIncludes: '/message' });
      const session = await visitorStarts(sandbox, 'one');
      await eventually(() => sandbox.stats().faults['latency-after'] === 1, 10_000, 'the first reply sent');
      expect(sandbox.stats().abandoned).toBe(0);
      redis.freeze();
      await eventually(() => botTexts(sandbox, session).length === 1, 5_000, 'the first reply in the conversation');
      // The answer is lost to the bot while the store is frozen: its attempt timed out and it hung up
      // on the held call (the sandbox counts the caller gone before its answer).
      await eventually(() => sandbox.stats().abandoned === 1, 10_000, 'the bot giving up on the held answer');
      // The send timed out, and the store could not take its retry: the run failed.
      await eventually(() => lines.some((l) => l.msg === 'working the conversation failed; trying again later' && l.code === 'store_unavailable'), 20_000, 'the run failing on the store');
      redis.thaw();

      await eventually(() => botTexts(sandbox, session).length >= 2, 30_000, 'the rest of the replies');
      await eventually(() => lines.some((l) => l.msg === 'the conversation is worked again'), 30_000, 'the conversation worked again');
      await bot.autopilot.idle();
      expect(botTexts(sandbox, session)).toEqual(echoOf('one'));
    } finally {
      await bot.close();
      await crisp.close();
      await store.close();
    }
  }, 120_000);
});
