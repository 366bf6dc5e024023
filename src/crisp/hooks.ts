// Receiving Crisp's Web Hooks (reference §4): the signature check, the payload parse, and a small
// node:http request handler that answers the way Crisp's reference receivers do — 403 on a bad
// signature, 400 on a malformed payload, 200 otherwise (at once; the event is handled after).
// It knows nothing of MCP, scenarios or bots, and mounts on any node:http server.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { CrispEventError, isRtmEventName, parseCrispEvent, type CrispEvent, type RtmEventName } from './rtm.js';

/** Header names as node:http reports them (lowercase). */
export const HOOK_TIMESTAMP_HEADER = 'x-crisp-request-timestamp';
export const HOOK_SIGNATURE_HEADER = 'x-crisp-signature';
export const HOOK_ATTEMPT_HEADER = 'x-delivery-attempt-count';

/** How far `X-Crisp-Request-Timestamp` may be from our clock (Crisp documents no window; ours). */
export const DEFAULT_HOOK_WINDOW_MS = 5 * 60_000;

/** lowercase hex HMAC-SHA256(secret, "[" + timestamp + ";" + raw body + "]") — D-WHREF, GO `VerifyHook`. */
export function signHook(secret: string, timestamp: number | string, rawBody: string | Buffer): string {
  return hookMac(secret, String(timestamp), rawBody).toString('hex');
}

function hookMac(secret: string, timestamp: string, rawBody: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`[${timestamp};`).update(rawBody).update(']').digest();
}

export interface VerifyHookInput {
  secret: string;
  /** `X-Crisp-Request-Timestamp`: milliseconds since the epoch. */
  timestamp: string | number | undefined;
  /** `X-Crisp-Signature`. */
  signature: string | undefined;
  /** The body exactly as received; re-serialising parsed JSON is what makes node-crisp-api's check fragile. */
  rawBody: string | Buffer;
  /** Our clock, in ms. Default `Date.now()`. */
  now?: number;
  /** Default 5 minutes. */
  windowMs?: number;
}

export type HookSignatureProblem = 'missing_signature' | 'missing_timestamp' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

/** Why a delivery's signature is not acceptable, or `null` when it is. Constant-time in the signature. */
export function hookSignatureProblem(input: VerifyHookInput): HookSignatureProblem | null {
  const { secret, signature } = input;
  if (!signature) return 'missing_signature';
  if (input.timestamp === undefined || input.timestamp === '') return 'missing_timestamp';
  const text = String(input.timestamp).trim();
  if (!/^\d{1,16}$/.test(text)) return 'bad_timestamp';
  const now = input.now ?? Date.now();
  if (Math.abs(now - Number(text)) > (input.windowMs ?? DEFAULT_HOOK_WINDOW_MS)) return 'stale_timestamp';
  if (!secret || !/^[0-9a-f]{64}$/i.test(signature.trim())) return 'bad_signature';
  const expected = hookMac(secret, text, input.rawBody);
  return timingSafeEqual(expected, Buffer.from(signature.trim(), 'hex')) ? null : 'bad_signature';
}

/** Whether a delivery is signed with `secret` and recent enough. */
export function verifyHookSignature(input: VerifyHookInput): boolean {
  return hookSignatureProblem(input) === null;
}

/** A parsed delivery: the event plus the envelope's website and time. */
export type HookEvent = CrispEvent & { website_id: string; timestamp: number | undefined };

const HookEnvelope = z.looseObject({
  event: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  website_id: z.string().optional(),
  timestamp: z.number().optional(),
});

/** Parses a delivery body `{website_id, event, data, timestamp}` (D-WHREF); throws CrispEventError. */
export function parseHookEvent(rawBody: string | Buffer): HookEvent {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw new CrispEventError('malformed_json', 'the hook body is not JSON');
  }
  const envelope = HookEnvelope.safeParse(json);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    throw new CrispEventError('malformed_payload', `the hook body is not {website_id, event, data, timestamp} (${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'body'})`);
  }
  const { event: name, data, timestamp } = envelope.data;
  const event = parseCrispEvent(name, data);
  const websiteId = envelope.data.website_id ?? (typeof data.website_id === 'string' ? data.website_id : undefined);
  if (!websiteId) throw new CrispEventError('malformed_payload', 'the hook names no website_id', name);
  return { ...event, website_id: websiteId, timestamp } as HookEvent;
}

