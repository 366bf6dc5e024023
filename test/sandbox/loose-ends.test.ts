// Loose ends of the sandbox, against a real sandbox over HTTP, read back with the official
// crisp-api client: text of only zero-width characters is refused on the operator's side as on the
// visitor's, with the same words; a removed people profile leaves its conversations bound to no
// contact.
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

describe('removing a people profile', () => {
  it('leaves its conversations, bound to no contact: people_id null, as the official client reads them', async () => {
    const session = await startConversation({ email: 'leaving@example.com', text: 'Please delete my data' });
    const bound = (await official.website.getConversation(sandbox.websiteId, session)) as { people_id: string | null };
    expect(bound.people_id).toEqual(expect.any(String));
    const peopleId = bound.people_id!;

    await official.website.removePeopleProfile(sandbox.websiteId, peopleId);

    const after = (await official.website.getConversation(sandbox.websiteId, session)) as { people_id: string | null; meta: { email: string } };
    expect(after.people_id).toBeNull();
    // The session keeps what the visitor gave; only the contact is gone.
    expect(after.meta.email).toBe('leaving@example.com');
    expect(await fingerprints(session)).toHaveLength(1);
    await expect(official.website.getPeopleProfile(sandbox.websiteId, peopleId)).rejects.toMatchObject({ code: 404 });
    // The console shows no profile for it.
    const view = await control<{ person: unknown }>(sandbox, 'GET', `${conversations()}/${session}`);
    expect(view.body!.data.person).toBeNull();
  });
});
