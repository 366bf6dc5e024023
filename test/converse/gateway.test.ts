// What a channel's gateway meets on POST /converse, over real HTTP: a Crisp 503 burst while a turn
// searches the helpdesk (the sandbox as a real HTTP server), and the empty `text` some gateways send
// with every event. The shipped gdpr and cancel-account scenarios, a real receiver.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { SHIPPED_SCENARIOS_DIR } from '../../src/engine/library.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { clientFor } from '../helpers/crisp.js';
import { Receiver } from '../helpers/receiver.js';

const shipped = (name: string) => ({ file: `${name}.json`, source: readFileSync(join(SHIPPED_SCENARIOS_DIR, `${name}.json`), 'utf8') });

let receiver: Receiver;
let h: ConverseHarness | undefined;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('POST /converse while Crisp answers 503 to the helpdesk search of an articles block', () => {
  let sandbox: Sandbox;
  let crisp: CrispClient;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 42 });
    crisp = clientFor(sandbox);
  });
  afterAll(async () => {
    await crisp.close();
    await sandbox.close();
  });

  it('runs the event again and offers the articles, instead of handing the visitor off as if nothing matched', async () => {
    h = await startConverseHarness({
      receiver,
      library: scenarioLibraryFromTexts([shipped('gdpr')]),
      service: { scenario: 'gdpr', helpdesk: { port: crisp.helpdesk, website: sandbox.websiteId } },
      http: {},
    });
    // More 503s than one search's own retries (the client's 4 attempts), far fewer than the event's.
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 6, method: 'GET', pathIncludes: '/helpdesk/' });
    expect((await h.post({ conversationId: 'busy-1', eventType: 'message', text: 'Are you GDPR compliant?', messageId: 'q1' })).status).toBe(202);
    await receiver.waitFor(() => receiver.of('busy-1').length === 2, 20_000, 'the gdpr replies');
    expect(receiver.of('busy-1').map((r) => [r.type, r.text, r.replyTo])).toEqual([
      ['choice', 'Our help center has the answer (our Data Processing Agreement, the DPA, is signed from there too):', 'q1'],
      ['choice', 'Did that answer your question?', 'q1'],
    ]);
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'converse: event failed; will retry', conversation: 'busy-1', messageId: 'q1' }));
  }, 30_000);
});

describe('POST /converse with an empty text on an event that is no message', () => {
  it('startSession with text "" starts the scenario as without text: it waits for the first message, no handoff', async () => {
    h = await startConverseHarness({ receiver, library: scenarioLibraryFromTexts([shipped('cancel-account')]), service: { scenario: 'cancel-account' }, http: {} });
    expect((await h.post({ conversationId: 'blank-1', eventType: 'startSession', text: '', messageId: 's1' })).status).toBe(202);
    expect((await h.post({ conversationId: 'blank-1', eventType: 'startSession', text: '  ', messageId: 's2' })).status).toBe(202);
    expect((await h.post({ conversationId: 'blank-1', eventType: 'message', text: 'I want to cancel my account', messageId: 'm1' })).status).toBe(202);
    await receiver.waitFor(() => receiver.of('blank-1').some((r) => r.replyTo === 'm1'), 10_000, 'the answer to m1');
    // The first replies answer the first message: nothing before it (a handoff would have come on s1).
    expect(receiver.of('blank-1').map((r) => [r.replyTo, r.type])).toEqual([['m1', 'choice']]);
  });
});

describe('POST /converse with metadata that gives one key two values', () => {
  it('is a 400 naming the second pair, where the first value was silently replaced; the same pair in both spellings is taken', async () => {
    h = await startConverseHarness({ receiver, http: {} });
    const twice = await h.post({ conversationId: 'meta-1', eventType: 'metadata', metadata: [{ key: 'plan', value: 'pro' }, { key: 'user_name', value: 'Ana' }, { key: 'plan', value: 'basic' }] });
    expect(twice).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'metadata[2].key', message: 'metadata[2].key: expected one value per key: "plan" is also metadata[0].key, with another value' } });
    const spellings = await h.post({ conversationId: 'meta-1', eventType: 'metadata', metadata: [{ key: 'plan', value: 'pro' }], metaData: [{ key: 'plan', value: 'basic' }] });
    expect(spellings).toMatchObject({ status: 400, json: { field: 'metaData[0].key' } });
    const same = await h.post({ conversationId: 'meta-1', eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Ana' }], metaData: [{ key: 'user_name', value: 'Ana' }] });
    expect(same.status).toBe(202);
    await h.receiver.waitFor(() => h!.receiver.of('meta-1').length === 2);
    expect(h.receiver.of('meta-1')[0]).toMatchObject({ type: 'text', text: 'Hello Ana!' });
  });
});

describe('POST /converse with a body that is no JSON', () => {
  it('says where it stops being JSON, or that it is empty or ends too soon, and quotes none of it', async () => {
    h = await startConverseHarness({ receiver, http: {} });
    const answer = async (body: string) => (await h!.post(body)).json;
    expect(await answer('{"conversationId":"c1" "eventType":"message"}')).toEqual({ error: 'invalid_json', message: 'Bad Request: the request body is not valid JSON (at character 24 of 45)' });
    expect(await answer('')).toEqual({ error: 'invalid_json', message: 'Bad Request: the request body is empty: send one JSON object' });
    expect(await answer('{"conversationId":"c1",')).toEqual({ error: 'invalid_json', message: 'Bad Request: the request body is not valid JSON (it ends too soon)' });
    expect(await answer('secret-looking-words')).toEqual({ error: 'invalid_json', message: 'Bad Request: the request body is not valid JSON' });
    expect(JSON.stringify(h.logs)).not.toContain('secret-looking-words');
  });
});
