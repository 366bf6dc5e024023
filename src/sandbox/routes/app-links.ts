// The sandbox's stand-in for the Crisp app's conversation link (`/website/{id}/inbox/{session}/`,
// the `url` tools give out), so a link an agent hands a human opens something when the sandbox
// plays Crisp: a read-only page with the conversation's state, visitor and messages.
import type { ServerResponse } from 'node:http';
import type { SandboxState } from '../state.js';

const LINK = /^\/website\/([^/]+)\/inbox\/([^/]+)\/?$/;

/** Answers the request if it is a conversation link; false when the path is not one. */
export function serveAppLink(state: SandboxState, path: string, res: ServerResponse): boolean {
  const match = LINK.exec(path);
  if (!match) return false;
  const [website, session] = [decode(match[1]!), decode(match[2]!)];
  const conversation = website !== undefined && session !== undefined ? state.websites.get(website)?.conversations.get(session) : undefined;
  if (!conversation) {
    page(res, 404, 'Conversation not found', '<p>No such conversation in this sandbox.</p>');
    return true;
  }
  const messages = state.websites.get(website!)!.messages.get(session!) ?? [];
  const rows = messages
    .slice(-50)
    .map((m) => `<li><b>${escape(m.from === 'user' ? 'visitor' : (m.user?.nickname ?? 'operator'))}</b> ${escape(typeof m.content === 'string' ? m.content : `[${m.type}]`)}</li>`)
    .join('');
  const visitor = `${escape(conversation.meta?.nickname ?? '')} &lt;${escape(conversation.meta?.email ?? '')}&gt;`;
  page(res, 200, `Conversation ${session}`, `<p>State: <b>${escape(conversation.state)}</b> · Visitor: ${visitor}</p><ol>${rows}</ol>`);
  return true;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><meta charset="utf-8"><title>${escape(title)}</title><h1>${escape(title)}</h1>${body}<p><small>crisp-mcp sandbox</small></p>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'content-security-policy': "default-src 'none'" });
  res.end(html);
}
