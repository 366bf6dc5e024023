// One table of conversations run through all three channels — an agent's draft_scenario_reply +
// post_draft (a real MCP client) against the sandbox, the autopilot against the sandbox (Web
// Hooks), and the converse API (HTTP) against a local receiver — asserting the same bot messages
// in the same order, each channel's message shape reduced to one line per message.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import type { CrispClient } from '../../src/crisp/index.js';
import type { Message } from '../../src/crisp/schemas.js';
import { type ScenarioLibrary } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { MAX_WEBHOOKS_PER_TURN } from '../../src/engine/limits.js';
import { conversationKey } from '../../src/engine/turn.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { buildServer, toolsFor } from '../../src/mcp/server.js';
import type { ToolDeps } from '../../src/mcp/tools/deps.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { HOOK_SECRET, hooksUrl, processed, startTestBot, thread, type InProcessBot } from '../helpers/autopilot.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { callTool } from '../helpers/mcp.js';
import { freePort } from '../helpers/net.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';

const CHAIN = 7; // webhooks in a row, past the cap

function equivalenceScenario(origin: string): { file: string; source: string } {
  const chain: Record<string, unknown> = {};
  for (let i = 1; i <= CHAIN; i++) {
    chain[`w${i}`] = { type: 'webhook', url: `${origin}/step`, body: { n: String(i) }, map: { n: 'n' }, next: `m${i}`, on_error: 'human' };
    chain[`m${i}`] = { type: 'message', text: 'Call {{n}} done', next: i < CHAIN ? `w${i + 1}` : 'route' };
  }
  const scenario = {
    name: 'equivalence',
    version: 1,
    start: 'route',
    webhook_origins: [origin],
    blocks: {
      route: {
        type: 'match',
        rules: [
          { contains: 'chain', next: 'w1' },
          { contains: 'human', next: 'human' },
          { contains: 'email', next: 'ask_email' },
          { contains: 'plans', next: 'plans' },
          { contains: 'help with', next: 'docs' },
        ],
        otherwise: 'hello',
      },
      hello: { type: 'message', text: 'Say chain, human, email or plans.', next: 'route' },
      ...chain,
      human: { type: 'handoff', text: 'A human will take it from here.', reason: 'asked_for_human' },
      ask_email: { type: 'ask', text: 'Your email?', validation: 'email', invalid_text: 'That is not an email.', save: { var: 'email' }, next: 'thanks' },
      thanks: { type: 'message', text: 'Thanks, {{email}}.', next: 'route' },
      plans: {
        type: 'choice',
        display: 'carousel',
        text: 'Pick a plan',
        choices: [
          { label: 'Basic', value: 'basic', description: '5 EUR a month', next: 'picked' },
          { label: 'Pro', value: 'pro', next: 'picked' },
        ],
        save: 'plan',
      },
      picked: { type: 'message', text: 'You picked {{plan}}.', next: 'route' },
      docs: { type: 'articles', text: 'These may help:', limit: 2, next: 'route', none: 'no_docs' },
      no_docs: { type: 'message', text: 'No article answers that.', next: 'route' },
    },
  };
  return { file: 'equivalence.json', source: JSON.stringify(scenario) };
}

