// `crisp-mcp bot --scenario NAME [--events rtm|hooks]`: the autopilot as a process. Resolves the
// configuration the way `serve` does (flags > environment > keychain; the website allow-list),
// loads and compiles the scenarios, opens the store, then listens to Crisp's events — the RTM API
// (Socket.IO), or Web Hooks on its own HTTP server (`/hooks/crisp`, `/healthz`) — and hands them
// to the Autopilot. With --sandbox it runs against the embedded simulator, whose hooks (in hooks
// mode) are pointed at this server. Logs are JSON lines on stderr.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, parseFlags, type Config, type ServeFlags } from '../config.js';
import type { CrispClient } from '../crisp/client.js';
import { createHookHandler, hookRouteLog } from '../transport/hook-receiver.js';
import type { CrispCredentials } from '../crisp/http.js';
import { connectRtm, type RtmConnection } from '../crisp/rtm.js';
import { resolveWithKeychain } from '../credentials/resolve.js';
import { registerSecret } from '../credentials/redact.js';
import { createLogger, OutageLog, writeErrorLine, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import { StoreError, type Store } from '../store/index.js';
import { type CommandLifecycle, ResourceStack, runCommand } from './resources.js';
import { announceSandbox, crispClientFor, listenProblem, logScenarioWarnings, missingScenario, openConfiguredStore, startEmbeddedSandbox, websiteRefusal } from './runtime.js';
import { misspeltSettings, secretsInArguments } from './settings-warnings.js';
import { HOOKS_PATH, networkTimeouts, type ServerTimeouts } from '../transport/http.js';
import type { Sandbox } from '../sandbox/server.js';
import { Autopilot } from '../autopilot/autopilot.js';
import { openCrispConversations } from './crisp-conversation.js';
import type { OutboxRetry } from '../autopilot/outbox.js';
import { BOT_EVENTS, DEFAULT_GUARDRAILS, GuardrailConfigError, parseDuration, parseReplyBudget, type Guardrails } from '../autopilot/guardrails.js';
import { defaultScenariosDir, loadScenarioLibrary, ScenarioLibraryError, type LoadedScenario } from '../engine/library.js';
import { webhookFetch } from '../engine/webhook-networks.js';

export const DEFAULT_BOT_PORT = 8789;

export type EventSource = 'rtm' | 'hooks';

/** `crisp-mcp bot --help`: every flag of BOT_FLAGS. */
export const BOT_HELP = `Usage: crisp-mcp bot --scenario NAME [flags]

The autopilot: answers visitors with a scenario, live, from Crisp's events. It only acts on
CRISP_WEBSITE_ID's websites, and goes silent in a conversation once an operator writes or a handoff
block runs, until the conversation is resolved. Logs are JSON lines on stderr.

  --scenario NAME          the scenario it answers with (required)
  --events rtm|hooks       Crisp's RTM WebSocket (default), or Web Hooks POSTed to /hooks/crisp on its own
                           HTTP server, signed with CRISP_HOOK_SECRET
  --host H --port N        where the Web Hook server listens (--events hooks; default 127.0.0.1:8789)
  --sandbox                run against the embedded Crisp simulator (CRISP_MCP_SANDBOX=true does the same);
                           CRISP_SANDBOX_WEBSITES=N seeds N demo websites (1-5, all allowed)
  --scenarios DIR          the folder of scenario files (default ./scenarios, else the shipped examples)
  --store SPEC             sqlite:PATH (default), redis://HOST:PORT (several replicas share it) or memory
  --identifier ID --key-file PATH [--tier plugin|website|user]
                           the token pair, as for serve; else CRISP_IDENTIFIER, CRISP_KEY and
                           CRISP_TIER, else the OS keychain
  --webhook-networks N     where the scenario's webhooks may connect (CRISP_MCP_WEBHOOK_NETWORKS):
                           private (default: the internet and private networks, never link-local
                           or cloud metadata addresses), public, or any
Guardrails:
  --inboxes a,b            only conversations in these inboxes (\`default\` = conversations in no inbox)
  --reply-budget 20/10m    at most this many bot messages per conversation per window (counted in sixtieths of it), then it pauses there
  --repeat-window 60s      the same reply to the same visitor input is not sent twice within this window
  --step-budget N          scenario steps per turn before the turn becomes a handoff
  --catch-up 15m           at start, answer the threads updated this recently whose last
                           message is the visitor's
  --operator-hold 24h      in a conversation new to the bot, an operator who wrote this recently
                           keeps it: the bot stays out until it is resolved (0: off)
  --lock-ttl 5s            how long a killed bot's conversations wait for its replacement (at least 500ms)
`;

export const BOT_FLAGS = {
  scenario: { type: 'string' },
  events: { type: 'string', default: 'rtm' },
  sandbox: { type: 'boolean', default: false },
  scenarios: { type: 'string' },
  store: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  identifier: { type: 'string' },
  'key-file': { type: 'string' },
  tier: { type: 'string' },
  inboxes: { type: 'string' },
  'reply-budget': { type: 'string' },
  'repeat-window': { type: 'string' },
  'step-budget': { type: 'string' },
  'catch-up': { type: 'string' },
  'operator-hold': { type: 'string' },
  'lock-ttl': { type: 'string' },
  'webhook-networks': { type: 'string' },
} as const;

function parseBotFlags(argv: string[]) {
  return parseFlags(argv, BOT_FLAGS);
}

type BotFlags = ReturnType<typeof parseBotFlags>;

/** What the flags say beyond the shared Config. */
export interface BotSettings {
  scenario: string;
  events: EventSource;
  host: string;
  port: number;
  /** The allow-list is filled in from the config (or the sandbox) at start. */
  guardrails: Omit<Guardrails, 'websites'>;
  lockTtlMs: number;
}

export function botSettings(flags: BotFlags): BotSettings {
  if (!flags.scenario) throw new ConfigError('bot needs --scenario NAME: the scenario (from --scenarios DIR, default ./scenarios) it answers with');
  if (flags.events !== 'rtm' && flags.events !== 'hooks') throw new ConfigError(`--events must be rtm or hooks, got "${flags.events}"`);
  if (flags.events !== 'hooks' && (flags.port !== undefined || flags.host !== undefined)) throw new ConfigError('--port and --host are for the Web Hook server: add --events hooks');
  const port = flags.port === undefined ? DEFAULT_BOT_PORT : Number(flags.port);
  if (!/^\d+$/.test(flags.port ?? '0') || port > 65_535) throw new ConfigError(`--port must be a whole number from 0 (any free port) to 65535, got "${flags.port}"`);
  const stepBudget = flags['step-budget'] === undefined ? DEFAULT_GUARDRAILS.stepBudget : Number(flags['step-budget']);
  if (!Number.isSafeInteger(stepBudget) || stepBudget < 1) throw new ConfigError(`--step-budget must be a whole number ≥ 1, got "${flags['step-budget']}"`);
  const inboxes = flags.inboxes?.split(',').map((s) => s.trim()).filter(Boolean);
  // Given but empty (an unset variable in a unit file) would widen the scope to every inbox.
  if (inboxes?.length === 0) throw new ConfigError(`--inboxes lists no inbox, got "${flags.inboxes}": name them (a,b; \`default\` = conversations in no inbox), or leave the flag out for every inbox`);
  const lockTtlMs = flags['lock-ttl'] === undefined ? 5_000 : parseDuration(flags['lock-ttl'], '--lock-ttl');
  if (lockTtlMs < 500) throw new ConfigError('--lock-ttl must be at least 500ms');
  return {
    scenario: flags.scenario,
    events: flags.events,
    host: flags.host ?? '127.0.0.1',
    port,
    lockTtlMs,
    guardrails: {
      inboxes: inboxes ? new Set(inboxes) : undefined,
      replyBudget: flags['reply-budget'] === undefined ? { ...DEFAULT_GUARDRAILS.replyBudget } : parseReplyBudget(flags['reply-budget']),
      repeatWindowMs: flags['repeat-window'] === undefined ? DEFAULT_GUARDRAILS.repeatWindowMs : parseDuration(flags['repeat-window'], '--repeat-window'),
      stepBudget,
      catchUpWindowMs: flags['catch-up'] === undefined ? DEFAULT_GUARDRAILS.catchUpWindowMs : parseDuration(flags['catch-up'], '--catch-up'),
      operatorHoldMs: flags['operator-hold'] === undefined ? DEFAULT_GUARDRAILS.operatorHoldMs : parseDuration(flags['operator-hold'], '--operator-hold'),
    },
  };
}

// ---------------------------------------------------------------- the hook server

export interface HookServer {
  /** `http://host:port/hooks/crisp` */
  url: string;
  server: Server;
  /** Starts passing deliveries to `autopilot`; before, and after attach(undefined), they are answered 503, so the sender retries. */
  attach(autopilot: Autopilot | undefined): void;
  close(): Promise<void>;
}

/**
 * A node:http server with `/hooks/crisp` (signed Crisp Web Hooks) and `/healthz`. It faces the
 * network as `serve --http` does, with the same timeouts: a client trickling its headers or its body
 * is answered 408 within seconds, not left holding a socket for Node's default minutes.
 */
export async function listenHooks(options: { host: string; port: number; secret: string; log: Logger; scenario: string; timeouts?: ServerTimeouts }): Promise<HookServer> {
  const { log } = options;
  let autopilot: Autopilot | undefined;
  const routeLog = hookRouteLog(log);
  const hooks = createHookHandler({
    secret: options.secret,
    events: BOT_EVENTS,
    skip: (name, data) => autopilot?.isOwnEcho(name, data) ?? false,
    onEvent: (event) => {
      routeLog.verified();
      autopilot?.handle(event, { timestamp: event.timestamp });
    },
    onError: routeLog.onError,
  });
  const server = createServer(networkTimeouts(options.timeouts), (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === HOOKS_PATH) {
      if (!autopilot) {
        req.resume();
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('starting');
        return;
      }
      return hooks(req, res);
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      const body = JSON.stringify({ status: autopilot ? 'ok' : 'starting', scenario: options.scenario });
      res.writeHead(autopilot ? 200 : 503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}${HOOKS_PATH}`,
    server,
    attach: (a) => void (autopilot = a),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------- starting the bot

export interface StartBotOptions {
  crisp: CrispClient;
  /** The pair RTM authenticates with (the REST client's). */
  credentials: CrispCredentials;
  store: Store;
  scenario: LoadedScenario;
  guardrails: Guardrails;
  events: EventSource;
  log: Logger;
  /** Hooks mode: a server already listening (see listenHooks), or where to open one. */
  hooks?: { server: HookServer } | { host: string; port: number; secret: string };
  lockTtlMs?: number;
  retry?: Partial<OutboxRetry>;
  sweepMs?: number;
  catchUpEveryMs?: number;
  /** RTM: reconnect backoff (tests shorten it). */
  rtmReconnect?: { delayMs?: number; maxDelayMs?: number };
  /** The scenario's webhooks are called with this (tests). */
  fetch?: typeof fetch;
  /** Aborted when the command stops: an RTM connection still discovering or reconnecting gives up instead of retrying on. */
  signal?: AbortSignal;
}

export interface RunningBot {
  autopilot: Autopilot;
  /** Hooks mode: the URL Crisp posts to. */
  hooksUrl: string | undefined;
  rtm: RtmConnection | undefined;
  /** Settles if the event source fails for good (RTM credentials refused). */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/** How long closing the autopilot waits for the conversations being worked (Autopilot.close's default). */
const AUTOPILOT_DRAIN_MS = 10_000;
/** The bound on a running bot's close(): the drain, plus the route, socket or server before it. */
export const AUTOPILOT_CLOSE_TIMEOUT_MS = AUTOPILOT_DRAIN_MS + 4_000;

/**
 * Listens to the events first (so nothing is missed), then drains the outbox and catches up. What
 * it opens goes on its own stack: a step failing closes the steps before it (no RTM socket left
 * reconnecting, no server left listening), and close() releases the same stack. A hook server
 * passed in stays its owner's to close.
 */
export async function startBot(options: StartBotOptions): Promise<RunningBot> {
  const { log, events } = options;
  const parts = new ResourceStack({ log });
  let fail!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  try {
    // Acquired first, so closed last: once no event can reach it, it finishes the conversations in flight.
    const autopilot = await parts.acquire(
      'autopilot',
      () =>
        new Autopilot({
          crisp: options.crisp,
          store: options.store,
          scenario: options.scenario,
          guardrails: options.guardrails,
          log,
          lockTtlMs: options.lockTtlMs,
          retry: options.retry,
          sweepMs: options.sweepMs,
          catchUpEveryMs: options.catchUpEveryMs,
          openConversation: openCrispConversations(options.crisp, { fetch: options.fetch }),
        }),
      (a) => a.close(AUTOPILOT_DRAIN_MS),
      { timeoutMs: AUTOPILOT_DRAIN_MS + 2_000 },
    );
    let hookServer: HookServer | undefined;
    let rtm: RtmConnection | undefined;
    if (events === 'hooks') {
      const given = options.hooks;
      if (!given) throw new ConfigError('hooks mode needs a hook server or {host, port, secret}');
      const server = 'server' in given ? given.server : await parts.acquire('hook server', () => listenHooks({ ...given, log, scenario: options.scenario.name }), (s) => s.close());
      // Attaching is a part too: released first, the route answers 503 again (the sender retries
      // later) before the autopilot stops taking events, so no delivery is acknowledged and dropped.
      await parts.acquire('hook route', () => server.attach(autopilot), () => server.attach(undefined));
      hookServer = server;
    } else {
      let authentications = 0;
      // A drop and the return are one outage: a warning when it goes, and "RTM authenticated" with
      // down_ms when it is back; the reconnects between are debug lines, however long it lasts.
      const rtmOutage = new OutageLog(log);
      rtm = await parts.acquire(
        'RTM connection',
        () =>
          connectRtm({
            client: options.crisp,
            credentials: options.credentials,
            events: BOT_EVENTS,
            onEvent: (event) => autopilot.handle(event, { ordered: true }),
            skip: (name, payload) => autopilot.isOwnEcho(name, payload),
            onError: (error) => log.warn({ err: { name: error.name, message: error.message } }, 'RTM event not handled'),
            reconnect: options.rtmReconnect,
            signal: options.signal,
            onState: (state) => {
              if (state.status === 'authenticated') {
                if (rtmOutage.down) rtmOutage.succeeded({ endpoint: state.endpoint }, 'RTM authenticated');
                else log.info({ endpoint: state.endpoint }, 'RTM authenticated');
                // Events sent while the socket was down are lost: read the recent threads again.
                // catchUp() catches and logs each website's failure.
                if (++authentications > 1) void autopilot.catchUp();
              } else if (state.status === 'disconnected') rtmOutage.failed({ reason: state.reason }, 'RTM disconnected; reconnecting');
              else if (state.status === 'failed') {
                log.error({ error: state.error.message }, 'RTM failed');
                fail(state.error);
              }
            },
          }),
        (connection) => connection.close(),
      );
      await rtm.ready;
    }
    await autopilot.start();
    return { autopilot, hooksUrl: hookServer?.url, rtm, failed, close: async () => void (await parts.release()) };
  } catch (error) {
    await parts.release();
    throw error;
  }
}

// ---------------------------------------------------------------- the command

export async function runBotCommand(argv: string[]): Promise<number> {
  const log = createLogger();
  let flags: BotFlags;
  let settings: BotSettings;
  let config: Config;
  // First: a misspelt variable is often why a setting below is missing.
  for (const line of misspeltSettings()) log.warn(line);
  try {
    flags = parseBotFlags(argv);
    settings = botSettings(flags);
    const serveFlags: ServeFlags = { http: false, 'crisp-agent': false, 'read-only': false, sandbox: flags.sandbox, scenarios: flags.scenarios, store: flags.store, identifier: flags.identifier, 'key-file': flags['key-file'], tier: flags.tier, 'webhook-networks': flags['webhook-networks'] };
    config = await resolveWithKeychain(serveFlags);
    for (const line of secretsInArguments(serveFlags)) log.warn(line);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof GuardrailConfigError) return usageError(error.message);
    throw error;
  }

  // The scenario first: a typo stops the start before anything listens.
  let scenario: LoadedScenario;
  try {
    const dir = config.scenariosDir ?? defaultScenariosDir();
    if (!dir) return usageError('no scenarios: pass --scenarios DIR (or set CRISP_MCP_SCENARIOS), or run where ./scenarios exists');
    const library = await loadScenarioLibrary(dir);
    const missing = missingScenario(library, '--scenario', settings.scenario);
    if (missing) return usageError(missing);
    scenario = library.require(settings.scenario);
    logScenarioWarnings(log, [scenario]);
  } catch (error) {
    if (error instanceof ScenarioLibraryError) return usageError(error.message);
    throw error;
  }

  let secret = config.hookSecret;
  if (settings.events === 'hooks' && !secret) {
    if (!config.sandbox) return usageError('--events hooks needs CRISP_HOOK_SECRET: the signing secret of your Crisp plugin\'s Web Hooks');
    secret = randomBytes(24).toString('hex'); // the embedded sandbox signs with it too
  }
  if (secret) registerSecret(secret);

  // Every part from here on is acquired on one stack and released in reverse on any failure, at
  // the end, or on SIGINT/SIGTERM (resources.ts).
  return runCommand(log, (life) => runBot(life, { settings, config, scenario, secret: secret ?? '', log }));
}

async function runBot(life: CommandLifecycle, wiring: { settings: BotSettings; config: Config; scenario: LoadedScenario; secret: string; log: Logger }): Promise<number> {
  const { settings, scenario, secret, log } = wiring;
  let config = wiring.config;
  let hookServer: HookServer | undefined;
  if (settings.events === 'hooks') {
    try {
      hookServer = await life.acquire('hook server', () => listenHooks({ host: settings.host, port: settings.port, secret, log, scenario: scenario.name }), (s) => s.close());
    } catch (error) {
      const problem = listenProblem(error, settings.host, settings.port);
      if (!problem) throw error;
      return usageError(problem);
    }
  }
  let sandbox: Sandbox | undefined;
  if (config.sandbox) {
    const hooks = hookServer ? { hooks: { url: hookServer.url, secret } } : {};
    ({ sandbox, config } = await life.acquire('embedded sandbox', () => startEmbeddedSandbox(config, log, hooks), (started) => started.sandbox.close()));
  }
  const crisp = await life.acquire('Crisp client', () => crispClientFor(config, log), (c) => c.close());
  let store: Store;
  try {
    store = await life.acquire('store', () => openConfiguredStore(config, log), (s) => s.close());
  } catch (error) {
    if (error instanceof StoreError) return usageError(error.message);
    throw error;
  }

  // A website the token may not read, or a refused pair, would leave the bot running and answering
  // nobody; waiting cannot heal it, so it does not start.
  const refused = await websiteRefused(crisp, config.websites);
  if (refused) {
    writeErrorLine(`crisp-mcp: ${refused}`);
    return 1;
  }

  const { identifier, key, tier } = config.credentials!;
  const guardrails: Guardrails = { ...settings.guardrails, websites: new Set(config.websites) };
  const bot = await life.acquire(
    'autopilot',
    (stopped) =>
      startBot({
        signal: stopped,
        crisp,
        credentials: { identifier, key, tier },
        store,
        scenario,
        guardrails,
        events: settings.events,
        log,
        hooks: hookServer ? { server: hookServer } : undefined,
        lockTtlMs: settings.lockTtlMs,
        fetch: webhookFetch(config.webhookNetworks),
      }),
    (running) => running.close(),
    { timeoutMs: AUTOPILOT_CLOSE_TIMEOUT_MS },
  );
  log.info(
    {
      version: VERSION,
      scenario: scenario.name,
      scenario_file: scenario.file,
      events: settings.events,
      ...(bot.hooksUrl ? { url: bot.hooksUrl } : {}),
      websites: config.websites,
      store: store.where,
      reply_budget: `${guardrails.replyBudget.max}/${guardrails.replyBudget.windowMs}ms`,
    },
    'autopilot running',
  );
  await announceSandbox(sandbox);

  // Once running, RTM refusing the credentials for good cannot heal: the bot releases everything and
  // exits 1, so a supervisor sees it. A store or Crisp outage is another matter: each conversation's
  // failure is logged and retried with backoff, so the bot keeps running and resumes when it is back.
  const stop = await life.untilStopped(bot.failed);
  if (stop.kind === 'failed') {
    await life.release();
    writeErrorLine(`crisp-mcp: ${stop.error.message}`);
    return 1;
  }
  log.info({ signal: stop.kind === 'signal' ? stop.signal : undefined }, 'stopping: finishing the conversations in flight');
  const clean = await life.release();
  log.info(bot.autopilot.stats(), 'stopped');
  return clean ? 0 : 1;
}

/**
 * Reads each allowed website's first page of conversations once: a refusal that names a setting to
 * fix comes back as the line to print. Anything else (Crisp busy or unreachable) is not a reason to
 * stay down: the catch-up and each conversation retry and log on their own.
 */
export async function websiteRefused(crisp: Pick<CrispClient, 'conversations'>, websites: readonly string[]): Promise<string | undefined> {
  for (const website of websites) {
    const answer = await websiteRefusal(crisp, website);
    if (answer && 'refused' in answer) return `the bot cannot work website ${website}: ${answer.refused}`;
  }
  return undefined;
}

function usageError(message: string): number {
  writeErrorLine(`crisp-mcp: ${message}`);
  return 2;
}
