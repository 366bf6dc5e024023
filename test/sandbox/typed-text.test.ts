// Text no chatbox sends, against a real sandbox over HTTP: only combining marks, a control
// character (U+0000, U+001B), half of a surrogate pair. The visitor's routes and the console's
// operator route refuse it with a 400 naming the field, where they posted it; the thread the
// official crisp-api client reads is unchanged and no event goes out.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { SandboxEvent } from '../../src/sandbox/state.js';
import { control } from '../helpers/sandbox-http.js';
import { officialClient } from '../helpers/official-rtm.js';

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 9 });
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

const conversations = () => `/_sandbox/websites/${sandbox.websiteId}/conversations`;

async function open(text: string): Promise<string> {
  const reply = await control<{ session_id: string }>(sandbox, 'POST', conversations(), { text });
  expect(reply.status, reply.text).toBe(200);
  return reply.body!.data.session_id;
}

const refusal = (field: string, why: string) => ({ error: true, reason: 'invalid_data', data: { message: `data.${field} is invalid: ${why}` } });
const MARKS = "the text is only combining marks with no letter under them, which neither Crisp's chatbox nor its app sends; write the letter with its marks";
const NOT_TYPED = [
  { name: 'only combining marks', content: '\u0301\u0301', why: MARKS },
  { name: 'combining marks and spaces', content: ' \u0301 \u0308 ', why: MARKS },
  { name: 'U+0000', content: 'hi\u0000there', why: "the text holds the control character U+0000, which neither Crisp's chatbox nor its app sends: remove it" },
  { name: 'an escape U+001B', content: '\u001b[31mred', why: "the text holds the control character U+001B, which neither Crisp's chatbox nor its app sends: remove it" },
  { name: 'half of a flag', content: 'Japan \ud83c', why: 'the text holds half of a surrogate pair (U+D83C), which is no character: send the whole character (an emoji is two \\u escapes in JSON) or leave it out' },
];

describe('text no chatbox sends', () => {
  it.each(NOT_TYPED)('$name: refused on the visitor route and the console operator route, naming data.content; nothing posted', async ({ content, why }) => {
    const session = await open('Hello');
    const before = (await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { fingerprint: number }[];
    const events: SandboxEvent[] = [];
    const listen = (event: SandboxEvent) => void events.push(event);
    sandbox.state.on('event', listen);
    try {
      const visitor = await control(sandbox, 'POST', `${conversations()}/${session}/messages`, { content });
      expect([visitor.status, visitor.body]).toEqual([400, refusal('content', why)]);
      const operator = await control(sandbox, 'POST', `${conversations()}/${session}/operator/messages`, { content });
      expect([operator.status, operator.body]).toEqual([400, refusal('content', why)]);
    } finally {
      sandbox.state.off('event', listen);
    }
    expect(events).toEqual([]);
    const after = (await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { fingerprint: number }[];
    expect(after.map((m) => m.fingerprint)).toEqual(before.map((m) => m.fingerprint));
  });

  it('a new conversation with such text or nickname is refused, naming the field; none is started', async () => {
    const listed = async () => ((await official.website.listConversations(sandbox.websiteId, 1, { include_empty: 1, per_page: 50 })) as unknown[]).length;
    const count = await listed();
    const text = await control(sandbox, 'POST', conversations(), { text: '\u0301\u0301' });
    expect([text.status, text.body]).toEqual([400, refusal('text', MARKS)]);
    const nickname = await control(sandbox, 'POST', conversations(), { nickname: 'Yuki\u0000', text: 'Hi' });
    expect([nickname.status, nickname.body]).toEqual([400, refusal('nickname', "the nickname holds the control character U+0000, which neither Crisp's chatbox nor its app sends: remove it")]);
    expect(await listed()).toBe(count);
  });

  it('text a keyboard types passes: a letter with its marks, tabs and line breaks, a whole flag', async () => {
    const session = await open('Hello');
    for (const content of ['e\u0301', 'line one\n\tline two\r\n', 'Japan 🇯🇵', 'ไทย']) {
      const reply = await control(sandbox, 'POST', `${conversations()}/${session}/messages`, { content });
      expect(reply.status, reply.text).toBe(200);
    }
  });
});
