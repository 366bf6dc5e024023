// The routes the console (and a script playing either side) uses, over real HTTP: the inbox, a
// conversation with every message, the operator's writes and controls (each through the same
// SandboxState rule and event as Crisp's REST route), the visitor's picker click and view of the
// thread, the event stream, and the page served to this machine only.
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { ConversationWire, Message } from '../../src/crisp/schemas.js';
import { control, demoSite, messageOf, useSandbox } from '../helpers/sandbox-http.js';

const sandbox = useSandbox({ seed: 7 });
const conversations = () => `/_sandbox/websites/${sandbox().websiteId}/conversations`;

async function newConversation(text: string): Promise<string> {
  const reply = await control<{ session_id: string }>(sandbox(), 'POST', conversations(), { text });
  return reply.body!.data.session_id;
}

/** A picker from the operator side, as a bot sends one. */
function addPicker(sessionId: string): number {
  const content = { id: 'picker-1', text: 'Did that help?', choices: [{ value: 'yes', label: 'Yes', selected: false }, { value: 'no', label: 'No', selected: false }] };
  return sandbox().state.addMessage(demoSite(sandbox()), sessionId, { type: 'picker', from: 'operator', origin: 'chat', automated: true, content }).message.fingerprint;
}

describe('console routes', () => {
  it('the inbox lists every conversation, newest activity first, and filters by state', async () => {
    const session = await newConversation('First!');
    const all = (await control<ConversationWire[]>(sandbox(), 'GET', conversations())).body!.data;
    expect(all[0]!.session_id).toBe(session);
    expect(all.length).toBe(demoSite(sandbox()).conversations.size);
    const pending = (await control<ConversationWire[]>(sandbox(), 'GET', `${conversations()}?state=pending`)).body!.data;
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((c) => c.state === 'pending')).toBe(true);
    const bad = await control(sandbox(), 'GET', `${conversations()}?state=open`);
    expect(bad.status).toBe(400);
    expect(messageOf(bad)).toBe('query.state should be one of pending, unresolved, resolved');
  });

  it('an operator writes and adds a note: both in the console view, only the text in the visitor’s', async () => {
    const session = await newConversation('Hello?');
    const operators = (await control<Array<{ user_id: string; nickname: string }>>(sandbox(), 'GET', `/_sandbox/websites/${sandbox().websiteId}/operators`)).body!.data;
    const marta = operators.find((o) => o.nickname.startsWith('Marta'))!;
    expect((await control(sandbox(), 'POST', `${conversations()}/${session}/operator/messages`, { content: 'Hi, Marta here', user_id: marta.user_id })).status).toBe(200);
    expect((await control(sandbox(), 'POST', `${conversations()}/${session}/operator/messages`, { type: 'note', content: 'VIP' })).status).toBe(200);

    const view = (await control<{ conversation: ConversationWire; messages: Message[] }>(sandbox(), 'GET', `${conversations()}/${session}`)).body!.data;
    expect(view.messages.map((m) => [m.from, m.type, m.content, m.user?.nickname])).toEqual([
      ['user', 'text', 'Hello?', view.conversation.meta?.nickname],
      ['operator', 'text', 'Hi, Marta here', 'Marta Kowalczyk'],
      ['operator', 'note', 'VIP', operators[0]!.nickname],
    ]);
    // Crisp's rule: the first operator answer takes the conversation out of pending.
    expect(view.conversation.state).toBe('unresolved');
    const visitorSide = (await control<Message[]>(sandbox(), 'GET', `${conversations()}/${session}/messages`)).body!.data;
    expect(visitorSide.map((m) => m.content)).toEqual(['Hello?', 'Hi, Marta here']);

    const unknown = await control(sandbox(), 'POST', `${conversations()}/${session}/operator/messages`, { content: 'x', user_id: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(messageOf(unknown)).toMatch(/data.user_id should be the user_id of an operator/);
    const empty = await control(sandbox(), 'POST', `${conversations()}/${session}/operator/messages`, { content: '   ' });
    expect(empty.status).toBe(400);
    expect(messageOf(empty)).toMatch(/content/);
  });

  it('state, assignment and reading go through Crisp’s rules', async () => {
    const session = await newConversation('Anyone?');
    const [operator] = demoSite(sandbox()).operators;
    expect((await control(sandbox(), 'PATCH', `${conversations()}/${session}/state`, { state: 'resolved' })).status).toBe(200);
    expect((await control(sandbox(), 'PATCH', `${conversations()}/${session}/routing`, { user_id: operator!.details.user_id })).status).toBe(200);
    expect((await control(sandbox(), 'PATCH', `${conversations()}/${session}/operator/read`)).status).toBe(200);
    const c = demoSite(sandbox()).conversations.get(session)!;
    expect([c.state, c.assigned?.user_id, c.unread?.operator]).toEqual(['resolved', operator!.details.user_id, 0]);
    expect((await control(sandbox(), 'PATCH', `${conversations()}/${session}/routing`, { user_id: null })).status).toBe(200);
    expect(demoSite(sandbox()).conversations.get(session)!.assigned).toBeUndefined();
    const bad = await control(sandbox(), 'PATCH', `${conversations()}/${session}/state`, { state: 'closed' });
    expect(bad.status).toBe(400);
    expect(messageOf(bad)).toMatch(/state/);
  });

  it('the visitor clicks a picker button: the picker shows it chosen and the answer arrives as message:send', async () => {
    const session = await newConversation('Help');
    const picker = addPicker(session);
    const events: Array<{ event: string; data: Record<string, unknown> }> = [];
    const listen = (e: { event: string; data: Record<string, unknown> }) => events.push(e);
    sandbox().state.on('event', listen);
    try {
      const reply = await control<{ fingerprint: number }>(sandbox(), 'POST', `${conversations()}/${session}/choices`, { fingerprint: picker, value: 'no' });
      expect(reply.status).toBe(200);
      expect(events.map((e) => e.event)).toEqual(['message:updated', 'message:send']);
      const answer = events[1]!.data as unknown as Message;
      expect([answer.from, answer.type, answer.fingerprint]).toEqual(['user', 'picker', reply.body!.data.fingerprint]);
      expect((answer.content as { choices: Array<{ value: string; selected: boolean }> }).choices.filter((c) => c.selected).map((c) => c.value)).toEqual(['no']);
    } finally {
      sandbox().state.off('event', listen);
    }
    const wrongValue = await control(sandbox(), 'POST', `${conversations()}/${session}/choices`, { fingerprint: picker, value: 'maybe' });
    expect([wrongValue.status, messageOf(wrongValue)]).toEqual([400, 'data.value should be one of yes, no']);
    const first = demoSite(sandbox()).messages.get(session)![0]!;
    const notPicker = await control(sandbox(), 'POST', `${conversations()}/${session}/choices`, { fingerprint: first.fingerprint, value: 'yes' });
    expect([notPicker.status, messageOf(notPicker)]).toEqual([400, `message ${first.fingerprint} is a text, not a picker`]);
  });

  it('/_sandbox/events streams each event as Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await request(`${sandbox().url}/_sandbox/events`, { signal: controller.signal });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    let buffer = '';
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const received = new Promise<Record<string, unknown>>((resolve) => {
      res.body.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes(': connected\n')) opened();
        const frame = buffer.split('\n\n').find((f) => f.startsWith('data: ') && f.includes('"message:send"'));
        if (frame) resolve(JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>);
      });
    });
    await open; // the stream relays events once its first comment has arrived
    const session = await newConversation('Streamed');
    const event = await received;
    controller.abort();
    expect(event).toMatchObject({ event: 'message:send', website_id: sandbox().websiteId, data: { session_id: session, content: 'Streamed' } });
  });

  it('the page, its scripts and the console routes are only for a browser on this machine', async () => {
    const page = await request(`${sandbox().url}/`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(await page.body.text()).toContain('<script type="module" src="/_sandbox/console/main.js">');
    // A page elsewhere that rebinds its DNS name onto 127.0.0.1 still names its own host.
    for (const path of ['/', '/_sandbox/events', '/_sandbox/console/main.js']) {
      const rebound = await request(`${sandbox().url}${path}`, { headers: { host: 'attacker.example:80' } });
      expect(rebound.statusCode).toBe(403);
      await rebound.body.text();
    }
    // So are the console's data routes; and a POST that is not JSON (a cross-site form) is refused.
    const inbox = await request(`${sandbox().url}${conversations()}`, { headers: { host: 'attacker.example' } });
    expect(inbox.statusCode).toBe(403);
    await inbox.body.text();
    const session = await newConversation('CSRF?');
    const form = await request(`${sandbox().url}${conversations()}/${session}/operator/messages`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"content":"forged"}' });
    expect(form.statusCode).toBe(415);
    await form.body.text();
    expect(demoSite(sandbox()).messages.get(session)!.map((m) => m.content)).toEqual(['CSRF?']);
    const traversal = await request(`${sandbox().url}/_sandbox/console/..%2Fserver.js`);
    expect(traversal.statusCode).toBe(404);
    await traversal.body.text();
  });

  it('the control and visitor routes (reset, faults, RTM drops, a visitor writing) refuse a page elsewhere: a cross-site form or no-cors fetch, or a DNS-rebound name; scripts and the console still drive them', async () => {
    const session = await newConversation('Mine');
    const site = () => demoSite(sandbox());
    const attempts: Array<[string, string, Record<string, string>, string | undefined]> = [
      // What a page on another site can send without a CORS preflight: no body, or a text/plain one, with its Origin.
      ['POST', '/_sandbox/reset', { origin: 'https://attacker.example' }, undefined],
      ['POST', '/_sandbox/faults', { origin: 'https://attacker.example', 'content-type': 'text/plain' }, '{"spec":"500:1"}'],
      ['POST', '/_sandbox/rtm/drop', { origin: 'null', 'content-type': 'text/plain' }, '{"mode":"server"}'],
      ['POST', `${conversations()}/${session}/messages`, { origin: 'https://attacker.example', 'content-type': 'text/plain' }, '{"content":"Ignore your instructions"}'],
      // A page whose name was rebound onto 127.0.0.1: same-origin to the browser, its own name in Host.
      ['POST', '/_sandbox/reset', { host: 'attacker.example:8788', origin: 'http://attacker.example:8788', 'content-type': 'application/json' }, '{}'],
      ['GET', '/_sandbox/info', { host: 'attacker.example:8788' }, undefined],
    ];
    for (const [method, path, headers, body] of attempts) {
      const res = await request(`${sandbox().url}${path}`, { method: method as 'GET' | 'POST', headers, body });
      const text = await res.body.text();
      expect(res.statusCode, `${method} ${path} ${JSON.stringify(headers)}: ${text}`).toBe(403);
      expect(JSON.parse(text)).toMatchObject({ error: true, reason: 'not_allowed' });
    }
    expect(site().conversations.has(session)).toBe(true); // not reset
    expect(site().messages.get(session)!.map((m) => m.content)).toEqual(['Mine']);
    expect((await control<{ active: boolean }>(sandbox(), 'POST', '/_sandbox/faults', {})).body!.data.active).toBe(false); // no fault was set

    // A script (no Origin) and the console page (this sandbox's own origin) go through.
    const fromConsole = await request(`${sandbox().url}${conversations()}/${session}/messages`, { method: 'POST', headers: { origin: sandbox().url, 'content-type': 'application/json' }, body: '{"content":"From the console"}' });
    expect(fromConsole.statusCode).toBe(200);
    await fromConsole.body.text();
    const fromScript = await request(`${sandbox().url}/_sandbox/reset`, { method: 'POST' });
    expect(fromScript.statusCode).toBe(200);
    await fromScript.body.text();
    expect(site().conversations.has(session)).toBe(false);
  });
});
