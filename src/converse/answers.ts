// What POST /converse answers (src/transport/http.ts sends it as JSON): 202 once the event is in
// the store, 400 naming the field, 409 for a messageId reused with another event, 503 to retry.
import type { ConverseEvent } from './input.js';

/** What /converse answers: http.ts sends it as JSON. */
export interface ConverseAnswer {
  status: 202 | 400 | 409 | 503;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** The body is no event: which field, and what was expected. */
export function invalidRequest(field: string, message: string): ConverseAnswer {
  return { status: 400, body: { error: 'invalid_request', field, message } };
}

/** Not stored (full, closing, or the store write failed): retry in a second. */
export function unavailable(message: string): ConverseAnswer {
  return { status: 503, body: { error: 'unavailable', message }, headers: { 'retry-after': '1' } };
}

/** The messageId was accepted before in this conversation for a different event: that one stands. */
export function messageIdReused(messageId: string | undefined): ConverseAnswer {
  return {
    status: 409,
    body: {
      error: 'message_id_reused', field: 'messageId',
      message: `messageId ${JSON.stringify(messageId)} was accepted in this conversation within the last 24 h for a different event (type, text, cardIndex, userId or metadata); that one stands and this one was not stored: give a new event a new messageId`,
    },
  };
}

/** In the store (or, `duplicate`, accepted before under its messageId: this body was not run, the first one was). */
export function accepted(event: ConverseEvent, duplicate: boolean): ConverseAnswer {
  return { status: 202, body: { status: 'accepted', conversationId: event.conversationId, ...(event.messageId ? { messageId: event.messageId } : {}), ...(duplicate ? { duplicate: true } : {}) } };
}
