// A support team runs `crisp-mcp bot` beside its operators. A handoff block assigns the
// conversation, Crisp refuses that write for a moment (429) or loses its answer (503 after it was
// carried out), and meanwhile an operator routes the conversation by hand, without writing. The
// bot's write, tried again later, must not put its choice over the operator's: it reads how the
// conversation is routed, sees a person changed it since its turn read it, and stands down, saying
// so. Before, the Crisp client's own retry (or the outbox's) assigned it back to the bot's choice.
// The built CLI `bot` as a child process over RTM; the sandbox a real HTTP server, its faults
// bursts on PATCH …/routing, the operator's routing its console route (or, to land at one exact
// moment, the sandbox state's assign that route calls).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botNotes, spawnBot, type BotChild } from '../helpers/autopilot.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { control, demoSite, faultBurst } from '../helpers/sandbox-http.js';

let sandbox: Sandbox;
let bot: BotChild;
let dir: string;
/** The operator the scenario assigns to (by email), and the one a person routes to by hand. */
let botChoice: { user_id: string; email: string };
let human: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11 });
  const [first, second] = demoSite(sandbox).operators.map((o) => o.details);
  botChoice = { user_id: first!.user_id, email: first!.email! };
  human = second!.user_id;
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-routing-'));
  writeFileSync(
    join(dir, 'route.json'),
    JSON.stringify({
      name: 'route',
      version: 1,
      start: 'menu',
      blocks: {
        menu: { type: 'match', rules: [{ contains: ['human'], next: 'human' }], otherwise: 'hello' },
        hello: { type: 'message', text: 'Say human.', next: 'menu' },
        human: { type: 'handoff', text: 'Passing you to sales.', reason: 'asked', assign: { email: botChoice.email } },
      },
    }),
  );
  bot = await spawnBot(sandbox, ['--scenarios', dir, '--scenario', 'route', '--events', 'rtm', '--store', 'memory', '--catch-up', '0']);
});
afterAll(async () => {
  bot?.child.kill('SIGTERM');
  await bot?.exited;
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

const assigned = (session: string) => demoSite(sandbox).conversations.get(session)?.assigned?.user_id ?? null;
const stoodDown = (session: string) => bot.logs().filter((l) => l.msg === 'a person routed the conversation since the bot decided: the bot stands down' && String(l.conversation).endsWith(session));
const faults = (fault: string) => sandbox.stats().faults[fault] ?? 0;
/** Once the handoff note is posted, the assign ahead of it in the outbox is over (written or stood down). */
const handedOff = (session: string) => eventually(() => botNotes(sandbox, session).some((n) => n.includes('handed this conversation to a human')), 30_000, 'the handoff note');

/** An operator routes the conversation by hand, in the console: no message written. */
async function operatorRoutes(session: string, userId: string): Promise<void> {
  const reply = await control(sandbox, 'PATCH', `/_sandbox/websites/${sandbox.websiteId}/conversations/${session}/routing`, { user_id: userId });
  expect(reply.status).toBe(200);
}

const burst = (fault: string, retryAfter?: number) => faultBurst(sandbox, { fault, count: 1, method: 'PATCH', path_includes: '/routing', ...(retryAfter === undefined ? {} : { retry_after: retryAfter }) });

it("an operator's assignment made while the bot's assign waits out a 429 is kept; the bot stands down and says so", async () => {
  await burst('429', 3);
  const before = faults('429');
  const session = await visitorStarts(sandbox, 'I want a human');
  await eventually(() => faults('429') > before, 10_000, "Crisp refusing the bot's assign");
  await operatorRoutes(session, human);
  await handedOff(session);
  expect(assigned(session)).toBe(human);
  const [line] = await eventually(() => stoodDown(session).length === 1 && stoodDown(session), 10_000, 'the bot saying it stood down');
  expect(line).toMatchObject({ level: 30, action: 'assign' });
  expect(String(line!.detail)).toContain(`its assignment went from nobody to ${human}`);
}, 60_000);

it("an operator who re-routes after the bot's assign landed with its answer lost (503) keeps the conversation", async () => {
  await burst('503-after');
  // The operator re-routes the moment the bot's write lands, before Crisp's 503 is even answered
  // (what the console's routing route does, called in step): the bot's retry, however soon, comes after.
  const rerouted = new Promise<string>((resolve) => {
    const listener = (e: { event: string; data: { session_id?: string; routing_id?: string | null } }) => {
      if (e.event !== 'session:set_routing' || e.data.routing_id !== botChoice.user_id) return;
      sandbox.state.off('event', listener);
      sandbox.state.assign(demoSite(sandbox), e.data.session_id!, human);
      resolve(e.data.session_id!);
    };
    sandbox.state.on('event', listener);
  });
  const session = await visitorStarts(sandbox, 'a human please');
  expect(await rerouted).toBe(session);
  await handedOff(session);
  expect(assigned(session)).toBe(human);
  await eventually(() => stoodDown(session).length === 1, 10_000, 'the bot saying it stood down');
}, 60_000);

it('with nobody routing meanwhile, the refused assign is carried out when tried again', async () => {
  await burst('429', 1);
  const before = faults('429');
  const session = await visitorStarts(sandbox, 'human, thanks');
  await handedOff(session);
  expect(faults('429')).toBeGreaterThan(before);
  expect(assigned(session)).toBe(botChoice.user_id);
  expect(stoodDown(session)).toEqual([]);
}, 60_000);
