// The shipped `newsletter` scenario asks for an email and saves it to the contact's profile. A
// visitor who answers with a domain in another script (info@bücher.de) had it saved as typed; the
// profile update that carries it is refused by the wire schema (`z.email()`, src/crisp/schemas.ts)
// and by the sandbox, every time it is retried, and the turn never ended. Now the `ask` block saves
// the domain in its ASCII (IDNA) form, and an address whose part before @ is outside ASCII — which
// has no such form — is asked for again with the block's invalid_text. The bot in process over RTM,
// the sandbox as a real HTTP server, the scenario file as shipped.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { botTexts, startTestBot, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';
import { demoSite } from '../helpers/sandbox-http.js';

const newsletter = () => scenarioLibraryFromTexts([{ file: 'newsletter.json', source: readFileSync(new URL('../../scenarios/newsletter.json', import.meta.url), 'utf8') }]).require('newsletter');
const QUESTION = 'Sure! What email should we send the newsletter to?';
const INVALID = 'That does not look like an email address. Could you type it again?';

let sandbox: Sandbox;
let bot: InProcessBot;

beforeEach(async () => {
  sandbox = await startSandbox({ seed: 51 });
  bot = await startTestBot(sandbox, { events: 'rtm', store: new MemoryStore(), scenario: newsletter() });
});

afterEach(async () => {
  await bot?.stop();
  await sandbox?.close();
});

/** The email of the contact profile the conversation is bound to, as the sandbox keeps it. */
function profileEmail(session: string): string | undefined {
  const site = demoSite(sandbox);
  const peopleId = site.conversations.get(session)?.people_id;
  return peopleId ? site.people.get(peopleId)?.email : undefined;
}

it('a domain in another script lands on the contact profile in its ASCII form, and the scenario ends', async () => {
  const session = await visitorStarts(sandbox, 'newsletter please');
  await eventually(() => botTexts(sandbox, session).length === 1, 10_000, 'the question');
  await visitorWrites(sandbox, session, 'info@bücher.de');
  await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the thanks');
  expect(botTexts(sandbox, session)).toEqual([QUESTION, 'Done: info@xn--bcher-kva.de is subscribed. You can unsubscribe from any issue.']);
  await eventually(() => profileEmail(session) === 'info@xn--bcher-kva.de', 10_000, 'the profile email');
  await eventually(() => demoSite(sandbox).conversations.get(session)?.state === 'resolved', 10_000, 'the conversation resolved');
  expect(bot.autopilot.stats().delivery.dropped).toBe(0);
}, 60_000);

it('a part before @ outside ASCII is asked for again, and the address typed next lands', async () => {
  const session = await visitorStarts(sandbox, 'subscribe');
  await eventually(() => botTexts(sandbox, session).length === 1, 10_000, 'the question');
  await visitorWrites(sandbox, session, 'josé@exämple.de');
  await eventually(() => botTexts(sandbox, session).length === 2, 10_000, 'the second ask');
  expect(botTexts(sandbox, session)[1]).toBe(INVALID);
  await visitorWrites(sandbox, session, 'jose@exämple.de');
  await eventually(() => botTexts(sandbox, session).length === 3, 10_000, 'the thanks');
  expect(botTexts(sandbox, session)[2]).toBe('Done: jose@xn--exmple-cua.de is subscribed. You can unsubscribe from any issue.');
  await eventually(() => profileEmail(session) === 'jose@xn--exmple-cua.de', 10_000, 'the profile email');
  expect(bot.autopilot.stats().delivery.dropped).toBe(0);
}, 60_000);
