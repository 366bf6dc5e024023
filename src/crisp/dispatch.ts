// One request through undici's dispatch handler API, the body gathered as a string. It skips the
// Readable stream that `request()` wraps every body in: a Crisp answer is small JSON read whole,
// and on a list call that stream was an eighth of the client's CPU (bench/crisp-client).
import type { IncomingHttpHeaders } from 'node:http';
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
  headers: IncomingHttpHeaders;
  text: string;
}

export function sendForText(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: AbortSource): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    let chunks: Buffer[] = [];
    const onAbort = () => controller?.abort(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal.removeEventListener('abort', onAbort);

    dispatcher.dispatch(options, {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) c.abort(abortReason(signal));
      },
      onResponseStart(_c, status, responseHeaders) {
        // 1xx answers come first and carry no body; only the final status counts.
        statusCode = status;
        headers = responseHeaders;
        chunks = [];
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle();
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode, headers, text });
      },
      onResponseError(_c, error) {
        settle();
        reject(error);
      },
    });
  });
}

function abortReason(signal: AbortSource): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}
