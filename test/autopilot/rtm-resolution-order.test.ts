// An RTM `session:set_state` carries no time, so the bot dates a resolution it hears there itself:
// 250 ms before it heard it. A visitor who wrote less than that before an operator resolved was
// taken as writing after the resolution, and answered once the bot started again: a "great,
// thanks" the bot had read past while the operator had the conversation got the bot's reply.
// RTM's one socket keeps Crisp's order, though: a message heard before the resolution was written
// before it. Here Crisp's clock (the sandbox's) runs behind the bot's until the operator has written
// and ahead of it from the visitor's next message on: to the bot, the operator wrote well before the
// resolution and the visitor within those 250 ms of it, however fast this machine runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { botTexts, echoOf, processed, startTestBot, transcript, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, operatorWrites, visitorStarts, visitorWrites } from '../helpers/events.js';

let crispAheadMs = -20_000;

let sandbox: Sandbox;
let bot: InProcessBot;
let store: MemoryStore;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 7, now: () => Date.now() + crispAheadMs });
  store = new MemoryStore();
  bot = await startTestBot(sandbox, { events: 'rtm', store });
});
afterAll(async () => {
  await bot?.stop();
  await sandbox?.close();
  await store?.close();
});

describe('a resolution heard over RTM', () => {
  it('is taken as after every message heard before it: the message read past while an operator had the conversation stays unanswered', async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the bot answering');
    await operatorWrites(sandbox, session, 'Hi, I am taking it from here.');
    crispAheadMs = 10_000;
    const thanks = await visitorWrites(sandbox, session, 'great, thanks');
    await eventually(() => processed(store, sandbox, session, thanks), 10_000, 'the bot reading past the message');

    await bot.crisp.conversations.setState(sandbox.websiteId, session, 'resolved');
    const next = await visitorWrites(sandbox, session, 'one more thing');
    await eventually(() => processed(store, sandbox, session, next), 10_000, 'the bot reading the next message');
    await eventually(() => botTexts(sandbox, session).length >= 4, 10_000, 'the bot answering after the resolution');
    expect(transcript(sandbox, session)).toEqual([
      'V: hello', ...echoOf('hello').map((t) => `B: ${t}`),
      'O: Hi, I am taking it from here.', 'V: great, thanks',
      'V: one more thing', ...echoOf('one more thing').map((t) => `B: ${t}`),
    ]);
  });
});
