// A conversation whose runs keep failing is an outage like the outbox sweep's or the catch-up's, told
// by the one OutageLog (src/log.ts): one warning when its first run fails, the retries at debug, and
// one line when it is worked again, with how long it lasted and how many runs failed. The autopilot
// kept a map of its own for it, whose closing line said how long but not how many.
// The sandbox over RTM, the thread read failing with 503s, the autopilot in-process, its log captured.
import { expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { botTexts, echoOf, startTestBot, capturedLog } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';

const WARN = 40;
const INFO = 30;
const DEBUG = 20;

it('a conversation whose thread Crisp will not give: one warning, the retries at debug, then one line with how long and how many runs failed', async () => {
  const sandbox = await startSandbox({ seed: 23 });
  const { lines, log } = capturedLog();
  const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), log });
  const of = (msg: string) => lines.filter((l) => l.msg === msg);
  try {
    const session = await visitorStarts(sandbox, 'one');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    // The client's 4 attempts per read, three runs in a row.
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 12, method: 'GET', pathIncludes: `${session}/messages` });
    await visitorWrites(sandbox, session, 'two');
    await eventually(() => botTexts(sandbox, session).length === 4, 20_000, 'the replies to "two"');
    await eventually(() => of('the conversation is worked again').length === 1, 10_000, 'the conversation says it is worked again');
    expect(botTexts(sandbox, session)).toEqual(['one', 'two'].flatMap(echoOf));

    const conversation = `${sandbox.websiteId}/${session}`;
    const runs = of('working the conversation failed; trying again later');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.map((l) => [l.level, l.failures])).toEqual(runs.map((_, i) => [i === 0 ? WARN : DEBUG, i + 1]));
    expect(runs[0]).toMatchObject({ conversation, code: 'crisp_unavailable', status: 503 });
    expect(of('the conversation is worked again')).toEqual([
      expect.objectContaining({ level: INFO, conversation, failures: runs.length, down_ms: expect.any(Number) }),
    ]);
  } finally {
    await bot.stop();
    await sandbox.close();
  }
}, 60_000);
