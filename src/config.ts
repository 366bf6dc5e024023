// Flags + environment (+ keychain, read by the caller: src/credentials/) → one validated Config. Precedence:
// flags > environment > keychain > defaults. Every bad or missing setting is a ConfigError whose
// message is one line that says what to set; none of them ever contains the key.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_API_URL } from './crisp/client.js';
import { hideUserinfo } from './credentials/redact.js';
import { TIERS, type Tier } from './crisp/vocabulary.js';
import { parseStoreSpec, StoreError, type StoreSpec } from './store/index.js';

export const SEND_MODES = ['post', 'note', 'confirm'] as const;
export type SendMode = (typeof SEND_MODES)[number];
/** Where scenario webhooks and the converse reply webhook may connect (src/engine/webhook-networks.ts). */
export const WEBHOOK_NETWORKS = ['private', 'public', 'any'] as const;
export type WebhookNetworks = (typeof WEBHOOK_NETWORKS)[number];

export type StoreConfig = StoreSpec;

export interface CrispCredentialsConfig {
  identifier: string;
  key: string;
  tier: Tier;
  /** Where the pair came from, for `auth status` and start-up logs (never the key itself). */
  source: 'flags' | 'environment' | 'keychain' | 'sandbox';
}

export interface Config {
  apiUrl: string;
  /** Absent only with --sandbox, whose own credentials are filled in once it has started. */
  credentials: CrispCredentialsConfig | undefined;
  /** The allow-list; the first is the default website for tools. Empty only with --sandbox. */
  websites: string[];
  readOnly: boolean;
  toolsets: string[] | undefined;
  tools: string[] | undefined;
  excludeTools: string[];
  sendMode: SendMode;
  /** --webhook-networks (CRISP_MCP_WEBHOOK_NETWORKS): private (default), public or any. */
  webhookNetworks: WebhookNetworks;
  sandbox: boolean;
  /** With --sandbox: how many demo websites it seeds (CRISP_SANDBOX_WEBSITES), all of them allowed; absent: one. */
  sandboxWebsites?: number;
  http: HttpConfig | undefined;
  store: StoreConfig;
  scenariosDir: string | undefined;
  hookSecret: string | undefined;
}

/** `serve --http`: where to listen and who may call. */
export interface HttpConfig {
  host: string;
  /** 0 picks a free port (the bound URL is logged). */
  port: number;
  /** Accepted bearer tokens (CRISP_MCP_HTTP_TOKEN, or --token-file: one per line); empty means none required (loopback only). */
  tokens: string[];
  /** --token-file PATH, when the tokens come from it: read again on SIGHUP (readTokenFile). */
  tokenFile?: string | undefined;
  /** Host names accepted in `Host` and `Origin` besides the bound host and the localhost forms. */
  allowedHosts: string[];
  /** --crisp-agent: Crisp's AI agent (Hugo) signs each request with this secret (CRISP_MCP_AGENT_SECRET). */
  crispAgent: { secret: string } | undefined;
  /** `POST /converse`, on when CRISP_MCP_CONVERSE_WEBHOOK_URL is set. */
  converse?: ConverseConfig | undefined;
  /** `/hooks/crisp` and the autopilot (--bot-scenario / CRISP_MCP_BOT_SCENARIO): the scenario it answers with. */
  bot?: { scenario: string } | undefined;
}

/** The converse API: where bot replies go, how they are signed, which scenario answers, when a session times out. */
export interface ConverseConfig {
  /** Each bot reply is POSTed here (CRISP_MCP_CONVERSE_WEBHOOK_URL). */
  webhookUrl: string;
  /** Standard Webhooks signing secret, `whsec_` + base64 of 24-64 bytes (CRISP_MCP_CONVERSE_SECRET). */
  secret: string;
  /** The scenario every converse conversation runs (CRISP_MCP_CONVERSE_SCENARIO). */
  scenario: string;
  /** A session with no event for this long ends (CRISP_MCP_CONVERSE_IDLE_MINUTES; default 30; decimals allowed). */
  idleMinutes: number;
}

export const DEFAULT_CONVERSE_IDLE_MINUTES = 30;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'config';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_WITHIN = new RegExp(UUID.source.slice(1, -1), 'i');

type FlagValues<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

