// The start-up anchor for bench/startup: the bare SDK v2 over stdio with one no-op tool, nothing of
// ours loaded. Whatever `crisp-mcp serve` takes above this to answer tools/list is ours.
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

serveStdio(() => {
  const s = new McpServer({ name: 'bare', version: '1' });
  s.registerTool('noop', { inputSchema: z.object({ text: z.string() }) }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  return s;
});
