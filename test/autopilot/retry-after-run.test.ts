// Crisp answering 429 with Retry-After to the thread read of a visitor's turn: the run fails, and
// the autopilot tries it again no sooner than Crisp asked. Before, a failed run waited by its own
// backoff alone (a quarter of a second at first, jittered) whatever Retry-After said, so every
// conversation of a rate-limited bot read its thread again at once, deepening the limit — while
// the outbox and the Crisp client both honour Retry-After (src/retry.ts, the one retry policy).
// The sandbox as a real HTTP server over RTM, its 429s from a fault burst; the Crisp client makes
// one attempt per call, so each failure is the run's own.
import { expect, it } from 'vitest';
import { startBot } from '../../src/commands/bot.js';
import { DEFAULT_GUARDRAILS } from '../../src/autopilot/guardrails.js';
import { createLogger } from '../../src/log.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { botTexts, echoOf, echoScenario } from '../helpers/autopilot.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';

const RETRY_AFTER_S = 2;

it('a run whose thread read Crisp answers 429 with Retry-After is tried again no sooner than it says, then answers once', async () => {
  const sandbox = await startSandbox({ seed: 37 });
  const crisp = clientFor(sandbox, { retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 50 } });
  const { identifier, key, tier } = sandbox.credentials[0]!;
  const bot = await startBot({
    crisp,
    credentials: { identifier, key, tier },
    store: new MemoryStore(),
    scenario: echoScenario(),
    guardrails: { ...DEFAULT_GUARDRAILS, inboxes: undefined, websites: new Set([sandbox.websiteId]) },
    events: 'rtm',
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    lockTtlMs: 1_000,
    retry: { baseMs: 50, maxMs: 500 },
    sweepMs: 200,
    rtmReconnect: { delayMs: 50, maxDelayMs: 200 },
  });
  try {
    const session = await visitorStarts(sandbox, 'one');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the first replies');

    // The next two reads of this thread are refused; the third is answered.
    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: RETRY_AFTER_S }, count: 2, method: 'GET', pathIncludes: `${session}/messages` });
    const refused = () => sandbox.stats().faults['429'] ?? 0;
    const before = refused();
    // When each refusal was seen (a poll: seen at most a poll late, so a gap seen is at most a poll short).
    const seenAt: number[] = [];
    const poll = setInterval(() => {
      while (seenAt.length < refused() - before) seenAt.push(performance.now());
    }, 10);
    try {
      await visitorWrites(sandbox, session, 'two');
      await eventually(() => botTexts(sandbox, session).length === 4, 30_000, 'the replies to "two"');
    } finally {
      clearInterval(poll);
    }
    expect(refused() - before).toBe(2);
    expect(seenAt).toHaveLength(2);
    // Crisp asked for RETRY_AFTER_S seconds: the second read came no sooner (less a poll's slack).
    expect(seenAt[1]! - seenAt[0]!).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 50);
    expect(botTexts(sandbox, session)).toEqual(['one', 'two'].flatMap(echoOf));
  } finally {
    await bot.close();
    await crisp.close();
    await sandbox.close();
  }
}, 60_000);