/** A command's `--flags` (no positionals); a bad one is a one-line ConfigError naming it. */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O): FlagValues<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message.split('\n')[0]!);
  }
}

/** The flags of `crisp-mcp [serve]` (each explained in `crisp-mcp serve --help`). */
export const SERVE_FLAGS = {
  http: { type: 'boolean', default: false },
  host: { type: 'string' },
  port: { type: 'string' },
  'token-file': { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'crisp-agent': { type: 'boolean', default: false },
  sandbox: { type: 'boolean', default: false },
  'read-only': { type: 'boolean', default: false },
  toolsets: { type: 'string' },
  tools: { type: 'string' },
  'exclude-tools': { type: 'string' },
  'send-mode': { type: 'string' },
  scenarios: { type: 'string' },
  store: { type: 'string' },
  identifier: { type: 'string' },
  'key-file': { type: 'string' },
  tier: { type: 'string' },
  'bot-scenario': { type: 'string' },
  'webhook-networks': { type: 'string' },
} as const;

export function parseServeFlags(argv: string[]) {
  return parseFlags(argv, SERVE_FLAGS);
}

export type ServeFlags = ReturnType<typeof parseServeFlags>;

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Credentials read from the OS keychain, when the caller could read it. */
  keychain?: { identifier: string; key: string; tier?: Tier };
  /** Why the keychain could not be read, when the caller tried and failed (said in the error). */
  keychainError?: string;
}

/** Whether flags or environment already name credentials, so the keychain need not be opened. */
export function credentialsOutsideKeychain(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): boolean {
  return flags.sandbox === true || envSwitch(env, 'CRISP_MCP_SANDBOX') || flags.identifier !== undefined || flags['key-file'] !== undefined || !!env.CRISP_IDENTIFIER?.trim() || !!env.CRISP_KEY?.trim();
}

export function resolveConfig(flags: ServeFlags, options: ResolveOptions = {}): Config {
  const env = options.env ?? process.env;
  const read = (name: string): string | undefined => readEnv(env, name);
  const sandbox = flags.sandbox === true || envSwitch(env, 'CRISP_MCP_SANDBOX');

  const apiUrl = read('CRISP_API_URL') ?? DEFAULT_API_URL;
  if (!sandbox) {
    checkHttpUrl(apiUrl, 'CRISP_API_URL');
    // Every request path starts with /v1 already: a base that ends with it (copied from Crisp's API docs) makes each call a 404.
    const base = new URL(apiUrl);
    if (/\/v1\/?$/.test(base.pathname)) throw new ConfigError(`CRISP_API_URL is the base URL without /v1 (every request adds it), e.g. ${base.origin}, got "${hideUserinfo(apiUrl)}"`);
  }

  const flagged = flagCredentials(flags);
  const tier = parseTier(flags.tier ?? read('CRISP_TIER') ?? options.keychain?.tier ?? 'plugin', flags.tier !== undefined ? '--tier' : 'CRISP_TIER');
  const credentials = sandbox
    ? undefined
    : flagged
      ? { ...flagged, tier, source: 'flags' as const }
      : resolveCredentials(read('CRISP_IDENTIFIER'), read('CRISP_KEY'), tier, options);

  const listed = list(read('CRISP_WEBSITE_ID'));
  for (const id of listed) {
    if (UUID.test(id)) continue;
    // The address of a website's inbox (where the README and the bundle's form say to find the id) is an easy paste.
    const inside = UUID_WITHIN.exec(id)?.[0];
    throw new ConfigError(`CRISP_WEBSITE_ID must list website ids (UUIDs), comma-separated; "${id}" is not one${inside ? ` (the website id in it is ${inside})` : ''}`);
  }
  // Website ids are UUIDs, which Crisp issues in lower case and which are compared as strings (the guard, the
  // sandbox): one spelling, so an id pasted in upper case reaches the same website. Listed twice, it is
  // one website still (else the resources, the bot's catch-up and outbox sweeps would read it twice).
  const websites = [...new Set(listed.map((id) => id.toLowerCase()))];
  if (!sandbox && websites.length === 0) {
    throw new ConfigError('CRISP_WEBSITE_ID is not set: set it to the website id (or a comma-separated list) the server may act on');
  }

  const sendMode = (flags['send-mode'] ?? read('CRISP_MCP_SEND_MODE') ?? 'post') as SendMode;
  if (!SEND_MODES.includes(sendMode)) throw new ConfigError(`${flags['send-mode'] !== undefined ? '--send-mode' : 'CRISP_MCP_SEND_MODE'} must be post, note or confirm, got "${sendMode}"`);

  const webhookNetworks = (flags['webhook-networks'] ?? read('CRISP_MCP_WEBHOOK_NETWORKS') ?? 'private') as WebhookNetworks;
  if (!WEBHOOK_NETWORKS.includes(webhookNetworks)) {
    throw new ConfigError(`${flags['webhook-networks'] !== undefined ? '--webhook-networks' : 'CRISP_MCP_WEBHOOK_NETWORKS'} must be private (the default: public and private networks, never link-local or metadata addresses), public or any, got "${webhookNetworks}"`);
  }

  return {
    apiUrl,
    credentials,
    websites,
    readOnly: flags['read-only'] === true,
    toolsets: flags.toolsets === undefined ? undefined : list(flags.toolsets),
    tools: flags.tools === undefined ? undefined : list(flags.tools),
    excludeTools: list(flags['exclude-tools']),
    sendMode,
    webhookNetworks,
    sandbox,
    ...(sandbox ? { sandboxWebsites: sandboxWebsites(read('CRISP_SANDBOX_WEBSITES')) } : {}),
    http: resolveHttp(flags, read),
    store: parseStore(flags.store ?? read('CRISP_MCP_STORE'), sandbox),
    scenariosDir: flags.scenarios ?? read('CRISP_MCP_SCENARIOS'),
    hookSecret: read('CRISP_HOOK_SECRET'),
  };
}

