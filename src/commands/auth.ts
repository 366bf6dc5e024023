// `crisp-mcp auth login|status|logout`: the Crisp token pair in the OS keychain. Login checks the
// pair against Crisp (CRISP_API_URL chooses which; the sandbox in tests) before it saves anything.
// The key is read without echo, or from stdin with --key-stdin; it is never printed.
import { CrispClient, DEFAULT_API_URL } from '../crisp/client.js';
import { CrispError } from '../crisp/errors.js';
import type { Tier } from '../crisp/schemas.js';
import { ConfigError, parseFlags, parseServeFlags, parseTier } from '../config.js';
import { KEYCHAIN_SERVICE, KeychainUnavailableError, OsKeychain, type Keychain } from '../credentials/keychain.js';
import { writeErrorLine } from '../log.js';
import { registerSecret } from '../credentials/redact.js';
import { resolveWithKeychain } from '../credentials/resolve.js';
import { readLine, readSecret, readStdin } from '../credentials/prompt.js';
import { websiteRefusal } from './runtime.js';

/** `crisp-mcp auth --help`: every subcommand and its flags. */
export const AUTH_HELP = `Usage:
  crisp-mcp auth login [--identifier ID] [--tier plugin|website|user] [--key-stdin]
      Check a Crisp token pair against Crisp, then store it in the OS keychain (service ${KEYCHAIN_SERVICE}).
      Without --key-stdin the key is asked for on the terminal and not echoed.
  crisp-mcp auth status [--identifier ID --key-file PATH] [--tier T]
      Which credentials serve would use (flags, environment or keychain), and whether Crisp accepts them
      (and, with CRISP_WEBSITE_ID set, whether they reach each website it lists).
  crisp-mcp auth logout
      Remove the stored credentials from the keychain.
`;

export interface AuthIo {
  env: NodeJS.ProcessEnv;
  keychain: Keychain;
  out: (line: string) => void;
  err: (line: string) => void;
}

export async function runAuthCommand(argv: string[], io: AuthIo = defaultIo()): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'login') return await login(rest, io);
    if (sub === 'status') return await status(rest, io);
    if (sub === 'logout') return await logout(rest, io);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      io.out(AUTH_HELP);
      return sub === undefined ? 2 : 0;
    }
    io.err(`crisp-mcp auth: unknown subcommand "${sub}"; use login, status or logout`);
    return 2;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`crisp-mcp auth: ${error.message}`);
      return 2;
    }
    if (error instanceof KeychainUnavailableError) {
      io.err(`crisp-mcp auth: ${error.message}. Use the environment instead: set CRISP_IDENTIFIER, CRISP_KEY (and CRISP_TIER) where crisp-mcp runs, e.g. in the "env" of your MCP client's config.`);
      return 1;
    }
    throw error;
  }
}

async function login(argv: string[], io: AuthIo): Promise<number> {
  const flags = parseFlags(argv, { identifier: { type: 'string' }, tier: { type: 'string' }, 'key-stdin': { type: 'boolean', default: false } });
  const interactive = process.stdin.isTTY === true && flags['key-stdin'] !== true;
  if (!interactive && flags['key-stdin'] !== true) throw new ConfigError('no terminal to ask for the key: pass --identifier ID --key-stdin and pipe the key on stdin');
  if (!interactive && !(flags.identifier as string | undefined)?.trim()) throw new ConfigError('--identifier is required (the token identifier, from the Crisp Marketplace)');
  // Fails fast, before anything is typed or sent, when there is no keychain to save into.
  const previous = await io.keychain.read();
  const identifier = (flags.identifier as string | undefined)?.trim() || (await readLine('Crisp token identifier: ')).trim();
  if (!identifier) throw new ConfigError('no identifier given');
  const tier: Tier = parseTier(((flags.tier as string | undefined) ?? (interactive ? (await readLine('Tier [plugin]: ')).trim() : '')) || 'plugin', '--tier');
  const key = (flags['key-stdin'] === true ? await readStdin() : await readSecret('Crisp token key (not shown): ')).trim();
  if (!key) throw new ConfigError(flags['key-stdin'] === true ? 'no key on stdin: pipe the token key, e.g. `printf %s "$KEY" | crisp-mcp auth login --identifier ID --key-stdin`' : 'no key given');
  registerSecret(key, identifier);

  const apiUrl = apiUrlOf(io.env);
  const crisp = authClient(apiUrl, identifier, key, tier);
  const check = await checkWithCrisp(crisp, apiUrl, tier).finally(() => crisp.close());
  if (!check.ok) {
    io.err(`crisp-mcp auth: not saved — ${check.reason}`);
    return 1;
  }
  await io.keychain.write({ identifier, key, tier });
  io.out(`Saved: Crisp accepted token ${identifier} (tier ${tier}) at ${apiUrl}; it is in the OS keychain (service ${KEYCHAIN_SERVICE})${previous ? `, replacing token ${previous.identifier}` : ''}.`);
  return 0;
}

