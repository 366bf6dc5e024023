// The bot's RTM connection dropped and back is one outage told through OutageLog (src/log.ts): a
// warning when it drops, and "RTM authenticated" with down_ms and the failures seen when it is
// back. The return line carried neither, so a reader could not tell a reconnect from the start nor
// how long the bot heard nothing. A real socket.io connection to the sandbox, dropped by
// /_sandbox/rtm/drop, both as the network breaking and as the server closing it.
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { botTexts, echoOf, startTestBot, capturedLog } from '../helpers/autopilot.js';
import { eventually, visitorStarts } from '../helpers/events.js';

const WARN = 40;
const INFO = 30;

describe('the bot whose RTM connection drops and comes back', () => {
  it('warns once when it drops and says it is back with down_ms, for a broken network and a server-side close alike', async () => {
    const sandbox = await startSandbox({ seed: 23 });
    const { lines, log } = capturedLog();
    const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), log });
    const authenticated = () => lines.filter((l) => l.msg === 'RTM authenticated');
    try {
      expect(authenticated()).toHaveLength(1);
      expect(authenticated()[0]!.level).toBe(INFO);
      // The first connection is no return from an outage.
      expect(authenticated()[0]).not.toHaveProperty('down_ms');

      for (const [i, mode] of (['transport', 'server'] as const).entries()) {
        const res = await fetch(`${sandbox.url}/_sandbox/rtm/drop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }) });
        expect(res.status).toBe(200);
        const back = await eventually(() => authenticated()[i + 1], 30_000, `the connection back after the ${mode} drop`);
        expect(back).toMatchObject({ level: INFO, endpoint: expect.any(String) as string, failures: expect.any(Number) as number });
        expect(back.down_ms).toEqual(expect.any(Number));
        expect(back.down_ms as number).toBeGreaterThanOrEqual(0);
      }

      // One warning per drop, each before its return; anything between them is debug.
      const warnings = lines.filter((l) => l.msg === 'RTM disconnected; reconnecting' && l.level === WARN);
      expect(warnings).toHaveLength(2);
      const [first, second] = warnings.map((w) => lines.indexOf(w));
      const [, back1, back2] = authenticated().map((l) => lines.indexOf(l));
      expect(first!).toBeLessThan(back1!);
      expect(back1!).toBeLessThan(second!);
      expect(second!).toBeLessThan(back2!);

      // Still listening: a visitor who writes now is answered.
      const session = await visitorStarts(sandbox, 'after the drops');
      await eventually(() => botTexts(sandbox, session).length === 2, 30_000, 'the replies after the drops');
      expect(botTexts(sandbox, session)).toEqual(echoOf('after the drops'));
    } finally {
      await bot.stop();
      await sandbox.close();
    }
  }, 90_000);
});
