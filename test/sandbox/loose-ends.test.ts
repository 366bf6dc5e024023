// Loose ends of the sandbox, against a real sandbox over HTTP, read back with the official
// crisp-api client: text of only zero-width characters is refused on the operator's side as on the
// visitor's, with the same words.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { SandboxEvent } from '../../src/sandbox/state.js';
import { officialClient } from '../helpers/official-rtm.js';
import { control } from '../helpers/sandbox-http.js';

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 23 });
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

const conversations = () => `/_sandbox/websites/${sandbox.websiteId}/conversations`;
const startConversation = async (body: Record<string, unknown>) => (await control<{ session_id: string }>(sandbox, 'POST', conversations(), body)).body!.data.session_id;
const fingerprints = async (session: string) => ((await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { fingerprint: number }[]).map((m) => m.fingerprint);

describe('text of only invisible characters', () => {
  // U+200B zero-width space, U+200C non-joiner, U+200D joiner, U+2060 word joiner, U+FEFF byte-order mark; alone, mixed, with whitespace.
  const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u200b\u200c\u200d\u2060\ufeff', ' \u200b\n\u2060 '];
  const refusal = {
    error: true,
    reason: 'invalid_data',
    data: { message: "data.content is invalid: the text is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends; write some text" },
  };

  it('is refused from the operator composer (text or note) with the visitor side’s 400, and nothing reaches the thread or the events', async () => {
    const session = await startConversation({ text: 'Is my order shipped?' });
    const before = await fingerprints(session);
    const events: SandboxEvent[] = [];
    const listen = (event: SandboxEvent) => void events.push(event);
    sandbox.state.on('event', listen);
    try {
      for (const content of INVISIBLE) {
        const asVisitor = await control(sandbox, 'POST', `${conversations()}/${session}/messages`, { content });
        expect([asVisitor.status, asVisitor.body]).toEqual([400, refusal]);
        for (const type of ['text', 'note']) {
          const asOperator = await control(sandbox, 'POST', `${conversations()}/${session}/operator/messages`, { type, content });
          expect([type, asOperator.status, asOperator.body]).toEqual([type, 400, refusal]);
        }
      }
    } finally {
      sandbox.state.off('event', listen);
    }
    expect(events).toEqual([]);
    expect(await fingerprints(session)).toEqual(before);
    // A word among the invisible characters is a message like any other.
    expect((await control(sandbox, 'POST', `${conversations()}/${session}/operator/messages`, { content: '\u200bShipped today\u200b' })).status).toBe(200);
  });
});
