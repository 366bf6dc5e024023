// `crisp-mcp [serve]`: config → Crisp client (or the embedded sandbox) → MCP over stdio, or over
// Streamable HTTP with --http (http.ts). In stdio mode stdout carries only MCP; everything else goes
// to the stderr log, where HTTP mode also logs the URL it serves. With --bot-scenario (HTTP only) it
// also runs the autopilot (./bot.ts's startBot) on Crisp's Web Hooks at `/hooks/crisp`.
import { randomBytes } from 'node:crypto';
import type { CrispClient } from '../crisp/client.js';
import { openCrispConversations } from './crisp-conversation.js';
import { bundleSettingsTerms, inBundleTerms } from './bundle-settings.js';
import { ConfigError, parseServeFlags, readTokenFile, type Config, type ConverseConfig, type HttpConfig } from '../config.js';
import { resolveWithKeychain } from '../credentials/resolve.js';
import { registerSecret } from '../credentials/redact.js';
import { createLogger, writeErrorLine } from '../log.js';
import { VERSION } from '../version.js';
import { useConfirmationSecret } from '../mcp/confirm.js';
import { Guard } from '../mcp/guard.js';
import { toolsFor } from '../mcp/server.js';
import { SelectionError, type AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';
import { literalRefusal, webhookFetch } from '../engine/webhook-networks.js';
import { defaultScenariosDir, loadScenarioLibrary, ScenarioLibraryError, type LoadedScenario, type ScenarioLibrary } from '../engine/library.js';
import type { Autopilot } from '../autopilot/autopilot.js';
import type { RunningBot } from './bot.js';
import type { Logger } from '../log.js';
import type { ConverseService } from '../converse/converse.js';
import { StoreError, type Store } from '../store/index.js';
import { type CommandLifecycle, runCommand } from './resources.js';
import { announceSandbox, crispClientFor, listenEmbeddedSandbox, listenProblem, logScenarioWarnings, missingScenario, openConfiguredStore, startEmbeddedSandbox, storeReports } from './runtime.js';
import { ignoredSettings, misspeltSettings, secretsInArguments } from './settings-warnings.js';
import { StoreOpenedOnFirstUse, warmUp } from './on-first-use.js';
import type { ListeningSandbox } from '../sandbox/listen-first.js';
import type { Sandbox } from '../sandbox/server.js';
import type { HttpServerHandle } from '../transport/http.js';
// What only --http, --bot-scenario or the converse API use (the HTTP routes, the autopilot and its
// RTM client, the converse deliverer, the sandbox's hook sender) is imported where it starts, so
// stdio `serve`, what MCP hosts launch and wait on, does not load it (bench/startup).

/** `crisp-mcp serve --help`: every flag parseServeFlags (config.ts) accepts, and the environment behind them. */
export const SERVE_HELP = `Usage: crisp-mcp [serve] [flags]

The MCP server: over stdio (what Claude Desktop, Cursor and VS Code launch), or Streamable HTTP.

Crisp:
  --sandbox               use the embedded Crisp simulator: demo data, no account
                          (CRISP_MCP_SANDBOX=true does the same); CRISP_SANDBOX_WEBSITES=N
                          seeds N demo websites (1-5, all allowed), CRISP_SANDBOX_KEY fixes its key
  --identifier ID         the token identifier, with --key-file PATH (a file holding the key;
  --key-file PATH         never a flag, which ps shows); else CRISP_IDENTIFIER and CRISP_KEY,
                          else the OS keychain (crisp-mcp auth login)
  --tier T                plugin, website or user (CRISP_TIER; default plugin)
                          CRISP_WEBSITE_ID: the website ids it may act on, comma-separated;
                          the first is the default for tools
Tools:
  --read-only             register no write tool at all (wins over every other selection)
  --toolsets a,b          conversations, routing, people, knowledge, scenarios (default: all)
  --tools x,y             these tools, whatever their toolset
  --exclude-tools z       leave these tools out
  --send-mode MODE        what a customer-visible send does (CRISP_MCP_SEND_MODE): post (default)
                          sends it, note makes it a private note, confirm asks the user first
Scenarios:
  --scenarios DIR         the folder of scenario files, *.json (CRISP_MCP_SCENARIOS). Default:
                          ./scenarios when it exists, else the examples shipped with crisp-mcp;
                          the start-up log names the folder it loaded
  --store SPEC            where scenario positions and drafts live (CRISP_MCP_STORE):
                          sqlite:PATH (default: crisp-mcp/state.db in the user's state folder,
                          e.g. ~/.local/state on Linux), redis://HOST:PORT, or memory
                          (the default with --sandbox)
  --webhook-networks N    where scenario webhooks and the converse webhook may connect
                          (CRISP_MCP_WEBHOOK_NETWORKS): private (default: the internet and private
                          networks, never link-local or cloud metadata addresses), public, or any
HTTP (Streamable HTTP at /mcp; /healthz for load balancers):
  --http                  serve over HTTP instead of stdio
  --host H                the address to bind (default 127.0.0.1; any other needs a token)
  --port N                the port (default 8787; 0 picks a free one, which is logged)
  --token-file PATH       accepted bearer tokens, one per line, read again on SIGHUP
                          (else CRISP_MCP_HTTP_TOKEN)
  --allowed-hosts a,b     more host names accepted in Host and Origin (CRISP_MCP_ALLOWED_HOSTS)
  --crisp-agent           also take requests signed by Crisp's AI agent (CRISP_MCP_AGENT_SECRET)
  --bot-scenario NAME     also run the autopilot with this scenario on Crisp's Web Hooks at
                          /hooks/crisp (CRISP_MCP_BOT_SCENARIO; signed with CRISP_HOOK_SECRET)
                          POST /converse is on when CRISP_MCP_CONVERSE_WEBHOOK_URL,
                          CRISP_MCP_CONVERSE_SECRET and CRISP_MCP_CONVERSE_SCENARIO are set
                          (CRISP_MCP_CONVERSE_IDLE_MINUTES: the session timeout)
Environment: CRISP_API_URL (default https://api.crisp.chat); CRISP_MCP_LOG_LEVEL: fatal, error,
warn, info (default), debug, trace or silent. Logs are JSON lines on stderr.
`;

export async function runServeCommand(argv: string[]): Promise<number> {
  const log = createLogger();
  let config: Config;
  // First: a misspelt variable is often why a setting below is missing.
  for (const line of misspeltSettings()) log.warn(line);
  try {
    const flags = parseServeFlags(argv);
    config = await resolveWithKeychain(flags);
    for (const line of [...ignoredSettings(flags), ...secretsInArguments(flags)]) log.warn(line);
    // The tool selection is checked before anything starts (unknown names are a one-line error).
    toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SelectionError) {
      writeErrorLine(`crisp-mcp: ${inBundleTerms(error.message)}`);
      return 2;
    }
    throw error;
  }

  const stateSecret = process.env.CRISP_MCP_STATE_SECRET?.trim();
  if (stateSecret) {
    registerSecret(stateSecret);
    useConfirmationSecret(stateSecret);
  }

  // --bot-scenario: Crisp signs its hooks with CRISP_HOOK_SECRET (config.ts requires it); the embedded sandbox signs with a random one.
  let hookSecret: string | undefined;
  if (config.http?.bot) {
    hookSecret = config.hookSecret ?? randomBytes(24).toString('hex');
    registerSecret(hookSecret);
  }

  // Every part from here on is acquired on one stack and released in reverse on any failure, at
  // the end, or on SIGINT/SIGTERM (resources.ts).
  return runCommand(log, (life) => serve(life, config, hookSecret, log));
}

