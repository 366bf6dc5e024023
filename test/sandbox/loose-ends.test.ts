// Three of the sandbox's loose ends, against a real sandbox over HTTP, read back with the official
// crisp-api client: text of only zero-width characters is refused on the operator's side as on the
// visitor's, with the same words; a removed people profile leaves its conversations bound to no
// contact; a fault burst can hold one route's answer while every other route answers.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { SandboxEvent } from '../../src/sandbox/state.js';
import { eventually } from '../helpers/events.js';
import { officialClient } from '../helpers/official-rtm.js';
import { control, crisp, conv } from '../helpers/sandbox-http.js';

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

describe('a fault burst on one route', () => {
  it('latency-after: the message route takes the message at once and holds its answer, while the thread route answers', async () => {
    const session = await startConversation({ text: 'Hello' });
    const burst = await control(sandbox, 'POST', '/_sandbox/faults', { burst: { fault: 'latency-after', delay_ms: 60_000, count: 1, method: 'POST', path_includes: '/message' } });
    expect([burst.status, burst.body]).toEqual([200, { error: false, reason: 'updated', data: { active: true } }]);

    const { identifier, key, tier } = sandbox.credentials[0]!;
    const caller = new AbortController();
    let answered = false;
    const send = fetch(`${sandbox.url}${conv(sandbox, session, '/message')}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${identifier}:${key}`).toString('base64')}`, 'x-crisp-tier': tier, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'text', from: 'operator', origin: 'chat', content: 'On its way' }),
      signal: caller.signal,
    }).then(
      () => (answered = true),
      () => undefined,
    );
    // Another route of the same sandbox answers while the send's answer is held: the message is already there.
    const thread = await eventually(async () => {
      const messages = (await official.website.getMessagesInConversation(sandbox.websiteId, session)) as { content: unknown }[];
      return messages.some((m) => m.content === 'On its way') && messages;
    }, 10_000, 'the held message in the thread');
    expect(thread.map((m) => m.content)).toEqual(['Hello', 'On its way']);
    expect(answered).toBe(false);
    expect(sandbox.stats().faults).toEqual({ 'latency-after': 1 });
    // The caller gives up, as a client past its deadline does; the burst is spent.
    caller.abort();
    await send;
    expect(answered).toBe(false);
    expect(sandbox.faults.active).toBe(false);
    const next = await crisp(sandbox, conv(sandbox, session, '/message'), { method: 'POST', json: { type: 'text', from: 'operator', origin: 'chat', content: 'Tracking: 42' } });
    expect(next.status).toBe(200);
  });

  it('a latency burst without its delay is a 400 naming delay_ms', async () => {
    const reply = await control(sandbox, 'POST', '/_sandbox/faults', { burst: { fault: 'latency', count: 1 } });
    expect([reply.status, reply.body]).toEqual([400, { error: true, reason: 'invalid_data', data: { message: 'data.burst.delay_ms is required with a latency burst (ms, e.g. 2000)' } }]);
  });
});