export interface HookDelivery {
  /** `X-Delivery-Attempt-Count`, when sent: a retry has a count above 1 (dedupe on the fingerprint, never on this). */
  attempt: number | undefined;
}

export interface HookHandlerOptions {
  secret: string;
  /** Called after the 200 is sent, in arrival order; a throw or rejection goes to `onError`. */
  onEvent: (event: HookEvent, delivery: HookDelivery) => void | Promise<void>;
  /** Events to pass on; the rest are answered 200 and dropped, as node-crisp-api does. All when absent. */
  events?: readonly RtmEventName[];
  /** Refused deliveries (with the status sent) and `onEvent` failures. Never given the body. */
  onError?: (error: Error, status?: number) => void;
  windowMs?: number;
  now?: () => number;
  /** Largest body accepted, in bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
}

/** What to answer to one delivery. */
export type HookDecision =
  | { status: 200; event: HookEvent; delivery: HookDelivery }
  | { status: 200; ignored: string }
  | { status: 400 | 403; error: CrispEventError | HookSignatureError };

export class HookSignatureError extends Error {
  override readonly name = 'HookSignatureError';
  constructor(readonly code: HookSignatureProblem) {
    super(`the hook signature was refused (${code})`);
  }
}

/** The decision for one delivery, from its headers and raw body; no I/O. */
export function checkHookRequest(
  headers: IncomingHttpHeaders,
  rawBody: string | Buffer,
  options: Pick<HookHandlerOptions, 'secret' | 'events' | 'windowMs' | 'now'>,
): HookDecision {
  const problem = hookSignatureProblem({
    secret: options.secret,
    timestamp: single(headers[HOOK_TIMESTAMP_HEADER]),
    signature: single(headers[HOOK_SIGNATURE_HEADER]),
    rawBody,
    now: options.now?.(),
    windowMs: options.windowMs,
  });
  if (problem) return { status: 403, error: new HookSignatureError(problem) };
  let event: HookEvent;
  try {
    event = parseHookEvent(rawBody);
  } catch (error) {
    if (!(error instanceof CrispEventError)) throw error;
    // A name Crisp added after this list is accepted and dropped, like an unsubscribed one.
    if (error.code === 'unknown_event') return { status: 200, ignored: `unknown event ${error.event ?? ''}`.trim() };
    return { status: 400, error };
  }
  if (options.events && !options.events.includes(event.event)) return { status: 200, ignored: `not subscribed to ${event.event}` };
  const attempt = Number(single(headers[HOOK_ATTEMPT_HEADER]));
  return { status: 200, event, delivery: { attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : undefined } };
}

/** A node:http request listener for Crisp's Web Hooks: POST only, 403 / 400 / 413 / 200, then `onEvent`. */
export function createHookHandler(options: HookHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!options.secret) throw new TypeError('createHookHandler needs the hook signing secret (CRISP_HOOK_SECRET)');
  for (const name of options.events ?? []) if (!isRtmEventName(name)) throw new TypeError(`"${name}" is not a Crisp event name`);
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  const report = (error: Error, status?: number) => {
    if (options.onError) options.onError(error, status);
    // A refusal is already told to the sender by its status; a failure of ours must not vanish.
    else if (status === undefined || status >= 500) process.emitWarning(error.message, { type: error.name, code: 'CRISP_HOOK' });
  };

  return (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      return answer(res, 405, 'method not allowed; Crisp posts hooks', { allow: 'POST' });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return answer(res, 413, 'body too large', { connection: 'close' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        answer(res, 413, 'body too large', { connection: 'close' });
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (refused) return;
      let decision: HookDecision;
      try {
        decision = checkHookRequest(req.headers, Buffer.concat(chunks), options);
      } catch (error) {
        report(error instanceof Error ? error : new Error(String(error)), 500);
        return answer(res, 500, 'internal error');
      }
      if ('error' in decision) {
        report(decision.error, decision.status);
        return answer(res, decision.status, decision.status === 403 ? 'invalid signature' : decision.error.message);
      }
      answer(res, 200, 'ok');
      if (!('event' in decision)) return;
      // The answer goes first: Crisp only waits for the status (ack fast, then process).
      setImmediate(() => {
        try {
          const result = options.onEvent(decision.event, decision.delivery);
          if (result instanceof Promise) result.catch((error: unknown) => report(error instanceof Error ? error : new Error(String(error))));
        } catch (error) {
          report(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  };
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
