// The anchor for bench/mcp-http: the bare SDK v2 over HTTP — createMcpHandler on node:http with the
// default stateless legacy leg, one no-op tool (input schema only), no Host/Origin/token checks, no
// Crisp call. Whatever our server costs above it is ours plus the Crisp round trip. Prints its URL.
import { createServer } from 'node:http';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

const input = z.object({ website_id: z.string().optional() });
const handler = createMcpHandler(() => {
  const s = new McpServer({ name: 'bare', version: '1' });
  s.registerTool('list_operators', { inputSchema: input }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
  return s;
});
const node = toNodeHandler(handler);
const server = createServer((req, res) => void node(req, res));
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
