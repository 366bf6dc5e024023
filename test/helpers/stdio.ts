// An SDK client of the built CLI over stdio, as an MCP host starts it: the server a child process,
// its stderr kept for the test to read. The setup 19 test files spelt out each for itself.
import { Client, type ClientOptions } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLI } from './cli.js';

export interface StdioHost {
  client: Client;
  transport: StdioClientTransport;
  /** Everything the server has written on stderr so far. */
  stderr: () => string;
}

export interface StdioOptions {
  /** The child's environment beside PATH (this process's); without it, the SDK's default (HOME, PATH, USER and a few more of this process's). */
  env?: Record<string, string>;
  cwd?: string;
  /** The `node` to run (default this test's own). */
  node?: string;
  /** Node's own flags, before the script. */
  nodeArgs?: string[];
  /** The script to run (default the built CLI, dist/cli.js). */
  entry?: string;
  /** The client's name in its initialize request. */
  name?: string;
  /** The client's options (capabilities, a pinned protocol version). */
  client?: ClientOptions;
  /** Given the client before it connects: request handlers, onerror. */
  beforeConnect?: (client: Client) => void;
}

/** Starts `node <entry> ...args` and connects an SDK client to it; close the client to stop the server. */
export async function connectStdio(args: string[], options: StdioOptions = {}): Promise<StdioHost> {
  const transport = new StdioClientTransport({
    command: options.node ?? process.execPath,
    args: [...(options.nodeArgs ?? []), options.entry ?? CLI, ...args],
    env: options.env && { PATH: process.env.PATH ?? '', ...options.env },
    cwd: options.cwd,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: options.name ?? 'test-host', version: '1.0.0' }, options.client);
  options.beforeConnect?.(client);
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}
