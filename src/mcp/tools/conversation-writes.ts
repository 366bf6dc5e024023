// The conversations toolset, write side: reply, show typing, change state, edit meta, mark read.
// What a customer-visible send does is set by --send-mode: `post` sends it,
// `note` turns it into a private note an operator can approve.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CrispError } from '../../crisp/errors.js';
import { derivedFingerprint } from '../../engine/actions.js';
import { operatorSpeaks } from '../../engine/turn.js';
import type { SendMessageBody } from '../../crisp/schemas.js';
import { CONVERSATION_STATES } from '../../crisp/vocabulary.js';
import { requireConfirmation } from '../confirm.js';
import { defineTool, ToolInputError, type CallContext } from './define.js';
import type { ToolDeps } from './deps.js';
import { truncate } from './support/text.js';
import { DataPatch, editSegments, EmailIn, SegmentList, SessionId, showsNothing, WebsiteId, written } from './params.js';


const write = { readOnlyHint: false, destructiveHint: false, openWorldHint: true } as const;

const ConversationStateIn = z.enum(CONVERSATION_STATES);

const SendMessageInput = z.object({
  website_id: WebsiteId.optional(),
  session_id: SessionId,
  type: z.enum(['text', 'note', 'picker', 'file']).optional().describe('text (default), note (operators only), picker, file'),
  // Text of only whitespace or invisible characters is the handler's to refuse (messageBody): a file's caption may be blank.
  content: written(z.string().min(1).max(10_000)).describe('the message; for picker the question; for file a caption'),
  choices: z
    .array(z.object({ value: written(z.string().min(1).max(100), { visible: true }), label: written(z.string().min(1).max(200), { visible: true }) }))
    .min(1)
    .max(10)
    .optional()
    .describe('picker buttons'),
  file_url: z.url().optional().describe('public URL (type file)'),
  file_name: written(z.string().max(200)).optional(),
  file_mime: z.string().max(100).optional(),
  fingerprint: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe('your id for it: a retry with it is not posted again'),
  then_state: ConversationStateIn.optional().describe('then set this state (e.g. resolved)'),
});
type SendInput = z.infer<typeof SendMessageInput>;

/** Crisp failures after which a send may or may not have landed, or was refused for now: a resend under the same fingerprint is the fix. */
const UNCONFIRMED = new Set(['crisp_unavailable', 'crisp_timeout', 'crisp_rate_limited']);

/**
 * A send whose outcome Crisp never confirmed (a 5xx after the write, a dropped answer, a 429 that
 * outlasted the retries), with the fingerprint it went out under: a resend with that fingerprint is
 * looked for first and never posts twice. `failure` is the Crisp failure, for the log and the wait.
 */
export class UnconfirmedSend extends Error {
  override readonly name = 'UnconfirmedSend';
  constructor(
    readonly failure: CrispError,
    readonly fingerprint: number,
  ) {
    super(`send not confirmed: ${failure.code}`);
  }
}

