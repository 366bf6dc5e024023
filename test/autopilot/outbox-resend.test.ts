// The autopilot's outbox retrying an item whose message may have reached Crisp: the item's
// earlier attempt landed but its answer was lost and the conversation could not be read to check,
// so the attempt failed; the retry looks for the message first and finds it. The sandbox posts a
// repeated fingerprint again (dedupe:off), so only that look keeps the message single.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxDeliverer, type DelivererOptions } from '../../src/autopilot/outbox.js';
import { ITEM_STEP, type AutopilotItem } from '../../src/autopilot/state.js';
import { derivedFingerprint } from '../../src/engine/actions.js';
import { DEFAULT_GUARDRAILS } from '../../src/autopilot/guardrails.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { conversationKey } from '../../src/engine/turn.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { MemoryStore, withLock } from '../../src/store/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';
import { visitorStarts } from '../helpers/events.js';

const scenario = scenarioLibraryFromTexts([
  { file: 'hello.json', source: JSON.stringify({ name: 'hello', version: 1, start: 'hi', blocks: { hi: { type: 'end', text: 'Hello!' } } }) },
]).require('hello');

let sandbox: Sandbox;
let crisp: CrispClient;
beforeAll(async () => {
  sandbox = await startSandbox({ seed: 42, faults: 'dedupe:off' });
  crisp = clientFor(sandbox, { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
});
afterAll(async () => {
  await crisp?.close();
  await sandbox?.close();
});

describe('OutboxDeliverer', () => {
  it('retries an item whose send landed unanswered by looking for its message first: it shows once', async () => {
    const store = new MemoryStore();
    let now = 0;
    const options: DelivererOptions = {
      store,
      scenario,
      guardrails: { ...DEFAULT_GUARDRAILS, websites: new Set([sandbox.websiteId]), inboxes: undefined },
      log: createLogger('silent'),
      retry: { baseMs: 1_000, maxMs: 1_000, maxAttempts: 3 },
      now: () => now,
      openConversation: openCrispConversations(crisp),
      onOurs: () => undefined,
    };
    const deliverer = new OutboxDeliverer(options);
    const website = sandbox.websiteId;
    const session = await visitorStarts(sandbox, 'hi');
    const key = conversationKey(website, session);
    const item: AutopilotItem = { kind: 'autopilot', website, session, scenario: 'hello', action: { type: 'send_message', message: { type: 'text', text: 'Hello!' } } };
    const saved = await store.savePosition(key, 'hello', {}, { expectedVersion: 0, outbox: [{ id: 'ap:test.0', payload: item }] });
    if (!saved.ok) throw new Error('conflict');
    deliverer.appended(saved.outbox); // saved by this process: its first attempt sends without looking first
    now = Date.now();
    const fingerprint = derivedFingerprint('ap:test.0', ITEM_STEP);
    const copies = () => sandbox.state.websites.get(website)!.messages.get(session)!.filter((m) => m.fingerprint === fingerprint).length;
    const drain = () => withLock(store, `test:${key}`, (lease) => deliverer.drain(website, session, lease));

    // The send lands, its answer is lost, and every read of the conversation fails: the attempt fails.
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST', pathIncludes: `${session}/message` });
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 10, method: 'GET', pathIncludes: `${session}/messages` });
    expect((await drain()).retryAt).toBeDefined();
    expect(copies()).toBe(1);
    expect(deliverer.stats).toMatchObject({ retried: 1, done: 0 });

    // Crisp answers again; the retry finds the message instead of posting it a second time.
    sandbox.faults.clear();
    sandbox.faults.configure('dedupe:off');
    now += 1_000;
    expect(await drain()).toEqual({ empty: true });
    expect(copies()).toBe(1);
    expect(deliverer.stats).toMatchObject({ retried: 1, done: 1 });
  });

  it("looks first for an item another process appended (a replica that died or lost the lock before acking it): it shows once", async () => {
    const store = new MemoryStore();
    // This replica runs already when the other one saves the item.
    const deliverer = new OutboxDeliverer({
      store, scenario, log: createLogger('silent'), now: Date.now, onOurs: () => undefined, openConversation: openCrispConversations(crisp),
      guardrails: { ...DEFAULT_GUARDRAILS, websites: new Set([sandbox.websiteId]), inboxes: undefined },
      retry: { baseMs: 1_000, maxMs: 1_000, maxAttempts: 3 },
    });
    const website = sandbox.websiteId;
    const session = await visitorStarts(sandbox, 'hi');
    const key = conversationKey(website, session);
    const item: AutopilotItem = { kind: 'autopilot', website, session, scenario: 'hello', action: { type: 'send_message', message: { type: 'text', text: 'Hello!' } } };
    // Another process saved the item and sent it, and never acked it.
    expect((await store.savePosition(key, 'hello', {}, { expectedVersion: 0, outbox: [{ id: 'ap:other.0', payload: item }] })).ok).toBe(true);
    const fingerprint = derivedFingerprint('ap:other.0', ITEM_STEP);
    await crisp.messages.send(website, session, { type: 'text', from: 'operator', origin: 'chat', automated: true, content: 'Hello!', fingerprint });
    const copies = () => sandbox.state.websites.get(website)!.messages.get(session)!.filter((m) => m.fingerprint === fingerprint).length;
    expect(copies()).toBe(1);

    expect(await withLock(store, `test:${key}`, (lease) => deliverer.drain(website, session, lease))).toEqual({ empty: true });
    expect(copies()).toBe(1);
    expect(deliverer.stats).toMatchObject({ done: 1, sent: 1 });
  });
});
