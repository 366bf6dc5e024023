// A scenario webhook driven by the autopilot: the call goes through the outbox (one call, with an
// Idempotency-Key), its answer is fed to the scenario once, and the follow-up reply survives a
// Crisp 503 burst without a second call.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedScenario } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { MemoryStore } from '../../src/store/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botNotes, botTexts, processed, startTestBot, thread, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';

/** Asks for an order number, looks it up at `origin`'s webhook, and says its status (a handoff when the call fails). */
function lookupScenario(origin: string): LoadedScenario {
  return scenarioLibraryFromTexts([
    {
      file: 'lookup.json',
      source: JSON.stringify({
        name: 'lookup',
        version: 1,
        webhook_origins: [origin],
        start: 'ask',
        blocks: {
          ask: { type: 'ask', text: 'Your order number?', save: { var: 'order' }, next: 'call' },
          call: { type: 'webhook', url: `${origin}/orders`, body: { order: '{{order}}' }, map: { status: 'status' }, next: 'done', on_error: 'fail' },
          done: { type: 'end', text: 'Order {{order}}: {{status}}.' },
          fail: { type: 'handoff', text: 'I could not look it up.', reason: 'lookup_failed' },
        },
      }),
    },
  ]).require('lookup');
}

describe('autopilot: scenario webhooks', () => {
  let sandbox: Sandbox;
  let bot: InProcessBot;
  let server: Server;
  const store = new MemoryStore();
  const calls: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        calls.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shipped' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const scenario = lookupScenario(origin);
    sandbox = await startSandbox({ seed: 42 });
    bot = await startTestBot(sandbox, { events: 'rtm', store, scenario });
  });

  afterAll(async () => {
    await bot?.stop();
    await sandbox?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('calls the webhook once and answers with what it returned, through a 503 burst', async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 1, 5_000, 'the question');
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 5, method: 'POST', pathIncludes: `${session}/message` });
    const answer = await visitorWrites(sandbox, session, 'A-42');
    await eventually(() => botTexts(sandbox, session).length === 2, 8_000, 'the answer after the webhook');
    await eventually(() => processed(store, sandbox, session, answer, 'lookup'), 2_000, 'the turn saved');
    await bot.autopilot.idle();
    expect(botTexts(sandbox, session)).toEqual(['Your order number?', 'Order A-42: shipped.']);
    expect(calls).toHaveLength(1);
    expect(JSON.parse(calls[0]!.body)).toEqual({ order: 'A-42' });
    expect(calls[0]!.headers['idempotency-key']).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

describe('autopilot: an articles block', () => {
  const faq = () =>
    scenarioLibraryFromTexts([
      {
        file: 'faq.json',
        source: JSON.stringify({
          name: 'faq',
          version: 1,
          start: 'answer',
          blocks: {
            answer: { type: 'articles', text: 'These may help:', limit: 1, next: 'done', none: 'human' },
            done: { type: 'end', text: 'Anything else, just write.' },
            human: { type: 'handoff', text: 'Let me get someone from the team for you.', reason: 'no_article' },
          },
        }),
      },
    ]).require('faq');

  it('counts a pause the search\'s follow-up decides (the reply budget spent there) as a turn\'s, for the logs and the stats', async () => {
    const sandbox = await startSandbox({ seed: 42 });
    const bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), scenario: faq(), guardrails: { replyBudget: { max: 1, windowMs: 600_000 } } });
    try {
      const session = await visitorStarts(sandbox, 'How do I sign the GDPR DPA?');
      await eventually(() => botNotes(sandbox, session).length === 1, 8_000, 'the reply-budget note');
      await bot.autopilot.idle();
      expect(botNotes(sandbox, session)[0]).toContain('reply_budget');
      expect(bot.autopilot.stats()).toMatchObject({ paused: 1, queued: 1 });
    } finally {
      await bot.stop();
      await sandbox.close();
    }
  });

  it('searches the helpdesk again after a 503 burst instead of handing the visitor off as if nothing matched', async () => {
    const scenario = faq();
    const sandbox = await startSandbox({ seed: 42 });
    const store = new MemoryStore();
    // More 503s than one search's own retries (the client's), fewer than the outbox's attempts.
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 6, method: 'GET', pathIncludes: '/helpdesk/' });
    const bot = await startTestBot(sandbox, { events: 'rtm', store, scenario });
    try {
      const session = await visitorStarts(sandbox, 'How do I sign the GDPR DPA?');
      await eventually(() => botTexts(sandbox, session).length === 1, 8_000, 'the end of the turn');
      await bot.autopilot.idle();
      const botMessages = thread(sandbox, session).filter((m) => m.automated);
      expect(botMessages.map((m) => m.type)).toEqual(['picker', 'text']);
      expect(JSON.stringify(botMessages[0]!.content)).toContain('These may help:');
      expect(botTexts(sandbox, session)).toEqual(['Anything else, just write.']);
      expect(botNotes(sandbox, session)).toEqual([]);
      expect(bot.autopilot.stats().delivery.retried).toBeGreaterThan(0);
    } finally {
      await bot.stop();
      await sandbox.close();
    }
  });
});

describe('autopilot: a webhook answer that comes back after an operator wrote', () => {
  it('moves the scenario on but says nothing more to the visitor', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let called = false;
    const server = createServer((req, res) => {
      called = true;
      req.resume();
      void held.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shipped' })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const scenario = lookupScenario(origin);
    const sandbox = await startSandbox({ seed: 42 });
    const store = new MemoryStore();
    const bot = await startTestBot(sandbox, { events: 'rtm', store, scenario });
    try {
      const session = await visitorStarts(sandbox, 'hello');
      await eventually(() => botTexts(sandbox, session).length === 1, 5_000, 'the question');
      await visitorWrites(sandbox, session, 'A-42');
      await eventually(() => called, 5_000, 'the webhook call');
      const { paused, events } = bot.autopilot.stats();
      // The operator's message while the call is out (through the REST API, as another app would);
      // the conversation's worker waits on the call, so the bot reads it once the answer is in.
      await bot.crisp.messages.send(sandbox.websiteId, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Jane here, checking your order.' });
      await eventually(() => bot.autopilot.stats().events > events, 5_000, 'the operator\'s message:received');
      release();
      await eventually(() => bot.autopilot.stats().paused > paused, 5_000, 'the pause');
      await eventually(async () => (await store.outboxPending({ prefix: `${sandbox.websiteId}/`, limit: 1 })).length === 0, 5_000, 'the outbox emptied');
      await bot.autopilot.idle();
      expect(botTexts(sandbox, session)).toEqual(['Your order number?']);
    } finally {
      release();
      await bot.stop();
      await sandbox.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