/**
 * An environment variable, trimmed; empty means unset. So does a `${user_config.x}` left as is: an
 * MCP Bundle host may pass an optional setting the user left blank as that literal placeholder.
 */
export function readEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value && !/^\$\{user_config\.[^}]*\}$/.test(value) ? value : undefined;
}

/** The demo websites the sandbox can seed (DEMO_WEBSITES in src/sandbox/demo-tables.ts, which config.ts may not import). */
const SANDBOX_MAX_WEBSITES = 5;

/**
 * CRISP_SANDBOX_WEBSITES: an agency's allow-list tried on the embedded sandbox (`crisp-mcp sandbox
 * --websites N` for the simulator alone). Unset: one website.
 */
function sandboxWebsites(value: string | undefined): number {
  if (value === undefined) return 1;
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(count >= 1 && count <= SANDBOX_MAX_WEBSITES)) throw new ConfigError(`CRISP_SANDBOX_WEBSITES must be a whole number from 1 to ${SANDBOX_MAX_WEBSITES} (the embedded sandbox's demo websites, all allowed), got "${value}"`);
  return count;
}

/** A yes/no environment variable (the MCP Bundle's sandbox switch): true or 1 is on; false, 0 or unset is off. */
function envSwitch(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = readEnv(env, name)?.toLowerCase();
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

/** `--identifier ID --key-file PATH`: the key from a file (never from a flag, which `ps` would show). */
function flagCredentials(flags: ServeFlags): { identifier: string; key: string } | undefined {
  const identifier = flags.identifier?.trim();
  const file = flags['key-file'];
  if (identifier === undefined && file === undefined) return undefined;
  if (!identifier) throw new ConfigError('--key-file needs --identifier (the token identifier) as well');
  if (file === undefined) throw new ConfigError('--identifier needs --key-file PATH (a file holding the token key) as well');
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`--key-file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!key) throw new ConfigError(`--key-file ${file} is empty: it must hold the token key`);
  return { identifier, key };
}

function resolveCredentials(identifier: string | undefined, key: string | undefined, tier: Tier, options: ResolveOptions): CrispCredentialsConfig {
  if (identifier && key) return { identifier, key, tier, source: 'environment' };
  if (identifier && !key) throw new ConfigError('CRISP_IDENTIFIER is set but CRISP_KEY is missing: set both, or neither to use the keychain');
  if (key && !identifier) throw new ConfigError('CRISP_KEY is set but CRISP_IDENTIFIER is missing: set both, or neither to use the keychain');
  if (options.keychain) return { identifier: options.keychain.identifier, key: options.keychain.key, tier, source: 'keychain' };
  if (options.keychainError) {
    throw new ConfigError(
      `no Crisp credentials: ${options.keychainError}; set CRISP_IDENTIFIER and CRISP_KEY in the environment instead (in an MCP client, in the server's "env"), or try it offline with --sandbox`,
    );
  }
  throw new ConfigError('no Crisp credentials: run `crisp-mcp auth login`, or set CRISP_IDENTIFIER and CRISP_KEY, or try it offline with --sandbox');
}

