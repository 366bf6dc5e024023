// Wire fidelity: the official Crisp client from npm (`crisp-api`), pointed at the sandbox with
// setRestHost, goes through the same steps as our client in the same test. If the sandbox spoke
// anything but Crisp's wire format, the official client would fail here.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrispError, type CrispClient } from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { officialClient } from '../helpers/official-rtm.js';

interface OfficialError {
  reason: string;
  message: string;
  code: number;
  data: { namespace: string; message: string };
}

let sandbox: Sandbox;
let ours: CrispClient;
let official: InstanceType<typeof Crisp>;
let w: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11 });
  w = sandbox.websiteId;
  ours = clientFor(sandbox);
  official = officialWithKey(sandbox.credentials[0]!.key);
});
afterAll(async () => {
  await ours.close();
  await sandbox.close();
});

function officialWithKey(key: string): InstanceType<typeof Crisp> {
  return officialClient(sandbox.url, { ...sandbox.credentials[0]!, key });
}

const site = () => sandbox.state.websites.get(w)!;

describe('the official crisp-api client and ours, step by step, against the sandbox', () => {
  it('list conversations', async () => {
    const theirs = (await official.website.listConversations(w, 1, { per_page: 20, filter_not_resolved: 1 })) as { session_id: string; state: string }[];
    const mine = await ours.conversations.list(w, 1, { per_page: 20, filter_not_resolved: true });
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.map((c) => c.session_id)).toEqual(mine.map((c) => c.session_id));
    expect(theirs.every((c) => c.state !== 'resolved')).toBe(true);
  });

  it('read messages, including an older page', async () => {
    const [session, thread] = [...site().messages.entries()].find(([, m]) => m.length >= 45)!;
    const theirs = (await official.website.getMessagesInConversation(w, session)) as { fingerprint: number; timestamp: number }[];
    const mine = await ours.messages.list(w, session);
    expect(theirs.map((m) => m.fingerprint)).toEqual(mine.messages.map((m) => m.fingerprint));
    expect(mine.hasMore).toBe(true);
    const olderTheirs = (await official.website.getMessagesInConversation(w, session, theirs[0]!.timestamp)) as { fingerprint: number }[];
    const olderMine = await ours.messages.list(w, session, mine.messages[0]!.timestamp);
    expect(olderTheirs.map((m) => m.fingerprint)).toEqual(olderMine.messages.map((m) => m.fingerprint));
    expect(olderTheirs.at(-1)!.fingerprint).toBe(thread.at(-21)!.fingerprint);
  });

  it('send a message and read it back', async () => {
    const session = [...site().conversations.values()].find((c) => c.state === 'pending')!.session_id;
    const theirs = (await official.website.sendMessageInConversation(w, session, {
      type: 'text',
      from: 'operator',
      origin: 'chat',
      content: 'Sent by crisp-api',
      user: { nickname: 'Official' },
    })) as { fingerprint: number };
    const mine = await ours.messages.send(w, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Sent by crisp-mcp' });
    expect(typeof theirs.fingerprint).toBe('number');
    const readBack = (await official.website.getMessagesInConversation(w, session)) as { fingerprint: number; content: string }[];
    expect(readBack.slice(-2).map((m) => [m.fingerprint, m.content])).toEqual([
      [theirs.fingerprint, 'Sent by crisp-api'],
      [mine, 'Sent by crisp-mcp'],
    ]);
    expect((await ours.messages.get(w, session, theirs.fingerprint)).content).toBe('Sent by crisp-api');
  });

  it('typing indicator', async () => {
    const session = [...site().conversations.keys()][1]!;
    await official.website.composeMessageInConversation(w, session, { type: 'start', from: 'operator', excerpt: 'typing (official)' });
    expect(site().conversations.get(session)!.compose).toMatchObject({ operator: { type: 'start', excerpt: 'typing (official)' } });
    await ours.messages.compose(w, session, { type: 'stop', from: 'operator' });
    expect(site().conversations.get(session)!.compose).not.toHaveProperty('operator');
  });

  it('change state', async () => {
    const session = [...site().conversations.keys()][2]!;
    await official.website.changeConversationState(w, session, 'resolved');
    expect(await ours.conversations.getState(w, session)).toBe('resolved');
    await ours.conversations.setState(w, session, 'unresolved');
    expect(((await official.website.getConversationState(w, session)) as { state: string }).state).toBe('unresolved');
  });

  it('list operators', async () => {
    const theirs = (await official.website.listWebsiteOperators(w)) as { details: { user_id: string } }[];
    const mine = await ours.operators.list(w);
    expect(theirs).toHaveLength(4);
    expect(theirs.map((o) => o.details.user_id)).toEqual(mine.map((o) => o.details.user_id));
  });

  it('people profile read and PATCH round trip', async () => {
    const person = [...site().people.values()][5]!;
    const theirs = (await official.website.getPeopleProfile(w, person.people_id)) as { email: string; person: { nickname: string } };
    const mine = await ours.people.get(w, person.people_id);
    expect(theirs.email).toBe(mine.email);
    await official.website.updatePeopleProfile(w, person.people_id, { person: { nickname: 'Patched by crisp-api' } });
    expect((await ours.people.get(w, person.people_id)).person?.nickname).toBe('Patched by crisp-api');
    await ours.people.update(w, person.people_id, { person: { nickname: 'Patched by crisp-mcp' } });
    const after = (await official.website.getPeopleProfile(w, person.people_id)) as { email: string; person: { nickname: string } };
    expect(after.person.nickname).toBe('Patched by crisp-mcp');
    expect(after.email).toBe(theirs.email);
  });

  it('helpdesk: locales, the tree with its title search, a path\'s content, metadata and page, the public pages', async () => {
    const Articles = 'articles' as never;
    const theirLocales = (await official.website.listHelpdeskLocales(w, 1)) as { locale: string }[];
    expect(theirLocales.map((l) => l.locale)).toEqual((await ours.helpdesk.locales(w)).map((l) => l.locale));
    expect(theirLocales.map((l) => l.locale)).toEqual(['en', 'fr']);

    const theirTree = (await official.website.listHelpdeskTree(w, 'en', Articles, 1)) as { slug: string; children: { slug: string }[] }[];
    expect(theirTree).toEqual(await ours.helpdesk.tree(w, 'en', 'articles', 1));
    const found = (await official.website.listHelpdeskTree(w, 'en', Articles, 1, null, 'refund')) as { slug: string; children: { slug: string; title: string }[] }[];
    expect(found.flatMap((g) => g.children.map((a) => `${g.slug}/${a.slug}`))).toEqual(['billing/refund-policy']);
    expect(found).toEqual(await ours.helpdesk.tree(w, 'en', 'articles', 1, { search_title: 'refund' }));

    // A tree path has a slash: the official client puts it in the URL as it is.
    const path = 'billing/refund-policy';
    const theirContent = (await official.website.resolveHelpdeskTreeContent(w, 'en', Articles, path)) as { content: string };
    expect(theirContent.content).toMatch(/^# Refund policy/);
    expect(await ours.helpdesk.content(w, 'en', 'articles', path)).toBe(theirContent.content);
    const theirMeta = (await official.website.resolveHelpdeskTreeMetadata(w, 'en', Articles, path)) as { title: string; state: { published: boolean } };
    expect(theirMeta).toEqual(await ours.helpdesk.metadata(w, 'en', 'articles', path));
    expect(theirMeta).toMatchObject({ title: 'Refund policy', state: { published: true, hidden: false } });
    const theirPage = (await official.website.resolveHelpdeskTreePage(w, 'en', Articles, path)) as { url: string };
    expect(theirPage).toEqual(await ours.helpdesk.page(w, 'en', 'articles', path));

    const theirPages = (await official.website.listHelpdeskPages(w, 'fr', Articles, 1)) as { entity_id: string; tree_path: string; url: string }[];
    expect(theirPages).toEqual(await ours.helpdesk.pages(w, 'fr', 'articles', 1));
    expect(theirPages.map((p) => p.tree_path)).toContain('confidentialite/rgpd-et-dpa');
    expect(theirPages.map((p) => p.tree_path)).not.toContain('compte/brouillon-nouvelle-offre');
    const entity = theirPages.find((p) => p.tree_path === 'confidentialite/rgpd-et-dpa')!;
    expect(await official.website.resolveHelpdeskPageEntity(w, 'fr', Articles, entity.entity_id)).toEqual(entity);

    const missing = (await official.website.resolveHelpdeskTreeContent(w, 'en', Articles, 'billing/nope').catch((e: unknown) => e)) as OfficialError;
    expect(missing).toMatchObject({ code: 404, message: 'not_found' });
    await expect(ours.helpdesk.content(w, 'en', 'articles', 'billing/nope')).rejects.toMatchObject({ status: 404, code: 'crisp_not_found' });
  });

  it('a bad credential is a 401 invalid_session for both', async () => {
    const wrong = officialWithKey('wrong-key');
    const theirs = (await wrong.website.listWebsiteOperators(w).catch((e: unknown) => e)) as OfficialError;
    expect(theirs).toMatchObject({ code: 401, message: 'invalid_session', data: { namespace: 'response' } });
    const wrongOurs = clientFor({ ...sandbox, credentials: [{ ...sandbox.credentials[0]!, key: 'wrong-key' }] });
    const mine = await wrongOurs.operators.list(w).catch((e: unknown) => e);
    await wrongOurs.close();
    expect(mine).toBeInstanceOf(CrispError);
    expect(mine).toMatchObject({ status: 401, reason: 'invalid_session', code: 'crisp_unauthorized' });
  });

  it('every message type the reference gives a content shape for is sent by the official client and read back whole, by it and by ours', async () => {
    const session = [...site().conversations.keys()][5]!;
    const contents: Record<string, unknown> = {
      text: 'Plain words',
      note: 'Operators only',
      file: { name: 'invoice.pdf', url: 'https://files.example.test/invoice.pdf', type: 'application/pdf' },
      animation: { url: 'https://files.example.test/thanks.gif', type: 'image/gif' },
      audio: { url: 'https://files.example.test/hello.mp3', type: 'audio/mpeg', duration: 12 },
      picker: { id: 'plan', text: 'Which plan?', choices: [{ value: 'pro', label: 'Pro', selected: false, action: { type: 'link', target: 'https://shop.example.test/pro' } }], required: true },
      field: { id: 'email', text: 'Your email?', explain: 'We reply there', required: true },
      carousel: { text: 'Plans', targets: [{ title: 'Pro', description: '10 seats', image: 'https://files.example.test/pro.png', actions: [{ label: 'Buy', url: 'https://shop.example.test/pro' }] }] },
      event: { namespace: 'order:shipped', text: 'Order 42 shipped' },
    };
    const sent: number[] = [];
    for (const [type, content] of Object.entries(contents)) {
      const reply = (await official.website.sendMessageInConversation(w, session, { type, from: 'operator', origin: 'chat', content } as never)) as { fingerprint: number };
      sent.push(reply.fingerprint);
    }
    const theirs = (await official.website.getMessagesInConversation(w, session)) as { fingerprint: number; type: string; content: unknown }[];
    const mine = (await ours.messages.list(w, session)).messages;
    for (const read of [theirs, mine]) {
      expect(sent.map((f) => read.find((m) => m.fingerprint === f)).map((m) => [m?.type, m?.content])).toEqual(Object.entries(contents));
    }
  });

  it('an invalid message is a 400 invalid_data for both, with the field named', async () => {
    const session = [...site().conversations.keys()][3]!;
    const bad = { type: 'text', from: 'operator', content: 'no origin' };
    const theirs = (await official.website.sendMessageInConversation(w, session, bad as never).catch((e: unknown) => e)) as OfficialError;
    expect(theirs).toMatchObject({ code: 400, message: 'invalid_data' });
    expect(theirs.data.message).toContain("data should have required property '.origin'");
    const mine = await ours.messages.send(w, session, bad as never).catch((e: unknown) => e);
    expect(mine).toMatchObject({ status: 400, reason: 'invalid_data', code: 'crisp_invalid' });
    expect((mine as CrispError).message).toContain("data should have required property '.origin'");
  });
  it('edit a message, then remove it: the message shows edited, then is gone, with message:updated and message:removed', async () => {
    const session = [...site().conversations.keys()][4]!;
    const sent = (await official.website.sendMessageInConversation(w, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Typo here' })) as { fingerprint: number };
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const listen = (e: { event: string; data: Record<string, unknown> }) => void events.push(e);
    sandbox.state.on('event', listen);
    try {
      await official.website.updateMessageInConversation(w, session, sent.fingerprint, 'Fixed');
      const edited = (await official.website.getMessageInConversation(w, session, sent.fingerprint)) as { content: string; edited: boolean };
      expect(edited).toMatchObject({ content: 'Fixed', edited: true });
      expect((await ours.conversations.get(w, session)).last_message).toBe('Fixed');

      await official.website.removeMessageInConversation(w, session, sent.fingerprint);
      const gone = (await official.website.getMessageInConversation(w, session, sent.fingerprint).catch((e: unknown) => e)) as OfficialError;
      expect(gone).toMatchObject({ code: 404, message: 'not_found' });
      const thread = (await official.website.getMessagesInConversation(w, session)) as { fingerprint: number }[];
      expect(thread.map((m) => m.fingerprint)).not.toContain(sent.fingerprint);
    } finally {
      sandbox.state.off('event', listen);
    }
    expect(events.map((e) => [e.event, e.data])).toEqual([
      ['message:updated', { website_id: w, inbox_id: null, session_id: session, fingerprint: sent.fingerprint, content: 'Fixed' }],
      ['message:removed', { website_id: w, inbox_id: null, session_id: session, fingerprint: sent.fingerprint }],
    ]);
  });

  it('an edit must fit the message\'s type: a 400 invalid_data naming data.content', async () => {
    const [session, thread] = [...site().messages.entries()].find(([, m]) => m.some((x) => x.type === 'file'))!;
    const file = thread.find((m) => m.type === 'file')!;
    const theirs = (await official.website.updateMessageInConversation(w, session, file.fingerprint, 'just text' as never).catch((e: unknown) => e)) as OfficialError;
    expect(theirs).toMatchObject({ code: 400, message: 'invalid_data' });
    expect(theirs.data.message).toMatch(/data\.content/);
    expect(site().messages.get(session)!.find((m) => m.fingerprint === file.fingerprint)!.content).toEqual(file.content);
  });

  it('an error body on the wire is {error: true, reason, data: {message}}: the namespace is the official client\'s own wrapping', async () => {
    const auth = `Basic ${Buffer.from(`${sandbox.credentials[0]!.identifier}:${sandbox.credentials[0]!.key}`).toString('base64')}`;
    const headers = { authorization: auth, 'x-crisp-tier': sandbox.credentials[0]!.tier, 'user-agent': 'fidelity-test/1', 'content-type': 'application/json' };
    const unknownRoute = await fetch(`${sandbox.url}/v1/website/${w}/no/such/route`, { headers });
    expect([unknownRoute.status, await unknownRoute.json()]).toEqual([404, { error: true, reason: 'not_found', data: { message: 'the route does not exist' } }]);
    const session = [...site().conversations.keys()][3]!;
    const badBody = await fetch(`${sandbox.url}/v1/website/${w}/conversation/${session}/message`, { method: 'POST', headers, body: JSON.stringify({ type: 'text', from: 'operator', content: 'x' }) });
    expect([badBody.status, await badBody.json()]).toEqual([400, { error: true, reason: 'invalid_data', data: { message: "data should have required property '.origin'" } }]);
  });

  it('a Crisp route the sandbox does not simulate answers as Crisp does for an unknown route', async () => {
    const session = [...site().conversations.keys()][0]!;
    const calls = [
      () => official.website.getWebsite(w),
      () => official.website.getBlockStatusForConversation(w, session),
      () => official.website.markMessagesDeliveredInConversation(w, session, { from: 'operator', origin: 'chat' } as never),
      () => official.website.getPeopleSubscriptionStatus(w, [...site().people.keys()][0]!),
    ];
    for (const call of calls) {
      const theirs = (await call().catch((e: unknown) => e)) as OfficialError;
      expect(theirs).toMatchObject({ code: 404, message: 'not_found', data: { message: 'Got response error: the route does not exist' } });
    }
  });
  it('events carry the fields the official client types them with: an operator\'s typing names the typist, people events have no inbox', async () => {
    const session = [...site().conversations.keys()][5]!;
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const listen = (e: { event: string; data: Record<string, unknown> }) => void events.push(e);
    sandbox.state.on('event', listen);
    try {
      await official.website.composeMessageInConversation(w, session, { type: 'start', from: 'operator', excerpt: 'Looking' });
      await official.website.addNewPeopleProfile(w, { email: 'events@fidelity.test', person: { nickname: 'Events' } });
    } finally {
      sandbox.state.off('event', listen);
    }
    const [compose, created] = events;
    expect(compose).toMatchObject({ event: 'message:compose:receive', data: { website_id: w, session_id: session, inbox_id: null, type: 'start', excerpt: 'Looking' } });
    expect(compose!.data.user).toEqual({ type: 'website', user_id: expect.any(String) as string, nickname: expect.any(String) as string, avatar: '' });
    expect(typeof compose!.data.timestamp).toBe('number');
    expect(site().conversations.get(session)!.compose).toMatchObject({ operator: { user: compose!.data.user } });
    expect(created).toEqual({ event: 'people:profile:created', website_id: w, timestamp: expect.any(Number) as number, data: { website_id: w, people_id: expect.any(String) as string, email: 'events@fidelity.test' } });
  });
  it('a meta update announces only the session:set_* events Crisp has: none for ip or device', async () => {
    const session = [...site().conversations.keys()][6]!;
    const events: string[] = [];
    const listen = (e: { event: string }) => void events.push(e.event);
    sandbox.state.on('event', listen);
    try {
      await official.website.updateConversationMetas(w, session, { nickname: 'Meta', ip: '198.51.100.4', segments: ['vip'], data: { plan: 'team' }, device: { timezone: 60 } } as never);
    } finally {
      sandbox.state.off('event', listen);
    }
    expect(events.sort()).toEqual(['session:set_data', 'session:set_nickname', 'session:set_segments']);
    expect((await official.website.getConversationMetas(w, session)) as { ip: string }).toMatchObject({ ip: '198.51.100.4', device: { timezone: 60 } });
  });
});
