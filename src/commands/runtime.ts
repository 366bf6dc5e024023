// What `serve` and `bot` both set up before their own work: the embedded sandbox standing in for
// Crisp (with --sandbox), the Crisp client the tools and the autopilot call, and the one-line
// answer when the address they were told to listen on cannot be had.
import { basename } from 'node:path';
import type { Config } from '../config.js';
import { registerSecret } from '../credentials/redact.js';
import { CrispClient } from '../crisp/client.js';
import { CrispError } from '../crisp/errors.js';
import type { LoadedScenario, ScenarioLibrary } from '../engine/library.js';
import type { Logger } from '../log.js';
// The guide and the listening front are a few small functions: loading them as chunks of their
// own, on demand, cost stdio `serve --sandbox` more in file loads (bench/startup) than they cost
// every start-up here. The simulator itself (server.ts) is still imported only where it starts.
import { describeSandbox, fixedKeyCredentials, sandboxInfo, type SandboxAddress } from '../sandbox/guide.js';
import { listenFirst, type ListeningSandbox } from '../sandbox/listen-first.js';
import type { Sandbox, SandboxOptions } from '../sandbox/server.js';
import { openStore, type Store, type StoreOpenOptions } from '../store/index.js';

/** Starts the seeded sandbox and returns the config pointed at it: its URL, its token, its websites (CRISP_SANDBOX_WEBSITES of them). */
export async function startEmbeddedSandbox(config: Config, log: Logger, options: Pick<SandboxOptions, 'hooks'> = {}): Promise<{ sandbox: Sandbox; config: Config }> {
  // Loaded only with --sandbox: the simulator, its console and Socket.IO stay out of every other start-up.
  const { startSandbox } = await import('../sandbox/server.js');
  return pointedAt(await startSandbox({ seed: 42, credentials: fixedKeyCredentials(process.env.CRISP_SANDBOX_KEY), websites: config.sandboxWebsites, ...options }), config, log);
}

/**
 * startEmbeddedSandbox for stdio `serve`, which an MCP host waits on: only the address is bound
 * now; the simulator loads and seeds its inbox when the first connection arrives
 * (sandbox/listen-first.ts), and attaches its RTM endpoint (Socket.IO) only when an RTM client
 * comes: an MCP host calling tools never needs it.
 */
export async function listenEmbeddedSandbox(config: Config, log: Logger): Promise<{ sandbox: ListeningSandbox; config: Config }> {
  return pointedAt(await listenFirst({ seed: 42, credentials: fixedKeyCredentials(process.env.CRISP_SANDBOX_KEY), websites: config.sandboxWebsites, rtm: { attachOnFirstUse: true } }), config, log);
}

function pointedAt<S extends SandboxAddress>(sandbox: S, config: Config, log: Logger): { sandbox: S; config: Config } {
  const credential = sandbox.credentials[0]!;
  registerSecret(credential.key, credential.identifier);
  const websites = sandbox.websiteIds ?? [sandbox.websiteId];
  log.info({ url: sandbox.url, console: `${sandbox.url}/`, website_id: sandbox.websiteId, ...(websites.length > 1 ? { website_ids: websites } : {}) }, 'embedded Crisp sandbox started');
  return { sandbox, config: { ...config, apiUrl: sandbox.url, credentials: { ...credential, source: 'sandbox' }, websites: [...websites] } };
}

/**
 * Once the command is up, how to use its embedded sandbox, on stderr as `crisp-mcp sandbox` prints
 * it, key included: the key opens only this in-memory simulator, and a newcomer needs it to point a
 * second client here (the logger would redact it). Not before: a start-up that fails says one line.
 * stdout stays the MCP channel.
 */
export async function announceSandbox(sandbox: SandboxAddress | undefined): Promise<void> {
  if (!sandbox) return;
  // Without the hooks' secret: here it may be the real CRISP_HOOK_SECRET.
  const { hooks: _secret, ...info } = sandboxInfo(sandbox);
  process.stderr.write(`${describeSandbox(info, 'Embedded Crisp sandbox on').join('\n')}\n`);
}

/**
 * One warning line per scenario that compiled with warnings (a block no way reaches, a variable
 * shown before it is set…): legal, but likely not what its author meant, and an author who never
 * ran `scenario validate` would otherwise never see them.
 */
