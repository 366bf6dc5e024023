// postDraft's last two writes — the scenario position, then the draft marked posted — with a crash
// between them: a store wrapper makes the second write fail the way a killed process never makes
// it. Posting the same draft again must neither post its messages a second time nor claim that
// nothing was posted.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { conversationKey } from '../../src/engine/turn.js';
import { draftTurn, postDraft, type TurnDraft } from '../../src/mcp/drafts.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { MemoryStore, StoreError, type Store } from '../../src/store/index.js';
import { callTool, McpHarness } from '../helpers/mcp.js';
import { ECHO_SCENARIO, echoOf } from '../helpers/autopilot.js';
import { clientFor } from '../helpers/crisp.js';
import { visitor } from './scenario-fixtures.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => { exec(sql: string): void; close(): void };

let sandbox: Sandbox;
let crisp: CrispClient;
let dir: string;
let store: SqliteStore;
const library = scenarioLibraryFromTexts([{ file: 'echo.json', source: ECHO_SCENARIO }]);

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 12, faults: 'dedupe:off' });
  crisp = clientFor(sandbox);
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-post-crash-'));
  store = new SqliteStore(join(dir, 'state.db'));
});
afterAll(async () => {
  await store.close();
  await crisp.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = (website: string, session: string) => openCrispConversations(crisp)(website, session);

class Crash extends Error {}

/** The store, except that the write marking a draft posted never happens: the process "died" just before it. */
function dyingBeforeThePostedMark(inner: Store): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'putDraft') {
        return (input: { value: unknown }) => {
          if ((input.value as TurnDraft).posted) return Promise.reject(new Crash('killed between the position save and the posted mark'));
          return target.putDraft(input as Parameters<Store['putDraft']>[0]);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('postDraft crashed between its position save and the draft marked posted', () => {
  it('posted again: nothing is sent twice, and the answer is the post it finished, not "nothing was posted"', async () => {
    const v = visitor(sandbox);
    const session = v.open('where is my parcel');
    const { id } = await draftTurn({ open, store, library, website: sandbox.websiteId, session, scenario: 'echo' });
    await expect(postDraft({ open, store: dyingBeforeThePostedMark(store), library, draftId: id! })).rejects.toBeInstanceOf(Crash);
    expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('where is my parcel'));
    const saved = await store.getPosition(conversationKey(sandbox.websiteId, session), 'echo');
    expect(saved).toMatchObject({ version: 1 });

    const again = await postDraft({ open, store, library, draftId: id! });
    expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('where is my parcel'));
    expect(await store.getPosition(conversationKey(sandbox.websiteId, session), 'echo')).toMatchObject({ version: 1 });
    expect(again).toMatchObject({ replayed: true, version: 1, position: { block: 'listen' } });
  });
});

describe('post_draft through an MCP client, the store failing its position save once (Redis gone mid-turn)', () => {
  it('says the messages may be out and that posting the same draft again is safe; the retry posts each message once', async () => {
    const memory = new MemoryStore();
    let fail = true;
    const store = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop === 'savePosition' && fail) {
          return () => {
            fail = false;
            return Promise.reject(new StoreError('store_unavailable', 'the Redis store stopped answering'));
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const harness = await McpHarness.start({ seed: 13, scenarios: { scenarios: library, store } });
    try {
      const v = visitor(harness.sandbox);
      const session = v.open('my order is late');
      const draft = await callTool<{ draft_id: string }>(harness.client, 'draft_scenario_reply', { session_id: session, scenario: 'echo' });
      const failed = await callTool(harness.client, 'post_draft', { draft_id: draft.out.draft_id });
      expect(failed).toMatchObject({ isError: true });
      expect(failed.text).toMatch(/may have been sent.*post the same draft again/i);
      expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('my order is late'));

      const again = await callTool(harness.client, 'post_draft', { draft_id: draft.out.draft_id });
      expect(again.isError, again.text).toBe(false);
      expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('my order is late'));
      expect(await memory.getPosition(conversationKey(harness.sandbox.websiteId, session), 'echo')).toMatchObject({ version: 1 });
    } finally {
      await harness.close();
      await memory.close();
    }
  });
});

describe('post_draft through an MCP client, the SQLite file locked by another writer past the busy timeout', () => {
  it('answers a store error (not an internal one); once the file is free, the same draft posts each message once', async () => {
    const file = join(dir, 'busy.db');
    const sqlite = new SqliteStore(file);
    const harness = await McpHarness.start({ seed: 14, scenarios: { scenarios: library, store: sqlite } });
    try {
      const v = visitor(harness.sandbox);
      const session = v.open('can I change my plan');
      const draft = await callTool<{ draft_id: string }>(harness.client, 'draft_scenario_reply', { session_id: session, scenario: 'echo' });
      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE'); // another process writing, and not letting go
      const failed = await callTool(harness.client, 'post_draft', { draft_id: draft.out.draft_id });
      other.exec('ROLLBACK');
      other.close();
      expect(failed).toMatchObject({ isError: true });
      expect(failed.text).toMatch(/scenario store failed mid-way.*post the same draft again/i);
      expect(failed.text).not.toMatch(/Internal error/);

      const again = await callTool(harness.client, 'post_draft', { draft_id: draft.out.draft_id });
      expect(again.isError, again.text).toBe(false);
      expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('can I change my plan'));
    } finally {
      await harness.close();
      await sqlite.close();
    }
  }, 30_000);
});
