// `POST /converse` on `serve --http`: the converse API's events (src/converse/converse.ts). The
// checks of /mcp in the same order — Host and Origin (403), the method (405), the bearer token
// (401), Content-Type (415), the body size (413), UTF-8 and JSON (400), then 503 while shutting
// down — each answered as plain JSON `{error, message}`, then the handler's own answer (202 once
// the event is stored).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isJsonContentType } from '@modelcontextprotocol/server';
import type { ConverseAnswer } from '../converse/converse.js';
import type { Logger } from '../log.js';
import type { Principal, Refusal } from './http-auth.js';
import { isRefusal } from './http-auth.js';
import { charsetRefusal, encodedBodyRefusal, readBody, sendJson, utf8Text } from './http-io.js';

/** What takes the events: converse.ts's service, or a test's. */
export interface ConverseHandler {
  accept(body: unknown): ConverseAnswer | Promise<ConverseAnswer>;
}

/** The server's checks and state the route shares with /mcp. */
export interface RouteGate {
  /** Host, then Origin: the 403 message, or undefined when both pass. */
  hostRefusal(req: IncomingMessage): string | undefined;
  /** Who calls, by bearer token; or why not. */
  caller(req: IncomingMessage): Principal | Refusal;
  readonly closing: boolean;
  readonly maxBodyBytes: number;
  readonly log: Logger;
}

export async function serveConverse(req: IncomingMessage, res: ServerResponse, converse: ConverseHandler, gate: RouteGate): Promise<void> {
  const { log, maxBodyBytes } = gate;
  const fail = (status: number, error: string, message: string, headers: Record<string, string> = {}) => {
    log.debug({ status, reason: message }, 'converse request refused');
    sendJson(res, status, { error, message }, headers);
  };
  const forbidden = gate.hostRefusal(req);
  if (forbidden) return fail(403, 'forbidden', forbidden);
  if (req.method !== 'POST') return fail(405, 'method_not_allowed', 'Method not allowed: /converse takes POST', { allow: 'POST' });
  const checked = gate.caller(req);
  if (isRefusal(checked)) return fail(checked.status, checked.status === 401 ? 'unauthorized' : 'forbidden', checked.message, checked.challenge ? { 'www-authenticate': checked.challenge } : {});
  if (!isJsonContentType(req.headers['content-type'] ?? null)) return fail(415, 'unsupported_media_type', 'Unsupported Media Type: Content-Type must be application/json');
  const encoded = encodedBodyRefusal(req) ?? charsetRefusal(req);
  if (encoded) return fail(415, 'unsupported_media_type', encoded);
  const body = await readBody(req, maxBodyBytes);
  if (body === 'too_large') return fail(413, 'payload_too_large', `Payload Too Large: the request body is over ${maxBodyBytes} bytes`);
  const text = utf8Text(body);
  if (text === undefined) return fail(400, 'invalid_json', 'Bad Request: the request body is not UTF-8 (JSON is sent in UTF-8)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(400, 'invalid_json', `Bad Request: ${notJson(text, error)}`);
  }
  if (gate.closing) return fail(503, 'unavailable', 'Service Unavailable: the server is shutting down; retry', { 'retry-after': '1' });
  const answer = await converse.accept(parsed); // 202 only once the event is in the store
  if (answer.status !== 202) log.debug({ status: answer.status, reason: answer.body.message }, 'converse event refused');
  else log.debug({ conversation: `converse:${String(answer.body.conversationId)}`, messageId: answer.body.messageId, duplicate: answer.body.duplicate }, 'converse event accepted');
  sendJson(res, answer.status, answer.body, answer.headers);
}

/**
 * Where a /converse body stops being JSON, for the caller to find it: V8's position only, since
 * its message may quote the body, which the debug log line of the refusal would then hold.
 */
function notJson(text: string, error: unknown): string {
  if (text.trim() === '') return 'the request body is empty: send one JSON object';
  const message = error instanceof Error ? error.message : '';
  const at = Number(/at position (\d+)/.exec(message)?.[1] ?? NaN);
  if (/end of JSON input/.test(message) || at >= text.length) return 'the request body is not valid JSON (it ends too soon)';
  return `the request body is not valid JSON${Number.isNaN(at) ? '' : ` (at character ${at + 1} of ${text.length})`}`;
}
