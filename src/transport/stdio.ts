// The stdio transport, with one change to the SDK's: when stdin ends, the requests already read
// are still answered before the connection closes. The SDK's StdioServerTransport closes at
// end-of-file, dropping every call in flight, so `printf '<initialize>\n<tools/call>\n' | crisp-mcp`
// printed no answer to the call. Here stdin reaches that transport through a pipe we end only
// once every request read has its response written (or the grace period is over).
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../log.js';
import { buildServer } from '../mcp/server.js';
import type { AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';

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
  /** Resolves once the connection is closed: stdin ended and the calls in flight are answered. */
  readonly closed: Promise<void>;

  readonly #inner: StdioServerTransport;
  readonly #input = new PassThrough();
  readonly #stdin: Readable;
  readonly #graceMs: number;
  readonly #pending = new Set<string | number>();
  #inputEnded = false;
  #grace: NodeJS.Timeout | undefined;
  #onToolsListed: (() => void) | undefined;
  #toolsListId: string | number | undefined;

  constructor(options: DrainingStdioOptions = {}) {
    this.#stdin = options.stdin ?? process.stdin;
    this.#graceMs = options.graceMs ?? 30_000;
    this.#onToolsListed = options.onToolsListed;
    this.#inner = new StdioServerTransport(this.#input, options.stdout ?? process.stdout);
    let closed!: () => void;
    this.closed = new Promise((resolve) => (closed = resolve));
    this.#inner.onclose = () => {
      clearTimeout(this.#grace);
      this.#stdin.off('data', this.#forward).off('end', this.#stdinEnded).off('close', this.#stdinEnded);
      closed();
      this.onclose?.();
    };
    this.#inner.onerror = (error) => this.onerror?.(error);
    this.#inner.onmessage = (message) => {
      if (isRequest(message) && !LONG_LIVED.has(message.method)) {
        this.#pending.add(message.id);
        if (message.method === 'tools/list' && this.#onToolsListed && this.#toolsListId === undefined) this.#toolsListId = message.id;
      }
      this.onmessage?.(message);
    };
  }

  async start(): Promise<void> {
    await this.#inner.start();
    this.#stdin.on('data', this.#forward).once('end', this.#stdinEnded).once('close', this.#stdinEnded);
    if (this.#stdin.readableEnded || this.#stdin.destroyed) this.#stdinEnded();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    try {
      await this.#inner.send(message);
    } finally {
      if (isResponse(message)) {
        if (message.id === this.#toolsListId && this.#onToolsListed) {
          setImmediate(this.#onToolsListed);
          this.#onToolsListed = undefined;
        }
        if (this.#pending.delete(message.id)) this.#endIfDone();
      }
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #forward = (chunk: Buffer) => {
    this.#input.write(chunk);
  };

  #stdinEnded = () => {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.#grace = setTimeout(() => this.#input.end(), this.#graceMs).unref();
    // Let the messages of the last chunk be read (and counted) before judging what is in flight.
    setImmediate(() => this.#endIfDone());
  };

  #endIfDone(): void {
    if (this.#inputEnded && this.#pending.size === 0) this.#input.end();
  }
}

// The inner transport has parsed every message read against the JSON-RPC schema, and the SDK wrote
// every message sent: telling them apart needs their shape only. The SDK's isJSONRPC* guards run a
// full zod parse of each message, the result included (bench/mcp-stdio: a few µs per call).
function isRequest(message: JSONRPCMessage): message is JSONRPCMessage & { id: string | number; method: string } {
  return 'method' in message && 'id' in message && message.id !== undefined;
}

function isResponse(message: JSONRPCMessage): message is JSONRPCMessage & { id: string | number } {
  return ('result' in message || 'error' in message) && 'id' in message && message.id !== undefined && message.id !== null;
}

/** MCP over stdio, as started by startStdio(). */
export interface StdioHandle {
  /** Resolves once stdin has ended and the calls already read are answered. */
  readonly closed: Promise<void>;
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
