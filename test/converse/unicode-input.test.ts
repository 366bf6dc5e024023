// The converse API as a backend in another language calls it: POST /converse on the HTTP server,
// the replies at a real signed-webhook receiver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';

let h: ConverseHarness;
beforeAll(async () => {
  h = await startConverseHarness({ http: {} });
});
afterAll(async () => {
  await h.close();
});

describe('POST /converse with text in any script', () => {
  it('carries names and answers in Japanese, Arabic, Hindi and emoji to the webhook unchanged', async () => {
    const name = 'ユキ 👩🏽‍💻 مريم नमस्ते e\u0301';
    expect((await h.post({ conversationId: 'u-1', eventType: 'startSession', messageId: 'u1', metadata: [{ key: 'user_name', value: name }] })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('u-1').length >= 2);
    expect(h.receiver.of('u-1')[0]!.text).toBe(`Hello ${name}!`);
  });

  it('refuses text that is no text — half of a surrogate pair, a control character — naming the field', async () => {
    // h.post writes each lone surrogate as JSON's \udXXX escape, as a client that cut an emoji in half sends it.
    const cases = [
      [{ conversationId: 'u-2', eventType: 'startSession', messageId: 'a', metadata: [{ key: 'user_name', value: 'Yuki 🇯\ud83c' }] }, 'metadata[0].value', 'half of a surrogate pair (U+D83C)'],
      [{ conversationId: 'u-2', eventType: 'message', messageId: 'b', text: 'hi \udc4d' }, 'text', 'half of a surrogate pair (U+DC4D)'],
      [{ conversationId: 'u-2', eventType: 'message', messageId: 'c', text: 'hi\u0000' }, 'text', 'the control character U+0000'],
      [{ conversationId: 'u-2\ud800', eventType: 'message', messageId: 'd', text: 'hi' }, 'conversationId', 'half of a surrogate pair (U+D800)'],
    ] as const;
    for (const [body, field, why] of cases) {
      const answer = await h.post(body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toMatchObject({ field, message: expect.stringContaining(why) });
    }
    // Nothing ran: the conversation still starts from scratch, its first reply the greeting.
    expect((await h.post({ conversationId: 'u-2', eventType: 'startSession', messageId: 'e' })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('u-2').length >= 2);
    expect(h.receiver.of('u-2')[0]!.replyTo).toBe('e');
  });
});
