// The visitor side (/_sandbox/) against a real sandbox: a message of only whitespace is refused, as
// Crisp's chatbox never sends one, with a 400 naming the field; the official crisp-api client,
// reading the thread and the inbox afterwards, finds nothing new and no event went out.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { SandboxEvent } from '../../src/sandbox/state.js';
import { control } from '../helpers/sandbox-http.js';
import { officialClient } from '../helpers/official-rtm.js';

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5 });
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

const conversations = () => `/_sandbox/websites/${sandbox.websiteId}/conversations`;
const BLANKS = ['   ', ' \n\t ', '\u00a0\u3000', '\u200b\u2060'];

describe('a visitor message of only whitespace', () => {
  it('is refused in an open conversation: 400 invalid_data naming data.content, and the thread the official client reads is unchanged', async () => {
    const session = (await control<{ session_id: string }>(sandbox, 'POST', conversations(), { text: 'Hello' })).body!.data.session_id;
    const before = (await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { fingerprint: number }[];
    const events: SandboxEvent[] = [];
    const listen = (event: SandboxEvent) => void events.push(event);
    sandbox.state.on('event', listen);
    try {
      for (const content of BLANKS) {
        const reply = await control(sandbox, 'POST', `${conversations()}/${session}/messages`, { content });
        expect([reply.status, reply.body]).toEqual([
          400,
          { error: true, reason: 'invalid_data', data: { message: "data.content is invalid: the text is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text" } },
        ]);
      }
    } finally {
      sandbox.state.off('event', listen);
    }
    expect(events).toEqual([]);
    const after = (await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { fingerprint: number }[];
    expect(after.map((m) => m.fingerprint)).toEqual(before.map((m) => m.fingerprint));
    // Text with words around its whitespace is a message as any other.
    expect((await control(sandbox, 'POST', `${conversations()}/${session}/messages`, { content: '  still there?  ' })).status).toBe(200);
  });

  it('does not start a conversation, nor does a blank nickname: the official client finds no new conversation', async () => {
    const listed = async () => ((await official.website.listConversations(sandbox.websiteId, 1, { include_empty: 1, per_page: 50 })) as { session_id: string }[]).length;
    const count = await listed();
    const blankText = await control(sandbox, 'POST', conversations(), { text: ' \n ' });
    expect([blankText.status, blankText.body]).toEqual([
      400,
      { error: true, reason: 'invalid_data', data: { message: "data.text is invalid: the text is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text" } },
    ]);
    const blankName = await control(sandbox, 'POST', conversations(), { nickname: '  ', text: 'Hi' });
    expect([blankName.status, blankName.body]).toEqual([
      400,
      { error: true, reason: 'invalid_data', data: { message: "data.nickname is invalid: the nickname is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text" } },
    ]);
    expect(await listed()).toBe(count);
  });
});