/** The table: what the visitor writes, and what every channel must answer, in order. */
const CASES: Array<{ name: string; inputs: string[]; expected: string[] }> = [
  {
    name: `a webhook chain of ${CHAIN} (past the cap of ${MAX_WEBHOOKS_PER_TURN})`,
    inputs: ['chain please'],
    expected: [...Array.from({ length: MAX_WEBHOOKS_PER_TURN }, (_, i) => `text:Call ${i + 1} done`), 'handoff:webhook_chain'],
  },
  { name: 'a handoff', inputs: ['a human please'], expected: ['text:A human will take it from here.', 'handoff:asked_for_human'] },
  {
    name: 'an ask with validation',
    inputs: ['my email', 'not one', 'ada@example.com'],
    expected: ['text:Your email?', 'text:That is not an email.', 'text:Thanks, ada@example.com.'],
  },
  { name: 'a carousel choice', inputs: ['show plans', 'Pro'], expected: ['carousel:Pick a plan[Basic|Pro]', 'text:You picked pro.'] },
  // The helpdesk is the sandbox's seeded one: the MCP tools and the autopilot read it through their
  // Crisp client, the converse API through the serve process's.
  { name: 'helpdesk articles that match', inputs: ['help with getting my money back'], expected: ['choice:These may help:[Refund policy]'] },
  { name: 'helpdesk articles, none matching', inputs: ['help with quantum pizza ovens'], expected: ['text:No article answers that.'] },
];

/** A Crisp thread's bot messages, one line each. */
function crispLines(messages: Message[]): string[] {
  const lines: string[] = [];
  for (const m of messages) {
    if (m.from !== 'operator' || m.automated !== true) continue;
    const content = m.content as Record<string, unknown> | string;
    if (m.type === 'text') lines.push(`text:${String(content)}`);
    else if (m.type === 'picker' && typeof content === 'object') lines.push(`choice:${String(content.text)}[${(content.choices as Array<{ label: string }>).map((c) => c.label).join('|')}]`);
    else if (m.type === 'carousel' && typeof content === 'object') lines.push(`carousel:${String(content.text)}[${(content.targets as Array<{ title: string }>).map((c) => c.title).join('|')}]`);
    else if (m.type === 'note') {
      const handoff = /handed this conversation to a human \(([^)]+)\)/.exec(String(content));
      if (handoff) lines.push(`handoff:${handoff[1]}`);
    }
  }
  return lines;
}

/** The converse API's replies, one line each (`end` replies have no Crisp counterpart). */
function converseLines(replies: Array<Record<string, unknown>>): string[] {
  const lines: string[] = [];
  for (const r of replies) {
    if (r.type === 'text') lines.push(`text:${String(r.text)}`);
    else if (r.type === 'choice') lines.push(`choice:${String(r.text)}[${(r.buttons as Array<{ text: string }>).map((b) => b.text).join('|')}]`);
    else if (r.type === 'carousel') lines.push(`carousel:${String(r.text)}[${(r.carouselCards as Array<{ title: string }>).map((c) => c.title).join('|')}]`);
    else if (r.type === 'handoff') lines.push(`handoff:${String(r.reason)}`);
  }
  return lines;
}

