// What the autopilot keeps per conversation: its part of the conversation's record
// (engine/record.ts) — where the bot has read the thread up to, the fingerprints of the messages
// it posted, whether it is paused, and its rate-control memory. The scenario position beside it
// is the one `draft_scenario_reply` / `post_draft` read and advance too; they keep this part as
// it is. Position, this part and the outbox items of the turn are saved together, in ONE
// savePosition: nothing the bot decided can be half-written.
import { z } from 'zod';
import type { Position, Action } from '../scenario/index.js';
import { readRecord, type ConversationRecord } from '../engine/record.js';
import { derivedFingerprint } from '../engine/actions.js';
import { bucketLast, bucketMs, liveReplies, REPEAT_HASH_CHARS } from './guardrails.js';

/** Fingerprints of our own messages remembered per conversation (to tell them from an operator's). */
export const MAX_OURS = 200;
/** Fingerprints remembered at the cursor's timestamp (messages may share a millisecond). */
const MAX_CURSOR_FPS = 20;
/** Repeat-suppression memory per conversation. */
const MAX_REPEATS = 50;

const Cursor = z.object({
  /** Timestamp of the newest message read from the thread. */
  ts: z.number(),
  /** Fingerprints already read at exactly `ts`. */
  fps: z.array(z.number()),
});

export const PauseReason = z.enum(['operator', 'reply_budget']);
export type PauseReason = z.infer<typeof PauseReason>;

/** Bot messages the reply budget counts: `n` of them, the latest sent at `last` or before (guardrails.ts). */
export interface ReplyCount {
  last: number;
  n: number;
}

export interface AutopilotState {
  v: 1;
  /** null until the bot has read this conversation once. */
  cursor: z.infer<typeof Cursor> | null;
  /** Fingerprints of the messages and notes the bot posted (or has queued) here, newest last. */
  ours: number[];
  /** Silent here until the conversation is resolved: an operator wrote, or the reply budget ran out. */
  paused: { reason: PauseReason; at: number; by: string | null } | null;
  /** The conversation was resolved at this time: the next visitor message after it starts the scenario again. */
  restart_after: number | null;
  /** The bot messages of the budget window, counted per time bucket, oldest first. */
  replies: ReplyCount[];
  /** Hashes of (visitor input, reply) sent recently, for identical-reply suppression. */
  repeats: Array<{ h: string; at: number }>;
  /** Outbox id of the webhook call whose answer the position waits for (its answer is applied once). */
  webhook: string | null;
}

/**
 * The autopilot's part as saved. The fields of the first release come first; its `sent` (a time
 * per bot message) and `repeats` (objects) are saved empty, so that a release before this one
 * still reads the cursor, the pause and the fingerprints, and only forgets the rate memory.
 * The rate memory is saved as `budget` and `recent` (below), both counted per time bucket of a
 * sixtieth of their window (guardrails.ts); `rate` is how the release before this one saved it,
 * read only. The state is written on every turn, and a record past about 1,000 bytes costs a
 * SQLite save an overflow page: these keep it small, however busy the conversation.
 */
const Buckets = { w: z.number().int().positive(), k: z.number().int() };
const SavedState = z.object({
  v: z.literal(1),
  cursor: Cursor.nullable(),
  ours: z.array(z.number()),
  paused: z.object({ reason: PauseReason, at: z.number(), by: z.string().nullable() }).nullable(),
  restart_after: z.number().nullable(),
  sent: z.array(z.number()),
  repeats: z.array(z.object({ h: z.string(), at: z.number() })),
  webhook: z.string().nullable(),
  /** The previous release's rate memory: times in ms after `t0`, a repeat as `hash.ms`. */
  rate: z.object({ t0: z.number(), sent: z.array(z.number()), repeats: z.array(z.string()) }).optional(),
  /** Bot messages per bucket of `w` ms: n[i] were sent in bucket k + i, which covers [(k + i)·w, (k + i + 1)·w). */
  budget: z.object({ ...Buckets, n: z.array(z.number().int().nonnegative()) }).optional(),
  /** The repeats' hashes per bucket, as in `budget`: bucket k + i's are the i-th comma-separated run of REPEAT_HASH_CHARS-character hashes. */
  recent: z.object({ ...Buckets, r: z.string() }).optional(),
});
type SavedState = z.infer<typeof SavedState>;

/** The windows the rate memory is kept for (the reply budget's, the repeat window). */
export interface RateWindows {
  budgetMs: number;
  repeatMs: number;
}

/** The state as it is saved in the conversation's record. */
export function savedState(state: AutopilotState, windows: RateWindows): SavedState {
  const { replies, repeats, ...rest } = state;
  const saved: SavedState = { ...rest, sent: [], repeats: [] };
  if (replies.length > 0) {
    const w = bucketMs(windows.budgetMs);
    const k = Math.floor(replies[0]!.last / w);
    const n: number[] = [];
    for (const r of replies) {
      const i = Math.max(0, Math.floor(r.last / w) - k);
      while (n.length <= i) n.push(0);
      n[i]! += r.n;
    }
    saved.budget = { w, k, n };
  }
  if (repeats.length > 0) {
    const w = bucketMs(windows.repeatMs);
    const k = Math.floor(repeats[0]!.at / w);
    let r = '';
    let i = 0;
    for (const entry of repeats) {
      for (const at = Math.floor(entry.at / w) - k; i < at; i++) r += ',';
      r += entry.h.slice(0, REPEAT_HASH_CHARS);
    }
    saved.recent = { w, k, r };
  }
  return saved;
}

