// The fair anchor for bench/mcp-http: the bare SDK v2 over HTTP (as bare-http-server.js) whose one
// tool makes the same two Crisp requests as list_operators — the operators and their availability,
// in parallel — with plain fetch, and returns the operators as text. No output schema, no guard, no
// Host/Origin/token checks, no retries. Our server's cost above this is ours, not the round trips.
// Crisp's URL, token pair and website come from CRISP_API_URL, CRISP_IDENTIFIER, CRISP_KEY,
// CRISP_TIER and CRISP_WEBSITE_ID. Prints its URL.
import { createServer } from 'node:http';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

const e = process.env;
const headers = {
  authorization: `Basic ${Buffer.from(`${e.CRISP_IDENTIFIER}:${e.CRISP_KEY}`).toString('base64')}`,
  'x-crisp-tier': e.CRISP_TIER ?? 'plugin',
  'user-agent': 'bare-anchor/1',
};
const get = async (path) => {
  const res = await fetch(`${e.CRISP_API_URL}/v1/website/${e.CRISP_WEBSITE_ID}/${path}`, { headers });
  const body = await res.json();
  if (!res.ok || body.error) throw new Error(`${res.status} ${body.reason}`);
  return body.data;
};

const input = z.object({ website_id: z.string().optional() });
const handler = createMcpHandler(() => {
  const s = new McpServer({ name: 'bare-crisp', version: '1' });
  s.registerTool('list_operators', { inputSchema: input }, async () => {
    const [operators, availability] = await Promise.all([get('operators/list'), get('availability/operators')]);
    const text = operators.map((o) => `${o.details?.user_id} ${o.details?.email} ${availability.find((a) => a.user_id === o.details?.user_id)?.type ?? 'offline'}`).join('\n');
    return { content: [{ type: 'text', text }] };
  });
  return s;
});
const node = toNodeHandler(handler);
const server = createServer((req, res) => void node(req, res));
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
