// The bare SDK v2 server of bench/mcp-stdio and bench/mcp-handler: one tool making our Crisp call
// (input schema only, no output schema, no guard, no text twin), and a second making the same call
// and answering as ours does — an output schema, the structured result and a one-line text twin —
// so what that answer costs (the SDK's check of it, its encoding) is told apart from what our server adds.
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const input = z.object({ session_id: z.string(), state: z.string() });
// Ours' answer: visitor_waiting is read only when resolving, and the bench sets `unresolved`.
const output = z.object({ session_id: z.string(), state: z.string(), visitor_waiting: z.boolean() });

/** A fresh bare server whose tools call `crisp.conversations.setState` on `websiteId`. */
export function bareServer(crisp, websiteId) {
  const s = new McpServer({ name: 'bare', version: '1' });
  s.registerTool('set_conversation_state', { inputSchema: input }, async ({ session_id, state }) => {
    await crisp.conversations.setState(websiteId, session_id, state);
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  s.registerTool('set_conversation_state_structured', { inputSchema: input, outputSchema: output }, async ({ session_id, state }) => {
    await crisp.conversations.setState(websiteId, session_id, state);
    return { structuredContent: { session_id, state, visitor_waiting: false }, content: [{ type: 'text', text: `${session_id} is now ${state}.` }] };
  });
  return s;
}
