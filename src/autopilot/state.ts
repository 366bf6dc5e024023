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
import { isRoutingWrite, type RoutingSeen } from '../engine/routing.js';
import type { OutboxInput } from '../store/index.js';
import { MAX_REPEATS } from './guardrails.js';
import { countsOfTimes, HASH_CHARS, hashesOfTimes, liveCounts, liveHashes, type BucketCounts, type BucketHashes } from './rate-memory.js';

/** Fingerprints of our own messages remembered per conversation (to tell them from an operator's). */
export const MAX_OURS = 200;
/** Fingerprints remembered at the cursor's timestamp (messages may share a millisecond). */
const MAX_CURSOR_FPS = 20;

const Cursor = z.object({
  /** Timestamp of the newest message read from the thread. */
  ts: z.number(),
  /** Fingerprints already read at exactly `ts`. */
  fps: z.array(z.number()),
});

export const PauseReason = z.enum(['operator', 'reply_budget']);
export type PauseReason = z.infer<typeof PauseReason>;

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
  /** Outbox id of the webhook call whose answer the position waits for (its answer is applied once). */
  webhook: string | null;
  /** The bot messages of the reply budget's window, counted per time bucket (rate-memory.ts); none when absent. */
  budget?: BucketCounts | undefined;
  /** Hashes of (visitor input, reply) sent within the repeat window, per time bucket; none when absent. */
  recent?: BucketHashes | undefined;
}

const Buckets = { w: z.number().int().positive(), k: z.number().int() };

/**
 * The autopilot's part as saved: the state as it is, plus the first release's `sent` (a time per
 * bot message) and `repeats` (objects), saved empty so that a release before this one still reads
 * the cursor, the pause and the fingerprints and only forgets the rate memory. `rate` is how the
 * previous release saved that memory (times in ms after `t0`, a repeat as `hash.ms`), read only.
 * The state is written on every turn, and the per-bucket memory keeps it small however busy the
 * conversation. A rate memory that does not parse is forgotten, never the cursor or the pause with it.
 */
const SavedState = z.object({
  v: z.literal(1),
  cursor: Cursor.nullable(),
  ours: z.array(z.number()),
  paused: z.object({ reason: PauseReason, at: z.number(), by: z.string().nullable() }).nullable(),
  restart_after: z.number().nullable(),
  webhook: z.string().nullable(),
  sent: z.array(z.number()),
  repeats: z.array(z.object({ h: z.string(), at: z.number() })),
  rate: z.object({ t0: z.number(), sent: z.array(z.number()), repeats: z.array(z.string()) }).optional().catch(undefined),
  budget: z.object({ ...Buckets, n: z.array(z.number().int().nonnegative()) }).optional().catch(undefined),
  recent: z.object({ ...Buckets, r: z.string().regex(new RegExp(`^(?:[\\w-]{${HASH_CHARS}})*(?:,(?:[\\w-]{${HASH_CHARS}})*)*$`)) }).optional().catch(undefined),
});
type SavedState = z.infer<typeof SavedState>;

const NOTHING: never[] = [];

/** The state as it is saved in the conversation's record. */
export function savedState(state: AutopilotState): SavedState {
  return { ...state, sent: NOTHING, repeats: NOTHING };
}

/** The state from its saved form: this release's, the previous one's (`rate`), or the first one's (`sent` and `repeats` as they are). */
function fromSaved({ sent, repeats, rate, budget, recent, ...rest }: SavedState): AutopilotState {
  if (budget === undefined) {
    budget = countsOfTimes([...sent, ...(rate?.sent.map((ms) => rate.t0 + ms) ?? [])]);
  }
  if (recent === undefined) {
    const earlier = [...repeats];
    for (const entry of rate?.repeats ?? []) {
      const dot = entry.lastIndexOf('.');
      if (dot > 0) earlier.push({ h: entry.slice(0, dot), at: rate!.t0 + Number(entry.slice(dot + 1)) });
    }
    recent = hashesOfTimes(earlier);
  }
  return { ...rest, budget, recent };
}

/**
 * How long the record of a conversation resolved since the bot last read it outlives that
 * resolution. The bot starts over at the visitor's next message anyway; without its record, that
 * message is a first contact (plan.ts), which answers only what came after the bot's and the
 * operators' last words. Without it, every conversation the bot ever worked kept its row for good.
 */
export const RESOLVED_RETENTION_MS = 30 * 24 * 60 * 60_000;

/** The save options that let a resolved conversation's record go (RESOLVED_RETENTION_MS); none while it goes on. */
export function retentionOf(state: AutopilotState): { expireAfterMs?: number } {
  return state.restart_after === null ? {} : { expireAfterMs: RESOLVED_RETENTION_MS };
}

export function freshState(): AutopilotState {
  return { v: 1, cursor: null, ours: [], paused: null, restart_after: null, webhook: null };
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

/** Keeps the remembered lists short: the state is read and written on every turn. */
export function trimState(state: AutopilotState, now: number, windows: { budgetMs: number; repeatMs: number }): AutopilotState {
  return {
    ...state,
    cursor: state.cursor && state.cursor.fps.length > MAX_CURSOR_FPS ? { ts: state.cursor.ts, fps: state.cursor.fps.slice(-MAX_CURSOR_FPS) } : state.cursor,
    ours: state.ours.length > MAX_OURS ? state.ours.slice(-MAX_OURS) : state.ours,
    budget: liveCounts(state.budget, now, windows.budgetMs),
    recent: windows.repeatMs > 0 ? liveHashes(state.recent, now, windows.repeatMs, MAX_REPEATS) : undefined,
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
  /** A routing write's: how its turn found the conversation routed (ActionRef.seen); absent in items saved before this field. */
  seen?: RoutingSeen;
}

export function isAutopilotItem(payload: unknown): payload is AutopilotItem {
  return !!payload && typeof payload === 'object' && (payload as { kind?: unknown }).kind === 'autopilot';
}

/**
 * The items with how the conversation is routed now (`read`, called once, and only when one of
 * them is a routing write) on each routing write: carried out later, those stand down if a person
 * routed the conversation since.
 */
export async function withRoutingSeen(items: OutboxInput[], read: () => Promise<RoutingSeen>): Promise<OutboxInput[]> {
  const routes = (item: OutboxInput) => isRoutingWrite((item.payload as AutopilotItem).action);
  if (!items.some(routes)) return items;
  const seen = await read();
  return items.map((item) => (routes(item) ? { ...item, payload: { ...(item.payload as AutopilotItem), seen } } : item));
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
