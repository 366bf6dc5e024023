// `crisp-mcp [serve]`: config → Crisp client (or the embedded sandbox) → MCP over stdio.
// In stdio mode stdout carries only MCP; everything else goes to the stderr log.
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { CrispClient } from '../crisp/client.js';
import { ConfigError, parseServeFlags, type Config } from '../config.js';
import { resolveWithKeychain } from '../credentials/resolve.js';
import { registerSecret } from '../credentials/redact.js';
import { createLogger } from '../log.js';
import { Guard } from '../mcp/guard.js';
import { buildServer, toolsFor } from '../mcp/server.js';
import { SelectionError } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';
import { startSandbox, type Sandbox } from '../sandbox/server.js';

export async function runServeCommand(argv: string[]): Promise<number> {
  const log = createLogger();
  let config: Config;
  let tools;
  try {
    config = await resolveWithKeychain(parseServeFlags(argv));
    tools = toolsFor({ readOnly: config.readOnly, toolsets: config.toolsets, tools: config.tools, exclude: config.excludeTools });
    if (config.http) throw new ConfigError('--http is not available yet in this version; use stdio (the default)');
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SelectionError) {
      process.stderr.write(`crisp-mcp: ${error.message}\n`);
      return 2;
    }
    throw error;
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
  const deps: ToolDeps = { crisp, guard: new Guard(config.websites), config, log };

  const handle = serveStdio(() => buildServer(tools, deps), { onerror: (error) => log.error({ err: error }, 'stdio transport error') });
  log.info({ tools: tools.map((t) => t.name), websites: config.websites, sendMode: config.sendMode, readOnly: config.readOnly }, 'crisp-mcp serving over stdio');

  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await handle.close();
  await crisp.close();
  await sandbox?.close();
  return 0;
}
