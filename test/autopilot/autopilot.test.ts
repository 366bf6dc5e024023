// The autopilot end to end, in this process, against the sandbox over both event sources: the
// visitor writes through /_sandbox/, the sandbox emits message:send over RTM or as a signed Web
// Hook, the bot answers through the sandbox's REST API. Oracles read the sandbox's inbox.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSource } from '../../src/commands/bot.js';
import { parseCrispEvent } from '../../src/crisp/rtm.js';
import { conversationKey } from '../../src/engine/turn.js';
import { readValue, RESOLVED_RETENTION_MS } from '../../src/autopilot/state.js';
import { MemoryStore } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import {
  botNotes, botsSettled, botTexts, echoOf, HOOK_SECRET, hooksUrl, injectVisitorMessage, postHook, processed,
  startTestBot, thread, transcript, type InProcessBot,
} from '../helpers/autopilot.js';
import { freePort } from '../helpers/net.js';
import { demoSite } from '../helpers/sandbox-http.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, operatorWrites, visitorStarts, visitorWrites } from '../helpers/events.js';

const MODES: EventSource[] = ['rtm', 'hooks'];

describe.each(MODES)('autopilot over %s', (mode) => {
  let sandbox: Sandbox;
  let bot: InProcessBot;
  let store: SqliteStore;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-autopilot-'));
    store = new SqliteStore(join(dir, 'state.db'));
    const port = mode === 'hooks' ? await freePort() : 0;
    sandbox = await startSandbox({ seed: 42, ...(mode === 'hooks' ? { hooks: { url: hooksUrl(port), secret: HOOK_SECRET, retryDelayMs: 50, maxRetryDelayMs: 200 } } : {}) });
    bot = await startTestBot(sandbox, { events: mode, store, port });
  });

  afterAll(async () => {
    await bot?.stop();
    await sandbox?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the bot has read `fingerprint`, then a little more so a wrong extra reply would show. */
  async function settled(session: string, fingerprint: number): Promise<void> {
    await eventually(() => processed(store, sandbox, session, fingerprint), 5_000, `the bot reading message ${fingerprint}`);
    // Every event sent so far (the bot's own replies coming back included) handed over and worked.
    await botsSettled(sandbox, [bot]);
  }

  it('answers each visitor message with exactly its replies, in order', async () => {
    const session = await visitorStarts(sandbox, 'first question');
    await visitorWrites(sandbox, session, 'second question');
    await visitorWrites(sandbox, session, 'third question');
    const expected = ['first question', 'second question', 'third question'].flatMap(echoOf);
    await eventually(() => botTexts(sandbox, session).length >= expected.length, 5_000, 'six replies');
    const last = await visitorWrites(sandbox, session, 'fourth');
    await settled(session, last);
    expect(botTexts(sandbox, session)).toEqual([...expected, ...echoOf('fourth')]);
    // Each reply comes after the message it answers.
    expect(transcript(sandbox, session).slice(-3)).toEqual(['V: fourth', 'B: You said: fourth', 'B: Noted: fourth']);
    // Each reply came back as message:received and was told ours from its raw payload, before any schema.
    const messages = thread(sandbox, session);
    const replies = messages.filter((m) => m.from === 'operator');
    expect(bot.autopilot.stats().own).toBeGreaterThanOrEqual(replies.length);
    for (const m of replies) expect(bot.autopilot.isOwnEcho('message:received', { fingerprint: m.fingerprint })).toBe(true);
    const visitor = messages.find((m) => m.from === 'user')!;
    expect(bot.autopilot.isOwnEcho('message:received', { fingerprint: visitor.fingerprint })).toBe(false);
    expect(bot.autopilot.isOwnEcho('message:send', { fingerprint: replies[0]!.fingerprint })).toBe(false);
    expect(bot.autopilot.isOwnEcho('message:received', null)).toBe(false);
  });

  it('answers once whatever the deliveries: duplicates, a late one, and two out of order', async () => {
    const session = await visitorStarts(sandbox, 'alpha');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    // The sandbox shows a reply before its answer reaches the bot: count from when the run is over.
    await bot.autopilot.idle();
    // Two messages the sandbox never announced; their events come late, newest first, then again.
    const sentBefore = bot.autopilot.stats().delivery.sent;
    const now = Date.now();
    const a = injectVisitorMessage(sandbox, session, 'beta', now);
    const b = injectVisitorMessage(sandbox, session, 'gamma', now + 1);
    const deliver = async (m: typeof a) => {
      if (mode === 'hooks') expect(await postHook(bot.hooksUrl!, m)).toBe(200);
      else bot.autopilot.handle(parseCrispEvent('message:send', { ...m, inbox_id: null }));
    };
    await deliver(b);
    await deliver(a);
    await deliver(b);
    await settled(session, b.fingerprint);
    await deliver(a);
    await deliver(b);
    await settled(session, b.fingerprint);
    expect(botTexts(sandbox, session)).toEqual(['alpha', 'beta', 'gamma'].flatMap(echoOf));
    // Not merely deduplicated by Crisp's fingerprints: each reply was planned and sent once.
    expect(bot.autopilot.stats().delivery.sent - sentBefore).toBe(4);
    expect(transcript(sandbox, session)).toEqual(['V: alpha', 'B: You said: alpha', 'B: Noted: alpha', 'V: beta', 'V: gamma', ...['beta', 'gamma'].flatMap(echoOf).map((t) => `B: ${t}`)]);
  });

  it('reads every message after its cursor, more than a batch of them included, in order', async () => {
    const session = await visitorStarts(sandbox, 'start');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await bot.autopilot.idle();
    // 21 messages the sandbox never announced (a batch holds 20), then one late event for the first.
    const now = Date.now();
    const texts = Array.from({ length: 21 }, (_, i) => `burst ${i}`);
    const injected = texts.map((text, i) => injectVisitorMessage(sandbox, session, text, now + i));
    if (mode === 'hooks') expect(await postHook(bot.hooksUrl!, injected[0]!)).toBe(200);
    else bot.autopilot.handle(parseCrispEvent('message:send', { ...injected[0]!, inbox_id: null }));
    await settled(session, injected.at(-1)!.fingerprint);
    // Answered in order from the first of them, up to the reply budget (where the bot pauses).
    const expected = ['start', ...texts].flatMap(echoOf);
    const sent = botTexts(sandbox, session);
    expect(sent.length).toBeGreaterThan(4);
    expect(sent).toEqual(expected.slice(0, sent.length));
  });

  it('rides out Crisp failures mid-turn (503s, lost answers, a failed read) without a duplicate, though Crisp keeps repeated fingerprints', async () => {
    const session = await visitorStarts(sandbox, 'one');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    // Crisp posts a message again when its fingerprint repeats: a blind re-send would show twice.
    sandbox.faults.configure('dedupe:off');
    // The next send fails 6 times in a row (the client's 4 attempts, then the outbox retries), then
    // two sends are carried out but their answers lost (the connection dropped, then a 503 after
    // the write), then the thread read fails 5 times.
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 6, method: 'POST', pathIncludes: `${session}/message` });
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST', pathIncludes: `${session}/message` });
    sandbox.faults.burst({ fault: { kind: 'status-after', status: 503 }, count: 1, method: 'POST', pathIncludes: `${session}/message` });
    await visitorWrites(sandbox, session, 'two');
    await eventually(() => botTexts(sandbox, session).length === 4, 8_000, 'the replies to "two"');
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 5, method: 'GET', pathIncludes: `${session}/messages` });
    const three = await visitorWrites(sandbox, session, 'three');
    await settled(session, three);
    await eventually(() => botTexts(sandbox, session).length === 6, 8_000, 'the replies to "three"');
    expect(botTexts(sandbox, session)).toEqual(['one', 'two', 'three'].flatMap(echoOf));
    expect(bot.autopilot.stats().delivery.retried).toBeGreaterThan(0);
    sandbox.faults.configure('dedupe:on');
    expect(sandbox.faults.active).toBe(false);
  });

  it('plans against the record it saved last, and yields to a save it did not make (another worker pausing it)', async () => {
    const session = await visitorStarts(sandbox, 'kept one');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    const kept = bot.autopilot.stats().recordsKept;
    const two = await visitorWrites(sandbox, session, 'kept two');
    await settled(session, two);
    await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the replies to "kept two"');
    // The second turn did not read the record back: it planned against the one it had saved.
    expect(bot.autopilot.stats().recordsKept).toBeGreaterThan(kept);

    // Someone else saves the record meanwhile (a replica, an agent's tool): here, a pause.
    const key = conversationKey(sandbox.websiteId, session);
    const saved = (await store.getPosition<Record<string, never>>(key, 'echo'))!;
    const record = saved.value as unknown as { channels: { autopilot: Record<string, unknown> } };
    record.channels.autopilot.paused = { reason: 'operator', at: Date.now(), by: 'another-worker' };
    expect((await store.savePosition(key, 'echo', record, { expectedVersion: saved.version })).ok).toBe(true);
    const conflicts = bot.autopilot.stats().conflicts;
    const three = await visitorWrites(sandbox, session, 'kept three');
    await settled(session, three);
    // Its save against the kept record failed, it read the record again, and it is paused there.
    expect(bot.autopilot.stats().conflicts).toBe(conflicts + 1);
    expect(botTexts(sandbox, session)).toEqual(['kept one', 'kept two'].flatMap(echoOf));
  });

  it('stays silent once an operator writes, and starts again when the conversation is resolved', async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Hi, Jane from support here.' });
    const asked = await visitorWrites(sandbox, session, 'are you a person?');
    await settled(session, asked);
    expect(botTexts(sandbox, session)).toEqual(echoOf('hello'));

    await bot.crisp.conversations.setState(sandbox.websiteId, session, 'resolved');
    await botsSettled(sandbox, [bot]); // the bot has taken the resolution in before the visitor is back
    const back = await visitorWrites(sandbox, session, 'back again');
    await settled(session, back);
    await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the replies after the resolution');
    expect(transcript(sandbox, session)).toEqual([
      'V: hello', ...echoOf('hello').map((t) => `B: ${t}`),
      'O: Hi, Jane from support here.', 'V: are you a person?',
      'V: back again', ...echoOf('back again').map((t) => `B: ${t}`),
    ]);
  });

  it('on a conversation it never worked, stays out where a person on the operator side wrote within the operator hold, and answers where that was days ago or was a scenario\'s automated message', async () => {
    const site = demoSite(sandbox);
    /** A conversation from before the bot: the visitor asked, someone on the operator side answered at `answeredAt` (no event reaches the bot). */
    const before = (answeredAt: number, automated: boolean): string => {
      const { session_id } = sandbox.state.createConversation(site);
      injectVisitorMessage(sandbox, session_id, 'my invoice is wrong', answeredAt - 1_000);
      const answer = injectVisitorMessage(sandbox, session_id, 'Jane here, checking it', answeredAt);
      Object.assign(answer, { from: 'operator', automated, user: { type: 'website', user_id: 'op-jane', nickname: 'Jane' } });
      return session_id;
    };
    const held = before(Date.now() - 60 * 60_000, false);
    const old = before(Date.now() - 2 * 24 * 60 * 60_000, false);
    const automated = before(Date.now() - 60 * 60_000, true);
    const written = await Promise.all([held, old, automated].map((session) => visitorWrites(sandbox, session, 'any news?')));
    for (const [i, session] of [held, old, automated].entries()) await settled(session, written[i]!);
    // (The automated answer counts among the bot-side texts: it is a scenario's.)
    await eventually(() => botTexts(sandbox, old).length === 2 && botTexts(sandbox, automated).length === 3, 5_000, 'the replies where nobody holds the conversation');
    expect(botTexts(sandbox, held)).toEqual([]);
    const saved = await store.getPosition(conversationKey(sandbox.websiteId, held), 'echo');
    expect(readValue(saved?.value).state?.paused).toMatchObject({ reason: 'operator', by: 'op-jane' });
    expect(botTexts(sandbox, old)).toEqual(echoOf('any news?'));
    expect(botTexts(sandbox, automated)).toEqual(['Jane here, checking it', ...echoOf('any news?')]);
  });

  it("answers a visitor message written right after a resolution whose event comes in after the message's", async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await settled(session, await operatorWrites(sandbox, session, 'Jane here, all sorted.'));
    // A millisecond back: a message in the resolution's own millisecond is not after it.
    const resolvedAt = Date.now() - 1;
    // The visitor writes just after the resolution, and that message's event is worked first: the bot is still paused.
    const more = await visitorWrites(sandbox, session, 'one more thing');
    await settled(session, more);
    expect(botTexts(sandbox, session)).toEqual(echoOf('hello'));
    // Then the resolution's event, stamped with when it happened.
    bot.autopilot.handle(parseCrispEvent('session:set_state', { website_id: sandbox.websiteId, session_id: session, state: 'resolved' }), { timestamp: resolvedAt });
    await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the answer to the message read again');
    await botsSettled(sandbox, [bot]);
    expect(transcript(sandbox, session)).toEqual(['V: hello', ...echoOf('hello').map((t) => `B: ${t}`), 'O: Jane here, all sorted.', 'V: one more thing', ...echoOf('one more thing').map((t) => `B: ${t}`)]);
  });

  it('does not answer a visitor message an operator answered before the bot read it', async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await botsSettled(sandbox, [bot]);
    // The visitor's message without its event (the bot lagging behind), then the operator's answer.
    injectVisitorMessage(sandbox, session, 'is anyone there?', thread(sandbox, session).at(-1)!.timestamp + 1);
    const answered = await operatorWrites(sandbox, session, 'Yes, Jane here.');
    await settled(session, answered);
    expect(transcript(sandbox, session)).toEqual(['V: hello', ...echoOf('hello').map((t) => `B: ${t}`), 'V: is anyone there?', 'O: Yes, Jane here.']);
  });

  it('drops the replies Crisp kept refusing once an operator has written meanwhile', async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await botsSettled(sandbox, [bot]);
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 10_000, method: 'POST', pathIncludes: `${session}/message` });
    const retried = bot.autopilot.stats().delivery.retried;
    const paused = bot.autopilot.stats().paused;
    try {
      await visitorWrites(sandbox, session, 'still there?');
      await eventually(() => bot.autopilot.stats().delivery.retried > retried, 5_000, 'a reply held back by the 503s');
      await operatorWrites(sandbox, session, 'Jane here, I have it.');
      await eventually(() => bot.autopilot.stats().paused > paused, 5_000, 'the pause');
    } finally {
      sandbox.faults.clear();
    }
    const key = conversationKey(sandbox.websiteId, session);
    await eventually(async () => (await store.outboxPending({ prefix: key, limit: 1 })).length === 0, 5_000, 'the outbox emptied');
    await botsSettled(sandbox, [bot]);
    expect(transcript(sandbox, session)).toEqual(['V: hello', ...echoOf('hello').map((t) => `B: ${t}`), 'V: still there?', 'O: Jane here, I have it.']);
  });

  it('hands off: the handoff block silences the bot and tells the operators', async () => {
    const session = await visitorStarts(sandbox, 'I want a human please');
    await eventually(() => botNotes(sandbox, session).length === 1, 5_000, 'the handoff note');
    const after = await visitorWrites(sandbox, session, 'anyone there?');
    await settled(session, after);
    expect(botTexts(sandbox, session)).toEqual(['Passing you to a human.']);
    expect(botNotes(sandbox, session)[0]).toContain('asked_for_human');
  });

  it('acts only on allow-listed websites', async () => {
    const before = sandbox.stats().total;
    const ignored = bot.autopilot.stats().ignored.website_not_allowed ?? 0;
    const other = '00000000-0000-4000-8000-00000000beef';
    const event = { website_id: other, session_id: 'session_x', inbox_id: null, type: 'text', from: 'user', origin: 'chat', content: 'hi', fingerprint: 1, timestamp: Date.now() };
    if (mode === 'hooks') expect(await postHook(bot.hooksUrl!, event)).toBe(200);
    else bot.autopilot.handle(parseCrispEvent('message:send', event));
    await eventually(() => (bot.autopilot.stats().ignored.website_not_allowed ?? 0) > ignored, 2_000, 'the event being refused');
    expect(sandbox.stats().total).toBe(before);
  });
});

