// Crisp's Web Hooks as a node:http route: POST only, the body read with the server's one body
// reader (a refused upload is drained, never reset), then src/crisp/hooks.ts decides — 403 / 400 /
// 200 — and the event is handed over after the answer (Crisp only waits for the status). Mounted
// by `serve --http` and by `bot --events hooks`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkHookRequest, isRtmEventName, type HookCheckOptions, type HookDecision, type HookDelivery, type HookEvent } from '../crisp/index.js';
import { onBody } from './http-io.js';
import { OutageLog, type Logger } from '../log.js';

export interface HookHandlerOptions extends HookCheckOptions {
  /** Called after the 200 is sent, in arrival order; a throw or rejection goes to `onError`. */
  onEvent: (event: HookEvent, delivery: HookDelivery) => void | Promise<void>;
  /** Refused deliveries (with the status sent) and `onEvent` failures. Never given the body. */
  onError?: (error: Error, status?: number) => void;
  /** Largest body accepted, in bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
}

/** A node:http request listener for Crisp's Web Hooks: 405 / 413 / 403 / 400 / 200, then `onEvent`. */
export function createHookHandler(options: HookHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!options.secret) throw new TypeError('createHookHandler needs the hook signing secret (CRISP_HOOK_SECRET)');
  for (const name of options.events ?? []) if (!isRtmEventName(name)) throw new TypeError(`"${name}" is not a Crisp event name`);
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  const report = (error: Error, status?: number) => {
    if (options.onError) options.onError(error, status);
    // A refusal is already told to the sender by its status; a failure of ours must not vanish.
    else if (status === undefined || status >= 500) process.emitWarning(error.message, { type: error.name, code: 'CRISP_HOOK' });
  };

  const decide = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    let decision: HookDecision;
    try {
      decision = checkHookRequest(req.headers, body, options);
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
    setImmediate(handOver, decision.event, decision.delivery);
  };
  const handOver = (event: HookEvent, delivery: HookDelivery): void => {
    try {
      const result = options.onEvent(event, delivery);
      if (result instanceof Promise) result.catch((error: unknown) => report(error instanceof Error ? error : new Error(String(error))));
    } catch (error) {
      report(error instanceof Error ? error : new Error(String(error)));
    }
  };

  // Callbacks, not an async function and a promise per delivery: this runs twice per visitor message.
  return (req, res) => {
    if (req.method !== 'POST') {
      req.resume();
      return answer(res, 405, 'method not allowed; Crisp posts hooks', ['allow', 'POST']);
    }
    onBody(req, limit, (error, body) => {
      // A body the client stopped sending midway leaves nobody to answer: the connection is gone.
      if (error) res.destroy();
      else if (body === 'too_large') answer(res, 413, 'body too large');
      else {
        try {
          decide(req, res, body!);
        } catch {
          res.destroy(); // an onError that throws: nothing left to answer with
        }
      }
    });
  };
}

/** The 200 every accepted delivery gets, its headers as name/value pairs built once. */
const OK_TEXT = 'ok';
const OK_HEADERS = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(OK_TEXT))];

function answer(res: ServerResponse, status: number, text: string, extra: readonly string[] = []): void {
  if (res.headersSent) return;
  const headers = status === 200 && text === OK_TEXT ? OK_HEADERS : ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(text)), ...extra];
  res.writeHead(status, headers);
  res.end(text);
}

/**
 * How `serve --http` and `bot --events hooks` log their hook route. A failure of ours is an error
 * each time. Refused deliveries (a bad signature, a stale timestamp, a malformed body) are told as
 * one outage: a secret that is not the one Crisp signs with refuses every delivery, and a warning
 * each would be a line per visitor message, for as long as it lasts. `verified` is called for each
 * delivery let in, and says once that they verify again.
 */
export function hookRouteLog(log: Logger): Required<Pick<HookHandlerOptions, 'onError'>> & { verified(): void } {
  const refusals = new OutageLog(log);
  return {
    onError: (error, status) => {
      if (status === undefined || status >= 500) log.error({ err: error }, 'handling a web hook failed');
      else refusals.failed({ status, error: error.message }, 'web hook delivery refused');
    },
    verified: () => refusals.succeeded({}, 'web hook deliveries are let in again'),
  };
}
