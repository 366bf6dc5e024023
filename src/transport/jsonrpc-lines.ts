// Reads newline-delimited JSON-RPC as the SDK's ReadBuffer does (the same size limit, a trailing
// \r dropped, a line that is not JSON skipped, a line that is JSON but not JSON-RPC thrown), with
// one shortcut: a plain request (a tools/call as clients send it, without `_meta`) is taken without
// the SDK's zod parse of the whole message. That parse is redundant for it: the SDK's server checks
// the message again (it parses it to tell a request from a response) and then its params against
// the method's own schema, before any handler runs; and inside a served call, with the caches cold
// after the wait on Crisp, it costs several µs on each call's path. The shortcut accepts only what
// that parse accepts, and gives the same value. Where the SDK's reader would leave a host waiting
// without a word, this one differs: a line starting with a byte order mark is read without it (the
// SDK skips the whole line as not JSON, so a host whose writer adds one never had its initialize
// answered), and a JSON-RPC batch (an array, which MCP 2025-03-26 allowed) is read as its messages
// in turn, as the SDK's HTTP transport reads one.
import { parseJSONRPCMessage, STDIO_DEFAULT_MAX_BUFFER_SIZE, type JSONRPCErrorResponse, type JSONRPCMessage, type JSONRPCRequest } from '@modelcontextprotocol/server';

/** A request's keys, as the SDK's JSON-RPC schema allows them (it refuses any other). */
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/** A line that is JSON but not a JSON-RPC message; `value` is that JSON, for the caller to answer from. */
export class NotJsonRpcError extends Error {
  constructor(
    message: string,
    readonly value: unknown,
  ) {
    super(message);
    this.name = 'NotJsonRpcError';
  }
}

export class JsonRpcLineReader {
  /** The bytes not read yet, as they came: a line is joined once, when its newline is in. */
  #chunks: Buffer[] = [];
  #length = 0;
  /** How many of #chunks (from the first) are known to hold no newline: each byte is searched once. */
  #searched = 0;
  /** The messages of a batch not read yet. */
  #batch: unknown[] = [];

  constructor(readonly maxBufferSize = STDIO_DEFAULT_MAX_BUFFER_SIZE) {}

  /**
   * Throws, and forgets what it held, once more than maxBufferSize bytes wait for a newline. A long
   * line costs its length once: the SDK's ReadBuffer copied all it held and searched it again at
   * every chunk, seconds of a blocked server for a line of a few MiB.
   */
  append(chunk: Buffer): void {
    if (this.#length + chunk.length > this.maxBufferSize) {
      this.clear();
      throw new Error(`ReadBuffer exceeded maximum size of ${this.maxBufferSize} bytes`);
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The next message, or null until a whole line is in; throws a NotJsonRpcError for JSON that is not JSON-RPC. */
  readMessage(): JSONRPCMessage | null {
    if (this.#batch.length > 0) {
      const element = this.#batch.shift();
      return plainRequest(element) ?? parseMessage(element);
    }
    for (let bytes = this.#nextLine(); bytes !== undefined; bytes = this.#nextLine()) {
      let line = bytes.toString('utf8').replace(/\r$/, '');
      if (line.charCodeAt(0) === BYTE_ORDER_MARK) line = line.slice(1);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue; // not JSON: skipped, as the SDK does
      }
      const plain = plainRequest(value);
      if (plain) return plain;
      if (Array.isArray(value) && value.length > 0) {
        this.#batch = value;
        return this.readMessage();
      }
      return parseMessage(value);
    }
    return null;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
    this.#searched = 0;
    this.#batch = [];
  }

  /** The next line's bytes without its newline, taken out of what is held; undefined until a newline is in. */
  #nextLine(): Buffer | undefined {
    const chunks = this.#chunks;
    for (; this.#searched < chunks.length; this.#searched++) {
      const last = chunks[this.#searched]!;
      const at = last.indexOf(NEWLINE);
      if (at === -1) continue;
      const line = this.#searched === 0 ? last.subarray(0, at) : Buffer.concat([...chunks.slice(0, this.#searched), last.subarray(0, at)]);
      const rest = last.subarray(at + 1);
      // The common case, one whole message per chunk, leaves nothing and allocates no array.
      if (rest.length === 0 && this.#searched === chunks.length - 1) chunks.length = 0;
      else this.#chunks = rest.length === 0 ? chunks.slice(this.#searched + 1) : [rest, ...chunks.slice(this.#searched + 1)];
      this.#length -= line.length + 1;
      this.#searched = 0;
      return line;
    }
    return undefined;
  }
}

const NEWLINE = 0x0a;
const BYTE_ORDER_MARK = 0xfeff;

/** The SDK's parse of a line's JSON (its deserializeMessage, without parsing the text again); a refusal becomes a NotJsonRpcError carrying `value`. */
function parseMessage(value: unknown): JSONRPCMessage {
  try {
    return parseJSONRPCMessage(value);
  } catch (error) {
    throw new NotJsonRpcError((error as Error).message, value);
  }
}

/**
 * The answer a host is owed for a message that is not JSON-RPC: an Invalid Request error for a
 * request whose id can be echoed (a string or a safe integer), saying what is wrong; undefined for
 * anything else. A notification or a response is never answered, and neither is an id that cannot
 * be echoed: an error with id null would be read by the SDK's client as the answer to its request 0.
 */
export function invalidRequestAnswer(value: unknown): JSONRPCErrorResponse | undefined {
  if (!isRecord(value) || typeof value.method !== 'string') return undefined;
  const { id } = value;
  if (!isRequestId(id)) return undefined;
  return { jsonrpc: '2.0', id, error: { code: -32600, message: `Invalid Request: ${whyNotJsonRpc(value)}` } };
}

/** What makes `value` no JSON-RPC message, in one phrase. */
export function whyNotJsonRpc(value: unknown): string {
  if (!isRecord(value)) return Array.isArray(value) ? 'an empty batch' : 'a JSON-RPC message is an object';
  if (value.jsonrpc !== '2.0') return '"jsonrpc" must be "2.0"';
  if ('id' in value && !isRequestId(value.id)) return '"id" must be a string or an integer within ±(2^53 - 1)';
  if (!('method' in value)) return 'result' in value || 'error' in value ? 'a malformed response: it has jsonrpc, id and one of result or error, nothing else' : 'neither a request (no "method") nor a response (no "result" or "error")';
  if (typeof value.method !== 'string') return '"method" must be a string';
  const unknown = Object.keys(value).find((key) => !REQUEST_KEYS.has(key));
  if (unknown !== undefined) return `unknown member ${JSON.stringify(unknown.slice(0, 40))}: a request has only jsonrpc, id, method and params`;
  if ('params' in value && !isRecord(value.params)) return '"params" must be an object';
  return isRecord(value.params) && '_meta' in value.params ? '"params._meta" is malformed' : 'not a valid JSON-RPC message';
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
  if (!isRequestId(id)) return undefined;
  for (const key in value) if (!REQUEST_KEYS.has(key)) return undefined;
  if (!('params' in value)) return { jsonrpc: '2.0', id, method: value.method };
  // `_meta` has fields of its own to check; `__proto__` is a key a copy must not turn into a prototype.
  if (!isRecord(params) || '_meta' in params || Object.hasOwn(params, '__proto__')) return undefined;
  return { jsonrpc: '2.0', id, method: value.method, params: { ...params } };
}

/** An id the SDK's JSON-RPC schema takes (and a client can match an answer to): a string or a safe integer. */
function isRequestId(id: unknown): id is string | number {
  return typeof id === 'string' || Number.isSafeInteger(id);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
