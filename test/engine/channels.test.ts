// No channel erases another's state. The autopilot (in this process, over Web Hooks) and an agent
// using the MCP scenario tools (a real MCP client) work the same conversation of the sandbox, with
// one SQLite store between them. Whatever the agent does — draft and post, or reset — a bot that an
// operator (or its reply budget) paused stays silent when the visitor writes again, and no visitor
// message is answered twice. Records saved by the previous release (a bare position, or a position
// with the autopilot's state beside it) are read the same way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { readRecord } from '../../src/engine/record.js';
import { conversationKey } from '../../src/engine/turn.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { buildServer, toolsFor } from '../../src/mcp/server.js';
import type { ToolDeps } from '../../src/mcp/tools/deps.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { botsSettled, ECHO_SCENARIO, HOOK_SECRET, hooksUrl, processed, startTestBot, transcript, type InProcessBot } from '../helpers/autopilot.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { callTool } from '../helpers/mcp.js';
import { freePort } from '../helpers/net.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';

const library = scenarioLibraryFromTexts([{ file: 'echo.json', source: ECHO_SCENARIO }]);
const echo = library.require('echo');

describe('no channel erases another channel\'s state', () => {
  let sandbox: Sandbox;
  let store: SqliteStore;
  let dir: string;
  let bot: InProcessBot | undefined;
  let agent: Client;
  let port: number;
  const crisp = () => bot!.crisp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-channels-'));
    store = new SqliteStore(join(dir, 'state.db'));
    port = await freePort();
    sandbox = await startSandbox({ seed: 7, hooks: { url: hooksUrl(port), secret: HOOK_SECRET, retryDelayMs: 50, maxRetryDelayMs: 200 } });
    bot = await startTestBot(sandbox, { events: 'hooks', store, port, scenario: echo, guardrails: { replyBudget: { max: 4, windowMs: 60_000 } } });
    // The agent's MCP server shares the store and the scenarios with the bot, as `serve --http --bot-scenario` wires them.
    const config = resolveConfig(parseServeFlags(['--sandbox']), { env: {} });
    const agentCrisp = clientFor(sandbox);
    const deps: ToolDeps = { crisp: agentCrisp, guard: new Guard([sandbox.websiteId]), config, log: createLogger('silent'), scenarios: library, store, openConversation: openCrispConversations(agentCrisp) };
    const tools = toolsFor({ readOnly: false, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await buildServer(tools, deps).connect(serverSide);
    agent = new Client({ name: 'agent', version: '1.0.0' });
    await agent.connect(clientSide);
  });

  afterAll(async () => {
    await agent?.close();
    await bot?.stop();
    await sandbox?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await bot?.autopilot.idle();
  });

  /** The visitor writes; resolves once the bot has read the message and finished what it does about it. */
  async function visitorAndBot(session: string, text: string): Promise<void> {
    const fingerprint = await visitorWrites(sandbox, session, text);
    await eventually(() => processed(store, sandbox, session, fingerprint), 5_000, `the bot reading "${text}"`);
    // Every hook delivered and worked, the bot's own replies coming back included: a wrong extra reply would be here.
    await botsSettled(sandbox, [bot!]);
  }

  async function newConversation(first: string): Promise<string> {
    const session = await visitorStarts(sandbox, first);
    await eventually(() => transcript(sandbox, session).length === 3, 5_000, 'the bot answering the first message');
    await bot!.autopilot.idle();
    return session;
  }

  async function agentDraftsAndPosts(session: string): Promise<void> {
    const draft = await callTool<{ draft_id: string | null }>(agent, 'draft_scenario_reply', { website_id: sandbox.websiteId, session_id: session, scenario: 'echo' });
    expect(draft.isError, draft.text).toBe(false);
    expect(draft.out.draft_id, draft.text).toBeTruthy();
    const post = await callTool(agent, 'post_draft', { draft_id: draft.out.draft_id });
    expect(post.isError, post.text).toBe(false);
  }

  async function agentResets(session: string): Promise<void> {
    const reset = await callTool(agent, 'reset_scenario', { website_id: sandbox.websiteId, session_id: session, scenario: 'echo' });
    expect(reset.isError, reset.text).toBe(false);
  }

  async function pausedBy(session: string): Promise<string | undefined> {
    const saved = await store.getPosition(conversationKey(sandbox.websiteId, session), 'echo');
    const part = readRecord(saved?.value).record.channels.autopilot as { paused?: { reason: string } | null } | undefined;
    return part?.paused?.reason;
  }

  async function operatorTakesOver(session: string): Promise<void> {
    await crisp().messages.send(sandbox.websiteId, session, { type: 'text', from: 'operator', origin: 'chat', content: 'Jane from support here.' });
    await visitorAndBot(session, 'thanks Jane');
    expect(await pausedBy(session)).toBe('operator');
  }

  async function budgetRunsOut(session: string): Promise<void> {
    await visitorAndBot(session, 'second'); // 4 replies in the window: the budget is spent
    await visitorAndBot(session, 'third');
    expect(await pausedBy(session)).toBe('reply_budget');
  }

  it.each([
    ['an operator', 'draft_scenario_reply + post_draft', operatorTakesOver, agentDraftsAndPosts],
    ['an operator', 'reset_scenario', operatorTakesOver, agentResets],
    ['the reply budget', 'draft_scenario_reply + post_draft', budgetRunsOut, agentDraftsAndPosts],
    ['the reply budget', 'reset_scenario', budgetRunsOut, agentResets],
  ])('a bot paused by %s stays silent after an agent\'s %s', async (_why, _what, pause, agentActs) => {
    const session = await newConversation('hello');
    await pause(session);
    const reason = await pausedBy(session);
    await visitorAndBot(session, 'is anyone there?'); // something new for the agent's draft
    await agentActs(session);
    expect(await pausedBy(session)).toBe(reason);
    const before = transcript(sandbox, session);
    await visitorAndBot(session, 'hello again');
    expect(transcript(sandbox, session)).toEqual([...before, 'V: hello again']);
  });

  it('no visitor message is answered twice when an agent answered it behind the bot\'s cursor', async () => {
    const session = await newConversation('one');
    // A message the bot has not read yet (its event is late), answered by the agent first.
    await bot!.stop();
    bot = undefined;
    await visitorWrites(sandbox, session, 'two');
    await agentDraftsAndPosts(session);
    bot = await startTestBot(sandbox, { events: 'hooks', store, port, scenario: echo, guardrails: { replyBudget: { max: 4, windowMs: 60_000 } } });
    await visitorAndBot(session, 'three');
    const lines = transcript(sandbox, session);
    expect(lines.filter((l) => l === 'V: two')).toHaveLength(1);
    expect(lines.filter((l) => l.endsWith('You said: two'))).toHaveLength(1);
    // The agent's post counts as the operator side writing: the bot steps back from then on.
    expect(lines.filter((l) => l.endsWith('You said: three'))).toHaveLength(0);
    expect(await pausedBy(session)).toBe('operator');
  });

  it.each([
    ['a bare position (written by the MCP tools)', 'bare', false],
    ['a position with the autopilot state beside it', 'autopilot', false],
    ['a position with a paused autopilot beside it', 'autopilot', true],
  ] as const)('a record of the previous release, %s, is read and kept', async (_what, shape, paused) => {
    const session = await newConversation('before the upgrade');
    const key = conversationKey(sandbox.websiteId, session);
    const saved = (await store.getPosition(key, 'echo'))!;
    const { record } = readRecord(saved.value);
    const autopilot = { ...(record.channels.autopilot as object), paused: paused ? { reason: 'operator', at: 1, by: null } : null };
    const old = shape === 'bare' ? record.scenario : { ...record.scenario, autopilot };
    expect((await store.savePosition(key, 'echo', old, { expectedVersion: saved.version })).ok).toBe(true);

    const read = readRecord((await store.getPosition(key, 'echo'))!.value);
    expect(read).toEqual({ record: { v: 2, scenario: record.scenario, channels: shape === 'bare' ? {} : { autopilot } }, unreadable: false });
    // The agent resets (a write in the new format): the old autopilot state is carried over, not dropped.
    await agentResets(session);
    expect(await pausedBy(session)).toBe(paused ? 'operator' : undefined);
    const before = transcript(sandbox, session);
    await visitorAndBot(session, 'after the upgrade');
    expect(transcript(sandbox, session).slice(before.length)).toEqual(['V: after the upgrade', ...(paused ? [] : ['B: You said: after the upgrade', 'B: Noted: after the upgrade'])]);
  });
});
