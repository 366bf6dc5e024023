// MCP over stdio: one McpServer from the same factory as HTTP, served until stdin ends or the
// process is asked to stop. stdout carries only MCP; logs go to stderr.
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../log.js';
import { buildServer } from '../mcp/server.js';
import type { AnyTool } from '../mcp/tools/define.js';
import type { ToolDeps } from '../mcp/tools/deps.js';

/** Serves until stdin closes or SIGINT/SIGTERM, then closes the transport. */
export async function serveStdioUntilStopped(tools: readonly AnyTool<ToolDeps>[], deps: ToolDeps, log: Logger): Promise<void> {
  const handle = serveStdio(() => buildServer(tools, deps), { onerror: (error) => log.error({ err: error }, 'stdio transport error') });
  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await handle.close();
}
