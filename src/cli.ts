#!/usr/bin/env node
// argv → one command. Nothing else lives here, and nothing imports this file.
import { runSandboxCommand } from './sandbox/command.js';
import { VERSION } from './version.js';

const USAGE = `crisp-mcp ${VERSION}

Usage:
  crisp-mcp sandbox [--port N] [--host H] [--seed N] [--faults SPEC] [--rate-limit N/s] [--json]
      Run the Crisp simulator alone; prints its URL, demo website_id and the credentials it accepts.
  crisp-mcp --version | --help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'sandbox') return runSandboxCommand(rest);
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
