// The built CLI bot over Web Hooks (SQLite file), stopped at each step boundary of a turn: a relay
// between the bot and the sandbox holds one Crisp call and the bot is killed while it waits —
//   the thread read (the visitor message taken, nothing saved),
//   the first reply never reaching Crisp (the turn and its outbox saved, nothing sent),
//   the first reply carried out by Crisp with its answer held (sent, not acked),
//   the second reply carried out, answer held (the first acked in memory only).
// Restarted on the same file, every visitor message has exactly its replies, once, in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { botTexts, echoOf, HOOK_SECRET, hooksUrl, scenarioDir, spawnBot, transcript, type BotChild } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { freePort } from '../helpers/net.js';
import { HoldingRelay, type HoldPoint } from '../helpers/relay.js';

type Boundary = { name: string; point: HoldPoint; pick: (session: string) => (req: IncomingMessage) => boolean; signal?: 'SIGKILL' | 'SIGTERM' };

const posts = (session: string, nth: number) => {
  let seen = 0;
  return (req: IncomingMessage) => req.method === 'POST' && req.url?.includes(session) === true && /\/message$/.test(req.url) && ++seen === nth;
};
const BOUNDARIES: Boundary[] = [
  { name: 'the thread read held: the message taken, nothing saved', point: 'before', pick: (s) => (req) => req.method === 'GET' && req.url?.includes(`${s}/messages`) === true },
  { name: 'the first reply held before Crisp: saved, nothing sent', point: 'before', pick: (s) => posts(s, 1) },
  { name: 'the first reply sent, its answer held: sent, not acked', point: 'after', pick: (s) => posts(s, 1) },
  { name: 'the second reply sent, its answer held', point: 'after', pick: (s) => posts(s, 2) },
  { name: 'the first reply sent, its answer held, SIGTERM', point: 'after', pick: (s) => posts(s, 1), signal: 'SIGTERM' },
];

describe('crisp-mcp bot (Web Hooks) stopped while one Crisp call of a turn is held, then restarted', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it.each(BOUNDARIES)('$name: each visitor message answered exactly once, in order', async ({ point, pick, signal = 'SIGKILL' }) => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-kill-held-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const sandbox = await startSandbox({ seed: 43, faults: 'dedupe:off', hooks: { url: hooksUrl(port), secret: HOOK_SECRET, attempts: 40, retryDelayMs: 50, maxRetryDelayMs: 250 } });
    cleanup.push(() => sandbox.close());
    const relay = await HoldingRelay.start(sandbox.url);
    cleanup.push(() => relay.close());
    const args = ['--scenario', 'echo', '--scenarios', scenarioDir(), '--store', `sqlite:${join(dir, 'state.db')}`, '--events', 'hooks', '--port', String(port), '--lock-ttl', '1s'];
    const env = { CRISP_API_URL: relay.url };

    let bot: BotChild = await spawnBot(sandbox, args, env);
    cleanup.push(() => void bot.child.kill('SIGKILL'));
    const session = await visitorStarts(sandbox, 'first');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the first answer');

    relay.arm(pick(session), point);
    await visitorWrites(sandbox, session, 'second');
    await eventually(() => relay.held !== undefined, 10_000, 'the held call');
    bot.child.kill(signal);
    expect(await bot.exited).not.toBe(null);

    bot = await spawnBot(sandbox, args, env);
    await eventually(() => botTexts(sandbox, session).length >= 4, 15_000, 'the answer to the second message');
    await visitorWrites(sandbox, session, 'third');
    await eventually(() => botTexts(sandbox, session).length >= 6, 15_000, 'the answer to the third message');
    expect(transcript(sandbox, session)).toEqual(['first', 'second', 'third'].flatMap((t) => [`V: ${t}`, ...echoOf(t).map((r) => `B: ${r}`)]));
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  }, 60_000);
});
