// The autopilot and an LLM agent on one website at once, each a child process of the built CLI:
// `bot` over RTM and `serve` over stdio with an SDK client, both pointed at one sandbox (a real
// HTTP server in this process), the visitor played through its /_sandbox/ routes. What docs/autopilot.md
// promises when they meet: the agent's reply takes the conversation over, its note does not, and
// its resolution hands the conversation back to the bot for the visitor's next message.
import { rmSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botTexts, echoOf, scenarioDir, spawnBot, transcript, type BotChild } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { callTool } from '../helpers/mcp.js';
import { connectStdio } from '../helpers/stdio.js';

let sandbox: Sandbox;
let bot: BotChild;
let agent: Client;
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 7 });
  dir = scenarioDir();
  bot = await spawnBot(sandbox, ['--scenarios', dir, '--scenario', 'echo', '--events', 'rtm', '--store', 'memory'], { CRISP_MCP_LOG_LEVEL: 'debug' });
  const credential = sandbox.credentials[0]!;
  ({ client: agent } = await connectStdio(['serve', '--store', 'memory'], {
    env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key, CRISP_TIER: credential.tier, CRISP_WEBSITE_ID: sandbox.websiteId, HOME: dir },
  }));
});
afterAll(async () => {
  await agent?.close();
  bot?.child.kill('SIGTERM');
  await bot?.exited;
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once the bot logged `msg` for this conversation (`fingerprint`: that visitor message) more times than `seen`. */
const logged = (session: string, msg: string, fingerprint?: number) =>
  bot.logs().filter((l) => l.msg === msg && String(l.conversation).endsWith(session) && (fingerprint === undefined || l.fingerprint === fingerprint)).length;

describe('the autopilot and an agent in one conversation', () => {
  it("stays answering past the agent's private note, stands down at its reply, and answers again after the agent resolves", async () => {
    const session = await visitorStarts(sandbox, 'hello');
    await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the bot answering');

    const note = await callTool(agent, 'send_message', { session_id: session, type: 'note', content: 'VIP customer, be nice' });
    expect(note.isError, note.text).toBe(false);
    await visitorWrites(sandbox, session, 'still there?');
    await eventually(() => botTexts(sandbox, session).length === 4, 10_000, 'the bot answering after the note');

    const reply = await callTool(agent, 'send_message', { session_id: session, content: 'Hi, I am taking it from here.' });
    expect(reply.isError, reply.text).toBe(false);
    await eventually(() => logged(session, 'an operator wrote: the bot is silent here until the conversation is resolved') === 1, 10_000, 'the bot standing down');
    const unanswered = await visitorWrites(sandbox, session, 'great, thanks');
    await eventually(() => logged(session, 'visitor message not answered', unanswered) === 1, 10_000, 'the bot reading past the message');
    expect(botTexts(sandbox, session)).toEqual([...echoOf('hello'), ...echoOf('still there?')]);

    // The agent resolves over the visitor's last message: told so, and the bot takes the next one.
    const resolved = await callTool(agent, 'set_conversation_state', { session_id: session, state: 'resolved' });
    expect(resolved.text).toBe(`${session} is now resolved. The visitor's last message has no answer.`);
    // Whichever event the bot gets first, the resolution's or the message's (docs/autopilot.md's promise).
    await visitorWrites(sandbox, session, 'one more thing');
    await eventually(() => botTexts(sandbox, session).length === 6, 10_000, 'the bot answering after the resolution');
    expect(logged(session, 'the conversation was resolved: the bot starts again')).toBe(1);
    expect(transcript(sandbox, session).filter((line) => !line.startsWith('N:'))).toEqual([
      'V: hello', ...echoOf('hello').map((t) => `B: ${t}`),
      'V: still there?', ...echoOf('still there?').map((t) => `B: ${t}`),
      'O: Hi, I am taking it from here.', 'V: great, thanks',
      'V: one more thing', ...echoOf('one more thing').map((t) => `B: ${t}`),
    ]);
  });
});
