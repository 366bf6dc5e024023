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

/**
 * The request was aborted while it waited for one of the pool's connections: it never left, and
 * the call is over at once instead of when a connection frees (undici starts the request then,
 * only to abort it).
 */
export class AbortedBeforeSent extends Error {
  override readonly name = 'AbortedBeforeSent';
}

export function sendForText(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: AbortSource): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    dispatcher.dispatch(options, new TextHandler(signal, resolve, reject));
  });
}

/**
 * The handler of one request, as one object whose methods live on its prototype: a handler made
 * of an object literal and closures cost several allocations per call, and the autopilot makes
 * two calls per visitor message.
 */
class TextHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  /** The body's first chunk, and the others only when there are several (a Crisp answer is mostly one). */
  #first: Buffer | undefined;
  #more: Buffer[] | undefined;
  readonly #signal: AbortSource;
  readonly #resolve: (response: TextResponse) => void;
  readonly #reject: (error: unknown) => void;
  readonly #onAbort = (): void => {
    if (this.#controller) this.#controller.abort(abortReason(this.#signal));
    else this.#reject(new AbortedBeforeSent('aborted while waiting for a connection', { cause: abortReason(this.#signal) }));
  };

  constructor(signal: AbortSource, resolve: (response: TextResponse) => void, reject: (error: unknown) => void) {
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(abortReason(this.#signal));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx answers come first and carry no body; only the final status counts.
    this.#statusCode = statusCode;
    this.#headers = headers;
    this.#first = undefined;
    this.#more = undefined;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#first === undefined) this.#first = chunk;
    else (this.#more ??= [this.#first]).push(chunk);
  }

  onResponseEnd(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    const text = this.#more ? Buffer.concat(this.#more).toString('utf8') : this.#first ? this.#first.toString('utf8') : '';
    this.#resolve({ statusCode: this.#statusCode, headers: this.#headers, text });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#reject(error);
  }
}

function abortReason(signal: AbortSource): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}
