// `crisp-mcp [serve]`: config → Crisp client (or the embedded sandbox) → MCP over stdio, or over
// Streamable HTTP with --http (http.ts). In stdio mode stdout carries only MCP; everything else goes
// to the stderr log, where HTTP mode also logs the URL it serves.
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { CrispClient } from '../crisp/client.js';
import { ConfigError, parseServeFlags, type Config, type HttpConfig } from '../config.js';
import { resolveWithKeychain } from '../credentials/resolve.js';
import { registerSecret } from '../credentials/redact.js';
import { createLogger } from '../log.js';
import { useConfirmationSecret } from '../mcp/confirm.js';
import { Guard } from '../mcp/guard.js';
import { buildServer, toolsFor } from '../mcp/server.js';
import { SelectionError, type AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';
import { defaultScenariosDir, loadScenarioLibrary, ScenarioLibraryError, type ScenarioLibrary } from '../bot/library.js';
import { openStore, StoreError, type Store } from '../scenario/store/index.js';
import { startSandbox, type Sandbox } from '../sandbox/server.js';
import { startHttpServer, type HttpServerHandle } from './http.js';

export async function runServeCommand(argv: string[]): Promise<number> {
  const log = createLogger();
  let config: Config;
  let tools;
  let explicitStore = false;
  try {
    const flags = parseServeFlags(argv);
    explicitStore = flags.store !== undefined || !!process.env.CRISP_MCP_STORE?.trim();
    config = await resolveWithKeychain(flags);
    tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SelectionError) {
      process.stderr.write(`crisp-mcp: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const stateSecret = process.env.CRISP_MCP_STATE_SECRET?.trim();
  if (stateSecret) {
    registerSecret(stateSecret);
    useConfirmationSecret(stateSecret);
  }

  let sandbox: Sandbox | undefined;
  if (config.sandbox) {
    sandbox = await startSandbox({ seed: 42 });
    const credential = sandbox.credentials[0]!;
    registerSecret(credential.key, credential.identifier);
    config = { ...config, apiUrl: sandbox.url, credentials: { ...credential, source: 'sandbox' }, websites: [sandbox.websiteId] };
    log.info({ url: sandbox.url, website_id: sandbox.websiteId }, 'embedded Crisp sandbox started');
  }
  const { identifier, key, tier } = config.credentials!;
  const crisp = new CrispClient({ baseUrl: config.apiUrl, credentials: { identifier, key, tier }, onRetry: (e) => log.debug({ retry: e }, 'retrying Crisp call') });
  // Scenarios are compiled once here, at boot; a file that does not compile stops the start-up.
  let scenarios: ScenarioLibrary | undefined;
  let store: Store | undefined;
  try {
    const dir = config.scenariosDir ?? defaultScenariosDir();
    scenarios = dir ? await loadScenarioLibrary(dir) : undefined;
    // The sandbox's inbox lives in memory, so by default its scenario state does too: positions saved
    // for a throwaway inbox must not land in (or resume from) the real state file.
    store = scenarios ? await openStore(config.sandbox && !explicitStore ? { kind: 'memory' } : config.store) : undefined;
  } catch (error) {
    if (error instanceof ScenarioLibraryError || error instanceof StoreError) {
      process.stderr.write(`crisp-mcp: ${error.message}\n`);
      await crisp.close();
      await sandbox?.close();
      return 2;
    }
    throw error;
  }
  if (scenarios) log.info({ scenarios: scenarios.names(), store: store?.where }, 'scenarios loaded');
  const deps: ToolDeps = { crisp, guard: new Guard(config.websites), config, log, scenarios, store };
  tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools }, deps);

  if (config.http) {
    const code = await serveHttp(config.http, tools, deps);
    await store?.close();
    await crisp.close();
    await sandbox?.close();
    if (code === 0) log.info('stopped');
    return code;
  }

  const handle = serveStdio(() => buildServer(tools, deps), { onerror: (error) => log.error({ err: error }, 'stdio transport error') });
  log.info({ tools: tools.map((t) => t.name), websites: config.websites, sendMode: config.sendMode, readOnly: config.readOnly }, 'crisp-mcp serving over stdio');

  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await handle.close();
  await store?.close();
  await crisp.close();
  await sandbox?.close();
  return 0;
}

/** Serves until SIGTERM/SIGINT, then lets calls in flight finish; 2 when the address cannot be bound. */
async function serveHttp(http: HttpConfig, tools: AnyTool<ToolDeps>[], deps: ToolDeps): Promise<number> {
  const { host, port, tokens, allowedHosts, crispAgent } = http;
  for (const secret of [...tokens, crispAgent?.secret ?? '']) registerSecret(secret);
  let server: HttpServerHandle;
  try {
    server = await startHttpServer({ host, port, tools, deps, tokens, allowedHosts, crispAgent });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw error;
    process.stderr.write(`crisp-mcp: cannot listen on ${host}:${port} (${code}): choose another --port or --host\n`);
    return 2;
  }
  const { config, log } = deps;
  const auth = [tokens.length > 0 ? `bearer (${tokens.length} token${tokens.length > 1 ? 's' : ''})` : crispAgent ? '' : 'none (loopback only)', crispAgent ? 'Crisp agent signatures' : ''];
  log.info(
    { url: server.url, tools: tools.map((t) => t.name), websites: config.websites, sendMode: config.sendMode, readOnly: config.readOnly, auth: auth.filter(Boolean).join(' + ') },
    'crisp-mcp serving over Streamable HTTP',
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second signal does not wait for the calls in flight.
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  log.info({ signal, in_flight: server.inFlight }, 'stopping: finishing calls in flight');
  await server.close();
  return 0;
}