export const sendMessage = defineTool({
  name: 'send_message',
  toolset: 'conversations',
  title: 'Send a message',
  description: 'Reply in a conversation: text, a private note, buttons (picker) or a file by URL. A fingerprint makes retries safe.',
  inputSchema: SendMessageInput,
  outputSchema: z.object({
    session_id: z.string(),
    fingerprint: z.number(),
    sent_as: z.enum(['text', 'note', 'picker', 'file']),
    held_for_approval: z.boolean().describe('posted as a private note for an operator to approve'),
    confirmed_by_user: z.boolean().describe('approved by the user (--send-mode confirm)'),
    state: ConversationStateIn.nullable().describe('set by then_state'),
    state_error: z.string().nullable().describe('why then_state failed; the message was sent'),
  }),
  annotations: { ...write, idempotentHint: false },
  async handler(given, { crisp, guard, config }: ToolDeps, call) {
    const site = guard.website(given.website_id);
    // Every send carries a fingerprint, the caller's or one made here: without one a send is not
    // idempotent, so a 5xx after Crisp wrote it was not retried and read "try again later", and the
    // agent's retry posted it twice. Made here, it is new: nothing to look for before the first try.
    const input = { ...given, fingerprint: given.fingerprint ?? derivedFingerprint(randomUUID(), 'send') };
    const requested = input.type ?? 'text';
    const body = messageBody(input, requested);
    const confirmed = config.sendMode === 'confirm' && requested !== 'note' && confirmSend(input, body, site, call);
    const hold = config.sendMode === 'note' && requested !== 'note';
    const sent: SendMessageBody = hold ? { ...base(input), type: 'note', content: `[Reply held for operator approval — ${requested}]\n${describeForNote(body, captionText(input, body))}` } : body;
    const retryable = { mayHaveBeenSent: given.fingerprint !== undefined };
    // Crisp's file message has no caption: it goes first as its own text, as the autopilot sends one.
    const caption = hold ? undefined : captionOf(input, body);
    let fingerprint: number;
    try {
      if (caption) await crisp.messages.send(site, input.session_id, caption, retryable);
      // A caller's own fingerprint may be a retry of a call whose answer it lost: looked for first.
      fingerprint = await crisp.messages.send(site, input.session_id, sent, retryable);
    } catch (error) {
      // A call that timed out waiting for a connection never left (attempts 0): that it was not sent is the answer.
      if (error instanceof CrispError && UNCONFIRMED.has(error.code) && error.attempts > 0) throw new UnconfirmedSend(error, input.fingerprint);
      throw error;
    }
    const after = await applyState(input, site, hold, crisp);
    return { session_id: input.session_id, fingerprint, sent_as: sent.type as 'text' | 'note' | 'picker' | 'file', held_for_approval: hold, confirmed_by_user: confirmed, ...after };
  },
  text: ({ session_id, fingerprint, sent_as, held_for_approval, confirmed_by_user, state, state_error }) =>
    (held_for_approval
      ? `Held for approval: posted as a private note in ${session_id} (fingerprint ${fingerprint}); an operator must send it.`
      : `Sent ${sent_as} to ${session_id} (fingerprint ${fingerprint})${confirmed_by_user ? ', confirmed by the user' : ''}.`) +
    (state ? ` State is now ${state}.` : '') +
    (state_error
      ? ` State NOT changed: ${state_error}. ${held_for_approval ? 'The note is posted; do not post it again.' : 'The message was sent; do not resend it (set_conversation_state sets the state).'}`
      : ''),
});

/**
 * then_state, after the send succeeded: its own outcome, never the send's. A reply held for an
 * operator's approval leaves the state alone, or resolving would hide the reply from them.
 */
async function applyState(input: SendInput, site: string, hold: boolean, crisp: ToolDeps['crisp']): Promise<{ state: z.infer<typeof ConversationStateIn> | null; state_error: string | null }> {
  if (!input.then_state) return { state: null, state_error: null };
  if (hold) return { state: null, state_error: 'the reply is held for approval, so the conversation stays as it is' };
  try {
    await crisp.conversations.setState(site, input.session_id, input.then_state);
    return { state: input.then_state, state_error: null };
  } catch (error) {
    if (!(error instanceof CrispError)) throw error;
    return { state: null, state_error: `Crisp answered ${error.code}${error.status ? ` (${error.status})` : ''}` };
  }
}

/**
 * --send-mode confirm: true once the user said yes to exactly this message; otherwise it throws —
 * ConfirmationNeeded to ask, or a refusal that says why. Never a silent send.
 */
function confirmSend(input: SendInput, body: SendMessageBody, site: string, call: CallContext): true {
  const what = input.type && input.type !== 'text' ? `this ${input.type} message` : 'this reply';
  return requireConfirmation(call, 'confirm_send', `Send ${what} to the visitor in conversation ${input.session_id} (website ${site})?\n\n${truncate(describeForNote(body, captionText(input, body)), 2_000)}`, {
    declined: 'Not sent: the user declined this message. Do not resend it unchanged; ask them what to change, or post it as type "note".',
    cannotAsk:
      'Not sent: this server runs with --send-mode confirm and your client cannot ask the user (it declares no elicitation support). Post it as type "note" for an operator to approve, or ask the operator to restart with --send-mode post.',
  });
}

