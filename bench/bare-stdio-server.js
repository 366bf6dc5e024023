// The anchor for bench/mcp-stdio: the bare SDK v2 over stdio, one tool making the same Crisp call
// with our client (input schema only, no output schema, no guard, no text twin). Whatever our
// server costs above this is ours; the rest is the SDK and the extra process hop.
// A second tool makes the same call and answers as ours does — an output schema, the structured
// result and a one-line text twin beside it — so what that answer costs (the SDK's check of it, its
// encoding, the client's parse) is told apart from what our server adds.
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { CrispClient } from '../dist/crisp/index.js';
const e = process.env;
const crisp = new CrispClient({ baseUrl: e.CRISP_API_URL, credentials: { identifier: e.CRISP_IDENTIFIER, key: e.CRISP_KEY, tier: e.CRISP_TIER } });
const input = z.object({ session_id: z.string(), state: z.string() });
const output = z.object({ session_id: z.string(), state: z.string() });
serveStdio(() => {
  const s = new McpServer({ name: 'bare', version: '1' });
  s.registerTool('set_conversation_state', { inputSchema: input }, async ({ session_id, state }) => {
    await crisp.conversations.setState(e.CRISP_WEBSITE_ID, session_id, state);
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  s.registerTool('set_conversation_state_structured', { inputSchema: input, outputSchema: output }, async ({ session_id, state }) => {
    await crisp.conversations.setState(e.CRISP_WEBSITE_ID, session_id, state);
    return { structuredContent: { session_id, state }, content: [{ type: 'text', text: `${session_id} is now ${state}.` }] };
  });
  return s;
});
