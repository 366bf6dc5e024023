// A converse conversation's session as its ONE record holds it (engine/record.ts): the position as
// the record's, the rest — and the inbox seq the session has consumed — as the record's converse
// part; read back (a session saved by the previous release, a bare ConverseSession value, is
// migrated on read), written in, and how long the store keeps it.
import type { Logger } from '../log.js';
import type { SaveOptions } from '../store/index.js';
import { readRecord, type ConversationRecord } from '../engine/record.js';
import { ConverseSession } from './turn.js';

/**
 * How long a conversation's record outlives its ended session (with the metadata the next session
 * reads): then the store deletes it, and an event on that id starts as on a new one. Without it,
 * every conversation id ever seen kept its row for good.
 */
export const ENDED_SESSION_RETENTION_MS = 30 * 24 * 60 * 60_000;

/** The last inbox seq a saved converse part has consumed (0: none). */
const inboxSeqOf = (part: unknown): number => {
  const seq = (part as { inboxSeq?: unknown } | undefined)?.inboxSeq;
  return typeof seq === 'number' ? seq : 0;
};

/** A conversation's saved record, with the converse session read out of it (position from the record, the rest from its converse part). */
export interface SavedSession {
  record: ConversationRecord;
  session: ConverseSession | undefined;
  /** The last inbox seq the saved session has consumed (0: none). */
  inboxSeq: number;
}

/** The saved record (of this release or, migrated, of an earlier one) and the session in it. */
export function readSession(value: unknown, conversationId: string, log: Logger | undefined): SavedSession {
  const { record } = readRecord(value);
  const part = record.channels.converse;
  if (part === undefined) return { record, session: undefined, inboxSeq: 0 };
  const parsed = ConverseSession.safeParse({ ...(part as object), position: record.scenario });
  if (!parsed.success) log?.warn({ conversation: conversationId }, 'converse: unreadable session record; starting a new session');
  return { record, session: parsed.success ? parsed.data : undefined, inboxSeq: inboxSeqOf(part) };
}

/**
 * The record with the session written in: its position as the record's, the rest (and the inbox
 * seq consumed) as the converse part; the other channels' parts are kept.
 */
export function withSession(record: ConversationRecord, session: ConverseSession, inboxSeq: number): ConversationRecord {
  const { position, ...rest } = session;
  return { ...record, scenario: position, channels: { ...record.channels, converse: inboxSeq > 0 ? { ...rest, inboxSeq } : rest } };
}

/** A live session is watched for inactivity; an ended one (or metadata kept for the next) is kept ENDED_SESSION_RETENTION_MS. */
export function lifetime(session: ConverseSession): Pick<SaveOptions, 'trackIdle' | 'expireAfterMs'> {
  return session.status === 'active' ? { trackIdle: true } : { expireAfterMs: ENDED_SESSION_RETENTION_MS };
}