describe('autopilot over hooks without message:received', () => {
  let sandbox: Sandbox;
  let bot: InProcessBot;
  const store = new MemoryStore();

  beforeAll(async () => {
    const port = await freePort();
    sandbox = await startSandbox({ seed: 42, hooks: { url: hooksUrl(port), secret: HOOK_SECRET, events: ['message:send', 'session:set_state'], retryDelayMs: 50 } });
    bot = await startTestBot(sandbox, { events: 'hooks', store, port });
  });

  afterAll(async () => {
    await bot?.stop();
    await sandbox?.close();
  });

  it("still stays silent after an operator's message: it is read from the thread before the next visitor message", async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
    await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Jane here.' });
    const asked = await visitorWrites(sandbox, session, 'hi Jane');
    await eventually(() => processed(store, sandbox, session, asked), 5_000, 'the bot reading the message');
    await bot.autopilot.idle();
    expect(transcript(sandbox, session)).toEqual(['V: hello', ...echoOf('hello').map((t) => `B: ${t}`), 'O: Jane here.', 'V: hi Jane']);
    expect(bot.autopilot.stats().paused).toBe(1);
  });
});

describe('autopilot catch-up asked for again and again (an RTM socket that keeps reconnecting)', () => {
  it('runs one catch-up at a time, and once more after it however often it was asked meanwhile', async () => {
    const sandbox = await startSandbox({ seed: 12 });
    const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore() });
    try {
      await visitorStarts(sandbox, 'hello'); // a conversation the catch-up lists
      await botsSettled(sandbox, [bot]);
      const lists = () => sandbox.stats().handled['GET /v1/website/:website_id/conversations/:page'] ?? 0;
      let before = lists();
      await bot.autopilot.catchUp();
      await botsSettled(sandbox, [bot]);
      const oneRound = lists() - before;
      expect(oneRound).toBeGreaterThan(0);
      before = lists();
      // Fifty authentications in a row: before, fifty catch-ups ran at once, each listing every page.
      const asked = await Promise.all(Array.from({ length: 50 }, () => bot.autopilot.catchUp()));
      expect(lists() - before).toBe(2 * oneRound);
      expect(new Set(asked).size).toBe(1);
    } finally {
      await bot.stop();
      await sandbox.close();
    }
  });
});