function resolveHttp(flags: ServeFlags, read: (name: string) => string | undefined): Config['http'] {
  if (!flags.http) {
    const stray = (['token-file', 'allowed-hosts', 'crisp-agent', 'bot-scenario'] as const).find((name) => flags[name] !== undefined && flags[name] !== false);
    if (stray) throw new ConfigError(`--${stray} only applies to the HTTP server: add --http`);
    return undefined;
  }
  const host = flags.host ?? '127.0.0.1';
  const port = flags.port === undefined ? 8787 : Number(flags.port);
  if (!/^\d+$/.test(flags.port ?? '8787') || port > 65_535) throw new ConfigError(`--port must be a whole number from 0 (any free port) to 65535, got "${flags.port}"`);
  const envToken = read('CRISP_MCP_HTTP_TOKEN');
  const tokenFile = flags['token-file'];
  const tokens = tokenFile !== undefined ? readTokenFile(tokenFile) : envToken ? [envToken] : [];
  if (tokenFile === undefined && envToken) checkToken('CRISP_MCP_HTTP_TOKEN', envToken);
  let crispAgent: HttpConfig['crispAgent'];
  if (flags['crisp-agent']) {
    const secret = read('CRISP_MCP_AGENT_SECRET');
    if (!secret) throw new ConfigError('--crisp-agent needs CRISP_MCP_AGENT_SECRET: the signing secret of your MCP integration (Crisp: Hugo > Integrations > Request Signing)');
    crispAgent = { secret };
  }
  if (!isLoopback(host) && tokens.length === 0 && !crispAgent) {
    throw new ConfigError(`--host ${host} is reachable from other machines: set CRISP_MCP_HTTP_TOKEN (a bearer token clients must send) or --token-file, or bind 127.0.0.1`);
  }
  const allowedHosts = list(flags['allowed-hosts'] ?? read('CRISP_MCP_ALLOWED_HOSTS')).map((h) => h.toLowerCase());
  for (const name of allowedHosts) {
    // `_` too: Docker Compose service names, which containers reach each other by, may hold one.
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)$/.test(name)) throw new ConfigError(`--allowed-hosts takes host names without scheme, port or wildcard (list each name; IPv6 in brackets), got "${name}"`);
  }
  return { host, port, tokens, tokenFile, allowedHosts, crispAgent, converse: resolveConverse(read), bot: resolveBot(flags, read) };
}

/** `--bot-scenario NAME` (or CRISP_MCP_BOT_SCENARIO): the autopilot on `/hooks/crisp`, signed with CRISP_HOOK_SECRET. */
function resolveBot(flags: ServeFlags, read: (name: string) => string | undefined): HttpConfig['bot'] {
  const scenario = flags['bot-scenario']?.trim() ?? read('CRISP_MCP_BOT_SCENARIO');
  if (scenario === undefined) return undefined;
  if (!scenario) throw new ConfigError('--bot-scenario needs a scenario name (see `crisp-mcp scenario validate`)');
  if (!flags.sandbox && !read('CRISP_HOOK_SECRET')) {
    throw new ConfigError("--bot-scenario needs CRISP_HOOK_SECRET: the signing secret of your Crisp plugin's Web Hooks (or try it offline with --sandbox)");
  }
  return { scenario };
}

