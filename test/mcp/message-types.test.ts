// Every kind of Crisp message, put into a sandbox conversation by the official `crisp-api` client
// (an operator's side) and the sandbox's visitor routes, then read through the MCP tools an agent
// uses: each is shown as text a model can act on, cleaned of hidden characters, never a raw object.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/crisp/schemas.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { callTool, McpHarness } from '../helpers/mcp.js';
import { officialClient } from '../helpers/official-rtm.js';
import { control } from '../helpers/sandbox-http.js';

let harness: McpHarness;
let sandbox: Sandbox;
let client: Client;
let session: string;
/** Zero-width space and a BiDi override: hidden characters a visitor or a plugin could slip in. */
const HIDDEN = '\u200B\u202E';

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 7 });
  ({ sandbox, client } = harness);
  const w = sandbox.websiteId;
  const visitor = `/_sandbox/websites/${w}/conversations`;
  session = (await control<{ session_id: string }>(sandbox, 'POST', visitor, { nickname: 'Zoe', email: 'zoe@example.test', text: 'Hello' })).body!.data.session_id;

  const official = officialClient(sandbox.url, sandbox.credentials[0]!);
  const send = async (type: string, content: unknown, extra: Record<string, unknown> = {}) =>
    ((await official.website.sendMessageInConversation(w, session, { type, from: 'operator', origin: 'chat', content, ...extra } as never)) as { fingerprint: number }).fingerprint;

  await send('file', { name: `invoice${HIDDEN}.pdf`, url: 'https://files.example.test/invoice.pdf', type: 'application/pdf' });
  await send('animation', { url: 'https://files.example.test/thanks.gif', type: 'image/gif' });
  await send('audio', { url: 'https://files.example.test/hello.mp3', type: 'audio/mpeg', duration: 12 });
  const picker = await send('picker', { id: 'plan', text: 'Which plan?', choices: [{ value: 'pro', label: `Pro${HIDDEN}`, selected: false }, { value: 'team', label: 'Team', selected: false }] });
  await send('field', { id: 'email', text: 'Your email?', explain: 'We reply there', value: 'zoe@example.test' });
  await send('field', { id: 'phone', text: 'Your phone?', explain: 'Optional' });
  await send('carousel', {
    text: 'Our plans',
    targets: [
      { title: `Pro${HIDDEN}`, description: '10 seats', actions: [{ label: 'Buy', url: 'https://shop.example.test/pro' }] },
      { title: 'Team', description: '50 seats', actions: [{ label: 'Buy', url: 'https://shop.example.test/team' }] },
    ],
  });
  await send('event', { namespace: 'state:resolved' });
  await send('note', 'Check the refund first', { mentions: ['op-1'] });
  const typo = await send('text', 'Your refnd is on its way', { automated: true });
  await official.website.updateMessageInConversation(w, session, typo, 'Your refund is on its way');
  // The visitor clicks a button, then sends a voice message.
  await control(sandbox, 'POST', `${visitor}/${session}/choices`, { fingerprint: picker, value: 'team' });
  await control(sandbox, 'POST', `${visitor}/${session}/messages`, { type: 'audio', content: { url: 'https://files.example.test/voice.ogg', type: 'audio/ogg', duration: 4 } });
});
afterAll(() => harness.close());

/** Each kind of message as an agent should read it, in thread order. */
const EXPECTED = [
  'Hello',
  '[file] invoice.pdf (application/pdf) https://files.example.test/invoice.pdf',
  '[animation] https://files.example.test/thanks.gif',
  '[audio 12s] https://files.example.test/hello.mp3',
  '[picker] Which plan? — Pro | Team (chosen)',
  '[field] Your email? → zoe@example.test',
  '[field] Your phone? — not filled in',
  '[carousel] Our plans — Pro: 10 seats Buy <https://shop.example.test/pro> | Team: 50 seats Buy <https://shop.example.test/team>',
  '[event state:resolved]',
  '[mentions op-1] Check the refund first',
  '[edited] Your refund is on its way',
  '[picker] Which plan? — Pro | Team (chosen)',
  '[audio 4s] https://files.example.test/voice.ogg',
];

type Shown = { from: string; type: string; private: boolean; text: string };