async function status(argv: string[], io: AuthIo): Promise<number> {
  const flags = parseServeFlags(argv);
  let config;
  try {
    config = await resolveWithKeychain(flags, { ...io.env, CRISP_WEBSITE_ID: io.env.CRISP_WEBSITE_ID || '00000000-0000-0000-0000-000000000000' }, io.keychain);
  } catch (error) {
    if (error instanceof ConfigError && /^no Crisp credentials/.test(error.message)) {
      io.out(`Not logged in: ${error.message.replace(/^no Crisp credentials: /, '')}`);
      return 1;
    }
    throw error;
  }
  const { identifier, key, tier, source } = config.credentials!;
  io.out(`Source: ${source}\nIdentifier: ${identifier}\nTier: ${tier}\nCrisp: ${config.apiUrl}`);
  const crisp = authClient(config.apiUrl, identifier, key, tier);
  let refused = 0;
  try {
    const check = await checkWithCrisp(crisp, config.apiUrl, tier);
    io.out(check.ok ? 'Accepted by Crisp: yes' : `Accepted by Crisp: no — ${check.reason}`);
    if (!check.ok || !io.env.CRISP_WEBSITE_ID?.trim()) return check.ok ? 0 : 1;
    // A pair Crisp accepts may still not reach every website of the allow-list (an agency's token, a
    // plugin not installed on one of them): serve would start and each call there fail.
    for (const website of config.websites) {
      const answer = await websiteRefusal(crisp, website);
      if (answer) refused++;
      io.out(`Website ${website}: ${!answer ? 'reached' : 'refused' in answer ? `not reached — ${answer.refused}` : `not checked — ${answer.failed}; try again`}`);
    }
  } finally {
    await crisp.close();
  }
  return refused ? 1 : 0;
}

async function logout(argv: string[], io: AuthIo): Promise<number> {
  parseFlags(argv, {});
  const removed = await io.keychain.remove();
  io.out(removed ? `Removed the Crisp credentials from the OS keychain (service ${KEYCHAIN_SERVICE}).` : 'Nothing to remove: no Crisp credentials in the OS keychain.');
  return 0;
}

/** One authenticated call that every tier may make: RTM endpoint discovery. */
/** The client auth checks a pair with: a short deadline and one retry, the user waiting at a prompt. */
function authClient(baseUrl: string, identifier: string, key: string, tier: Tier): CrispClient {
  return new CrispClient({ baseUrl, credentials: { identifier, key, tier }, deadlineMs: 10_000, retry: { maxAttempts: 2 } });
}

async function checkWithCrisp(crisp: CrispClient, baseUrl: string, tier: Tier): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await crisp.connect.endpoints();
    return { ok: true };
  } catch (error) {
    if (!(error instanceof CrispError)) throw error;
    if (error.code === 'crisp_unauthorized') return { ok: false, reason: `Crisp refused this identifier/key pair (401) at ${baseUrl}; check both, and the tier (${tier})` };
    if (error.code === 'crisp_forbidden' || error.code === 'crisp_not_subscribed') return { ok: false, reason: `Crisp refused the ${tier} tier for this token (${error.status}); check --tier` };
    // A network failure's message names the URL and the system error code (ECONNREFUSED, ENOTFOUND…).
    return { ok: false, reason: `${error.status === undefined ? error.message : `Crisp at ${baseUrl} answered ${error.status}`} (${error.code}) while checking the pair; try again, or check CRISP_API_URL` };
  }
}

function apiUrlOf(env: NodeJS.ProcessEnv): string {
  return env.CRISP_API_URL?.trim() || DEFAULT_API_URL;
}

function defaultIo(): AuthIo {
  return {
    env: process.env,
    keychain: new OsKeychain(),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => writeErrorLine(line),
  };
}
