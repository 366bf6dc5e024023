// The stdio transport. It reads and writes MCP's newline-delimited JSON-RPC as the SDK's
// StdioServerTransport does (the SDK's serializeMessage; JsonRpcLineReader, which keeps its
// ReadBuffer's rules), with one change: when stdin ends, the requests already read are still
// answered before the connection closes. The SDK's transport closes at end-of-file, dropping every
// call in flight, so `printf '<initialize>\n<tools/call>\n' | crisp-mcp` printed no answer to the
// call. Reading stdin here, instead of feeding the SDK's transport through a stream ended once the
// calls are answered, spares every message a stream hop and a second transport (bench/mcp-stdio).
import type { Readable, Writable } from 'node:stream';
import { serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../log.js';
import { buildServer } from '../mcp/server.js';
import type { AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';
import { invalidRequestAnswer, JsonRpcLineReader, NotJsonRpcError, whyNotJsonRpc } from './jsonrpc-lines.js';

/** What send() returns for a write the stream took at once (the common case): one promise for all. */
const WRITTEN: Promise<void> = Promise.resolve();

/** Requests that stay open by design and are ended by the teardown itself, not answered first. */
const LONG_LIVED = new Set(['subscriptions/listen']);

export interface DrainingStdioOptions {
  stdin?: Readable;
  stdout?: Writable;
  /** After stdin ends, how long calls in flight may take before the connection closes anyway. Default 30 s. */
  graceMs?: number;
  /** Called once, on the turn after the first tools/list answer is written: the host is connected. */
  onToolsListed?: () => void;
}

export class DrainingStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Resolves once the connection is closed: stdin ended and the calls in flight are answered; with the Error when the input broke it. */
  readonly closed: Promise<Error | void>;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #graceMs: number;
  readonly #readBuffer = new JsonRpcLineReader();
  readonly #pending = new Set<string | number>();
  readonly #resolveClosed: (failure: Error | void) => void;
  /** Why the connection closed, when the input made it (more than the line limit without a newline). */
  #failure: Error | undefined;
  #started = false;
  #closed = false;
  #inputEnded = false;
  #grace: NodeJS.Timeout | undefined;
  #onToolsListed: (() => void) | undefined;
  #toolsListId: string | number | undefined;

  constructor(options: DrainingStdioOptions = {}) {
    this.#stdin = options.stdin ?? process.stdin;
    this.#stdout = options.stdout ?? process.stdout;
    this.#graceMs = options.graceMs ?? 30_000;
    this.#onToolsListed = options.onToolsListed;
    let resolveClosed!: (failure: Error | void) => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    this.#resolveClosed = resolveClosed;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('DrainingStdioTransport already started');
    this.#started = true;
    this.#stdin.on('data', this.#read).on('error', this.#reportError).once('end', this.#stdinEnded).once('close', this.#stdinEnded);
    // Left attached after close too: a write failing late (the host gone) is reported, never thrown.
    this.#stdout.on('error', this.#stdoutFailed);
    if (this.#stdin.readableEnded || this.#stdin.destroyed) this.#stdinEnded();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the stdio transport is closed'));
    const written = this.#write(serializeMessage(message));
    // The SDK wrote every message sent: telling a response apart needs its shape only (its
    // isJSONRPC* guards would run a full zod parse of the message, the result included).
    if (('result' in message || 'error' in message) && 'id' in message && message.id !== undefined && message.id !== null) this.#answered(message.id);
    return written;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#grace);
    this.#stdin.off('data', this.#read).off('error', this.#reportError).off('end', this.#stdinEnded).off('close', this.#stdinEnded);
    if (this.#stdin.listenerCount('data') === 0) this.#stdin.pause();
    this.#readBuffer.clear();
    this.#resolveClosed(this.#failure);
    this.onclose?.();
  }

  /** One write; resolves once the stream took it (at once, or on `drain`), rejects on a write error. */
  #write(json: string): Promise<void> {
    if (this.#stdout.write(json)) return WRITTEN;
    // Stream errors are emitted on a later tick, so listening now still hears this write's.
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        this.#stdout.off('drain', drained);
        reject(error);
      };
      const drained = () => {
        this.#stdout.off('error', failed);
        resolve();
      };
      this.#stdout.once('error', failed).once('drain', drained);
    });
  }

  #answered(id: string | number): void {
    if (id === this.#toolsListId && this.#onToolsListed) {
      setImmediate(this.#onToolsListed);
      this.#onToolsListed = undefined;
    }
    if (this.#pending.delete(id)) this.#closeIfDone();
  }

  #read = (chunk: Buffer) => {
    try {
      this.#readBuffer.append(chunk);
    } catch (error) {
      // More than the SDK's limit (10 MiB) without a newline: the SDK's transport closes too. The
      // process then ends with a code that says so, not as if the host had closed stdin.
      this.#reportError(error as Error);
      this.#failure = new Error(`a message on stdin ran past ${this.#readBuffer.maxBufferSize} bytes without a newline (MCP's stdio limit): the connection is closed`);
      void this.close();
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#readBuffer.readMessage();
      } catch (error) {
        // A line that is JSON but not JSON-RPC: reported, answered when it is a request whose id
        // can be echoed (the SDK's own reader leaves the host waiting), and the next line is read.
        this.#refused(error as Error);
        continue;
      }
      if (message === null) return;
      // The reader has checked the line against the JSON-RPC schema: its shape tells a request.
      if ('method' in message && 'id' in message && message.id !== undefined && !LONG_LIVED.has(message.method)) {
        this.#pending.add(message.id);
        if (message.method === 'tools/list' && this.#onToolsListed && this.#toolsListId === undefined) this.#toolsListId = message.id;
        this.onmessage?.(message);
      } else {
        this.onmessage?.(message);
        if ('method' in message && message.method === 'notifications/cancelled') this.#cancelled(message.params?.requestId);
      }
    }
  };

  #refused(error: Error): void {
    if (!(error instanceof NotJsonRpcError)) return this.#reportError(error);
    this.#reportError(new Error(`stdin: a message that is not JSON-RPC: ${whyNotJsonRpc(error.value)}`));
    const answer = invalidRequestAnswer(error.value);
    if (answer) this.send(answer).catch(() => undefined); // a write failure is reported by #stdoutFailed
  }

  /**
   * A request the host cancelled gets no answer (the SDK drops it, as MCP says): it is no longer
   * waited for before closing once stdin ends, which would otherwise keep the process for the whole
   * grace period. Its handler is not stopped: a write it started still lands.
   */
  #cancelled(requestId: unknown): void {
    if ((typeof requestId === 'string' || typeof requestId === 'number') && this.#pending.delete(requestId)) this.#closeIfDone();
  }

  #reportError = (error: Error) => {
    this.onerror?.(error);
  };

  #stdoutFailed = (error: Error) => {
    if (this.#closed) return;
    this.onerror?.(error);
    void this.close();
  };

  #stdinEnded = () => {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.#grace = setTimeout(() => void this.close(), this.#graceMs).unref();
    // On the next turn: the SDK may still be handing the last requests read to the server.
    setImmediate(() => this.#closeIfDone());
  };

  #closeIfDone(): void {
    if (this.#inputEnded && this.#pending.size === 0) void this.close();
  }
}

/** MCP over stdio, as started by startStdio(). */
export interface StdioHandle {
  /** Resolves once stdin has ended and the calls already read are answered; with the Error when the input broke the connection. */
  readonly closed: Promise<Error | void>;
  close(): Promise<void>;
}

/**
 * Serves MCP over stdio until stdin ends (once the calls already read are answered) or close().
 * stdout carries only MCP; logs go to stderr. Signals are the command's business. `onToolsListed`
 * runs once the host has its tools/list: work deferred past the start-up can start then.
 */
export function startStdio(tools: readonly AnyTool<ToolDeps>[], deps: ToolDeps, log: Logger, onToolsListed?: () => void): StdioHandle {
  const transport = new DrainingStdioTransport({ onToolsListed });
  const handle = serveStdio(() => buildServer(tools, deps), { transport, onerror: (error) => log.error({ err: error }, 'stdio transport error') });
  return { closed: transport.closed, close: () => handle.close() };
}
