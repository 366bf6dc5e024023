// src/mcp/drafts.ts without an MCP client: draft and post against a real sandbox, with the SQLite store on a
// temporary file (positions and drafts outlive the connection that wrote them), concurrent posts,
// several visitor messages in one turn, an edited scenario, and reset.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedFingerprint } from '../../src/engine/actions.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { draftTurn, postDraft, readDraft, resetScenario } from '../../src/mcp/drafts.js';
import { conversationKey } from '../../src/engine/turn.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { exampleSources, testLibrary, visitor } from './scenario-fixtures.js';

let sandbox: Sandbox;
let crisp: CrispClient;
let dir: string;
let store: SqliteStore;
let v: ReturnType<typeof visitor>;
const library = testLibrary();

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5 });
  crisp = clientFor(sandbox);
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-turn-'));
  store = new SqliteStore(join(dir, 'state.db'));
  v = visitor(sandbox);
});
afterAll(async () => {
  await store.close();
  await crisp.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = (website: string, session: string) => openCrispConversations(crisp)(website, session);
const io = () => ({ open, store, library, website: sandbox.websiteId });

describe('draftTurn / postDraft with the SQLite store', () => {
  it("an articles block with no locale offers the articles of the visitor's language", async () => {
    const session = v.open("J'ai une question RGPD : comment effacer mes données ?");
    const { id } = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    await postDraft({ open, store, library, draftId: id! });
    const offered = v.thread(session).find((m) => m.type === 'picker' && (m.content as { id?: string }).id === 'gdpr_answer');
    expect((offered?.content as { choices: unknown[] } | undefined)?.choices[0]).toMatchObject({
      label: 'RGPD et accord de traitement des données',
      action: { type: 'link', target: expect.stringMatching(/\/fr\/article\/rgpd-et-dpa\/$/) },
    });
  });

  it('saves the position (version 1, then 2) and the posted result, readable from another connection', async () => {
    const session = v.open('I have a GDPR question');
    const first = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    expect(first.draft).toMatchObject({ base_version: 0, base_visitor_fingerprint: v.thread(session).at(-1)!.fingerprint, events: [{ type: 'start', text: 'I have a GDPR question' }] });
    const posted = await postDraft({ open, store, library, draftId: first.id! });
    expect(posted).toMatchObject({ version: 1, replayed: false, held: false, position: { block: 'more', waiting: true } });
    // The articles block searched the sandbox's helpdesk and offered what it found as link buttons.
    expect(first.draft.actions).toEqual([{ type: 'search_articles', block: 'gdpr_answer', query: 'I have a GDPR question', locale: null, limit: 2 }]);
    expect(posted.webhooks).toEqual([{ url: 'helpdesk:search', status: null, ok: true }]);
    const offered = v.thread(session).find((m) => m.type === 'picker' && (m.content as { id?: string }).id === 'gdpr_answer');
    expect((offered?.content as { choices: unknown[] }).choices[0]).toMatchObject({ label: 'GDPR and our Data Processing Agreement', action: { type: 'link', target: expect.stringMatching(/^https?:\/\/.+gdpr-data-processing/) } });

    const other = new SqliteStore(join(dir, 'state.db'));
    try {
      expect(await other.getPosition(conversationKey(sandbox.websiteId, session), 'gdpr')).toMatchObject({ version: 1, value: { v: 2, scenario: { block: 'more' }, channels: {} } });
      expect((await readDraft(other, first.id!))!.draft.posted).toMatchObject({ version: 1 });
    } finally {
      await other.close();
    }

    v.says(session, 'No, I need a human');
    const second = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    expect(second.draft.base_version).toBe(1);
    const done = await postDraft({ open, store, library, draftId: second.id! });
    expect(done).toMatchObject({ version: 2, position: { handed_off: true } });
  });

  it('two concurrent posts of one draft carry it out once; the other returns the same result', async () => {
    const session = v.open('gdpr please');
    const { id } = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    const before = v.thread(session).length;
    const [a, b] = await Promise.all([postDraft({ open, store, library, draftId: id! }), postDraft({ open, store, library, draftId: id! })]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(a.outcomes).toEqual(b.outcomes);
    // The messages follow the helpdesk search's answer: steps w1.0 and w1.1.
    expect(v.thread(session).slice(before).map((m) => m.fingerprint)).toEqual([derivedFingerprint(id!, 'w1.0'), derivedFingerprint(id!, 'w1.1')]);
  });

  it('feeds every visitor message since the last turn, in order', async () => {
    const session = v.open('newsletter please');
    await postDraft({ open, store, library, draftId: (await draftTurn({ ...io(), session, scenario: 'newsletter' })).id! });
    v.says(session, 'hmm');
    v.says(session, 'kim@example.com');
    const { draft } = await draftTurn({ ...io(), session, scenario: 'newsletter' });
    expect(draft.events.map((e) => e.text)).toEqual(['hmm', 'kim@example.com']);
    expect(draft.actions.map((a) => a.type)).toEqual(['send_message', 'set_people_profile', 'set_people_data', 'set_segments', 'send_message', 'resolve']);
  });

  it('names a visitor message the scenario cannot read (a file, a voice message) instead of saying there is nothing to do', async () => {
    const session = v.open('I have a GDPR question');
    await postDraft({ open, store, library, draftId: (await draftTurn({ ...io(), session, scenario: 'gdpr' })).id! });
    const user = { user_id: session, nickname: 'Ada' };
    const file = sandbox.state.addMessage(v.site(), session, { type: 'file', from: 'user', origin: 'chat', content: { name: 'dpa.pdf', url: 'https://files.example.test/dpa.pdf', type: 'application/pdf' } }, user).message;
    const voice = sandbox.state.addMessage(v.site(), session, { type: 'audio', from: 'user', origin: 'chat', content: { url: 'https://files.example.test/v.ogg', type: 'audio/ogg', duration: 3 } }, user).message;
    const { draft } = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    expect(draft.events).toEqual([]);
    expect(draft.notes).toEqual([`The scenario reads past message ${file.fingerprint} (file), message ${voice.fingerprint} (audio): get_conversation shows what the visitor sent; send_message answers it.`]);
  });

  it('a reworded scenario goes on at the block the conversation waits at: the visitor\'s click answers the question they saw, and the note says so', async () => {
    const session = v.open('a gdpr question');
    await postDraft({ open, store, library, draftId: (await draftTurn({ ...io(), session, scenario: 'gdpr' })).id! });
    const edited = scenarioLibraryFromTexts(
      exampleSources().map((s) => (s.file.endsWith('gdpr.json') ? { ...s, source: s.source.replace('Glad to help!', 'Happy to help!').replace('"version": 1', '"version": 2') } : s)),
    );
    v.says(session, 'Yes, thanks');
    const { draft } = await draftTurn({ ...io(), library: edited, session, scenario: 'gdpr' });
    expect(draft.notes).toEqual(["Scenario gdpr changed since this conversation's last turn; it goes on at block more, which the new version still has."]);
    expect(draft.actions).toEqual([{ type: 'send_message', message: { type: 'text', text: 'Happy to help!' } }, { type: 'resolve' }]);
    expect(draft.position_after).toMatchObject({ block: 'done', ended: true, vars: { question: 'a gdpr question' } });
  });

  it('an edit that removes the block a conversation waits at restarts it from the start, and says so', async () => {
    const session = v.open('a gdpr question');
    await postDraft({ open, store, library, draftId: (await draftTurn({ ...io(), session, scenario: 'gdpr' })).id! });
    const gdpr = JSON.parse(exampleSources().find((s) => s.file.endsWith('gdpr.json'))!.source) as { blocks: Record<string, { next?: string }> };
    delete gdpr.blocks.more;
    gdpr.blocks.gdpr_answer!.next = 'done';
    const edited = scenarioLibraryFromTexts(exampleSources().map((s) => (s.file.endsWith('gdpr.json') ? { ...s, source: JSON.stringify(gdpr) } : s)));
    v.says(session, 'Yes, thanks');
    const { draft } = await draftTurn({ ...io(), library: edited, session, scenario: 'gdpr' });
    expect(draft.notes).toEqual(["Scenario gdpr changed since this conversation's last turn (it was at block more): it starts again from its start."]);
  });

  it('a draft made before the scenario file was edited is refused at post, saying so, and nothing is posted', async () => {
    const session = v.open('a gdpr question');
    const { id } = await draftTurn({ ...io(), session, scenario: 'gdpr' });
    const edited = scenarioLibraryFromTexts(exampleSources().map((s) => (s.file.endsWith('gdpr.json') ? { ...s, source: s.source.replace('Glad to help!', 'Happy to help!') } : s)));
    const before = v.thread(session).length;
    await expect(postDraft({ open, store, library: edited, draftId: id! })).rejects.toMatchObject({
      code: 'draft_stale',
      message: `draft ${id} is stale: scenario gdpr was edited since (this process runs another version of its file than the one the draft was made with). Nothing was posted; call draft_scenario_reply again for a fresh draft.`,
    });
    expect(v.thread(session)).toHaveLength(before);
  });

  it('resetScenario puts the position back at the start with a new version', async () => {
    const session = v.open('human please');
    await postDraft({ open, store, library, draftId: (await draftTurn({ ...io(), session, scenario: 'handoff' })).id! });
    const reset = await resetScenario({ store, library, website: sandbox.websiteId, session, scenario: 'handoff' });
    expect(reset).toEqual({ scenario: 'handoff', version: 2, block: 'route' });
    const saved = await store.getPosition(conversationKey(sandbox.websiteId, session), 'handoff');
    expect(saved).toMatchObject({ version: 2, value: { v: 2, scenario: { block: 'route', handed_off: false, waiting: false, vars: {} } } });
  });
});
