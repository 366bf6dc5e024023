// The ONE state record a conversation has per scenario (the store row of (conversation key,
// scenario name)): the runner's position, which every channel reads and advances, plus one
// sub-record per channel that only that channel writes. Every write goes through compare-and-set
// on the whole record's version, so a channel that saves never erases what another channel keeps
// there — an agent's post_draft or reset_scenario leaves the autopilot's pause, cursor and own
// fingerprints as they were.
//
// The engine does not know the channels' shapes: each channel parses its own sub-record with its
// own schema (autopilot/state.ts, converse/session-record.ts). Records saved by earlier releases are
// migrated on read: a bare position (the MCP tools), a position with an `autopilot` field beside
// it (the autopilot), or a converse session with its position inside (the converse API).
import { z } from 'zod';
import { Position } from '../scenario/position.js';
import type { OutboxInput, SaveResult, Store } from '../store/index.js';

export const CHANNELS = ['autopilot', 'converse'] as const;
export type Channel = (typeof CHANNELS)[number];

export const ConversationRecord = z.object({
  v: z.literal(2),
  /** null until the scenario first ran for this conversation (or when the saved one was unreadable). */
  scenario: Position.nullable(),
  /** Each channel's own part, opaque here; written only by that channel. */
  channels: z.object({ autopilot: z.unknown().optional(), converse: z.unknown().optional() }),
});
export type ConversationRecord = z.infer<typeof ConversationRecord>;

export function emptyRecord(): ConversationRecord {
  return { v: 2, scenario: null, channels: {} };
}

export interface ReadRecord {
  record: ConversationRecord;
  /** Something was saved, but neither a record nor an older release's value: it reads as empty. */
  unreadable: boolean;
}

/** Reads a saved value of this or an earlier release. */
export function readRecord(value: unknown): ReadRecord {
  if (value === undefined || value === null) return { record: emptyRecord(), unreadable: false };
  if (typeof value === 'object' && (value as { v?: unknown }).v === 2) {
    const parsed = ConversationRecord.safeParse(value);
    if (parsed.success) return { record: { ...parsed.data, channels: channelsOf(parsed.data.channels) }, unreadable: false };
    // A record whose position no longer parses: the channels' parts are kept, the position is not.
    return { record: { v: 2, scenario: null, channels: channelsOf((value as { channels?: unknown }).channels) }, unreadable: true };
  }
  // Earlier releases: a converse session (its position inside it, under its own key), a bare
  // position, or a position with the autopilot's state beside it.
  if (typeof value === 'object' && (value as { kind?: unknown }).kind === 'converse_session') {
    const { position: inner, ...converse } = value as { position?: unknown };
    const parsed = Position.nullable().safeParse(inner ?? null);
    return { record: { v: 2, scenario: parsed.success ? parsed.data : null, channels: { converse } }, unreadable: !parsed.success };
  }
  const position = Position.safeParse(value);
  const autopilot = typeof value === 'object' ? (value as { autopilot?: unknown }).autopilot : undefined;
  const channels: ConversationRecord['channels'] = autopilot === undefined ? {} : { autopilot };
  if (position.success) return { record: { v: 2, scenario: position.data, channels }, unreadable: false };
  return { record: { v: 2, scenario: null, channels }, unreadable: true };
}

function channelsOf(raw: unknown): ConversationRecord['channels'] {
  const channels: ConversationRecord['channels'] = {};
  if (!raw || typeof raw !== 'object') return channels;
  for (const name of CHANNELS) {
    const part = (raw as Record<string, unknown>)[name];
    if (part !== undefined) channels[name] = part;
  }
  return channels;
}

/** The record with the scenario position replaced; the channels' parts are kept. */
export function withPosition(record: ConversationRecord, position: Position): ConversationRecord {
  return { ...record, scenario: position };
}

/** The record with one channel's part replaced; the position and the other channels' parts are kept. */
export function withChannel(record: ConversationRecord, channel: Channel, part: unknown): ConversationRecord {
  return { ...record, channels: { ...record.channels, [channel]: part } };
}

export interface LoadedRecord extends ReadRecord {
  /** The version to save against (0: nothing saved yet). */
  version: number;
  updatedAt: number;
}

/** Reads a conversation's record for a scenario, migrating an older release's value. */
export async function loadRecord(store: Store, conversation: string, scenario: string): Promise<LoadedRecord> {
  const saved = await store.getPosition(conversation, scenario);
  return { ...readRecord(saved?.value), version: saved?.version ?? 0, updatedAt: saved?.updatedAt ?? 0 };
}

/** Saves the whole record if its version is still `expectedVersion`, with the outbox items of the same turn. */
export function saveRecord(
  store: Store,
  conversation: string,
  scenario: string,
  record: ConversationRecord,
  options: { expectedVersion: number; outbox?: readonly OutboxInput[] },
): Promise<SaveResult> {
  return store.savePosition(conversation, scenario, record, options);
}
