// Our MCP server over real HTTP (startHttpServer on port 0), its Crisp client pointed at a real
// sandbox, and SDK clients of either protocol era connected through StreamableHTTPClientTransport.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { Client, StreamableHTTPClientTransport, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/client';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { toolsFor } from '../../src/mcp/server.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { startHttpServer, type HttpServerHandle, type HttpServerOptions } from '../../src/transport/http.js';
import { CLI } from './cli.js';
import { clientFor } from './crisp.js';

export type Era = 'legacy' | 'modern';
export const ERAS: Era[] = ['legacy', 'modern'];

export const TOKEN_A = 'token-a-0123456789abcdef';
export const TOKEN_B = 'token-b-fedcba9876543210';

export interface ConnectOptions {
  era: Era;
  token?: string;
  /** Answers every elicitation (the client then declares form elicitation). */
  elicit?: (request: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

/** An SDK client of the given era: 2025 (the default negotiation) or pinned to 2026-07-28. */
export async function connect(url: string, options: ConnectOptions): Promise<Client> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const client = new Client(
    { name: `http-${options.era}`, version: '1.0.0' },
    {
      ...(options.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
      ...(options.elicit ? { capabilities: { elicitation: { form: {} } } } : {}),
    },
  );
  const elicit = options.elicit;
  if (elicit) client.setRequestHandler('elicitation/create', (request) => elicit(request.params));
  await client.connect(transport);
  return client;
}

/** A fetch that signs every request as Crisp's AI agent does: HMAC-SHA256 over `{timestamp}.{website_id}.{raw body}`. */
export function signingFetch(secret: string, website: string, options: { session?: string; timestamp?: () => number; tamper?: (body: string) => string } = {}): typeof fetch {
  return async (input, init = {}) => {
    const body = typeof init.body === 'string' ? init.body : '';
    const timestamp = String(options.timestamp?.() ?? Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', secret).update(`${timestamp}.${website}.${body}`).digest('hex');
    const headers = new Headers(init.headers);
    headers.set('x-crisp-website-id', website);
    headers.set('x-crisp-timestamp', timestamp);
    headers.set('x-crisp-signature', `sha256=${signature}`);
    if (options.session) headers.set('x-crisp-session-id', options.session);
    return fetch(input, { ...init, headers, body: options.tamper ? options.tamper(body) : init.body });
  };
}

export interface HttpHarness {
  sandbox: Sandbox;
  crisp: CrispClient;
  server: HttpServerHandle;
  url: string;
  /** JSON log lines the server wrote. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Sandbox + our HTTP server with `serve --sandbox` flags plus `argv`; `options` override startHttpServer's. */
export async function startHttpHarness(argv: string[] = [], options: Partial<HttpServerOptions> = {}, extraWebsites: string[] = []): Promise<HttpHarness> {
  const sandbox = await startSandbox({ seed: 42 });
  const crisp = clientFor(sandbox);
  const config = resolveConfig(parseServeFlags(['--sandbox', ...argv]), { env: {} });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  const deps = { crisp, guard: new Guard([sandbox.websiteId, ...extraWebsites]), config, log };
  const tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, tools, deps, ...options });
  return {
    sandbox,
    crisp,
    server,
    url: server.url,
    logs,
    async close() {
      await server.close();
      await crisp.close();
      await sandbox.close();
    },
  };
}

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON body, or the first `data:` of an SSE one. */
  json: { error?: { code: number; message: string }; result?: Record<string, unknown> } & Record<string, unknown>;
}

/** A raw POST over node:http, which (unlike fetch) sends any Host header: for the refusals no SDK client would provoke. */
export function post(url: string, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const data = /^data: (.*)$/m.exec(text)?.[1] ?? text;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: data ? (JSON.parse(data) as never) : ({} as never) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A fetch for which every host name resolves to 127.0.0.1: a browser after a DNS rebinding. */
export function rebindingFetch(): typeof fetch {
  const dispatcher = new Agent({
    connect: {
      lookup: (_host: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
        options.all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4),
    } as never,
  });
  return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

export interface HttpCli {
  child: ChildProcess;
  /** The MCP endpoint the child logged. */
  url: string;
  /** The embedded sandbox's URL, with --sandbox. */
  sandboxUrl: string | undefined;
  stdout: () => string;
  /** The child's stderr as written. */
  stderr: () => string;
  /** The child's stderr, parsed as JSON log lines. */
  logs: () => Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** `crisp-mcp serve --http ...args` as a child process; resolves once it logs the URL it serves. */
export async function spawnHttpCli(args: string[], env: Record<string, string> = {}): Promise<HttpCli> {
  const child = spawn(process.execPath, [CLI, 'serve', '--http', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = () =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL logged within 10 s; stderr: ${stderr}`)), 10_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const line = logs().find((entry) => entry.msg === 'crisp-mcp serving over Streamable HTTP');
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  const sandbox = logs().find((entry) => entry.msg === 'embedded Crisp sandbox started');
  return { child, url: serving.url as string, sandboxUrl: sandbox?.url as string | undefined, stdout: () => stdout, stderr: () => stderr, logs, exited };
}
