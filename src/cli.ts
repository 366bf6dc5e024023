#!/usr/bin/env node
// argv → one command. Nothing else lives here, and nothing imports this file.
import './compile-cache.js';
// Each command is imported only when it runs: an MCP host waits on `serve`'s start-up, which must
// not pay for the sandbox, the autopilot or the scenario tools' own command (bench/startup).
import { stopOnFault } from './commands/resources.js';
import { writeErrorLine } from './log.js';
import { unsupportedNode } from './node-support.js';
import { VERSION } from './version.js';

const USAGE = `crisp-mcp ${VERSION}

Usage:
  crisp-mcp [serve] [--sandbox] [--read-only] [--toolsets a,b | --tools x,y] [--exclude-tools z] [--send-mode post|note|confirm]
          [--scenarios DIR] [--store sqlite:PATH|redis://HOST:PORT|memory]
      The MCP server over stdio (what Claude Desktop and Cursor launch). --sandbox runs against the
      embedded Crisp simulator; otherwise set CRISP_IDENTIFIER, CRISP_KEY and CRISP_WEBSITE_ID.
      Credentials: --identifier ID --key-file PATH [--tier T], else CRISP_IDENTIFIER/CRISP_KEY/CRISP_TIER,
      else the OS keychain (crisp-mcp auth login).
  crisp-mcp serve --http [--host 127.0.0.1] [--port 8787|0] [--token-file PATH] [--allowed-hosts a,b] [--crisp-agent] [--bot-scenario NAME]
      The same server over Streamable HTTP at /mcp (both protocol eras; /healthz for load balancers).
      Clients send Authorization: Bearer <CRISP_MCP_HTTP_TOKEN, or a line of --token-file>; a host other
      than loopback needs one. --crisp-agent also takes requests signed by Crisp's AI agent
      (CRISP_MCP_AGENT_SECRET), each bound to its website. --port 0 picks a free port; the URL is logged.
      --bot-scenario NAME (or CRISP_MCP_BOT_SCENARIO) also runs the autopilot on Crisp's Web Hooks at
      /hooks/crisp, signed with CRISP_HOOK_SECRET (with --sandbox, the sandbox's hooks go there).
  crisp-mcp auth login|status|logout
      Store the Crisp token pair in the OS keychain (checked against Crisp first), show which
      credentials are in use, or remove them. \`crisp-mcp auth --help\` for the flags.
  crisp-mcp scenario validate|compile|schema|chat FILE | graph FILE [--format html|mermaid]
      Check a scenario file (every problem with its block path), print its linearized program or
      the JSON Schema of the format, chat with it in the terminal as a visitor would, or draw it
      (one self-contained HTML page, or a Mermaid flowchart for a README).
  crisp-mcp bot --scenario NAME [--events rtm|hooks] [--sandbox] [--scenarios DIR] [--store SPEC] [--port N --host H]
          [--inboxes a,b] [--reply-budget 20/10m] [--repeat-window 60s] [--step-budget N] [--catch-up 15m] [--lock-ttl 5s]
      The autopilot: answers visitors with a scenario, live, from Crisp's RTM events or its Web Hooks
      (POST /hooks/crisp, signed with CRISP_HOOK_SECRET; --port default 8789). Only CRISP_WEBSITE_ID's
      websites; silent once an operator writes or a handoff block runs, until the conversation is resolved.
  crisp-mcp store forget CONVERSATION… | --idle-for DAYSd [--store SPEC]
      Erase what the store keeps of a visitor's conversation (WEBSITE_ID/SESSION_ID or
      converse:CONVERSATION_ID, as the log lines name it), or of every conversation idle that long:
      positions, drafts, undelivered replies.
  crisp-mcp sandbox [--port N] [--host H] [--seed N] [--faults SPEC] [--rate-limit N/s] [--hooks URL] [--hook-events a,b] [--hook-concurrency N] [--json]
      Run the Crisp simulator alone; prints its URL, demo website_id and the credentials it accepts.
  crisp-mcp <command> --help
      That command's flags, each explained.
  crisp-mcp --version | --help
`;

/** Each command's module, with its own --help text beside the flags it parses. */
const COMMANDS: Record<string, () => Promise<{ help: string; run: (argv: string[]) => Promise<number> }>> = {
  serve: async () => import('./commands/serve.js').then((m) => ({ help: m.SERVE_HELP, run: m.runServeCommand })),
  bot: async () => import('./commands/bot.js').then((m) => ({ help: m.BOT_HELP, run: m.runBotCommand })),
  sandbox: async () => import('./commands/sandbox.js').then((m) => ({ help: m.SANDBOX_HELP, run: m.runSandboxCommand })),
  auth: async () => import('./commands/auth.js').then((m) => ({ help: m.AUTH_HELP, run: m.runAuthCommand })),
  scenario: async () => import('./commands/scenario.js').then((m) => ({ help: m.SCENARIO_HELP, run: m.runScenarioCommand })),
  store: async () => import('./commands/store.js').then((m) => ({ help: m.STORE_HELP, run: (argv) => m.runStoreCommand(argv) })),
};

async function main(argv: string[]): Promise<number> {
  const unsupported = unsupportedNode(process.versions.node, process.execPath);
  if (unsupported) {
    writeErrorLine(`crisp-mcp: ${unsupported}`);
    return 2;
  }
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  // `crisp-mcp <command> … --help` (and bare `crisp-mcp --flags --help`, which is serve) explains that command.
  // Bare `crisp-mcp` and `crisp-mcp --flags` are `serve`: that is what MCP hosts launch.
  const named = command !== undefined && Object.hasOwn(COMMANDS, command) ? command : command === undefined || command.startsWith('--') ? 'serve' : undefined;
  if (!named) {
    process.stderr.write(`crisp-mcp: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const args = named === command ? rest : argv;
  // Before the command's modules build their schemas, and after compile-cache.ts: zod is loaded here.
  await import('./zod-acyclic.js');
  const { help, run } = await COMMANDS[named]!();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  return run(args);
}

/**
 * Once the command has returned, whatever still holds the event loop (a socket or timer a failed
 * start-up left behind) gets this long before the process exits anyway, with the command's code.
 */
const EXIT_GRACE_MS = 3_000;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => {
      // Every command releases what it opened (commands/resources.ts): this line names a leak.
      writeErrorLine(`crisp-mcp: still open ${EXIT_GRACE_MS} ms after the command ended (${process.getActiveResourcesInfo().join(', ')}); exiting anyway`);
      process.exit(code);
    }, EXIT_GRACE_MS).unref();
  },
  (error: unknown) => {
    // A command that rejects may have left servers or sockets open: exit now rather than hang.
    crash(error);
    process.exit(1);
  },
);

// Whatever escapes still leaves without a secret in it (and without a stack in front of a user).
// A command still running releases its parts first, as on SIGTERM, then exits 1.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    crash(error);
    if (!stopOnFault(error)) process.exit(1);
  });
}

function crash(error: unknown): void {
  writeErrorLine(`crisp-mcp: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
