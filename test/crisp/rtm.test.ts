// connectRtm against the sandbox over real sockets: discovery, authentication with
// the events wanted, typed events, reconnection with re-authentication after the sandbox drops
// the socket, a refused key, malformed events reported and survived — and parseCrispEvent.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CrispError,
  CrispEventError,
  RTM_EVENTS,
  connectRtm,
  parseCrispEvent,
  type CrispClient,
  type CrispEvent,
  type RtmConnection,
  type RtmOptions,
  type RtmState,
} from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';

describe('parseCrispEvent', () => {
  const message = {
    website_id: 'w',
    session_id: 'session_1',
    inbox_id: null,
    type: 'text',
    from: 'user',
    origin: 'chat',
    content: 'Hi',
    fingerprint: 123,
    timestamp: 456,
    user: { user_id: 'session_1', nickname: 'Jane' },
    preview: [],
  };

  it('types the events a bot relies on, keeping the fields it does not name', () => {
    const event = parseCrispEvent('message:send', message);
    if (event.event !== 'message:send') throw new Error('narrowing');
    expect(event.data.fingerprint).toBe(123);
    expect(event.data).toMatchObject({ preview: [] });
    const state = parseCrispEvent('session:set_state', { website_id: 'w', session_id: 's', state: 'resolved' });
    expect(state).toEqual({ event: 'session:set_state', data: { website_id: 'w', session_id: 's', state: 'resolved' } });
  });

  it('accepts any object for an event without a schema of its own', () => {
    expect(parseCrispEvent('website:users:available', { website_id: 'w', available: true })).toEqual({ event: 'website:users:available', data: { website_id: 'w', available: true } });
  });

  it.each([
    ['message:send', { ...message, fingerprint: 'x' }, 'invalid_event', /data\.fingerprint/],
    ['message:received', { ...message, from: 'bot' }, 'invalid_event', /data\.from/],
    ['session:set_state', { website_id: 'w', session_id: 's', state: 'sleeping' }, 'invalid_event', /data\.state/],
    ['message:send', 'text', 'invalid_event', /^the message:send event is malformed \(data: /],
    ['message:teleported', {}, 'unknown_event', /is not a Crisp event name/],
  ])('refuses %s %j', (name, data, code, message) => {
    expect(() => parseCrispEvent(name, data)).toThrow(message);
    try {
      parseCrispEvent(name, data);
    } catch (error) {
      expect(error).toBeInstanceOf(CrispEventError);
      expect((error as CrispEventError).code).toBe(code);
    }
  });

  it('lists every event name of the official libraries', () => {
    expect(RTM_EVENTS).toHaveLength(new Set(RTM_EVENTS).size);
    expect(RTM_EVENTS).toContain('widget:action:processed');
    expect(RTM_EVENTS).toContain('plan:subscription:updated');
  });
});

// ---------------------------------------------------------------- connectRtm

const FAST = { delayMs: 20, maxDelayMs: 100, randomization: 0 };

let sandbox: Sandbox | undefined;
const opened: { rtm: RtmConnection; client?: CrispClient }[] = [];
afterEach(async () => {
  for (const { rtm, client } of opened.splice(0)) {
    await rtm.close();
    await client?.close();
  }
  await sandbox?.close();
  sandbox = undefined;
});

interface Harness {
  rtm: RtmConnection;
  events: CrispEvent[];
  states: RtmState['status'][];
  errors: Error[];
}

function connect(s: Sandbox, options: Partial<RtmOptions> = {}): Harness {
  const events: CrispEvent[] = [];
  const states: RtmState['status'][] = [];
  const errors: Error[] = [];
  const client = options.client ?? clientFor(s);
  const { identifier, key, tier } = s.credentials[0]!;
  const rtm = connectRtm({
    client,
    credentials: { identifier, key, tier },
    events: ['message:send', 'message:received'],
    onEvent: (event) => void events.push(event),
    onState: (state) => void states.push(state.status),
    onError: (error) => void errors.push(error),
    reconnect: FAST,
    ...options,
  });
  opened.push({ rtm, client: options.client ? undefined : client });
  return { rtm, events, states, errors };
}

const contents = (events: CrispEvent[]) => events.map((e) => (e.event === 'message:send' || e.event === 'message:received' ? `${e.event} ${String(e.data.content)}` : e.event));

describe('connectRtm', () => {
  it('discovers the endpoint, authenticates, and hands over typed events in order', async () => {
    sandbox = await startSandbox({ seed: 21 });
    const h = connect(sandbox);
    await h.rtm.ready;
    expect(h.rtm.state).toEqual({ status: 'authenticated', endpoint: `${sandbox.url}/rtm` });
    expect(h.states).toEqual(['discovering', 'connecting', 'authenticated']);

    const sessionId = await visitorStarts(sandbox, 'My invoice is wrong');
    const client = clientFor(sandbox);
    const fingerprint = await client.messages.send(sandbox.websiteId, sessionId, { type: 'text', from: 'operator', origin: 'chat', content: 'Looking into it' });
    await client.close();
    await eventually(() => h.events.length === 2, 3_000, 'two events');
    expect(contents(h.events)).toEqual(['message:send My invoice is wrong', 'message:received Looking into it']);
    const [sent, received] = h.events;
    if (sent?.event !== 'message:send' || received?.event !== 'message:received') throw new Error('narrowing');
    expect(sent.data).toMatchObject({ website_id: sandbox.websiteId, session_id: sessionId, from: 'user', type: 'text', origin: 'chat' });
    expect(received.data).toMatchObject({ session_id: sessionId, from: 'operator', fingerprint });
    // Only the events asked for: session:request:initiated was not.
    expect(sandbox.rtm.stats().emitted).toBe(2);
    expect(h.errors).toEqual([]);
  });

  it.each(['transport', 'server'] as const)('reconnects and re-authenticates after the sandbox drops the socket (%s), and keeps receiving', async (mode) => {
    sandbox = await startSandbox({ seed: 22 });
    const h = connect(sandbox, { baseUrl: sandbox.url, client: undefined });
    await h.rtm.ready;
    const sessionId = await visitorStarts(sandbox, 'before');
    await eventually(() => h.events.length === 1, 3_000, 'the first event');

    expect(sandbox.rtm.drop(mode)).toBe(1);
    await eventually(() => h.states.includes('disconnected'), 3_000, 'the disconnect');
    await eventually(() => h.rtm.state.status === 'authenticated' && sandbox!.rtm.stats().authenticated === 1, 3_000, 'the re-authentication');
    expect(sandbox.rtm.stats().authentications).toBe(2);

    await visitorWrites(sandbox, sessionId, 'after');
    await eventually(() => h.events.length === 2, 3_000, 'the event after reconnecting');
    expect(contents(h.events)).toEqual(['message:send before', 'message:send after']);
    expect(h.states.at(-1)).toBe('authenticated');
  });

  it('survives repeated drops', async () => {
    sandbox = await startSandbox({ seed: 23 });
    const h = connect(sandbox);
    await h.rtm.ready;
    for (let i = 1; i <= 3; i++) {
      sandbox.rtm.drop(i % 2 ? 'transport' : 'server');
      await eventually(() => sandbox!.rtm.stats().authentications === i + 1 && h.rtm.state.status === 'authenticated', 3_000, `re-authentication ${i}`);
    }
    const sessionId = await visitorStarts(sandbox, 'still here');
    await eventually(() => h.events.length === 1, 3_000, 'the event');
    expect(h.events[0]?.event === 'message:send' && h.events[0].data.session_id).toBe(sessionId);
  });

  it('fails for good on `unauthorized`: ready rejects, and no reconnection loop', async () => {
    sandbox = await startSandbox({ seed: 24 });
    const { identifier, tier } = sandbox.credentials[0]!;
    const h = connect(sandbox, { credentials: { identifier, key: 'wrong-key', tier } });
    const error = await h.rtm.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CrispError);
    expect(error).toMatchObject({ code: 'crisp_unauthorized', message: 'Crisp RTM refused the credentials: the identifier and key pair is not valid' });
    expect(h.rtm.state.status).toBe('failed');
    // Closed for good: no socket, no timer, so nothing of it can come back; then the sandbox sees it gone.
    await h.rtm.closed;
    await eventually(() => sandbox!.rtm.stats().connected === 0, 3_000, 'the socket released');
    expect(sandbox.rtm.stats()).toMatchObject({ refused: 1, connected: 0 });
    expect(h.states.at(-1)).toBe('failed');
  });

  it('fails for good when discovery is refused (the REST client\'s 401)', async () => {
    sandbox = await startSandbox({ seed: 25 });
    const { identifier, tier } = sandbox.credentials[0]!;
    const h = connect(sandbox, { client: undefined, baseUrl: sandbox.url, credentials: { identifier, key: 'wrong-key', tier } });
    await expect(h.rtm.ready).rejects.toMatchObject({ code: 'crisp_unauthorized' });
    expect(h.states).toEqual(['discovering', 'failed']);
  });

  it('retries discovery while the REST API is unavailable', async () => {
    sandbox = await startSandbox({ seed: 26 });
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 6, pathIncludes: '/connect/endpoints' });
    const h = connect(sandbox);
    await h.rtm.ready;
    expect(h.states).toContain('disconnected');
    expect(h.rtm.state.status).toBe('authenticated');
  });

  it('reports a malformed event and an onEvent failure, and keeps going', async () => {
    sandbox = await startSandbox({ seed: 27 });
    let calls = 0;
    const h = connect(sandbox, {
      onEvent: () => {
        calls++;
        if (calls === 1) throw new Error('the handler broke');
      },
    });
    await h.rtm.ready;
    // A payload missing the fields a bot relies on, straight onto the wire.
    sandbox.state.emit('event', { event: 'message:send', website_id: sandbox.websiteId, data: { website_id: sandbox.websiteId, session_id: 'session_x' }, timestamp: Date.now() });
    const sessionId = await visitorStarts(sandbox, 'one');
    await visitorWrites(sandbox, sessionId, 'two');
    await eventually(() => calls === 2, 3_000, 'two good events');
    expect(h.errors.map((e) => [e.name, e.message])).toEqual([
      ['CrispEventError', 'the message:send event is malformed (data.type: Invalid input: expected string, received undefined)'],
      ['Error', 'the handler broke'],
    ]);
    expect(h.rtm.state.status).toBe('authenticated');
  });

  it('drops the events skip recognises from the raw payload before their schema is checked', async () => {
    sandbox = await startSandbox({ seed: 28 });
    const skipped: unknown[] = [];
    const h = connect(sandbox, {
      skip: (name, payload) => {
        const drop = name === 'message:received' && (payload as { fingerprint?: unknown }).fingerprint === 424242;
        if (drop) skipped.push(payload);
        return drop;
      },
    });
    await h.rtm.ready;
    // Skipped: malformed (no type, no content) yet neither reported nor handed over.
    sandbox.state.emit('event', { event: 'message:received', website_id: sandbox.websiteId, data: { website_id: sandbox.websiteId, session_id: 'session_x', fingerprint: 424242 }, timestamp: Date.now() });
    // Not skipped (another fingerprint): checked and reported as before.
    sandbox.state.emit('event', { event: 'message:received', website_id: sandbox.websiteId, data: { website_id: sandbox.websiteId, session_id: 'session_x', fingerprint: 7 }, timestamp: Date.now() });
    const sessionId = await visitorStarts(sandbox, 'one');
    await eventually(() => h.events.length === 1, 3_000, 'the visitor event');
    expect(contents(h.events)).toEqual(['message:send one']);
    expect(skipped).toHaveLength(1);
    expect(h.errors.map((e) => e.message)).toEqual(['the message:received event is malformed (data.type: Invalid input: expected string, received undefined)']);
    expect(sessionId).toBeTruthy();
  });

  it('uses an endpoint given outright, and closes on abort', async () => {
    sandbox = await startSandbox({ seed: 28 });
    const abort = new AbortController();
    const h = connect(sandbox, { endpoint: `${sandbox.url}/rtm`, signal: abort.signal });
    await h.rtm.ready;
    expect(sandbox.stats().handled).toEqual({}); // no REST call: discovery was skipped
    expect(sandbox.stats().total).toBe(0);
    abort.abort();
    await eventually(() => h.rtm.state.status === 'closed', 2_000, 'the close');
    await eventually(() => sandbox!.rtm.stats().connected === 0, 2_000, 'the socket closing');
  });

  it('close() before authentication rejects ready; close() is idempotent', async () => {
    sandbox = await startSandbox({ seed: 29 });
    const h = connect(sandbox);
    const ready = h.rtm.ready.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await h.rtm.close();
    await h.rtm.close();
    expect(await ready).toBe('the RTM connection was closed before it authenticated');
    expect(h.states.at(-1)).toBe('closed');
  });

  it('rebind() emits socket:bind on the live socket', async () => {
    sandbox = await startSandbox({ seed: 30 });
    const h = connect(sandbox);
    await h.rtm.ready;
    h.rtm.rebind();
    const sessionId = await visitorStarts(sandbox, 'after a rebind');
    await eventually(() => h.events.length === 1, 3_000, 'the event');
    expect(h.events[0]?.event === 'message:send' && h.events[0].data.session_id).toBe(sessionId);
  });

  it('refuses an unknown event name up front', () => {
    expect(() => connectRtm({ credentials: { identifier: 'i', key: 'k', tier: 'plugin' }, events: ['message:teleported' as 'message:send'], onEvent: () => undefined })).toThrow(
      '"message:teleported" is not a Crisp RTM event name',
    );
  });
});