describe('autopilot catch-up after a restart', () => {
  it("answers a visitor message it missed while down even when its own replies are the thread's last messages", async () => {
    const sandbox = await startSandbox({ seed: 11 });
    const store = new MemoryStore();
    let bot: InProcessBot | undefined = await startTestBot(sandbox, { events: 'rtm', store });
    try {
      const session = await visitorStarts(sandbox, 'hello');
      await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
      await botsSettled(sandbox, [bot]);
      await bot.stop();
      bot = undefined;
      // What a bot killed mid-turn leaves: a visitor message that came in while it was answering the
      // previous one (so it sits before the bot's replies, and the inbox shows the bot's reply last),
      // whose event the bot had only in memory.
      const messages = thread(sandbox, session);
      const hello = messages.findIndex((m) => m.from === 'user');
      const missed = injectVisitorMessage(sandbox, session, 'are you there?', messages[hello]!.timestamp);
      const list = demoSite(sandbox).messages.get(session)!;
      list.splice(list.indexOf(missed), 1);
      list.splice(hello + 1, 0, missed);
      expect(transcript(sandbox, session)).toEqual(['V: hello', 'V: are you there?', ...echoOf('hello').map((t) => `B: ${t}`)]);

      bot = await startTestBot(sandbox, { events: 'rtm', store });
      await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the missed message answered after the restart');
      await bot.autopilot.idle();
      expect(botTexts(sandbox, session)).toEqual([...echoOf('hello'), ...echoOf('are you there?')]);
    } finally {
      await bot?.stop();
      await sandbox.close();
    }
  });
  it('starts again at the visitor\'s next message in a conversation an operator took over and resolved while it was down', async () => {
    const sandbox = await startSandbox({ seed: 12 });
    const store = new MemoryStore();
    let bot: InProcessBot | undefined = await startTestBot(sandbox, { events: 'rtm', store });
    try {
      const session = await visitorStarts(sandbox, 'hello');
      await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
      await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Jane here, I take it from here.' });
      const asked = await visitorWrites(sandbox, session, 'thanks Jane');
      await eventually(() => processed(store, sandbox, session, asked), 5_000, 'the bot reading the message');
      await botsSettled(sandbox, [bot]);
      await bot.stop();
      bot = undefined;
      // Resolved while no bot listened: RTM does not replay the session:set_state it missed.
      const operator = clientFor(sandbox);
      await operator.conversations.setState(sandbox.websiteId, session, 'resolved');
      await operator.close();

      bot = await startTestBot(sandbox, { events: 'rtm', store });
      await bot.autopilot.idle();
      const back = await visitorWrites(sandbox, session, 'back again days later');
      await eventually(() => processed(store, sandbox, session, back), 5_000, 'the bot reading the message');
      await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the replies after the resolution');
      await bot.autopilot.idle();
      expect(transcript(sandbox, session)).toEqual([
        'V: hello', ...echoOf('hello').map((t) => `B: ${t}`),
        'O: Jane here, I take it from here.', 'V: thanks Jane',
        'V: back again days later', ...echoOf('back again days later').map((t) => `B: ${t}`),
      ]);
    } finally {
      await bot?.stop();
      await sandbox.close();
    }
  });
});

