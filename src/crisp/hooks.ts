// Receiving Crisp's Web Hooks: the signature check, the payload parse, and the
// decision for one delivery, as the reference receivers make it — 403 on a bad signature, 400 on a
// malformed payload, 200 otherwise. No I/O: the node:http route is src/transport/hook-receiver.ts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { CrispEventError, parseCrispEvent, type CrispEvent, type RtmEventName } from './rtm.js';

/** Header names as node:http reports them (lowercase). */
export const HOOK_TIMESTAMP_HEADER = 'x-crisp-request-timestamp';
export const HOOK_SIGNATURE_HEADER = 'x-crisp-signature';
export const HOOK_ATTEMPT_HEADER = 'x-delivery-attempt-count';

/** How far `X-Crisp-Request-Timestamp` may be from our clock (Crisp documents no window; ours). */
export const DEFAULT_HOOK_WINDOW_MS = 5 * 60_000;

/** lowercase hex HMAC-SHA256(secret, "[" + timestamp + ";" + raw body + "]") — go-crisp-api's `VerifyHook`. */
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

// A plain (stripping) object: only these four keys are read, and a loose one would copy every other
// key of the body on every delivery.
const HookEnvelope = z.object({
  event: z.string().min(1),
  // Checked to be an object and passed on by reference: its own schema (parseCrispEvent) reads it
  // next, and a record schema here would copy every key of every delivery once more before that.
  data: z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object'),
  website_id: z.string().optional(),
  timestamp: z.number().optional(),
});

/** Parses a delivery body `{website_id, event, data, timestamp}`; throws CrispEventError. */
export function parseHookEvent(rawBody: string | Buffer): HookEvent {
  return readEnvelope(parseEnvelope(rawBody));
}

type Envelope = z.infer<typeof HookEnvelope>;

/** The body's envelope, its `data` not yet checked against the event's schema; throws CrispEventError. */
function parseEnvelope(rawBody: string | Buffer): Envelope {
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
  return envelope.data;
}

/** The event an envelope carries, its `data` checked against the event's schema; throws CrispEventError. */
function readEnvelope(envelope: Envelope): HookEvent {
  const { event: name, data, timestamp } = envelope;
  const event = parseCrispEvent(name, data) as HookEvent;
  const websiteId = envelope.website_id ?? (typeof data.website_id === 'string' ? data.website_id : undefined);
  if (!websiteId) throw new CrispEventError('malformed_payload', 'the hook names no website_id', name);
  // parseCrispEvent's result is a fresh object of ours: completed in place rather than copied.
  event.website_id = websiteId;
  event.timestamp = timestamp;
  return event;
}

export interface HookDelivery {
  /** `X-Delivery-Attempt-Count`, when sent: a retry has a count above 1 (dedupe on the fingerprint, never on this). */
  attempt: number | undefined;
}

/** What a delivery is checked against. */
export interface HookCheckOptions {
  secret: string;
  /** Events to pass on; the rest are answered 200 and dropped, as node-crisp-api does. All when absent. */
  events?: readonly RtmEventName[];
  windowMs?: number;
  now?: () => number;
  /**
   * Signed deliveries the consumer can tell from their raw `data` it has no use for — the
   * autopilot's own replies coming back — are answered 200 and dropped before the event's schema
   * is checked: true drops the delivery.
   */
  skip?: (name: string, data: unknown) => boolean;
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
  options: HookCheckOptions,
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
    const envelope = parseEnvelope(rawBody);
    if (options.skip?.(envelope.event, envelope.data)) return { status: 200, ignored: `${envelope.event} not needed` };
    event = readEnvelope(envelope);
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

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