/** A remembered hash as this release compares it: earlier releases kept longer prefixes of the same digest. */
function repeat(h: string, at: number): AutopilotState['repeats'][number] | undefined {
  return h.length >= REPEAT_HASH_CHARS && Number.isFinite(at) ? { h: h.slice(0, REPEAT_HASH_CHARS), at } : undefined;
}

/** The state from its saved form: this release's, the previous one's (`rate`), or the first one's (`sent` and `repeats` as they are). */
function fromSaved({ sent, repeats: savedRepeats, rate, budget, recent, ...rest }: SavedState): AutopilotState {
  const replies: ReplyCount[] = [];
  const repeats: AutopilotState['repeats'] = [];
  const add = (entry: AutopilotState['repeats'][number] | undefined) => void (entry && repeats.push(entry));
  for (const at of sent) replies.push({ last: at, n: 1 });
  for (const r of savedRepeats) add(repeat(r.h, r.at));
  if (rate) {
    for (const ms of rate.sent) replies.push({ last: rate.t0 + ms, n: 1 });
    for (const entry of rate.repeats) {
      const dot = entry.lastIndexOf('.');
      if (dot > 0) add(repeat(entry.slice(0, dot), rate.t0 + Number(entry.slice(dot + 1))));
    }
  }
  if (budget) {
    budget.n.forEach((n, i) => {
      if (n > 0) replies.push({ last: (budget.k + i + 1) * budget.w - 1, n });
    });
  }
  if (recent) {
    recent.r.split(',').forEach((run, i) => {
      const at = (recent.k + i + 1) * recent.w - 1;
      for (let j = 0; j + REPEAT_HASH_CHARS <= run.length; j += REPEAT_HASH_CHARS) add(repeat(run.slice(j, j + REPEAT_HASH_CHARS), at));
    });
  }
  return { ...rest, replies, repeats };
}

export function freshState(): AutopilotState {
  return { v: 1, cursor: null, ours: [], paused: null, restart_after: null, replies: [], repeats: [], webhook: null };
}

export interface ReadValue {
  /** The whole record, so that a save keeps the other channels' parts. */
  record: ConversationRecord;
  position: Position | undefined;
  /** undefined when the record has no (readable) autopilot part: the bot has not worked this conversation yet. */
  state: AutopilotState | undefined;
}

/** The autopilot's view of a saved value (a record, or an earlier release's value). */
export function readValue(value: unknown): ReadValue {
  const { record } = readRecord(value);
  const raw = record.channels.autopilot;
  const state = raw === undefined ? undefined : SavedState.safeParse(raw);
  return { record, position: record.scenario ?? undefined, state: state?.success ? fromSaved(state.data) : undefined };
}

/**
 * Keeps the remembered lists short: the state is read and written on every turn. A repeat is
 * dated at the end of its bucket (as saved), so it is suppressed for the window after that end.
 */
export function trimState(state: AutopilotState, now: number, windows: RateWindows): AutopilotState {
  const repeatWidth = bucketMs(windows.repeatMs);
  const repeats: AutopilotState['repeats'] = [];
  for (const r of state.repeats.slice(-MAX_REPEATS)) {
    const at = bucketLast(r.at, repeatWidth);
    if (at > now - windows.repeatMs) repeats.push(at === r.at ? r : { h: r.h, at });
  }
  return {
    ...state,
    cursor: state.cursor && { ts: state.cursor.ts, fps: state.cursor.fps.slice(-MAX_CURSOR_FPS) },
    ours: state.ours.slice(-MAX_OURS),
    replies: liveReplies(state.replies, now, windows.budgetMs),
    repeats,
  };
}

// ---------------------------------------------------------------- outbox items

/** One action to carry out, as an outbox item's payload. */
export interface AutopilotItem {
  kind: 'autopilot';
  website: string;
  session: string;
  scenario: string;
  action: Action;
}

export function isAutopilotItem(payload: unknown): payload is AutopilotItem {
  return !!payload && typeof payload === 'object' && (payload as { kind?: unknown }).kind === 'autopilot';
}

/**
 * The outbox id of the i-th action a visitor message (by fingerprint) led to; follow-ups of a
 * webhook's answer hang under the webhook item's id. Deterministic, so a turn planned twice
 * (a lost lock, two replicas) names the same messages and Crisp shows each once.
 */
export function itemId(parent: string, index: number): string {
  return `${parent}.${index}`;
}

export function turnId(session: string, visitorFingerprint: number): string {
  return `ap:${session}:${visitorFingerprint}`;
}

/** The step name an item is carried out under: its message fingerprint is derivedFingerprint(id, ITEM_STEP). */
export const ITEM_STEP = 'a';

/** Fingerprints the item will post with (a file's caption goes first as its own text message). */
export function itemFingerprints(id: string, action: Action): number[] {
  switch (action.type) {
    case 'send_message': {
      const own = derivedFingerprint(id, ITEM_STEP);
      return action.message.type === 'file' && action.message.text ? [derivedFingerprint(id, `${ITEM_STEP}.caption`), own] : [own];
    }
    case 'handoff':
    case 'error':
      return [derivedFingerprint(id, ITEM_STEP)];
    default:
      return [];
  }
}