describe('the record of a conversation the autopilot worked, once resolved', () => {
  it('is kept RESOLVED_RETENTION_MS, then the store holds it no more; the visitor\'s next message is answered as a first contact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-autopilot-retention-'));
    let offset = 0;
    const store = new SqliteStore(join(dir, 'state.db'), { now: () => Date.now() + offset });
    const sandbox = await startSandbox({ seed: 13 });
    const bot = await startTestBot(sandbox, { events: 'rtm', store });
    try {
      const going = await visitorStarts(sandbox, 'still here');
      const session = await visitorStarts(sandbox, 'hello');
      await eventually(() => botTexts(sandbox, session).length === 2 && botTexts(sandbox, going).length === 2, 5_000, 'the first replies');
      // Resolved later than the replies: a resolution over RTM is dated 250 ms before it arrives (RTM_LATENCY_MS).
      await new Promise((resolve) => setTimeout(resolve, 300));
      await botsSettled(sandbox, [bot]);
      // The store's clock goes back the retention for the resolution's save, then comes forward to
      // the bot's and the sandbox's: the retention has passed, and what the bot queues next is due now.
      offset = -RESOLVED_RETENTION_MS;
      await bot.crisp.conversations.setState(sandbox.websiteId, session, 'resolved');
      await botsSettled(sandbox, [bot]);
      const key = conversationKey(sandbox.websiteId, session);
      expect(readValue((await store.getPosition(key, 'echo'))?.value).state?.restart_after).toEqual(expect.any(Number));
      offset = -60_000;
      expect(await store.getPosition(key, 'echo')).toBeDefined();
      offset = 0;
      expect(await store.getPosition(key, 'echo')).toBeUndefined();
      // A conversation that goes on is kept.
      expect(await store.getPosition(conversationKey(sandbox.websiteId, going), 'echo')).toBeDefined();

      const back = await visitorWrites(sandbox, session, 'back again');
      await eventually(() => processed(store, sandbox, session, back), 5_000, 'the bot reading the message');
      await eventually(() => botTexts(sandbox, session).length === 4, 5_000, 'the replies after the resolution');
      await botsSettled(sandbox, [bot]);
      expect(transcript(sandbox, session)).toEqual(['V: hello', ...echoOf('hello').map((t) => `B: ${t}`), 'V: back again', ...echoOf('back again').map((t) => `B: ${t}`)]);
    } finally {
      await bot.stop();
      await sandbox.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('autopilot start with a crowded store outbox', () => {
  it("delivers what its outbox still held even when more than one read's worth of other queues (converse) are due first", async () => {
    const sandbox = await startSandbox({ seed: 7 });
    const store = new MemoryStore();
    let bot: InProcessBot | undefined;
    try {
      const session = await visitorStarts(sandbox, 'hello'); // before the bot: no event for it, and no catch-up below
      const early = Date.now() - 60_000;
      for (let i = 0; i < 1_500; i++) await store.savePosition(`converse:c${i}`, 'converse-test', 0, { expectedVersion: 0, outbox: [{ payload: { i }, notBefore: early + i }] });
      // What a killed bot left: one message to send, due after all of those.
      const item = { kind: 'autopilot', website: sandbox.websiteId, session, scenario: 'echo', action: { type: 'send_message', message: { type: 'text', text: 'left over' } } };
      await store.savePosition(conversationKey(sandbox.websiteId, session), 'echo', {}, { expectedVersion: 0, outbox: [{ payload: item }] });
      bot = await startTestBot(sandbox, { events: 'rtm', store, guardrails: { catchUpWindowMs: 0 } });
      await eventually(() => botTexts(sandbox, session).length > 0, 5_000, 'the left-over message');
      await bot.autopilot.idle();
      expect(botTexts(sandbox, session)).toEqual(['left over']);
      expect(await store.outboxPending({ prefix: 'converse:', limit: 2_000 })).toHaveLength(1_500);
    } finally {
      await bot?.stop();
      await sandbox.close();
    }
  });
});
