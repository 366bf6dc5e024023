// Links the tools hand to humans, answered by the sandbox when it plays Crisp. The Crisp app's
// conversation link (`/website/{id}/inbox/{session}/`,
// the `url` tools give out): a redirect to the sandbox console opened on that conversation
// (`/?website=…#session_…`), so a link an agent hands a human opens when the sandbox plays Crisp. It reveals
// nothing itself: the console decides who may see the inbox (this machine only).
import type { ServerResponse } from 'node:http';
import type { SandboxState } from '../state.js';

const LINK = /^\/website\/([^/]+)\/inbox\/([^/]+)\/?$/;

/** Answers the request if it is a conversation link; false when the path is not one. */
export function serveAppLink(path: string, res: ServerResponse): boolean {
  const match = LINK.exec(path);
  if (!match) return false;
  let website: string;
  let session: string;
  try {
    website = decodeURIComponent(match[1]!);
    session = decodeURIComponent(match[2]!);
  } catch {
    return false;
  }
  // The website too: with several (`sandbox --websites N`), the console opens that website's inbox.
  res.writeHead(302, { location: `/?website=${encodeURIComponent(website)}#${encodeURIComponent(session)}`, 'content-length': 0 });
  res.end();
  return true;
}

const ARTICLE = /^\/helpdesk\/([^/]+)\/([^/]+)\/article\/([^/]+)\/?$/;

/**
 * The public page of a published helpdesk article (the `url` search_helpdesk gives out), as the
 * markdown in a plain page: public at Crisp too, so served to anyone; drafts are not found.
 */
export function serveHelpdeskPage(state: SandboxState, path: string, res: ServerResponse): boolean {
  const match = ARTICLE.exec(path);
  if (!match) return false;
  const [, website, locale, slug] = match.map((part) => safeDecode(part ?? '')) as [string, string, string, string];
  const groups = state.websites.get(website)?.helpdesk;
  const article = groups && Object.hasOwn(groups, locale) ? groups[locale]!.flatMap((g) => g.articles).find((a) => a.slug === slug && a.published) : undefined;
  const [status, title, body] = article ? [200, article.title, article.content] : [404, 'Article not found', 'No published article at this address.'];
  const html = `<!doctype html><html lang="${escapeHtml(locale)}"><meta charset="utf-8"><title>${escapeHtml(title)}</title><pre style="white-space:pre-wrap;font:16px/1.5 system-ui">${escapeHtml(body)}</pre></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'content-security-policy': "default-src 'none'" });
  res.end(html);
  return true;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return '';
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
