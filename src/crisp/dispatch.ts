// One request through undici's dispatch handler API, the body gathered as a string. It skips the
// Readable stream that `request()` wraps every body in: a Crisp answer is small JSON read whole,
// and on a list call that stream was an eighth of the client's CPU (bench/crisp-client).
import type { Dispatcher } from 'undici';

/** What sendForText uses of an AbortSignal: a real one fits, and so does a lighter stand-in (http.ts). */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface TextResponse {
  statusCode: number;
  /** The response's Retry-After header, the only one the client reads. */
  retryAfter: string | undefined;
  text: string;
}

/**
 * Through undici's original handler calls (onConnect, onHeaders, onData, onComplete, onError):
 * given a handler of the newer kind, undici wraps it in an adapter and a controller per request
 * and turns the raw headers and trailers into objects for it; the client reads one header, and
 * only on a failure. undici's types mark these calls deprecated: a major version that drops them
 * needs this function back on onRequestStart / onResponseStart / onResponseData / onResponseEnd.
 */
export function sendForText(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: AbortSource): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    let abortRequest: ((reason?: Error) => void) | undefined;
    let statusCode = 0;
    let rawHeaders: Buffer[] = [];
    let chunks: Buffer[] = [];
    const onAbort = () => abortRequest?.(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal.removeEventListener('abort', onAbort);

    dispatcher.dispatch(options, {
      onConnect(abort) {
        abortRequest = abort;
        if (signal.aborted) abort(abortReason(signal));
      },
      onHeaders(status, headers) {
        // 1xx answers come first and carry no body; only the final status counts.
        statusCode = status;
        rawHeaders = headers;
        chunks = [];
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        settle();
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode, retryAfter: statusCode >= 200 && statusCode < 300 ? undefined : headerValue(rawHeaders, 'retry-after'), text });
      },
      onError(error) {
        settle();
        reject(error);
      },
    });
  });
}

/** A header's first value from undici's raw [name, value, name, value…] list; the name in lower case. */
function headerValue(raw: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toString('latin1').toLowerCase() === name) return raw[i + 1]!.toString('latin1');
  return undefined;
}

function abortReason(signal: AbortSource): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}
