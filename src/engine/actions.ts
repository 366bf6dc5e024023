// What identifies what a turn sends, so that sending it again never shows it twice — a message's
// fingerprint, a webhook call's Idempotency-Key, both derived from (turn, step) — and the one HTTP
// call a scenario's webhook gets, which every port's `callWebhook` makes.
import { hash } from 'node:crypto';
import type { Action } from '../scenario/index.js';
import { USER_AGENT } from '../version.js';
import type { EffectAnswer } from './port.js';
import { refusalOf } from './webhook-networks.js';

/** A positive 48-bit integer from sha-256(`turn:step`): stable across retries, unique in practice. */
export function derivedFingerprint(turn: string, step: string): number {
  return Number.parseInt(hash('sha256', `${turn}:${step}`, 'hex').slice(0, 12), 16) || 1;
}

/** The Idempotency-Key a webhook call carries: the receiver can drop a retried call. */
export function webhookIdempotencyKey(turn: string, step: string): string {
  return hash('sha256', `webhook:${turn}:${step}`, 'base64url').slice(0, 32);
}

const WEBHOOK_TIMEOUT_MS = 10_000;
const WEBHOOK_MAX_ANSWER = 1024 * 1024;

/**
 * Calls a scenario's webhook once: JSON body (or query string for GET), an Idempotency-Key, no
 * redirects followed (a redirect could lead off the allow-listed origin), a 10 s deadline.
 * A network failure or a non-2xx answer is `ok: false`, which the scenario routes to its on_error.
 */
export async function callWebhook(action: Extract<Action, { type: 'webhook' }>, idempotencyKey: string, fetchImpl: typeof fetch = globalThis.fetch, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<EffectAnswer> {
  const url = new URL(action.url);
  const deadline = AbortSignal.timeout(timeoutMs);
  if (action.method === 'GET') for (const [k, v] of Object.entries(action.body)) url.searchParams.set(k, String(v ?? ''));
  try {
    const response = await fetchImpl(url, {
      method: action.method,
      headers: {
        accept: 'application/json',
        'user-agent': USER_AGENT,
        'idempotency-key': idempotencyKey,
        ...(action.method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      body: action.method === 'POST' ? JSON.stringify(action.body) : undefined,
      redirect: 'error',
      signal: deadline,
    });
    const text = await readBounded(response, WEBHOOK_MAX_ANSWER, deadline);
    if (text === undefined) return { url: action.url, status: response.status, ok: response.ok, data: null, error: `answer over ${WEBHOOK_MAX_ANSWER} bytes, ignored` };
    let data: unknown = null;
    if (text !== '') {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    return { url: action.url, status: response.status, ok: response.ok, data };
  } catch (error) {
    const refused = refusalOf(error)?.message;
    return { url: action.url, status: null, ok: false, data: null, error: refused ?? ((error as Error).name === 'TimeoutError' ? 'timed out' : 'could not be reached') };
  }
}

/**
 * The answer's body as text, or undefined once it passes `limit` bytes: reading stops there, never
 * after the whole body is in memory. The deadline covers the body too: fetch's signal alone let a
 * receiver that sent its headers and then a byte now and then hold the turn for hours.
 */
async function readBounded(response: Response, limit: number, deadline: AbortSignal): Promise<string | undefined> {
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  // Cancelling ends the pending read as if the body were complete: the deadline is checked after it.
  const stop = () => void reader.cancel().catch(() => {});
  deadline.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      deadline.throwIfAborted();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    deadline.removeEventListener('abort', stop);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