function base(input: SendInput) {
  return { from: 'operator' as const, origin: 'chat', ...(input.fingerprint ? { fingerprint: input.fingerprint } : {}) };
}

function messageBody(input: SendInput, type: 'text' | 'note' | 'picker' | 'file'): SendMessageBody {
  // Crisp would post an empty bubble in the visitor's chat, whether the text is spaces or zero-width characters.
  if (type !== 'file' && showsNothing(input.content)) throw new ToolInputError(`content is blank (only spaces, line breaks or invisible characters): nothing sent; write the ${type === 'picker' ? 'question' : 'message'}`);
  if (type === 'picker') {
    if (!input.choices) throw new ToolInputError('type picker needs choices: [{value, label}, …]');
    const id = `picker-${input.fingerprint ?? Date.now()}`;
    return { ...base(input), type, content: { id, text: input.content, choices: input.choices.map((c) => ({ ...c, selected: false })) } };
  }
  if (type === 'file') {
    if (!input.file_url) throw new ToolInputError('type file needs file_url (a public URL)');
    const name = input.file_name ?? (new URL(input.file_url).pathname.split('/').pop() || 'file');
    return { ...base(input), type, content: { name, url: input.file_url, type: input.file_mime ?? 'application/octet-stream' } };
  }
  if (input.choices || input.file_url) throw new ToolInputError(`choices and file_url belong to type picker and file, not ${type}`);
  return { ...base(input), type, content: input.content };
}

/** A file's caption, sent as a text before it: none when blank or only the file's name again. */
function captionText(input: SendInput, body: SendMessageBody): string | undefined {
  const text = input.content.trim();
  return body.type === 'file' && text !== '' && text !== body.content.name ? input.content : undefined;
}

/** The caption's message: under the caller's fingerprint, its own derived from it, so a retry posts neither twice. */
function captionOf(input: SendInput, body: SendMessageBody): SendMessageBody | undefined {
  const content = captionText(input, body);
  if (content === undefined) return undefined;
  const fingerprint = input.fingerprint === undefined ? {} : { fingerprint: derivedFingerprint(String(input.fingerprint), 'caption') };
  return { ...base(input), ...fingerprint, type: 'text', content };
}

function describeForNote(body: SendMessageBody, caption?: string): string {
  if (typeof body.content === 'string') return body.content;
  if (body.type === 'picker') return `${body.content.text}\nButtons: ${body.content.choices.map((c) => c.label).join(' | ')}`;
  if (body.type === 'file') return `${caption ? `${caption}\n` : ''}File: ${body.content.name} ${body.content.url}`;
  return JSON.stringify(body.content);
}

export const setCompose = defineTool({
  name: 'set_compose',
  toolset: 'conversations',
  title: 'Show typing',
  description: 'Show or hide the "operator is typing" indicator to the visitor, with an optional excerpt.',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    session_id: SessionId,
    typing: z.boolean().describe('true to start, false to stop'),
    excerpt: written(z.string().max(500)).optional().describe('preview of what is being typed'),
  }),
  outputSchema: z.object({ session_id: z.string(), typing: z.boolean() }),
  annotations: { ...write, idempotentHint: true },
  async handler({ website_id, session_id, typing, excerpt }, { crisp, guard }: ToolDeps) {
    const site = guard.website(website_id);
    await crisp.messages.compose(site, session_id, { type: typing ? 'start' : 'stop', from: 'operator', ...(excerpt ? { excerpt } : {}) });
    return { session_id, typing };
  },
  text: ({ session_id, typing }) => `${typing ? 'Typing shown' : 'Typing hidden'} in ${session_id}.`,
});