describe('one scenario, three channels, the same bot messages', () => {
  let hook: Server;
  let origin: string;
  let library: ScenarioLibrary;
  let mcpSandbox: Sandbox;
  let agent: Client;
  let botSandbox: Sandbox;
  let botStore: MemoryStore;
  let bot: InProcessBot;
  let converse: ConverseHarness;
  let helpdeskClient: CrispClient;
  let calls = 0;

  beforeAll(async () => {
    // The scenario's webhook: answers { n } with the number it was sent.
    hook = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        calls++;
        const n = (JSON.parse(raw || '{}') as { n?: string }).n ?? '0';
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n }));
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
    library = scenarioLibraryFromTexts([equivalenceScenario(origin)]);

    mcpSandbox = await startSandbox({ seed: 11 });
    const config = resolveConfig(parseServeFlags(['--sandbox']), { env: {} });
    const mcpCrisp = clientFor(mcpSandbox);
    const deps: ToolDeps = { crisp: mcpCrisp, openConversation: openCrispConversations(mcpCrisp), guard: new Guard([mcpSandbox.websiteId]), config, log: createLogger('silent'), scenarios: library, store: new MemoryStore() };
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await buildServer(toolsFor({ readOnly: false, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools }), deps).connect(serverSide);
    agent = new Client({ name: 'agent', version: '1.0.0' });
    await agent.connect(clientSide);

    const port = await freePort();
    botSandbox = await startSandbox({ seed: 12, hooks: { url: hooksUrl(port), secret: HOOK_SECRET, retryDelayMs: 50, maxRetryDelayMs: 200 } });
    botStore = new MemoryStore();
    bot = await startTestBot(botSandbox, { events: 'hooks', store: botStore, port, scenario: library.require('equivalence'), guardrails: { replyBudget: { max: 100, windowMs: 60_000 } } });

    helpdeskClient = clientFor(mcpSandbox);
    converse = await startConverseHarness({ library, service: { scenario: 'equivalence', helpdesk: { port: helpdeskClient.helpdesk, website: mcpSandbox.websiteId } }, http: {} });
  });

  afterAll(async () => {
    await agent?.close();
    await bot?.stop();
    await converse?.close();
    await helpdeskClient?.close();
    await mcpSandbox?.close();
    await botSandbox?.close();
    await new Promise((resolve) => hook?.close(resolve));
  });

  async function viaMcp(inputs: string[]): Promise<string[]> {
    let session = '';
    for (const [i, text] of inputs.entries()) {
      if (i === 0) session = await visitorStarts(mcpSandbox, text);
      else await visitorWrites(mcpSandbox, session, text);
      const draft = await callTool<{ draft_id: string | null }>(agent, 'draft_scenario_reply', { website_id: mcpSandbox.websiteId, session_id: session, scenario: 'equivalence' });
      expect(draft.isError, draft.text).toBe(false);
      if (!draft.out.draft_id) continue;
      const post = await callTool(agent, 'post_draft', { draft_id: draft.out.draft_id });
      expect(post.isError, post.text).toBe(false);
    }
    return crispLines(thread(mcpSandbox, session));
  }

  async function viaAutopilot(inputs: string[]): Promise<string[]> {
    let session = '';
    for (const [i, text] of inputs.entries()) {
      const fingerprint = i === 0 ? undefined : await visitorWrites(botSandbox, session, text);
      if (i === 0) session = await visitorStarts(botSandbox, text);
      const last = fingerprint ?? thread(botSandbox, session).find((m) => m.from === 'user')!.fingerprint;
      await eventually(() => processed(botStore, botSandbox, session, last, 'equivalence'), 5_000, `the bot reading "${text}"`);
      // Webhook answers come back through the outbox: wait until it is drained.
      await eventually(async () => (await botStore.outboxHead(conversationKey(botSandbox.websiteId, session))) === undefined, 5_000, 'the outbox drained');
      await bot.autopilot.idle();
    }
    return crispLines(thread(botSandbox, session));
  }

  let conversation = 0;
  async function viaConverse(inputs: string[]): Promise<string[]> {
    const id = `eq-${++conversation}`;
    for (const [i, text] of inputs.entries()) {
      const answer = await converse.post({ conversationId: id, messageId: `${id}-${i}`, eventType: 'message', text });
      expect(answer.status, JSON.stringify(answer.json)).toBe(202);
    }
    await eventually(async () => (await converse.store.outboxPending({ prefix: '' })).length === 0 && converse.service.queued === 0, 5_000, 'every reply delivered');
    return converseLines(converse.receiver.of(id) as Array<Record<string, unknown>>);
  }

  it.each(CASES)('$name', async ({ inputs, expected }) => {
    const before = calls;
    const mcp = await viaMcp(inputs);
    const mcpCalls = calls - before;
    const autopilot = await viaAutopilot(inputs);
    const autopilotCalls = calls - before - mcpCalls;
    const api = await viaConverse(inputs);
    const converseCalls = calls - before - mcpCalls - autopilotCalls;
    expect({ mcp, autopilot, converse: api }).toEqual({ mcp: expected, autopilot: expected, converse: expected });
    expect([mcpCalls, autopilotCalls, converseCalls]).toEqual(Array(3).fill(mcpCalls));
  });
});
