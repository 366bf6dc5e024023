// The rules Crisp applies to a conversation when its messages change: unread counts, waiting time,
// state moves, the inbox's preview, custom data merges. Pure steps on one conversation, which the
// inbox's changes (inbox-messages.ts, inbox-conversations.ts, inbox-people.ts) apply, and the demo
// data (data.ts) is built to.
import type { ConversationState, ConversationWire, CustomData, Message } from '../crisp/schemas.js';

/** A conversation's numeric `status` for each state. */
export const STATUS: Record<ConversationState, number> = { pending: 0, unresolved: 1, resolved: 2 };

/** The inbox's preview of a conversation's latest message (not a note). */
const previewOf = (message: Message): NonNullable<ConversationWire['preview_message']> => ({ type: message.type, from: message.from, excerpt: excerpt(message), fingerprint: message.fingerprint });

/** A new message's effect on its conversation: time, preview, unread count, waiting time, state. */
export function afterMessage(conversation: ConversationWire, message: Message): void {
  conversation.updated_at = Math.max(conversation.updated_at, message.timestamp);
  if (message.type === 'note') return;
  const unread = (conversation.unread ??= { operator: 0, visitor: 0 });
  conversation.preview_message = previewOf(message);
  if (message.type === 'text') conversation.last_message = String(message.content);
  if (message.from === 'user') {
    unread.operator = (unread.operator ?? 0) + 1;
    conversation.waiting_since ??= message.timestamp;
    // A visitor writing into a resolved conversation reopens it.
    if (conversation.state === 'resolved') moveState(conversation, 'unresolved');
  } else {
    unread.visitor = (unread.visitor ?? 0) + 1;
    delete conversation.waiting_since;
    // The first operator answer takes a conversation out of "pending".
    if (conversation.state === 'pending') moveState(conversation, 'unresolved');
  }
}

/** What the inbox shows of a thread: its latest text, and a preview of its latest message that is not a note. */
export function previewFields(thread: readonly Message[]): Pick<ConversationWire, 'last_message' | 'preview_message'> {
  const latest = thread.findLast((m) => m.type !== 'note');
  const latestText = thread.findLast((m) => m.type === 'text');
  return { last_message: latestText ? String(latestText.content) : '', ...(latest ? { preview_message: previewOf(latest) } : {}) };
}

/** After an edit or a removal, the inbox preview shows the thread as it now is. */
export function refreshPreview(conversation: ConversationWire, thread: readonly Message[]): void {
  const { last_message, preview_message } = previewFields(thread);
  if (preview_message) conversation.preview_message = preview_message;
  else delete conversation.preview_message;
  conversation.last_message = last_message;
}

export function moveState(conversation: ConversationWire, state: ConversationState): void {
  conversation.state = state;
  conversation.status = STATUS[state];
}

/** Custom data written over `base`: a null value removes its key. */
export function mergeData(base: CustomData, patch: CustomData): CustomData {
  const next: CustomData = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

function excerpt(message: Message): string {
  if (typeof message.content === 'string') return excerptOf(message.content);
  const content = message.content as Record<string, unknown>;
  const text = content.text ?? content.name ?? content.url ?? message.type;
  return excerptOf(String(text));
}

const EXCERPT_UNITS = 200;
// Made on the first long excerpt: a segmenter loads ICU's break rules, which most runs never need.
let graphemes: Intl.Segmenter | undefined;

/**
 * At most 200 UTF-16 units, cut between two user-perceived characters: never half of a surrogate
 * pair, a flag (🇯🇵 becoming 🇯), a ZWJ emoji or a letter without its marks. The rule of
 * src/text-cut.ts, which sandbox/ may not import (lint/layers.js: it shares only crisp/schemas).
 */
function excerptOf(text: string): string {
  if (text.length <= EXCERPT_UNITS) return text;
  let end = 0;
  for (const { index, segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(text)) {
    if (index + segment.length > EXCERPT_UNITS) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}