/** CRISP_MCP_CONVERSE_*: all or nothing around the webhook URL; without it /converse is off. */
function resolveConverse(read: (name: string) => string | undefined): ConverseConfig | undefined {
  const webhookUrl = read('CRISP_MCP_CONVERSE_WEBHOOK_URL');
  const secret = read('CRISP_MCP_CONVERSE_SECRET');
  const scenario = read('CRISP_MCP_CONVERSE_SCENARIO');
  const idle = read('CRISP_MCP_CONVERSE_IDLE_MINUTES');
  if (webhookUrl === undefined) {
    const stray = [secret && 'CRISP_MCP_CONVERSE_SECRET', scenario && 'CRISP_MCP_CONVERSE_SCENARIO', idle && 'CRISP_MCP_CONVERSE_IDLE_MINUTES'].find(Boolean);
    if (stray) throw new ConfigError(`${stray} is set but CRISP_MCP_CONVERSE_WEBHOOK_URL is not: set the URL bot replies are POSTed to, or unset ${stray}`);
    return undefined;
  }
  checkHttpUrl(webhookUrl, 'CRISP_MCP_CONVERSE_WEBHOOK_URL');
  if (secret === undefined) throw new ConfigError('CRISP_MCP_CONVERSE_WEBHOOK_URL needs CRISP_MCP_CONVERSE_SECRET: a Standard Webhooks secret, whsec_ + base64 of 24-64 random bytes (`echo whsec_$(openssl rand -base64 32)`)');
  const key = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret)?.[1];
  const bytes = key === undefined ? 0 : Buffer.from(key, 'base64').length;
  if (bytes < 24 || bytes > 64) throw new ConfigError('CRISP_MCP_CONVERSE_SECRET must be whsec_ followed by the base64 of 24-64 random bytes (`echo whsec_$(openssl rand -base64 32)`)');
  if (scenario === undefined) throw new ConfigError('CRISP_MCP_CONVERSE_WEBHOOK_URL needs CRISP_MCP_CONVERSE_SCENARIO: the name of the scenario that answers /converse (see `crisp-mcp scenario validate`)');
  const idleMinutes = idle === undefined ? DEFAULT_CONVERSE_IDLE_MINUTES : Number(idle);
  if (!/^\d+(\.\d+)?$/.test(idle ?? '30') || !(idleMinutes > 0) || idleMinutes > 10_080) {
    throw new ConfigError(`CRISP_MCP_CONVERSE_IDLE_MINUTES must be a number of minutes above 0 and at most 10080 (decimals allowed), got "${idle}"`);
  }
  return { webhookUrl, secret, scenario, idleMinutes };
}

const MIN_TOKEN_LENGTH = 16;

/** A token no client could be let in with is refused at start-up, saying where it is (never what it is). */
function checkToken(where: string, token: string): void {
  if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`bearer tokens must be at least ${MIN_TOKEN_LENGTH} characters; ${where} has ${token.length}; generate one with \`openssl rand -hex 32\``);
  // `Authorization: Bearer <token>` carries visible ASCII without spaces: any other token would never match.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(`${where} holds a space or a character outside visible ASCII, which no Authorization header can carry; give the token alone (without "Bearer "), e.g. from \`openssl rand -hex 32\``);
  }
}

/**
 * `--token-file PATH`: one bearer token per line (several allow rotation, or one per client); `#`
 * starts a comment. Read at start-up and again on SIGHUP (serve.ts), so a rotation needs no restart.
 */
export function readTokenFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--token-file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const tokens = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (tokens.length === 0) throw new ConfigError(`--token-file ${file} holds no token: put one bearer token per line`);
  for (const [index, token] of tokens.entries()) checkToken(`token ${index + 1} of ${tokens.length} in --token-file ${file}`, token);
  return tokens;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

export function parseTier(value: string, name = 'CRISP_TIER'): Tier {
  if (!(TIERS as readonly string[]).includes(value)) throw new ConfigError(`${name} must be plugin, website or user, got "${value}"`);
  return value as Tier;
}

/**
 * The sandbox's inbox lives in memory, so unless told otherwise its scenario and bot state does
 * too: positions saved for a throwaway inbox must not land in (or resume from) the real state file.
 */
function parseStore(value: string | undefined, sandbox: boolean): StoreConfig {
  if (value === undefined && sandbox) return { kind: 'memory' };
  try {
    return parseStoreSpec(value);
  } catch (error) {
    if (error instanceof StoreError) throw new ConfigError(error.message);
    throw error;
  }
}

function checkHttpUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${hideUserinfo(value)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must use http or https, got "${hideUserinfo(value)}"`);
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