async function serve(life: CommandLifecycle, config: Config, hookSecret: string | undefined, log: Logger): Promise<number> {
  let sandbox: Sandbox | undefined;
  let listening: ListeningSandbox | undefined;
  // Over stdio, which a host waits on, the sandbox binds its address at once and loads the simulator on its first connection.
  if (config.sandbox && config.http) ({ sandbox, config } = await life.acquire('embedded sandbox', () => startEmbeddedSandbox(config, log), (started) => started.sandbox.close()));
  else if (config.sandbox) ({ sandbox: listening, config } = await life.acquire('embedded sandbox', () => listenEmbeddedSandbox(config, log), (started) => started.sandbox.close()));
  const crisp = await life.acquire('Crisp client', () => crispClientFor(config, log), (c) => c.close());
  // Over HTTP the scenarios are compiled here, at boot, and a file that does not compile stops the
  // start-up. Over stdio, which a host waits on, they are compiled and a SQLite store opened on
  // first use or once tools/list is answered (on-first-use.ts); a folder that cannot be read still stops it.
  let scenarios: ScenarioLibrary | undefined;
  let store: Store | undefined;
  try {
    const dir = config.scenariosDir ?? defaultScenariosDir();
    const deferred = !config.http && config.store.kind !== 'redis';
    scenarios = dir ? await loadScenarioLibrary(dir, { onFirstUse: !config.http }) : undefined;
    // A Redis store that dies after start: serving goes on, each tool call that needs the store
    // answers a clear isError within seconds, and the store reconnects once Redis is back. Redis, a
    // network store the user named, is still reached here: one unreachable stops the start-up in one line.
    if (scenarios) store = await life.acquire('store', () => (deferred ? new StoreOpenedOnFirstUse(config.store, storeReports(log)) : openConfiguredStore(config, log)), (s) => s.close());
  } catch (error) {
    if (error instanceof ScenarioLibraryError || error instanceof StoreError) return usageError(error.message);
    throw error;
  }
  // Which folder was picked (--scenarios, ./scenarios or the shipped examples) is the first thing to check when a scenario is missing.
  if (scenarios) {
    const loaded = config.http ? { scenarios: scenarios.names() } : { files: scenarios.files };
    log.info({ scenarios_dir: scenarios.dir, ...loaded, store: store?.where }, `scenarios loaded from ${scenarios.dir}`);
    if (config.http) logScenarioWarnings(log, scenarios.list()); // over stdio, once compiled (warmUp)
    if (scenarios.notRead.length) log.warn(`not read from ${scenarios.dir}: ${scenarios.notRead.join(', ')} — scenario files are JSON, named *.json`);
    if (scenarios.files.length === 0) log.warn(`no scenario files (*.json) in ${scenarios.dir}: the scenario tools have none to run; put scenario files there, or point --scenarios (or CRISP_MCP_SCENARIOS) at the folder that holds them`);
  } else log.info('no scenario folder (no --scenarios, no ./scenarios, no shipped examples): scenario tools are off');
  // The autopilot's scenario is checked before anything listens.
  let botScenario: LoadedScenario | undefined;
  const wanted = config.http?.bot?.scenario;
  if (wanted !== undefined) {
    if (!scenarios) return usageError(`--bot-scenario ${wanted} but no scenarios are loaded: pass --scenarios DIR (or set CRISP_MCP_SCENARIOS), or run where ./scenarios exists`);
    const missing = missingScenario(scenarios, '--bot-scenario', wanted);
    if (missing) return usageError(missing);
    botScenario = scenarios.require(wanted);
  }
  const inSettingsTerms = bundleSettingsTerms();
  const deps: ToolDeps = { crisp, guard: new Guard(config.websites), config, log, scenarios, store, openConversation: openCrispConversations(crisp, { fetch: webhookFetch(config.webhookNetworks) }), ...(inSettingsTerms ? { inSettingsTerms } : {}) };
  const tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools }, deps);
  if (scenarios && !tools.some((t) => t.toolset === 'scenarios')) log.info('scenario tools are off: none is selected (--toolsets, --tools, --exclude-tools)');

  if (config.http) {
    const bot = botScenario && store ? { scenario: botScenario, store, secret: hookSecret!, crisp, sandbox } : undefined;
    return serveHttp(life, config.http, tools, deps, bot, () => void announceSandbox(sandbox));
  }

  log.info({ version: VERSION, tools: tools.map((t) => t.name), websites: config.websites, sendMode: config.sendMode, readOnly: config.readOnly }, 'crisp-mcp serving over stdio');
  await announceSandbox(listening);
  const { startStdio } = await import('../transport/stdio.js');
  // Once the host has its tools/list — or after a short wait, when no host asks (a person trying the
  // command in a terminal) — so a scenario folder that does not compile shows in the log either way.
  let warm: NodeJS.Timeout | undefined;
  let warmed = false;
  const ready = scenarios && store ? () => {
    clearTimeout(warm);
    if (warmed) return;
    warmed = true;
    void warmUp(scenarios, store, log);
  } : undefined;
  const stdio = await life.acquire('stdio transport', () => startStdio(tools, deps, log, ready), (s) => s.close());
  if (ready) warm = setTimeout(ready, WARM_UP_WITHOUT_HOST_MS).unref();
  // Until stdin ends (the host closed it, once the calls read are answered) or a signal.
  const stop = await life.untilStopped(stdio.closed);
  // The host ending the session (stdin closed) is the usual end; say which it was.
  if (stop.kind === 'ended') log.info('stopping: stdin ended (the host closed it)');
  else if (stop.kind === 'signal') log.info({ signal: stop.signal }, 'stopping: finishing calls in flight');
  if (stop.kind === 'failed') {
    writeErrorLine(`crisp-mcp: ${stop.error.message}`);
    return 1;
  }
  return 0;
}