export const setConversationState = defineTool({
  name: 'set_conversation_state',
  toolset: 'conversations',
  title: 'Set conversation state',
  description: "Set a conversation's state.",
  inputSchema: z.object({ website_id: WebsiteId.optional(), session_id: SessionId, state: ConversationStateIn }),
  outputSchema: z.object({ session_id: z.string(), state: ConversationStateIn, visitor_waiting: z.boolean() }),
  annotations: { ...write, idempotentHint: true },
  async handler({ website_id, session_id, state }, { crisp, guard }: ToolDeps) {
    const site = guard.website(website_id);
    // Resolved over a visitor's unanswered message is allowed (spam, a duplicate) but said, so it is not
    // done by mistake; read beside the write, and a failed read only leaves the warning out.
    const [, waiting] = await Promise.all([crisp.conversations.setState(site, session_id, state), state === 'resolved' ? visitorWaits(crisp, site, session_id) : false]);
    return { session_id, state, visitor_waiting: waiting };
  },
  text: ({ session_id, state, visitor_waiting }) => `${session_id} is now ${state}.${visitor_waiting ? " The visitor's last message has no answer." : ''}`,
});

/** Whether the thread's last message to or from the visitor is the visitor's (a note or an event message is not an answer). */
async function visitorWaits(crisp: ToolDeps['crisp'], site: string, session: string): Promise<boolean> {
  try {
    const { messages } = await crisp.messages.summaries(site, session);
    return messages.findLast((m) => m.from === 'user' || operatorSpeaks(m))?.from === 'user';
  } catch (error) {
    if (error instanceof CrispError) return false;
    throw error;
  }
}

export const markMessagesRead = defineTool({
  name: 'mark_messages_read',
  toolset: 'conversations',
  title: 'Mark messages read',
  description: "Mark the visitor's messages in a conversation as read by the operators.",
  inputSchema: z.object({ website_id: WebsiteId.optional(), session_id: SessionId }),
  outputSchema: z.object({ session_id: z.string(), read: z.literal(true) }),
  annotations: { ...write, idempotentHint: true },
  async handler({ website_id, session_id }, { crisp, guard }: ToolDeps) {
    await crisp.messages.markRead(guard.website(website_id), session_id, { from: 'operator', origin: 'chat' });
    return { session_id, read: true as const };
  },
  text: ({ session_id }) => `Messages in ${session_id} marked read.`,
});

export const updateConversationMeta = defineTool({
  name: 'update_conversation_meta',
  toolset: 'conversations',
  title: 'Update conversation details',
  description: 'Change the visitor name, email, phone or subject, add or remove segments, set custom data (null removes a key).',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    session_id: SessionId,
    nickname: written(z.string().min(1).max(200), { visible: true }).optional(),
    email: EmailIn.optional(),
    phone: written(z.string().max(50)).optional(),
    subject: written(z.string().max(500)).optional(),
    segments_add: SegmentList.optional(),
    segments_remove: SegmentList.optional(),
    data: DataPatch.optional().describe('custom data keys to set'),
  }),
  outputSchema: z.object({ session_id: z.string(), updated: z.array(z.string()), segments: z.array(z.string()).nullable() }),
  annotations: { ...write, idempotentHint: true },
  async handler(input, { crisp, guard }: ToolDeps) {
    const site = guard.website(input.website_id);
    const { nickname, email, phone, subject, data } = input;
    const patch: Record<string, unknown> = Object.fromEntries(Object.entries({ nickname, email, phone, subject, data }).filter(([, v]) => v !== undefined));
    let segments: string[] | null = null;
    if (input.segments_add || input.segments_remove) {
      // Crisp replaces the whole array, so read it, edit it, send it back (a concurrent edit can race).
      const current = (await crisp.conversations.getMeta(site, input.session_id)).segments ?? [];
      segments = editSegments(current, input.segments_add, input.segments_remove);
      patch.segments = segments;
    }
    const updated = Object.keys(patch);
    if (updated.length === 0) throw new ToolInputError('nothing to update: give at least one of nickname, email, phone, subject, segments_add, segments_remove, data');
    await crisp.conversations.updateMeta(site, input.session_id, patch);
    return { session_id: input.session_id, updated, segments };
  },
  text: ({ session_id, updated, segments }) => `Updated ${updated.join(', ')} on ${session_id}${segments ? `; segments now: ${segments.join(', ') || '(none)'}` : ''}.`,
});

export const CONVERSATION_WRITE_TOOLS = [sendMessage, setCompose, setConversationState, markMessagesRead, updateConversationMeta];
