// The MCP tools' turn on the engine's, in two halves: `draftTurn` works out what the scenario would
// do with the visitor messages since its last turn and keeps that as a draft (it sends nothing);
// `postDraft` carries the draft out through the conversation's port (runTurn) and saves the new
// position. `resetScenario` puts the position back at the start.
//
// Exactly once: a posted draft keeps its result, so posting it again returns that result; every
// message carries a fingerprint derived from (draft, step), and a post retried after a failure
// looks for each one in the conversation before sending it, so it never shows a message twice;
// the position is saved with compare-and-set on the version the draft was made from, under the
// conversation's lock. A draft whose conversation moved on (a new visitor message, another turn
// saved, the scenario edited, a person on the operator side answering the visitor) is refused as stale. A person who
// only routed it (assigned it by hand, reopened it) makes nothing stale: the draft's routing writes stand down
// instead (engine/routing.ts), the rest is posted. The position and the draft are two keys, so the
// result is written into the draft (`saving`) before the position: a post killed between the two
// saves finds, when retried, its own save in the store and finishes as posted.
import { initialPosition, type Action, type Position, type ScenarioEvent } from '../scenario/run.js';
import { withLock, type Store } from '../store/index.js';
import { waitsFor } from '../engine/describe.js';
import { isEffect } from '../engine/effects.js';
import { isRoutingWrite, type RoutingSeen } from '../engine/routing.js';
import type { LoadedScenario, ScenarioLibrary } from '../engine/library.js';
import type { ActionOutcome, ConversationPort, EffectAnswer, ThreadMessage } from '../engine/port.js';
import { loadRecord, saveRecord, withPosition, type LoadedRecord } from '../engine/record.js';
import { advanceTurn, allActions, conversationKey, eventText, isInitial, operatorSpeaks, pending, runTurn, stepContext, turnLockKey, TURN_LOCK_TTL_MS, visitorEvent, type Advance } from '../engine/turn.js';

/** How long a draft can be posted. */
export const DRAFT_TTL_MS = 60 * 60 * 1000;

export type TurnErrorCode = 'draft_not_found' | 'draft_stale' | 'position_conflict';

