// A visitor whose email becomes known — given when the chat starts, or set later through the meta
// route as update_conversation_meta does — is a contact in Crisp: the conversation's `people_id`
// names a profile with that email. The sandbox made none, so get_person by that email was a 404.
// Driven by the official crisp-api client against a real sandbox.
import { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';

interface Profile {
  people_id: string;
  email: string;
  person?: { nickname?: string };
}

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;
let w: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11 });
  w = sandbox.websiteId;
  const { identifier, key, tier } = sandbox.credentials[0]!;
  official = new Crisp();
  official.setRestHost(sandbox.url);
  official.setTier(tier);
  official.authenticate(identifier, key);
});
afterAll(() => sandbox.close());

async function visitorStarts(body: Record<string, string>): Promise<string> {
  const res = await fetch(`${sandbox.url}/_sandbox/websites/${w}/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { session_id: string } }).data.session_id;
}

const peopleTotal = async () => ((await official.website.getPeopleStatistics(w)) as { total: number }).total;

describe('a visitor whose email becomes known', () => {
  it('who starts a chat with an email gets a profile with that email and nickname, and the conversation points at it', async () => {
    const before = await peopleTotal();
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const record = (e: { event: string; data: Record<string, unknown> }) => events.push(e);
    sandbox.state.on('event', record);
    const session = await visitorStarts({ nickname: 'Ada Lovelace', email: 'ada@engines.test', text: 'Hello' });
    sandbox.state.off('event', record);

    const profile = (await official.website.getPeopleProfile(w, 'ada@engines.test')) as Profile;
    expect(profile).toMatchObject({ email: 'ada@engines.test', person: { nickname: 'Ada Lovelace' } });
    expect((await official.website.getConversation(w, session)).people_id).toBe(profile.people_id);
    expect(await official.website.listPeopleConversations(w, profile.people_id)).toContain(session);
    expect(await peopleTotal()).toBe(before + 1);
    // Announced as Crisp does: the session first, then the new contact, then the binding.
    expect(events.map((e) => e.event).filter((e) => e.startsWith('people:') || e === 'session:request:initiated')).toEqual(['session:request:initiated', 'people:profile:created', 'people:bind:session']);
    expect(events.find((e) => e.event === 'people:bind:session')!.data).toMatchObject({ session_id: session, people_id: profile.people_id });
  });

  it('whose email is set later through the meta route gets a profile, and the conversation points at it', async () => {
    const { session_id: session } = (await official.website.createNewConversation(w)) as { session_id: string };
    expect((await official.website.getConversation(w, session)).people_id ?? null).toBeNull();

    await official.website.updateConversationMetas(w, session, { nickname: 'Grace Hopper', email: 'grace@cobol.test' });

    const profile = (await official.website.getPeopleProfile(w, 'grace@cobol.test')) as Profile;
    expect(profile).toMatchObject({ email: 'grace@cobol.test', person: { nickname: 'Grace Hopper' } });
    expect((await official.website.getConversation(w, session)).people_id).toBe(profile.people_id);
  });

  it('who already has a profile (in another case) is linked to it, never given a duplicate, whether by a new chat or the meta route', async () => {
    const { people_id } = (await official.website.addNewPeopleProfile(w, { email: 'Linus@Kernel.test', person: { nickname: 'Linus' } } as never)) as { people_id: string };
    const before = await peopleTotal();

    const started = await visitorStarts({ nickname: 'Someone else', email: 'linus@kernel.test' });
    const again = await visitorStarts({ email: 'linus@kernel.test' });
    const { session_id: later } = (await official.website.createNewConversation(w)) as { session_id: string };
    await official.website.updateConversationMetas(w, later, { email: 'LINUS@kernel.test' });

    for (const session of [started, again, later]) expect((await official.website.getConversation(w, session)).people_id).toBe(people_id);
    expect(await peopleTotal()).toBe(before);
    const profile = (await official.website.getPeopleProfile(w, people_id)) as Profile;
    expect(profile).toMatchObject({ email: 'Linus@Kernel.test', person: { nickname: 'Linus' } });
    expect(await official.website.listPeopleConversations(w, people_id)).toEqual(expect.arrayContaining([started, again, later]));
  });

  it('whose email changes is linked to the profile of the new email', async () => {
    const session = await visitorStarts({ nickname: 'Mary', email: 'mary@old.test' });
    await official.website.updateConversationMetas(w, session, { email: 'mary@new.test' });
    const profile = (await official.website.getPeopleProfile(w, 'mary@new.test')) as Profile;
    expect((await official.website.getConversation(w, session)).people_id).toBe(profile.people_id);
    expect(profile.person?.nickname).toBe('Mary');
  });
});
