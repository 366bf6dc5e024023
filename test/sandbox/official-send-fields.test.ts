// What the official crisp-api client can put in a message it sends (its ConversationMessageNew:
// `timestamp` to backdate it, `properties`, `references`, `original`) is what it reads back, from a
// real sandbox: the sandbox took those fields and dropped them, and stamped every message "now".
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { officialClient } from '../helpers/official-rtm.js';

interface ReadMessage {
  fingerprint: number;
  timestamp: number;
  content: unknown;
  properties?: Record<string, unknown>;
  references?: unknown[];
  original?: unknown;
}

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;
let w: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 8 });
  w = sandbox.websiteId;
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

describe('a message sent by the official client with the optional fields of its ConversationMessageNew', () => {
  it('is read back with its properties, references and original', async () => {
    const session = [...sandbox.state.websites.get(w)!.conversations.keys()][0]!;
    const attached = {
      properties: { order: 'ACME-42', priority: 2, vip: true },
      references: [{ type: 'url', name: 'Order page', target: 'https://shop.example.test/orders/42' }],
      original: { original_id: 'orig_123' },
    };
    const { fingerprint } = (await official.website.sendMessageInConversation(w, session, { type: 'text', from: 'operator', origin: 'chat', content: 'With attachments', ...attached } as never)) as { fingerprint: number };
    const one = (await official.website.getMessageInConversation(w, session, fingerprint)) as ReadMessage;
    expect(one).toMatchObject({ content: 'With attachments', ...attached });
    const listed = ((await official.website.getMessagesInConversation(w, session)) as ReadMessage[]).find((m) => m.fingerprint === fingerprint);
    expect(listed).toMatchObject(attached);
  });

  it('backdated with `timestamp`, takes its place in the thread by time, and the inbox still previews the latest message', async () => {
    // A conversation whose latest message is a text, which the inbox previews, and whose thread fits one batch.
    const [session] = [...sandbox.state.websites.get(w)!.messages.entries()].find(([, thread]) => thread.length >= 2 && thread.length < 20 && thread.at(-1)!.type === 'text')!;
    const before = (await official.website.getMessagesInConversation(w, session)) as ReadMessage[];
    expect(before.length).toBeGreaterThanOrEqual(2);
    const [first, second] = before;
    const at = first!.timestamp + Math.floor((second!.timestamp - first!.timestamp) / 2);
    const { fingerprint } = (await official.website.sendMessageInConversation(w, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Imported from the old helpdesk', timestamp: at } as never)) as { fingerprint: number };

    const after = (await official.website.getMessagesInConversation(w, session)) as ReadMessage[];
    expect(after.map((m) => m.fingerprint)).toEqual([first!.fingerprint, fingerprint, ...before.slice(1).map((m) => m.fingerprint)]);
    expect(after[1]!.timestamp).toBe(at);
    expect(((await official.website.getMessageInConversation(w, session, fingerprint)) as ReadMessage).timestamp).toBe(at);

    const conversation = (await official.website.getConversation(w, session)) as { preview_message: { fingerprint: number }; last_message: string };
    expect(conversation.preview_message.fingerprint).toBe(before.at(-1)!.fingerprint);
    expect(conversation.last_message).toBe(before.at(-1)!.content);
    // Paging from the second message back finds the backdated one and the first, in time order.
    const older = (await official.website.getMessagesInConversation(w, session, second!.timestamp)) as ReadMessage[];
    expect(older.map((m) => m.fingerprint)).toEqual([first!.fingerprint, fingerprint]);
  });
});
