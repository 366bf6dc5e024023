// What `POST /converse` accepts: the Zendesk AI agents "Converse with a Bot" body
// (`platformConversationId`, `eventType`, `text`, `cardIndex`, `metaData`) and the Botpress
// Messaging API's names (`conversationId`, `messageId`, `userId`), checked with zod. A refusal
// names the first field at fault and what was expected there, in one line.
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { Scalar } from '../scenario/index.js';
import { notText } from '../text-check.js';

export const CONVERSE_EVENT_TYPES = ['startSession', 'message', 'endSession', 'metadata'] as const;
export type ConverseEventType = (typeof CONVERSE_EVENT_TYPES)[number];

/** One event, as the service runs it. */
export interface ConverseEvent {
  conversationId: string;
  type: ConverseEventType;
  /** The visitor's words, or the text of the button they clicked. */
  text?: string;
  /** 0-based index of the carousel card whose button was clicked. */
  cardIndex?: number;
  /** The caller's id of this event: the same id again is a no-op. */
  messageId?: string;
  userId?: string;
  /** Pairs kept on the session; the scenario reads them as variables. */
  metadata: Record<string, Scalar>;
}

export type ParsedInput = { ok: true; event: ConverseEvent } | { ok: false; field: string; message: string };

export const MAX_TEXT = 10_000;
export const MAX_METADATA_PAIRS = 50;
const VAR_NAME = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// Printable, no control characters: ids end up in store keys, logs and the replies' JSON.
const ID = /^[^\p{Cc}]{1,200}$/u;

/** A string that is no text (half of a surrogate pair, a control character) is refused, saying why. */
function refuseNoText(value: unknown, ctx: z.RefinementCtx): void {
  const problem = typeof value === 'string' ? notText(value) : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}

const id = (what: string) =>
  z.string({ error: `expected ${what}: a string of 1-200 characters` }).regex(ID, { error: `expected ${what}: 1-200 characters, no control characters` }).superRefine(refuseNoText);

const MetadataPair = z.object(
  {
    key: z.string({ error: 'expected a string' }).regex(VAR_NAME, { error: 'expected a variable name: letters, digits and "_", not starting with a digit, at most 64' }),
    value: z.union([z.string().max(1_000), z.number(), z.boolean(), z.null()], { error: 'expected a string (at most 1000 characters), a number, a boolean or null' }).superRefine(refuseNoText),
    /** Zendesk marks personal data with it; accepted and not used. */
    sanitize: z.boolean({ error: 'expected a boolean' }).optional(),
  },
  { error: 'expected an object {key, value}' },
);
const Metadata = z.array(MetadataPair, { error: 'expected an array of {key, value}' }).max(MAX_METADATA_PAIRS, { error: `expected at most ${MAX_METADATA_PAIRS} pairs` });

export const ConverseRequest = z.object(
  {
    conversationId: id('the conversation id').nullish(),
    platformConversationId: id('the conversation id').nullish(),
    eventType: z.enum(CONVERSE_EVENT_TYPES, { error: `expected one of ${CONVERSE_EVENT_TYPES.join(', ')}` }),
    text: z.string({ error: 'expected a string' }).max(MAX_TEXT, { error: `expected at most ${MAX_TEXT} characters` }).superRefine(refuseNoText).nullish(),
    cardIndex: z.number({ error: 'expected a whole number from 0' }).int({ error: 'expected a whole number from 0' }).min(0, { error: 'expected a whole number from 0' }).max(99, { error: 'expected at most 99' }).nullish(),
    messageId: id('a message id').nullish(),
    userId: id('a user id').nullish(),
    metadata: Metadata.nullish(),
    /** The Zendesk template's spelling. */
    metaData: Metadata.nullish(),
  },
  { error: 'expected a JSON object' },
);

/** Checks a parsed JSON body; never throws. */
export function parseConverseInput(body: unknown): ParsedInput {
  const parsed = ConverseRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldName(issue.path);
    return { ok: false, field, message: `${field}: ${issue.message}` };
  }
  // null is a field left out: JSON serializers of several languages (.NET's, Jackson by default) write every unset field as null.
  const r = withoutNulls(parsed.data);
  // Blank text is no text: gateways send `"text": ""` with every event, and a startSession read it as
  // the visitor's first words (a match block's `otherwise`: usually a handoff before anyone wrote).
  if (r.text !== undefined && r.text.trim() === '') delete r.text;
  const bad = (field: string, message: string): ParsedInput => ({ ok: false, field, message: `${field}: ${message}` });
  if (r.conversationId === undefined && r.platformConversationId === undefined) return bad('conversationId', 'expected conversationId (or platformConversationId): the id of this conversation, chosen by you');
  if (r.conversationId !== undefined && r.platformConversationId !== undefined && r.conversationId !== r.platformConversationId) {
    return bad('platformConversationId', 'expected the same value as conversationId (send one of the two)');
  }
  const pairs = [...(r.metadata ?? []), ...(r.metaData ?? [])];
  switch (r.eventType) {
    case 'message':
      // Blank text would run the scenario on nothing (a match block's `otherwise`: usually a handoff).
      if (r.text === undefined && r.cardIndex === undefined) return bad('text', 'expected the visitor\'s text (or the clicked button\'s text, not blank) with eventType "message"');
      break;
    case 'metadata':
      if (pairs.length === 0) return bad('metadata', 'expected at least one {key, value} pair with eventType "metadata"');
      break;
    case 'endSession':
      if (pairs.length > 0) return bad('metadata', 'not accepted with eventType "endSession"');
      break;
    case 'startSession':
      break;
  }
  if (r.cardIndex !== undefined && r.eventType !== 'message') return bad('cardIndex', 'only accepted with eventType "message"');
  // One value per key: a second one would silently replace the first. The same pair twice (both spellings sent) is harmless.
  const metadata: Record<string, Scalar> = {};
  const firstGiven = new Map<string, string>();
  for (const [field, list] of [['metadata', r.metadata], ['metaData', r.metaData]] as const) {
    for (const [i, { key, value }] of (list ?? []).entries()) {
      const first = firstGiven.get(key);
      if (first !== undefined && metadata[key] !== value) return bad(`${field}[${i}].key`, `expected one value per key: "${key}" is also ${first}, with another value`);
      firstGiven.set(key, first ?? `${field}[${i}].key`);
      metadata[key] = value;
    }
  }
  const event: ConverseEvent = { conversationId: (r.conversationId ?? r.platformConversationId)!, type: r.eventType, metadata };
  if (r.text !== undefined) event.text = r.text;
  if (r.cardIndex !== undefined) event.cardIndex = r.cardIndex;
  if (r.messageId !== undefined) event.messageId = r.messageId;
  if (r.userId !== undefined) event.userId = r.userId;
  return { ok: true, event };
}

type WithoutNulls<T> = { [K in keyof T]: Exclude<T[K], null> };

function withoutNulls<T extends Record<string, unknown>>(fields: T): WithoutNulls<T> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== null) kept[key] = value;
  return kept as WithoutNulls<T>;
}

function fieldName(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return 'body';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * What identifies an event beside its messageId: its type, text, card, user and metadata (pairs in
 * key order), whichever spelling of the conversation id or metadata field carried them. A retry
 * has the same; another event sent under a messageId already used does not.
 */
export function eventDigest(event: ConverseEvent): string {
  const metadata = Object.entries(event.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const identity = JSON.stringify([event.type, event.text ?? null, event.cardIndex ?? null, event.userId ?? null, metadata]);
  return hash('sha256', identity, 'base64url');
}