export function logScenarioWarnings(log: Logger, scenarios: readonly LoadedScenario[]): void {
  for (const { name, file, warnings } of scenarios) {
    if (warnings.length === 0) continue;
    const lines = warnings.map((w) => `${w.path === '' ? '(file)' : w.path}: ${w.message}`);
    log.warn({ scenario: name, file, warnings: lines }, `scenario "${name}" compiled with ${lines.length} warning${lines.length === 1 ? '' : 's'} (\`crisp-mcp scenario validate ${file}\` shows them): ${lines[0]}${lines.length > 1 ? ' …' : ''}`);
  }
}

/**
 * The one line when a setting (a flag or a variable) names a scenario the library does not hold,
 * listing the names it does hold; undefined when it holds it. Said for the command line, which has
 * no list_scenarios tool to point at.
 */
export function missingScenario(library: ScenarioLibrary, setting: string, name: string): string | undefined {
  if (library.get(name)) return undefined;
  const names = library.names();
  const found = names.length ? `one of ${names.join(', ')}` : 'there (no scenario is loaded)';
  // A file name is the likely slip: a scenario goes by the "name" inside its file.
  const byFile = names.map((n) => library.get(n)!).find((s) => basename(s.file) === name || basename(s.file, '.json') === name);
  const hint = byFile ? `; a scenario goes by the "name" in its file: ${byFile.file} is "${byFile.name}"` : '';
  return `${setting} names no loaded scenario: "${name}" is not ${found}${library.dir ? ` (from ${library.dir})` : ''}${hint}${library.notReadHint()}`;
}

/** The Crisp client for a resolved config (credentials are present once the sandbox, if any, runs). */
export function crispClientFor(config: Config, log: Logger): CrispClient {
  const { identifier, key, tier } = config.credentials!;
  // The sandbox also answers the app's conversation links, so the `url` tools give out opens there.
  const appUrl = config.credentials!.source === 'sandbox' ? config.apiUrl : undefined;
  return new CrispClient({ baseUrl: config.apiUrl, appUrl, credentials: { identifier, key, tier }, onRetry: (e) => log.debug({ retry: e }, 'retrying Crisp call') });
}

/** The one line for a listen failure the operator can fix (address taken or not allowed); undefined for anything else. */
export function listenProblem(error: unknown, host: string, port: number): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return undefined;
  return `cannot listen on ${host}:${port} (${code}): choose another --port or --host`;
}

/**
 * The configured store. A Redis store that loses its server after start says so in the log once
 * per outage, and again when it is back; meanwhile each store call fails within seconds with a
 * clear StoreError (a tool call's isError), and node-redis reconnects by itself once Redis is back.
 */
export function openConfiguredStore(config: Config, log: Logger): Promise<Store> {
  return openStore(config.store, storeReports(log));
}

/** What opening a store tells the log: a Redis connection's outages, a SQLite file's migration. */
export function storeReports(log: Logger): StoreOpenOptions {
  return {
    onError: (error) => log.warn({ error: error.message }, 'the Redis store connection failed; reconnecting'),
    onReconnected: ({ downMs, errors }) => log.info({ down_ms: downMs, connection_errors: errors }, 'the Redis store connection is back'),
    onMigrated: ({ fromSchema, toSchema, steps }) => log.info({ from_schema: fromSchema, to_schema: toSchema, steps }, 'the SQLite store file an earlier release wrote was migrated'),
  };
}

/**
 * One read of `website`'s first page of conversations: undefined when the token reads it; `refused`
 * with the setting that fixes it; `failed` when Crisp was busy or unreachable (no setting to fix).
 */
export async function websiteRefusal(crisp: Pick<CrispClient, 'conversations'>, website: string): Promise<{ refused: string } | { failed: string } | undefined> {
  try {
    await crisp.conversations.list(website, 1, { per_page: 20 });
    return undefined;
  } catch (error) {
    if (!(error instanceof CrispError)) throw error;
    const fix: string | undefined = ({
      crisp_unauthorized: 'check the identifier and key (CRISP_IDENTIFIER, CRISP_KEY or --key-file) and the tier (CRISP_TIER)',
      crisp_not_subscribed: `install the plugin on website ${website}, or remove it from CRISP_WEBSITE_ID`,
      crisp_forbidden: `check CRISP_WEBSITE_ID and CRISP_TIER: this token may not read website ${website}'s conversations`,
      crisp_not_found: `check CRISP_WEBSITE_ID: ${website} is not a website this token can see`,
    } as Partial<Record<string, string>>)[error.code];
    return fix ? { refused: `${error.message}; ${fix}` } : { failed: `${error.message} (${error.code})` };
  }
}
