#!/usr/bin/env node
// argv → one command. Nothing else lives here, and nothing imports this file.
import { runSandboxCommand } from './sandbox/command.js';
import { runServeCommand } from './transport/serve.js';
import { VERSION } from './version.js';

const USAGE = `crisp-mcp ${VERSION}

Usage:
  crisp-mcp [serve] [--sandbox] [--read-only] [--toolsets a,b | --tools x,y] [--exclude-tools z] [--send-mode post|note|confirm]
      The MCP server over stdio (what Claude Desktop and Cursor launch). --sandbox runs against the
      embedded Crisp simulator; otherwise set CRISP_IDENTIFIER, CRISP_KEY and CRISP_WEBSITE_ID.
  crisp-mcp sandbox [--port N] [--host H] [--seed N] [--faults SPEC] [--rate-limit N/s] [--json]
      Run the Crisp simulator alone; prints its URL, demo website_id and the credentials it accepts.
  crisp-mcp --version | --help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'sandbox') return runSandboxCommand(rest);
  // Bare `crisp-mcp` and `crisp-mcp --flags` are `serve`: that is what MCP hosts launch.
  if (command === undefined || command.startsWith('--')) return runServeCommand(argv);
  if (command === 'serve') return runServeCommand(rest);
  process.stderr.write(`crisp-mcp: unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`crisp-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
