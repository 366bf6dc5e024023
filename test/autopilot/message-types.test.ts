// The autopilot and the message types that are not a visitor's text, end to end over RTM against
// the sandbox: what the runner reads, what it lets pass, and what stops it — as docs/autopilot.md says.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botsSettled, botTexts, echoOf, processed, startTestBot, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { control, conv, crisp } from '../helpers/sandbox-http.js';

let sandbox: Sandbox;
let bot: InProcessBot;
let store: MemoryStore;

beforeAll(async () => {
  store = new MemoryStore();
  sandbox = await startSandbox({ seed: 5 });
  bot = await startTestBot(sandbox, { events: 'rtm', store });
});
afterAll(async () => {
  await bot?.stop();
  await sandbox?.close();
  await store?.close();
});

async function settled(session: string, fingerprint: number): Promise<void> {
  await eventually(() => processed(store, sandbox, session, fingerprint), 5_000, `the bot reading message ${fingerprint}`);
  await botsSettled(sandbox, [bot]);
}

async function visitorSends(session: string, type: string, content: unknown): Promise<number> {
  const reply = await control<{ fingerprint: number }>(sandbox, 'POST', `/_sandbox/websites/${sandbox.websiteId}/conversations/${session}/messages`, { type, content });
  expect(reply.status).toBe(200);
  return reply.body!.data.fingerprint;
}

it('reads past a file, a GIF or a voice message without answering it, and answers the next text; an operator\'s private note (mentions and all) does not stop it', async () => {
  const session = await visitorStarts(sandbox, 'hello');
  await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
  await visitorSends(session, 'file', { name: 'screenshot.png', url: 'https://files.example.test/s.png', type: 'image/png' });
  await visitorSends(session, 'animation', { url: 'https://files.example.test/wave.gif', type: 'image/gif' });
  const voice = await visitorSends(session, 'audio', { url: 'https://files.example.test/v.ogg', type: 'audio/ogg', duration: 5 });
  await settled(session, voice);
  expect(botTexts(sandbox, session)).toEqual(echoOf('hello'));

  await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'note', from: 'operator', origin: 'chat', content: 'Watch this one', mentions: ['op-1'] });
  const next = await visitorWrites(sandbox, session, 'still there?');
  await settled(session, next);
  expect(botTexts(sandbox, session)).toEqual([...echoOf('hello'), ...echoOf('still there?')]);
});

it('answers a message once: the visitor editing it afterwards (message:updated) is not a new message', async () => {
  const session = await visitorStarts(sandbox, 'first try');
  await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
  const [first] = sandbox.state.websites.get(sandbox.websiteId)!.messages.get(session)!;
  const edit = await crisp(sandbox, conv(sandbox, session, `/message/${first!.fingerprint}`), { method: 'PATCH', json: { content: 'second try' } });
  expect(edit.status).toBe(200);
  const next = await visitorWrites(sandbox, session, 'and now');
  await settled(session, next);
  expect(botTexts(sandbox, session)).toEqual([...echoOf('first try'), ...echoOf('and now')]);
});

it('an event message an integration logs on the operator side ("order shipped") does not pause it: no one wrote to the visitor', async () => {
  const session = await visitorStarts(sandbox, 'where is my order');
  await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
  await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'event', from: 'operator', origin: 'chat', content: { namespace: 'order:shipped', text: 'Order #1042 shipped' } });
  const next = await visitorWrites(sandbox, session, 'thanks, and the invoice?');
  await settled(session, next);
  expect(botTexts(sandbox, session)).toEqual([...echoOf('where is my order'), ...echoOf('thanks, and the invoice?')]);
});