/** When stdio serve compiles its scenarios if no host has asked for tools/list by then. */
const WARM_UP_WITHOUT_HOST_MS = 1_000;

/** How long the HTTP server's close waits for calls in flight (startHttpServer's default), and converse for its turns and deliveries. */
const DRAIN_MS = 10_000;

/** Serves until SIGTERM/SIGINT, then lets calls in flight finish; 2 when the address cannot be bound or the converse API is misconfigured. */
async function serveHttp(life: CommandLifecycle, http: HttpConfig, tools: AnyTool<ToolDeps>[], deps: ToolDeps, bot: BotWiring | undefined, onServing: () => void): Promise<number> {
  const { host, port, tokens, allowedHosts, crispAgent } = http;
  for (const secret of [...tokens, crispAgent?.secret ?? '', http.converse?.secret ?? '']) registerSecret(secret);
  const converseConfig = http.converse;
  if (converseConfig) {
    const problem = converseProblem(converseConfig, deps);
    if (problem) return usageError(problem);
  }
  const converse = converseConfig ? await life.acquire('converse API', () => startConverse(converseConfig, deps), (c) => c.stop(), { timeoutMs: DRAIN_MS + 2_000 }) : undefined;
  let autopilot: Autopilot | undefined;
  const hooks = bot ? await hookReceiver(bot.secret, deps.log, () => autopilot) : undefined;
  const { startHttpServer } = await import('../transport/http.js');
  let server: HttpServerHandle;
  try {
    const options = { host, port, tools, deps, tokens, allowedHosts, crispAgent, shutdownGraceMs: DRAIN_MS, ...(converse ? { converse: converse.service } : {}), ...(hooks ? { hooks } : {}) };
    server = await life.acquire('HTTP server', () => startHttpServer(options), (s) => s.close(), { timeoutMs: DRAIN_MS + 2_000 });
  } catch (error) {
    const problem = listenProblem(error, host, port);
    if (!problem) throw error;
    return usageError(problem);
  }
  const { config, log } = deps;
  if (http.tokenFile !== undefined) await life.acquire('token reload on SIGHUP', () => life.onHangup(reloadTokens(http.tokenFile!, server, log)), (stop) => stop());
  converse?.announce(server.url.replace(/\/mcp$/, '/converse'));
  if (bot) {
    await startAutopilot(life, bot, server, deps, (a) => (autopilot = a));
    // On the way out the server closes first, as without the autopilot: new requests and hook
    // deliveries get 503 at once (Crisp retries those) and calls in flight finish; only then does
    // the autopilot finish its conversations. (Closing the server twice is closing it once.)
    await life.acquire('HTTP server intake', () => server, (s) => s.close(), { timeoutMs: DRAIN_MS + 2_000 });
  }
  const auth = [tokens.length > 0 ? `bearer (${tokens.length} token${tokens.length > 1 ? 's' : ''})` : crispAgent ? '' : 'none (loopback only)', crispAgent ? 'Crisp agent signatures' : ''];
  log.info(
    { version: VERSION, url: server.url, tools: tools.map((t) => t.name), websites: config.websites, sendMode: config.sendMode, readOnly: config.readOnly, auth: auth.filter(Boolean).join(' + ') },
    'crisp-mcp serving over Streamable HTTP',
  );
  onServing();
  const stop = await life.untilStopped();
  log.info({ signal: stop.kind === 'signal' ? stop.signal : undefined, in_flight: server.inFlight }, 'stopping: finishing calls in flight');
  // The server finishes its calls; the autopilot finishes its conversations; every accepted
  // /converse event is saved and the deliveries in flight finish (the rest stays in the store);
  // then the store, the client and the sandbox close.
  const clean = await life.release();
  if (clean) log.info('stopped');
  return clean ? 0 : 1;
}

