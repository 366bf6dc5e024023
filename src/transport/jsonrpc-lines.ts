// Reads newline-delimited JSON-RPC as the SDK's ReadBuffer does (the same size limit, a trailing
// \r dropped, a line that is not JSON skipped, a line that is JSON but not JSON-RPC thrown), with
// one shortcut: a plain request (a tools/call as clients send it, without `_meta`) is taken without
// the SDK's zod parse of the whole message. That parse is redundant for it: the SDK's server checks
// the message again (it parses it to tell a request from a response) and then its params against
// the method's own schema, before any handler runs; and inside a served call, with the caches cold
// after the wait on Crisp, it costs several µs on each call's path. The shortcut accepts only what
// that parse accepts, and gives the same value.
import { deserializeMessage, STDIO_DEFAULT_MAX_BUFFER_SIZE, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/server';

/** A request's keys, as the SDK's JSON-RPC schema allows them (it refuses any other). */
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

export class JsonRpcLineReader {
  #buffer: Buffer | undefined;

  constructor(readonly maxBufferSize = STDIO_DEFAULT_MAX_BUFFER_SIZE) {}

  /** Throws, and forgets what it held, once more than maxBufferSize bytes wait for a newline. */
  append(chunk: Buffer): void {
    if ((this.#buffer?.length ?? 0) + chunk.length > this.maxBufferSize) {
      this.clear();
      throw new Error(`ReadBuffer exceeded maximum size of ${this.maxBufferSize} bytes`);
    }
    this.#buffer = this.#buffer ? Buffer.concat([this.#buffer, chunk]) : chunk;
  }

  /** The next message, or null until a whole line is in; throws for a JSON line that is not JSON-RPC. */
  readMessage(): JSONRPCMessage | null {
    while (this.#buffer) {
      const index = this.#buffer.indexOf('\n');
      if (index === -1) return null;
      const line = this.#buffer.toString('utf8', 0, index).replace(/\r$/, '');
      this.#buffer = this.#buffer.subarray(index + 1);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue; // not JSON: skipped, as the SDK does
      }
      return plainRequest(value) ?? deserializeMessage(line);
    }
    return null;
  }

  clear(): void {
    this.#buffer = undefined;
  }
}

/**
 * `value` as the SDK's JSON-RPC schema would give it back, when it is a request that schema
 * accepts with nothing to check inside: `jsonrpc` "2.0", a string or safe-integer id, a string
 * method, no other key, and params, if any, an object without `_meta`. Anything else is undefined,
 * for the SDK's own parse to accept or refuse. The schema copies what it accepts, its keys first.
 */
export function plainRequest(value: unknown): JSONRPCRequest | undefined {
  if (!isRecord(value) || value.jsonrpc !== '2.0' || typeof value.method !== 'string') return undefined;
  const { id, params } = value;
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return undefined;
  for (const key in value) if (!REQUEST_KEYS.has(key)) return undefined;
  if (!('params' in value)) return { jsonrpc: '2.0', id: id as string | number, method: value.method };
  // `_meta` has fields of its own to check; `__proto__` is a key a copy must not turn into a prototype.
  if (!isRecord(params) || '_meta' in params || Object.hasOwn(params, '__proto__')) return undefined;
  return { jsonrpc: '2.0', id: id as string | number, method: value.method, params: { ...params } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
