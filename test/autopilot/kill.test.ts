// The built CLI bot (`node dist/cli.js bot`, SQLite store file) against a sandbox in this process,
// killed with SIGKILL in the middle of a burst — right after the first reply of a turn, before the
// second — then started again: every visitor message must have exactly its replies, in order, and
// no other conversation anything.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventSource } from '../../src/commands/bot.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { SandboxEvent } from '../../src/sandbox/state.js';
import { botTexts, echoOf, HOOK_SECRET, hooksUrl, scenarioDir, spawnBot, transcript, type BotChild } from '../helpers/autopilot.js';
import { freePort } from '../helpers/net.js';
import { CLI } from '../helpers/cli.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { demoSite } from '../helpers/sandbox-http.js';

const CONVERSATIONS = 6;
const MESSAGES = 5;
const text = (c: number, i: number) => `conversation ${c} message ${i}`;

describe('crisp-mcp bot killed with SIGKILL mid-burst, then restarted', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it.each<EventSource>(['hooks', 'rtm'])('%s: every visitor message gets exactly its replies, in order, once', async (mode) => {
    expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-kill-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = mode === 'hooks' ? await freePort() : 0;
    const sandbox: Sandbox = await startSandbox({
      seed: 42,
      // Crisp keeps a repeated fingerprint here: a reply sent just before the kill must not be sent again.
      faults: 'latency:2-6ms,dedupe:off',
      ...(mode === 'hooks' ? { hooks: { url: hooksUrl(port), secret: HOOK_SECRET, attempts: 40, retryDelayMs: 50, maxRetryDelayMs: 250 } } : {}),
    });
    cleanup.push(() => sandbox.close());
    const args = ['--scenario', 'echo', '--scenarios', scenarioDir(), '--store', `sqlite:${join(dir, 'state.db')}`, '--events', mode, '--lock-ttl', '1s', ...(mode === 'hooks' ? ['--port', String(port)] : [])];
    const before = new Map([...demoSite(sandbox).messages].map(([s, list]) => [s, list.length]));

    let bot: BotChild = await spawnBot(sandbox, args);
    cleanup.push(() => void bot.child.kill('SIGKILL'));

    // SIGKILL the moment some conversation shows the first reply of a turn (its 3rd or later bot message is odd).
    const replies = new Map<string, number>();
    let killed = false;
    const watch = (event: SandboxEvent) => {
      const d = event.data as { session_id?: string; automated?: boolean; type?: string };
      if (killed || event.event !== 'message:received' || !d.automated || d.type !== 'text' || !d.session_id) return;
      const n = (replies.get(d.session_id) ?? 0) + 1;
      replies.set(d.session_id, n);
      if (n >= 3 && n % 2 === 1) {
        killed = true;
        bot.child.kill('SIGKILL');
      }
    };
    sandbox.state.on('event', watch);
    cleanup.push(() => void sandbox.state.off('event', watch));

    const sessions: string[] = [];
    const writers = Array.from({ length: CONVERSATIONS }, async (_, c) => {
      const session = await visitorStarts(sandbox, text(c, 0));
      sessions[c] = session;
      for (let i = 1; i < MESSAGES; i++) {
        await sleep(20 + c * 3);
        await visitorWrites(sandbox, session, text(c, i));
      }
    });

    await eventually(() => killed, 10_000, 'the kill mid-turn');
    expect(await bot.exited).toBe('SIGKILL');
    bot = await spawnBot(sandbox, args);
    await Promise.all(writers);

    const expected = (c: number, messages = MESSAGES) => Array.from({ length: messages }, (_, i) => text(c, i)).flatMap(echoOf);
    await eventually(() => sessions.every((s, c) => botTexts(sandbox, s).length >= expected(c).length), 20_000, 'every reply');
    // One later message in each conversation, and its replies: the bot works a conversation's turns and
    // sends its outbox in order, so a duplicate of an earlier reply would come before these.
    await Promise.all(sessions.map((session, c) => visitorWrites(sandbox, session, text(c, MESSAGES))));
    await eventually(() => sessions.every((s, c) => botTexts(sandbox, s).length >= expected(c, MESSAGES + 1).length), 20_000, 'the replies to the later message');
    for (const [c, session] of sessions.entries()) {
      expect(botTexts(sandbox, session), `conversation ${c}`).toEqual(expected(c, MESSAGES + 1));
      // Each reply comes after the message it answers.
      const lines = transcript(sandbox, session);
      for (let i = 0; i <= MESSAGES; i++) expect(lines.indexOf(`B: You said: ${text(c, i)}`)).toBeGreaterThan(lines.indexOf(`V: ${text(c, i)}`));
    }
    // Nothing anywhere else.
    for (const [session, count] of before) expect(demoSite(sandbox).messages.get(session)?.length, session).toBe(count);
    // The restarted bot found the killed turn's second reply in the outbox and sent it first.
    expect(bot.logs().some((l) => l.msg === 'delivering what the outbox still held')).toBe(true);

    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    // Two child processes, a kill and a burst: its own waits allow up to 30 s on a loaded machine.
  }, 60_000);
});