describe('every Crisp message type through the tools an agent reads', () => {
  it('get_conversation shows each type with what a model acts on: a file\'s name, type and url, the picker choice taken, a field\'s answer, an audio\'s length, the carousel\'s links, the edit', async () => {
    const { out, text } = await callTool<{ conversation: { last_message: string }; messages: Shown[] }>(client, 'get_conversation', { session_id: session, messages: 50 });
    // The inbox preview of a voice message says what it is, where the url alone would not.
    expect(out.conversation.last_message).toBe('visitor: [audio] https://files.example.test/voice.ogg');
    expect(out.messages.map((m) => m.text)).toEqual(EXPECTED);
    expect(out.messages.map((m) => m.type)).toEqual(['text', 'file', 'animation', 'audio', 'picker', 'field', 'field', 'carousel', 'event', 'note', 'text', 'picker', 'audio']);
    expect(out.messages.filter((m) => m.private).map((m) => m.type)).toEqual(['note']);
    expect(out.messages.at(-2)).toMatchObject({ from: 'visitor', type: 'picker' });
    // The text twin: one line per message, the same words, nothing raw or hidden.
    for (const line of EXPECTED) expect(text).toContain(line);
    for (const raw of ['[object Object]', 'undefined', 'null', '\u200B', '\u202E']) expect(text).not.toContain(raw);
  });

  it('list_messages, list_conversations with their latest messages and the transcript resource read them the same way', async () => {
    const page = await callTool<{ messages: Shown[] }>(client, 'list_messages', { session_id: session });
    expect(page.out.messages.map((m) => m.text)).toEqual(EXPECTED);

    const listed = await callTool<{ conversations: { session_id: string; messages?: Shown[] }[] }>(client, 'list_conversations', { include_messages: 5, per_page: 50 });
    expect(listed.out.conversations.find((c) => c.session_id === session)!.messages!.map((m) => m.text)).toEqual(EXPECTED.slice(-5));
    expect(listed.text).toContain('  visitor: [picker] Which plan? — Pro | Team (chosen) / [audio 4s] https://files.example.test/voice.ogg');

    const uri = `crisp://conversations/${sandbox.websiteId}/${session}`;
    const { contents } = await client.readResource({ uri });
    const transcript = (contents[0] as { text: string }).text;
    for (const line of EXPECTED) expect(transcript).toContain(line);
    expect(transcript).not.toMatch(/\[object Object\]|undefined|\u200B/);
  });
});

describe('send_message and the types it sends', () => {
  const thread = (): Message[] => sandbox.state.websites.get(sandbox.websiteId)!.messages.get(session)!;

  it('sends a file\'s caption as a text just before the file, which has no caption of its own; with a fingerprint a retry posts neither twice', async () => {
    const before = thread().length;
    const args = { session_id: session, type: 'file', content: 'Here is your invoice', file_url: 'https://files.example.test/inv-2.pdf', file_mime: 'application/pdf', fingerprint: 424242424242 };
    for (let i = 0; i < 2; i++) expect((await callTool(client, 'send_message', args)).isError).toBe(false);
    expect(thread().slice(before).map((m) => [m.type, m.content])).toEqual([
      ['text', 'Here is your invoice'],
      ['file', { name: 'inv-2.pdf', url: 'https://files.example.test/inv-2.pdf', type: 'application/pdf' }],
    ]);
    expect(thread().at(-1)!.fingerprint).toBe(424242424242);
    // A caption that only repeats the file's name is no caption.
    await callTool(client, 'send_message', { session_id: session, type: 'file', content: 'terms.pdf', file_url: 'https://files.example.test/terms.pdf' });
    expect(thread().at(-2)!.type).toBe('file');
  });

  it('with --send-mode note, a file and its caption are held together in one private note', async () => {
    const noteMode = await harness.connect(['--send-mode', 'note']);
    const before = thread().length;
    await callTool(noteMode, 'send_message', { session_id: session, type: 'file', content: 'Your contract', file_url: 'https://files.example.test/contract.pdf' });
    expect(thread().slice(before).map((m) => [m.type, m.content])).toEqual([
      ['note', '[Reply held for operator approval — file]\nYour contract\nFile: contract.pdf https://files.example.test/contract.pdf'],
    ]);
  });

  it('refuses a type it does not send, naming the four it does, before any Crisp call', async () => {
    const before = thread().length;
    const refused = await callTool(client, 'send_message', { session_id: session, type: 'carousel', content: 'Our plans' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/type: Invalid option: expected one of "text"\|"note"\|"picker"\|"file"/);
    expect(thread().length).toBe(before);
  });
});