/**
 * What SIGHUP does with --token-file: read the file again, and the server accepts what it now lists:
 * a token is rotated by adding the new line, moving the clients, then removing the old line, each
 * followed by a SIGHUP. A file that cannot be used (unreadable, empty, a short token) keeps the tokens in use.
 */
function reloadTokens(file: string, server: HttpServerHandle, log: Logger): () => void {
  return () => {
    try {
      const tokens = readTokenFile(file);
      for (const token of tokens) registerSecret(token);
      server.setTokens(tokens);
      log.info({ tokens: tokens.length }, `bearer tokens reloaded from --token-file ${file}`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      log.warn(`SIGHUP: ${error.message}; the tokens in use stay accepted`);
    }
  };
}

function usageError(message: string): number {
  writeErrorLine(`crisp-mcp: ${message}`);
  return 2;
}

interface ConverseRuntime {
  service: ConverseService;
  announce(url: string): void;
  stop(): Promise<void>;
}

/** Why the converse API cannot run with these scenarios (one line), or undefined. */
function converseProblem(c: ConverseConfig, deps: ToolDeps): string | undefined {
  const { scenarios, store } = deps;
  if (!scenarios || !store) {
    return `CRISP_MCP_CONVERSE_WEBHOOK_URL is set but no scenarios are loaded: put the file of scenario "${c.scenario}" in ./scenarios, or point --scenarios (or CRISP_MCP_SCENARIOS) at its directory`;
  }
  const refused = literalRefusal(new URL(c.webhookUrl).hostname, deps.config.webhookNetworks);
  if (refused) return `CRISP_MCP_CONVERSE_WEBHOOK_URL: ${refused}`;
  return missingScenario(scenarios, 'CRISP_MCP_CONVERSE_SCENARIO', c.scenario);
}

/** The converse API's service, reply deliverer and inactivity sweeper (converseProblem() has passed). */
async function startConverse(c: ConverseConfig, deps: ToolDeps): Promise<ConverseRuntime> {
  const { scenarios, store, log } = deps;
  if (!scenarios || !store) throw new Error('startConverse needs scenarios and a store');
  const [{ ConverseService, acceptingPriority }, { ReplyDeliverer }] = await Promise.all([import('../converse/converse.js'), import('../converse/delivery.js')]);
  // A burst of events being accepted goes first: the turns and the deliveries yield to it.
  const accepting = acceptingPriority();
  const networks = deps.config.webhookNetworks;
  const deliverer = new ReplyDeliverer({ store, url: c.webhookUrl, secret: c.secret, log, yieldTo: accepting, networks });
  const service = new ConverseService({ store, library: scenarios, scenario: c.scenario, fetch: webhookFetch(networks), idleMs: c.idleMinutes * 60_000, log, accepting, onReplies: (key) => deliverer.kick(key), ...(deps.clock ? { now: deps.clock } : {}), ...helpdeskOf(deps) });
  deliverer.start();
  service.startSweeper();
  const webhook = new URL(c.webhookUrl);
  return {
    service,
    announce(url) {
      log.info({ url, webhook: `${webhook.origin}${webhook.pathname}`, scenario: c.scenario, idle_minutes: c.idleMinutes, store: store.where }, 'converse API on');
      if (store.kind === 'memory') log.warn('converse: the store is memory, so a restart loses every session, the events accepted but not yet run, the replies not yet delivered and the messageIds already seen (an event sent again after a restart runs again); use --store sqlite:PATH or redis://');
    },
    async stop() {
      await service.close();
      await deliverer.stop();
    },
  };
}

/** What `serve --http --bot-scenario` needs to run the autopilot. */
interface BotWiring {
  scenario: LoadedScenario;
  store: Store;
  /** The hooks' signing secret (CRISP_HOOK_SECRET, or a random one the embedded sandbox signs with). */
  secret: string;
  crisp: CrispClient;
  sandbox: Sandbox | undefined;
}

/** startHttpServer's `/hooks/crisp` receiver, feeding the autopilot once it is attached (503 until then). */
async function hookReceiver(secret: string, log: Logger, current: () => Autopilot | undefined) {
  const { BOT_EVENTS } = await import('../autopilot/guardrails.js');
  const { hookRouteLog } = await import('../transport/hook-receiver.js');
  const routeLog = hookRouteLog(log);
  return {
    secret,
    events: BOT_EVENTS,
    ready: () => current() !== undefined,
    skip: (name: string, data: unknown) => current()?.isOwnEcho(name, data) ?? false,
    onEvent: (event: Parameters<Autopilot['handle']>[0] & { timestamp: number | undefined }) => {
      routeLog.verified();
      current()?.handle(event, { timestamp: event.timestamp });
    },
    onError: routeLog.onError,
  };
}

/** The bot command's startBot in hooks mode on the MCP server's own `/hooks/crisp`; the embedded sandbox's hooks point there. */
async function startAutopilot(life: CommandLifecycle, wiring: BotWiring, server: HttpServerHandle, deps: ToolDeps, attach: (autopilot: Autopilot | undefined) => void): Promise<void> {
  const { config, log } = deps;
  const [{ HOOKS_PATH }, { SandboxHooks }, { startBot, AUTOPILOT_CLOSE_TIMEOUT_MS }, { DEFAULT_GUARDRAILS }] = await Promise.all([
    import('../transport/http.js'),
    import('../sandbox/hooks.js'),
    import('./bot.js'),
    import('../autopilot/guardrails.js'),
  ]);
  const url = server.url.replace(/\/mcp$/, HOOKS_PATH);
  // Listening first (the route is mounted already), then the sandbox's events flow, then the autopilot catches up.
  const sandbox = wiring.sandbox;
  if (sandbox) await life.acquire('sandbox hook sender', () => new SandboxHooks(sandbox.state, { url, secret: wiring.secret }), (hooks) => hooks.close());
  const { identifier, key, tier } = config.credentials!;
  await life.acquire(
    'autopilot',
    () =>
      startBot({
        crisp: wiring.crisp,
        credentials: { identifier, key, tier },
        store: wiring.store,
        scenario: wiring.scenario,
        guardrails: { ...DEFAULT_GUARDRAILS, replyBudget: { ...DEFAULT_GUARDRAILS.replyBudget }, inboxes: undefined, websites: new Set(config.websites) },
        events: 'hooks',
        log,
        fetch: webhookFetch(config.webhookNetworks),
        // The HTTP server is a part of its own; the autopilot is only attached to its route.
        hooks: { server: { url, server: server.server, attach, close: async () => {} } },
      }),
    async (bot: RunningBot) => {
      await bot.close();
      log.info(bot.autopilot.stats(), 'autopilot stopped');
    },
    { timeoutMs: AUTOPILOT_CLOSE_TIMEOUT_MS },
  );
  log.info({ scenario: wiring.scenario.name, events: 'hooks', url, websites: config.websites, store: wiring.store.where }, 'autopilot running');
}

/** Converse's `articles` blocks search the helpdesk of the first configured website, through this process's Crisp client. */
function helpdeskOf(deps: ToolDeps): { helpdesk?: { port: CrispClient['helpdesk']; website: string } } {
  const website = deps.config.websites[0];
  return website === undefined ? {} : { helpdesk: { port: deps.crisp.helpdesk, website } };
}
