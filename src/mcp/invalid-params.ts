// Requests whose params do not fit the method's schema (a prompt argument that is a number, a
// resources/read without a uri, a cursor that is not a string) are the client's fault: JSON-RPC's
// Invalid params (-32602) with a message naming the field. The SDK (2.4) answers them as an
// Internal error (-32603) whose message is zod's issue list as multi-line JSON, and tools/call as
// -32602 with the same JSON dump; a host shows that to its user, or its model retries blind.
// A list request with a cursor is refused the same way: this server answers every list in one page
// and never gives out a cursor, so any is one it did not give (MCP's pagination: SHOULD be
// -32602), where the SDK ignored it and answered the first page again.
import { ProtocolError, ProtocolErrorCode, type JSONRPCRequest, type McpServer, type Result, type ServerContext } from '@modelcontextprotocol/server';

type RequestHandler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>;

/**
 * The SDK's hook for subclasses (Protocol._wrapHandler) and the handlers registered so far; McpServer
 * builds its own Server, so both are reached on the instance.
 */
interface HandlerRegistry {
  _wrapHandler(method: string, handler: RequestHandler): RequestHandler;
  _requestHandlers: Map<string, RequestHandler>;
}

interface Issue {
  path: (string | number)[];
  message: string;
}

/**
 * Makes `server` answer a request with malformed params as Invalid params naming the field: the
 * handlers its Server registered when built (initialize, ping…), and every one registered later.
 * Must run before the first tool, resource or prompt is registered.
 */
export function answerInvalidParamsClearly(server: McpServer, whyNotServed: (tool: string) => string | undefined = () => undefined): void {
  const low = server.server as unknown as Partial<HandlerRegistry>;
  // Both are the SDK's internals (pinned by package-lock.json): should an SDK release rename them,
  // the server keeps the SDK's own answers instead of failing to build (invalid-params.test.ts then fails).
  if (!(low._requestHandlers instanceof Map) || typeof low._wrapHandler !== 'function') return;
  for (const [method, handler] of low._requestHandlers) low._requestHandlers.set(method, clarified(method, handler, whyNotServed));
  const wrap = low._wrapHandler.bind(low);
  low._wrapHandler = (method: string, handler: RequestHandler) => clarified(method, wrap(method, handler), whyNotServed);
}

function clarified(method: string, handler: RequestHandler, whyNotServed: (tool: string) => string | undefined): RequestHandler {
  const paged = PAGED_LISTS.has(method);
  return (request, ctx) => {
    // A tool of ours this server leaves out: still the unknown tool's Invalid params, saying why.
    const why = method === 'tools/call' && typeof request.params?.name === 'string' ? whyNotServed(request.params.name) : undefined;
    if (why) return Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidParams, why));
    // A cursor that is no string is left to the schema, whose refusal says so.
    if (paged && typeof request.params?.cursor === 'string') {
      return Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: cursor: not one this server gave out; it answers ${method} in one page, with no nextCursor: call it without a cursor`));
    }
    return handler(request, ctx).catch((error: unknown) => {
      throw invalidParams(method, error) ?? error;
    });
  };
}

/** The list methods this server serves: each answered whole, none paginated. */
const PAGED_LISTS = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']);

/** The Invalid params error for an SDK refusal of the request's params; undefined for any other error. */
function invalidParams(method: string, error: unknown): ProtocolError | undefined {
  if (!(error instanceof Error)) return undefined;
  let dump: string;
  if (error instanceof ProtocolError) {
    // tools/call: already -32602, with the issues as JSON after this prefix.
    const prefix = `Invalid ${method} request: `;
    if (error.code !== ProtocolErrorCode.InvalidParams || !error.message.startsWith(prefix)) return undefined;
    dump = error.message.slice(prefix.length);
  } else {
    dump = error.message;
  }
  const issues = requestIssues(dump);
  return issues ? new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${issues.slice(0, 3).map(describe).join('; ')}`) : undefined;
}

/** zod's issues of a refused request (every path starts at "params"), or undefined when `text` is anything else. */
function requestIssues(text: string): Issue[] | undefined {
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const issues = value as Partial<Issue>[];
  return issues.every((i) => Array.isArray(i.path) && i.path[0] === 'params' && typeof i.message === 'string') ? (issues as Issue[]) : undefined;
}

/** `arguments.session_id: expected string, received number`: zod's "record" is JSON's object. */
function describe(issue: Issue): string {
  const field = issue.path.length > 1 ? issue.path.slice(1).join('.') : 'params';
  return `${field}: ${issue.message.replace(/^Invalid input: /, '').replace(/\brecord\b/g, 'object')}`;
}
