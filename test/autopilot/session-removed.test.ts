// A conversation deleted in Crisp: Crisp announces it as `session:removed` (node-crisp-api's
// `EventsSessionRemoved`: the session-generic fields), over RTM and Web Hooks alike, and the bot
// erases what its store kept of the conversation — the visitor's answers the scenario saved, the
// outbox — as `crisp-mcp store forget` does. Before, the bot did not subscribe to the event: the
// record stayed until someone ran the command. The sandbox as a real HTTP server (its REST DELETE
// emits the event), the bot in process over each event source, a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSource } from '../../src/commands/bot.js';
import { conversationKey } from '../../src/engine/turn.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { botsSettled, botTexts, capturedLog, echoOf, HOOK_SECRET, hooksUrl, postEvent, startTestBot, type InProcessBot, type LogLine } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { freePort } from '../helpers/net.js';
import { conv, crisp } from '../helpers/sandbox-http.js';

const REMOVED_LINE = 'conversation removed in Crisp: what the store kept of it is erased';
const INFO = 30;

/** A signed Web Hook delivery of `session:removed`, as Crisp posts it. */
function postRemoved(url: string, website: string, session: string): Promise<number> {
  return postEvent(url, 'session:removed', website, { website_id: website, session_id: session, inbox_id: null });
}

const MODES: EventSource[] = ['rtm', 'hooks'];

describe.each(MODES)('a conversation removed in Crisp, over %s', (mode) => {
  let sandbox: Sandbox;
  let store: SqliteStore;
  let bot: InProcessBot;
  let dir: string;
  const { lines, log } = capturedLog('debug');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-removed-'));
    store = new SqliteStore(join(dir, 'state.db'));
    const port = mode === 'hooks' ? await freePort() : 0;
    sandbox = await startSandbox({ seed: 42, ...(mode === 'hooks' ? { hooks: { url: hooksUrl(port), secret: HOOK_SECRET, retryDelayMs: 50, maxRetryDelayMs: 200 } } : {}) });
    bot = await startTestBot(sandbox, { events: mode, store, port, log });
  });

  afterAll(async () => {
    await bot?.stop();
    await sandbox?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const removedLines = (key: string): LogLine[] => lines.filter((l) => l.msg === REMOVED_LINE && l.conversation === key);

  it('erases the record of the visitor’s answers once, with one info line that holds none of them', async () => {
    const session = await visitorStarts(sandbox, 'my secret answer');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the replies');
    const key = conversationKey(sandbox.websiteId, session);
    await eventually(async () => (await store.getPosition(key, 'echo')) !== undefined, 5_000, 'the record saved');
    expect(JSON.stringify((await store.getPosition(key, 'echo'))!.value)).toContain('my secret answer');

    const deleted = await crisp(sandbox, conv(sandbox, session), { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    await eventually(async () => (await store.getPosition(key, 'echo')) === undefined, 10_000, 'the record erased');
    expect(await store.outboxPending({ prefix: key })).toEqual([]);

    // Told again (a hook delivered twice, RTM and a hook both subscribed): nothing left, no second info line.
    if (mode === 'hooks') expect(await postRemoved(bot.hooksUrl!, sandbox.websiteId, session)).toBe(200);
    await botsSettled(sandbox, [bot]);
    const told = removedLines(key);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ level: INFO, conversation: key, positions: 1 });
    expect(lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('my secret answer');
  }, 60_000);

  it('leaves the conversations of other visitors alone', async () => {
    const kept = await visitorStarts(sandbox, 'stay');
    const gone = await visitorStarts(sandbox, 'go');
    await eventually(() => botTexts(sandbox, kept).length === 2 && botTexts(sandbox, gone).length === 2, 10_000, 'the replies');
    const keptKey = conversationKey(sandbox.websiteId, kept);
    await eventually(async () => (await store.getPosition(keptKey, 'echo')) !== undefined, 5_000, 'the record saved');
    expect((await crisp(sandbox, conv(sandbox, gone), { method: 'DELETE' })).status).toBe(200);
    await eventually(async () => (await store.getPosition(conversationKey(sandbox.websiteId, gone), 'echo')) === undefined, 10_000, 'the record erased');
    await botsSettled(sandbox, [bot]);
    expect(await store.getPosition(keptKey, 'echo')).toBeDefined();
    await visitorWrites(sandbox, kept, 'again');
    await eventually(() => botTexts(sandbox, kept).length === 4, 10_000, 'the next replies');
    expect(botTexts(sandbox, kept)).toEqual(['stay', 'again'].flatMap(echoOf));
  }, 60_000);
});

describe('a conversation removed while the bot works a turn there, over hooks', () => {
  it('is erased after the turn: the turn is not cut half way, and what it saved does not outlive the erasure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-removed-'));
    const store = new SqliteStore(join(dir, 'state.db'));
    const port = await freePort();
    const sandbox = await startSandbox({ seed: 43, hooks: { url: hooksUrl(port), secret: HOOK_SECRET, retryDelayMs: 50, maxRetryDelayMs: 200 } });
    const { lines, log } = capturedLog('debug');
    const bot = await startTestBot(sandbox, { events: 'hooks', store, port, log });
    try {
      const session = await visitorStarts(sandbox, 'one');
      await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the first replies');
      const key = conversationKey(sandbox.websiteId, session);

      // The next thread read is held a while: the turn for "two" is in flight when the removal comes.
      sandbox.faults.burst({ fault: { kind: 'latency', delayMs: 1_500 }, count: 1, method: 'GET', pathIncludes: `${session}/messages` });
      await visitorWrites(sandbox, session, 'two');
      await eventually(() => !sandbox.faults.active, 10_000, 'the turn reading the thread');
      // The event alone (the sandbox keeps the conversation, so the turn in flight can finish).
      expect(await postRemoved(bot.hooksUrl!, sandbox.websiteId, session)).toBe(200);

      await eventually(() => lines.some((l) => l.msg === REMOVED_LINE && l.conversation === key), 10_000, 'the erasure');
      await botsSettled(sandbox, [bot]);
      // The turn ran whole — both its replies went — and its save came before the erasure, not after.
      expect(botTexts(sandbox, session)).toEqual(['one', 'two'].flatMap(echoOf));
      expect(await store.getPosition(key, 'echo')).toBeUndefined();
      expect(await store.outboxPending({ prefix: key })).toEqual([]);
    } finally {
      await bot.stop();
      await sandbox.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
