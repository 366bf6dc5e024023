// The autopilot across an edit of its scenario file: conversations left mid-scenario by a bot that
// stops, the file edited in its folder, a bot started again on the edited file and the same SQLite
// file. A visitor's next message answers the question they were shown, in its new words; only a
// conversation whose block the edit removed starts again from the start.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenarioLibrary } from '../../src/engine/library.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { capturedLog, processed, startTestBot, thread, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts, visitorWrites } from '../helpers/events.js';

const V1 = {
  name: 'signup',
  version: 1,
  start: 'menu',
  blocks: {
    menu: { type: 'choice', text: 'Hi! What brings you here?', choices: [{ label: 'Newsletter', next: 'name' }, { label: 'Something else', next: 'human' }] },
    name: { type: 'ask', text: 'Your name?', save: { var: 'name' }, next: 'email' },
    email: { type: 'ask', text: 'Your email?', save: { var: 'email' }, next: 'done' },
    done: { type: 'end', text: 'Thanks {{name}} <{{email}}>' },
    human: { type: 'handoff', text: 'A human comes.' },
  },
};

let sandbox: Sandbox;
let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 31 });
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-edit-'));
  store = new SqliteStore(join(dir, 'state.db'));
});
afterAll(async () => {
  await store.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the bot said in the conversation: its texts, and the question of each set of buttons. */
function botTexts(sandbox: Sandbox, session: string): string[] {
  return thread(sandbox, session)
    .filter((m) => m.from === 'operator' && m.automated === true && (m.type === 'text' || m.type === 'picker'))
    .map((m) => (m.type === 'picker' ? String((m.content as { text?: unknown }).text) : String(m.content)));
}

/** What the bots logged, one parsed line each. */
const { lines: logged, log: botLog } = capturedLog('info');

async function botOn(folder: string): Promise<InProcessBot> {
  const scenario = (await loadScenarioLibrary(folder)).require('signup');
  return startTestBot(sandbox, { events: 'rtm', store, scenario, log: botLog });
}

const restartLines = () => logged.filter((l) => String(l.msg).includes('it started again from the start')).map((l) => [l.conversation, l.msg]);

async function answered(session: string, text: string, replies: number): Promise<void> {
  const fingerprint = await visitorWrites(sandbox, session, text);
  await eventually(() => processed(store, sandbox, session, fingerprint, 'signup'), 5_000, `the bot reading "${text}"`);
  await eventually(() => botTexts(sandbox, session).length >= replies, 5_000, `${replies} replies`);
}

describe('autopilot: a scenario edited while conversations wait in it', () => {
  it('goes on at the block each conversation waits at after a reword, a block added and a new version; restarts only where the block is gone', async () => {
    const folder = join(dir, 'scenarios');
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    const file = join(folder, 'signup.json');
    writeFileSync(file, JSON.stringify(V1, null, 2));

    let bot: InProcessBot | undefined = await botOn(folder);
    const atMenu = await visitorStarts(sandbox, 'hello');
    const atEmail = await visitorStarts(sandbox, 'hi there');
    try {
      await eventually(() => botTexts(sandbox, atMenu).length === 1 && botTexts(sandbox, atEmail).length === 1, 5_000, 'the greetings');
      await answered(atEmail, 'Newsletter', 2);
      await answered(atEmail, 'Ann', 3);
      expect(botTexts(sandbox, atEmail)).toEqual(['Hi! What brings you here?', 'Your name?', 'Your email?']);
      await bot.autopilot.idle();
      await bot.stop();
      bot = undefined;

      // The author rewords every text, adds a block before the others and bumps the version.
      const v2 = JSON.parse(readFileSync(file, 'utf8')) as typeof V1 & { blocks: Record<string, unknown> };
      v2.version = 2;
      v2.start = 'welcome';
      v2.blocks = { welcome: { type: 'message', text: 'Welcome to ACME.', next: 'menu' }, ...v2.blocks };
      v2.blocks.menu = { ...V1.blocks.menu, text: 'Hello! How can we help?' };
      v2.blocks.email = { ...V1.blocks.email, text: 'And your email address?' };
      v2.blocks.done = { type: 'end', text: 'Thank you, {{name}}: we will write to {{email}}.' };
      writeFileSync(file, JSON.stringify(v2, null, 2));
      bot = await botOn(folder);

      await answered(atEmail, 'ann@example.com', 4);
      expect(botTexts(sandbox, atEmail).slice(3)).toEqual(['Thank you, Ann: we will write to ann@example.com.']);
      await answered(atMenu, 'Newsletter', 2);
      expect(botTexts(sandbox, atMenu).slice(1)).toEqual(['Your name?']);
      expect(restartLines()).toEqual([]);
      await bot.autopilot.idle();
      await bot.stop();
      bot = undefined;

      // The next edit removes the block the conversation waits at, with no migration for it.
      const v3 = JSON.parse(readFileSync(file, 'utf8')) as { blocks: Record<string, { next?: string }> };
      delete v3.blocks.name;
      (v3.blocks.menu as unknown as typeof V1.blocks.menu).choices[0]!.next = 'email';
      writeFileSync(file, JSON.stringify(v3, null, 2));
      bot = await botOn(folder);
      await answered(atMenu, 'Bob', 4);
      expect(botTexts(sandbox, atMenu).slice(2)).toEqual(['Welcome to ACME.', 'Hello! How can we help?']);
      // The operators' log says why this visitor sees the greeting again.
      expect(restartLines()).toEqual([[`${sandbox.websiteId}/${atMenu}`, "the scenario changed since this conversation's last turn and has no block name (nor a migrations entry for it): it started again from the start"]]);
    } finally {
      await bot?.stop();
    }
  });
});