/** A refusal the caller can act on; the message says what to do next. */
export class TurnError extends Error {
  override readonly name = 'TurnError';
  constructor(
    readonly code: TurnErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A visitor message the draft fed to the scenario. `text` is the visitor's, unsanitized. */
export interface DraftEvent {
  type: 'start' | 'visitor_text' | 'choice';
  fingerprint: number | null;
  text: string;
}

/** What a draft holds (the store's draft value). */
export interface TurnDraft {
  kind: 'scenario_draft';
  website: string;
  session: string;
  scenario: string;
  program_hash: string;
  /** The position version the draft was made from (0: none saved). */
  base_version: number;
  /** The newest visitor message when drafted; a newer one makes the draft stale. */
  base_visitor_fingerprint: number | null;
  /**
   * The newest message's time (Crisp's) when drafted: a person's answer to the visitor after it
   * makes the draft stale. Absent from the drafts of earlier releases, which are not checked so.
   */
  base_thread_timestamp?: number | null;
  /**
   * How the conversation was routed when drafted, read when the draft routes it (assign, unassign,
   * resolve) or calls a webhook or search whose answer may: posted, those writes stand down if a
   * person changed it since. Absent from the drafts of earlier releases, whose writes go as they come.
   */
  base_routing?: RoutingSeen;
  events: DraftEvent[];
  actions: Action[];
  position_after: Position;
  waits_for: string;
  /** Restarts, migrations and messages the scenario ignored, in words. */
  notes: string[];
  created_at: number;
  /** A post of this draft began (and may have reached Crisp) before this time without finishing. */
  attempted_at?: number;
  /** The result of a post about to save its position (at `saving.version`): found saved, the post is done. */
  saving?: PostedTurn;
  posted?: PostedTurn;
}

export interface DraftResult {
  /** null when there is nothing to post (no new visitor message, or nothing would change). */
  id: string | null;
  draft: TurnDraft;
  expiresAt: number | null;
}

export interface PostedTurn {
  draft_id: string;
  website: string;
  session: string;
  scenario: string;
  /** Every action carried out, in order; `follow_up` ones came from a webhook's answer. */
  outcomes: Array<ActionOutcome & { follow_up: boolean }>;
  webhooks: Array<Omit<EffectAnswer, 'data'>>;
  position: Position;
  version: number;
  waits_for: string;
  /** Some reply went out as a private note for an operator to approve (--send-mode note). */
  held: boolean;
  posted_at: number;
}

export interface PostResult extends PostedTurn {
  /** The draft had been posted before: this is the stored result, nothing was done again. */
  replayed: boolean;
}

export interface TurnIO {
  store: Store;
  library: ScenarioLibrary;
  /** The conversation as a port: Crisp's (commands/crisp-conversation.ts, wired in by serve) in production. */
  open: (website: string, session: string) => ConversationPort;
}

// ---------------------------------------------------------------- draft

export async function draftTurn(input: TurnIO & { website: string; session: string; scenario: string; now?: number }): Promise<DraftResult> {
  const { store, library, website, session } = input;
  const loaded = (await library.compiled()).require(input.scenario);
  const program = loaded.program;
  const key = conversationKey(website, session);
  const now = input.now ?? Date.now();
  const conversation = input.open(website, session);

  const [saved, thread] = await Promise.all([loadRecord(store, key, loaded.name), conversation.thread()]);
  const parsed = saved.record.scenario;
  const start = parsed === null || isInitial(parsed, program);
  const position: Position = parsed ?? initialPosition(program);
  const visitor = thread.filter((m) => m.from === 'user');
  const fresh = start ? visitor : visitorSince(visitor, position, saved.updatedAt);
  const read = fresh.map(fed);
  const events = start ? [startEvent(visitor)] : read.filter((e): e is Fed => e !== undefined);

  const notes: string[] = [];
  // A file, a voice message…: the scenario reads past it, but it may well need an answer.
  const unread = fresh.filter((_, i) => read[i] === undefined);
  if (unread.length) notes.push(`The scenario reads past ${unread.map((m) => `message ${m.fingerprint} (${m.type})`).join(', ')}: get_conversation shows what the visitor sent; send_message answers it.`);
  if (saved.unreadable) notes.push('The saved position was unreadable; the scenario starts again from its start.');
  const actions: Action[] = [];
  let after = position;
  const context = events.length ? await stepContext(program, now, () => conversation.operatorsOnline()) : { now };
  for (const { event, shown } of events) {
    const advance = advanceTurn(program, after, { type: 'event', event }, context);
    actions.push(...allActions(advance));
    after = advance.position;
    notes.push(...notesOf(advance, shown, loaded));
  }
  if (events.length === 0 && unread.length === 0) notes.push("No visitor message since the scenario's last turn: nothing to do.");
  const answer = answeredAfter(thread, fresh.at(-1));
  if (answer && events.length) notes.push(`An operator answered the visitor after the messages this draft reads (message ${answer.fingerprint}): posting it answers them again.`);

  const routes = actions.some((a) => isRoutingWrite(a) || isEffect(a));
  const draft: TurnDraft = {
    kind: 'scenario_draft',
    website,
    session,
    scenario: loaded.name,
    program_hash: program.hash,
    base_version: saved.version,
    base_visitor_fingerprint: visitor.at(-1)?.fingerprint ?? null,
    base_thread_timestamp: thread.at(-1)?.timestamp ?? null,
    ...(routes ? { base_routing: await conversation.routing() } : {}),
    events: events.map((e) => e.shown),
    actions,
    position_after: after,
    waits_for: waitsFor(program, after),
    notes,
    created_at: now,
  };
  // Nothing to send and nothing to save: no draft to post.
  if (actions.length === 0 && JSON.stringify(after) === JSON.stringify(position) && !start) return { id: null, draft, expiresAt: null };
  const stored = await store.putDraft({ value: draft, ttlMs: DRAFT_TTL_MS, conversation: key });
  return { id: stored.id, draft, expiresAt: stored.expiresAt };
}

type Fed = { event: ScenarioEvent; shown: DraftEvent };

/**
 * A person on the operator side answering the visitor (an agent's send_message included), where
 * a scenario's own messages (this draft tool's, the autopilot's) carry Crisp's `automated` flag.
 */
function personAnswers(m: ThreadMessage): boolean {
  return operatorSpeaks(m) && m.automated !== true;
}

/** The newest answer a person wrote after `message`, one of the thread's, if any. */
function answeredAfter(thread: readonly ThreadMessage[], message: ThreadMessage | undefined): ThreadMessage | undefined {
  const at = message ? thread.indexOf(message) : -1;
  return at < 0 ? undefined : thread.slice(at + 1).findLast(personAnswers);
}

/** A visitor message as the scenario reads it, and as the draft shows it. */
function fed(m: ThreadMessage): Fed | undefined {
  const event = visitorEvent(m);
  return event && { event, shown: { type: event.type, fingerprint: m.fingerprint, text: eventText(event) } };
}

/** A new conversation: `start`, carrying the newest visitor message the scenario can read. */
function startEvent(visitor: ThreadMessage[]): Fed {
  for (let i = visitor.length - 1; i >= 0; i--) {
    const read = fed(visitor[i]!);
    if (read?.event.type === 'visitor_text') return { event: { type: 'start', text: read.event.text, fingerprint: read.event.fingerprint }, shown: { ...read.shown, type: 'start' } };
  }
  return { event: { type: 'start' }, shown: { type: 'start', fingerprint: null, text: '' } };
}

/** The visitor messages after the last one the scenario saw (by fingerprint; by time when that one is not in the page). */
function visitorSince(visitor: ThreadMessage[], position: Position, savedAt: number): ThreadMessage[] {
  const at = position.last_fingerprint === null ? -1 : visitor.findIndex((m) => m.fingerprint === position.last_fingerprint);
  return at >= 0 ? visitor.slice(at + 1) : visitor.filter((m) => m.timestamp > savedAt);
}

function notesOf(result: Advance, shown: DraftEvent, loaded: LoadedScenario): string[] {
  const notes: string[] = [];
  const which = shown.fingerprint === null ? 'the start' : `message ${shown.fingerprint}`;
  if (result.restarted) {
    notes.push(
      result.restarted.reason === 'program_changed'
        ? `Scenario ${loaded.name} changed since this conversation's last turn (it was at block ${result.restarted.from_block}): it starts again from its start.`
        : `The saved position did not fit scenario ${loaded.name} (block ${result.restarted.from_block}): it starts again from its start.`,
    );
  }
  if (result.migrated) {
    const { from_block: from, to_block: to } = result.migrated;
    notes.push(
      from === to
        ? `Scenario ${loaded.name} changed since this conversation's last turn; it goes on at block ${to}, which the new version still has.`
        : `Scenario ${loaded.name} changed; this conversation moved from block ${from} to ${to} (its migrations).`,
    );
  }
  if (result.ignored === 'handed_off') notes.push(`Ignored ${which}: the scenario handed this conversation to a human and stays silent (reset_scenario starts it again).`);
  if (result.ignored === 'unexpected_input') notes.push(`Ignored ${which}: not what the scenario waits for now; it is read again on the next turn.`);
  return notes;
}

// ---------------------------------------------------------------- post

/** A live scenario draft, or undefined (unknown, expired, or not a scenario draft). */
export async function readDraft(store: Store, id: string): Promise<{ id: string; draft: TurnDraft; expiresAt: number } | undefined> {
  const found = await store.getDraft<TurnDraft>(id);
  if (!found || found.value?.kind !== 'scenario_draft') return undefined;
  return { id, draft: found.value, expiresAt: found.expiresAt };
}

/** Live scenario drafts, newest first (of the 500 the store lists), for listings and "did you mean". */
export async function listDrafts(store: Store, limit = 20): Promise<Array<{ id: string; draft: TurnDraft; expiresAt: number }>> {
  const all = await store.listDrafts(undefined, 500);
  return all
    .filter((d) => (d.value as TurnDraft | undefined)?.kind === 'scenario_draft')
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, limit)
    .map((d) => ({ id: d.id, draft: d.value as TurnDraft, expiresAt: d.expiresAt }));
}

export interface PostInput extends TurnIO {
  draftId: string;
  now?: number;
}

export async function postDraft(input: PostInput): Promise<PostResult> {
  const { store, draftId } = input;
  const first = await readDraft(store, draftId);
  if (!first) throw new TurnError('draft_not_found', `no draft ${draftId}: drafts expire ${DRAFT_TTL_MS / 60_000} minutes after draft_scenario_reply made them; draft again`);
  if (first.draft.posted) return { ...first.draft.posted, replayed: true };
  const { website, session } = first.draft;
  return withLock(store, turnLockKey(website, session), async () => {
    // Read again under the lock: a concurrent post of the same draft may have finished first.
    const current = await readDraft(store, draftId);
    if (!current) throw new TurnError('draft_not_found', `draft ${draftId} expired; draft again`);
    if (current.draft.posted) return { ...current.draft.posted, replayed: true };
    const keep = (value: TurnDraft) => store.putDraft({ id: draftId, value, ttlMs: DRAFT_TTL_MS, conversation: conversationKey(website, session) });
    // A post that died after saving its position, before marking the draft: that save is its result.
    const finished = await ownSaveOf(store, current.draft);
    if (finished) {
      await keep({ ...current.draft, posted: finished });
      return { ...finished, replayed: true };
    }
    // Marked before anything is sent: a post retried after a failure looks for each message first.
    const again = current.draft.attempted_at !== undefined;
    const marked = again ? current.draft : { ...current.draft, attempted_at: input.now ?? Date.now() };
    if (!again) await keep(marked);
    const posted = await carryOut(input, current.draft, again, (saving) => keep({ ...marked, saving }));
    await keep({ ...current.draft, posted });
    return { ...posted, replayed: false };
    // A post killed midway holds the lock until it expires: a retry after the restart outwaits it.
  }, { ttlMs: TURN_LOCK_TTL_MS, waitMs: 2 * TURN_LOCK_TTL_MS });
}

/** The result a post of this draft wrote down before saving its position, if the store holds that very save. */
async function ownSaveOf(store: Store, draft: TurnDraft): Promise<PostedTurn | undefined> {
  const saving = draft.saving;
  if (!saving) return undefined;
  const saved = await loadRecord(store, conversationKey(draft.website, draft.session), draft.scenario);
  return saved.version === saving.version && JSON.stringify(saved.record.scenario) === JSON.stringify(saving.position) ? saving : undefined;
}

async function carryOut(input: PostInput, draft: TurnDraft, again: boolean, beforeSave: (result: PostedTurn) => Promise<unknown>): Promise<PostedTurn> {
  const { store, library, draftId } = input;
  const { website, session } = draft;
  const loaded = (await library.compiled()).require(draft.scenario);
  const key = conversationKey(website, session);
  const conversation = input.open(website, session);
  const current = await assertFresh(input, draft, loaded, conversation, again);
  const first = { position: draft.position_after, ...pending(draft.actions) };
  const context = () => stepContext(loaded.program, input.now ?? Date.now(), () => conversation.operatorsOnline());
  const { position, outcomes, answers } = await runTurn(loaded, first, conversation, { turn: draftId, again, context, seen: draft.base_routing });

  const result: PostedTurn = {
    draft_id: draftId,
    website,
    session,
    scenario: loaded.name,
    outcomes,
    webhooks: answers.map((a) => ({ url: a.url, status: a.status, ok: a.ok, ...(a.error ? { error: a.error } : {}) })),
    position,
    version: draft.base_version + 1,
    waits_for: waitsFor(loaded.program, position),
    held: outcomes.some((o) => o.status === 'held'),
    posted_at: input.now ?? Date.now(),
  };
  await beforeSave(result);
  // The whole record goes back with only the position changed: the autopilot's part (its pause,
  // cursor and own fingerprints) stays as the draft found it.
  const saved = await saveRecord(store, key, loaded.name, withPosition(current.record, position), { expectedVersion: draft.base_version });
  if (!saved.ok) {
    throw new TurnError(
      'position_conflict',
      `the actions were carried out, but the scenario position was saved by someone else meanwhile (version ${saved.current}, the draft was made at ${draft.base_version}); read the conversation before drafting again`,
    );
  }
  return { ...result, version: saved.version };
}

/** Refuses a draft whose conversation moved on since it was made; returns the record it was made from. */
async function assertFresh(input: PostInput, draft: TurnDraft, loaded: LoadedScenario, conversation: ConversationPort, again: boolean): Promise<LoadedRecord> {
  // A retried post may have sent some of its messages before it failed: they stay, none is sent again.
  const sent = again ? 'Nothing more was posted (an earlier, interrupted post of this draft may have sent some of its messages: get_conversation shows them)' : 'Nothing was posted';
  const stale = (why: string) => new TurnError('draft_stale', `draft ${input.draftId} is stale: ${why}. ${sent}; call draft_scenario_reply again for a fresh draft.`);
  if (loaded.program.hash !== draft.program_hash) throw stale(`scenario ${loaded.name} was edited since (this process runs another version of its file than the one the draft was made with)`);
  const [saved, thread] = await Promise.all([loadRecord(input.store, conversationKey(draft.website, draft.session), loaded.name), conversation.thread()]);
  if (saved.version !== draft.base_version) throw stale('another turn of this scenario was saved for the conversation since (or it was reset)');
  const latest = thread.filter((m) => m.from === 'user').at(-1)?.fingerprint ?? null;
  if (latest !== draft.base_visitor_fingerprint) throw stale('the visitor wrote again since');
  // A human (or another agent's send_message) answered meanwhile: the draft's reply would come on
  // top of theirs. Drafting again shows their answer in a note; posting that draft is a choice made knowingly.
  const since = draft.base_thread_timestamp;
  const answer = since === undefined ? undefined : thread.findLast((m) => personAnswers(m) && (since === null || m.timestamp > since));
  if (answer) throw stale(`an operator answered the visitor since (message ${answer.fingerprint}; get_conversation shows it)`);
  return saved;
}

// ---------------------------------------------------------------- reset

export interface ResetResult {
  scenario: string;
  version: number;
  block: string;
}

/**
 * Puts the conversation back at the scenario's start; its next draft starts it like a new
 * conversation. Only the position: a bot paused in this conversation stays paused.
 */
export async function resetScenario(input: Omit<TurnIO, 'open'> & { website: string; session: string; scenario: string }): Promise<ResetResult> {
  const loaded = (await input.library.compiled()).require(input.scenario);
  const key = conversationKey(input.website, input.session);
  const start = initialPosition(loaded.program);
  for (let attempt = 0; attempt < 3; attempt++) {
    const saved = await loadRecord(input.store, key, loaded.name);
    const result = await saveRecord(input.store, key, loaded.name, withPosition(saved.record, start), { expectedVersion: saved.version });
    if (result.ok) return { scenario: loaded.name, version: result.version, block: start.block };
  }
  throw new TurnError('position_conflict', `the position of scenario ${loaded.name} kept changing while resetting it; try again`);
}

