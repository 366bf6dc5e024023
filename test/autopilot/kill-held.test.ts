// The built CLI bot over Web Hooks (SQLite file), stopped at each step boundary of a turn: a fault
// burst of the sandbox holds one Crisp call — `latency` before the sandbox handles it, `latency-after`
// carried out with its answer held — and the bot is killed while it waits —
//   the thread read (the visitor message taken, nothing saved),
//   the first reply never reaching Crisp (the turn and its outbox saved, nothing sent),
//   the first reply carried out by Crisp with its answer held (sent, not acked),
//   the second reply carried out, answer held (the first acked in memory only).
// Restarted on the same file, every visitor message has exactly its replies, once, in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botTexts, echoOf, HOOK_SECRET, hooksUrl, scenarioDir, spawnBot, transcript, type BotChild } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { freePort } from '../helpers/net.js';

/** Longer than any test: the held call is never let go while the bot could still see it. */
const HELD_MS = 600_000;

/**
 * `kind`: held before Crisp handles the call (`latency`) or carried out with its answer held
 * (`latency-after`); `call`: the thread read (GET) or the nth reply (POST) of the session.
 */
type Boundary = { name: string; kind: 'latency' | 'latency-after'; call: { method: 'GET' } | { method: 'POST'; nth: number }; signal?: 'SIGKILL' | 'SIGTERM' };

const BOUNDARIES: Boundary[] = [
  { name: 'the thread read held: the message taken, nothing saved', kind: 'latency', call: { method: 'GET' } },
  { name: 'the first reply held before Crisp: saved, nothing sent', kind: 'latency', call: { method: 'POST', nth: 1 } },
  { name: 'the first reply sent, its answer held: sent, not acked', kind: 'latency-after', call: { method: 'POST', nth: 1 } },
  { name: 'the second reply sent, its answer held', kind: 'latency-after', call: { method: 'POST', nth: 2 } },
  { name: 'the first reply sent, its answer held, SIGTERM', kind: 'latency-after', call: { method: 'POST', nth: 1 }, signal: 'SIGTERM' },
];

/**
 * Queues the bursts that hold `call` of `session`. Bursts are matched in order, each taking the next
 * requests it matches: a reply after the first is reached by a 1 ms burst on each reply before it.
 */
function holdCall(sandbox: Sandbox, session: string, { kind, call }: Boundary): void {
  if (call.method === 'GET') return sandbox.faults.burst({ fault: { kind, delayMs: HELD_MS }, count: 1, method: 'GET', pathIncludes: `${session}/messages` });
  const replies = { method: 'POST', pathIncludes: `${session}/message` };
  if (call.nth > 1) sandbox.faults.burst({ fault: { kind: 'latency-after', delayMs: 1 }, count: call.nth - 1, ...replies });
  sandbox.faults.burst({ fault: { kind, delayMs: HELD_MS }, count: 1, ...replies });
}

describe('crisp-mcp bot (Web Hooks) stopped while one Crisp call of a turn is held, then restarted', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it.each(BOUNDARIES)('$name: each visitor message answered exactly once, in order', async (boundary) => {
    const { kind, call, signal = 'SIGKILL' } = boundary;
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-kill-held-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const sandbox = await startSandbox({ seed: 43, faults: 'dedupe:off', hooks: { url: hooksUrl(port), secret: HOOK_SECRET, attempts: 40, retryDelayMs: 50, maxRetryDelayMs: 250 } });
    cleanup.push(() => sandbox.close());
    const args = ['--scenario', 'echo', '--scenarios', scenarioDir(), '--store', `sqlite:${join(dir, 'state.db')}`, '--events', 'hooks', '--port', String(port), '--lock-ttl', '1s'];

    let bot: BotChild = await spawnBot(sandbox, args);
    cleanup.push(() => void bot.child.kill('SIGKILL'));
    const session = await visitorStarts(sandbox, 'first');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the first answer');

    holdCall(sandbox, session, boundary);
    await visitorWrites(sandbox, session, 'second');
    // Held: the burst's count taken; for a reply carried out, the reply in the conversation too.
    const held = call.method === 'POST' && kind === 'latency-after' ? call.nth : 1;
    await eventually(() => sandbox.stats().faults[kind] === held, 10_000, 'the held call');
    if (kind === 'latency-after' && call.method === 'POST') await eventually(() => botTexts(sandbox, session).length === 2 + call.nth, 10_000, 'the held reply carried out');
    bot.child.kill(signal);
    expect(await bot.exited).not.toBe(null);

    bot = await spawnBot(sandbox, args);
    await eventually(() => botTexts(sandbox, session).length >= 4, 15_000, 'the answer to the second message');
    await visitorWrites(sandbox, session, 'third');
    await eventually(() => botTexts(sandbox, session).length >= 6, 15_000, 'the answer to the third message');
    expect(transcript(sandbox, session)).toEqual(['first', 'second', 'third'].flatMap((t) => [`V: ${t}`, ...echoOf(t).map((r) => `B: ${r}`)]));
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  }, 60_000);
});
