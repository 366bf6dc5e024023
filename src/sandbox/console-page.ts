// What the sandbox serves to a browser: the console page at `/`, its scripts (compiled from
// ./console/ by `npm run build`, read from disk on first request, so nothing of the console loads
// until a browser asks), and `/_sandbox/events`, the sandbox's events as Server-Sent Events.
// Only for a browser on this machine: the request must come from loopback and name a loopback
// host (a page elsewhere cannot rebind a DNS name onto the sandbox and read the inbox).
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxEvent, SandboxState } from './state.js';

const SCRIPTS = new URL('./console/', import.meta.url);
const SCRIPT_NAME = /^[a-z][a-z0-9-]*\.js$/;
const HEARTBEAT_MS = 15_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Answers the request if it is the console's (page, script, event stream); false for any other path. */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, url: URL, state: SandboxState): Promise<boolean> {
  const isPage = url.pathname === '/' || url.pathname === '/index.html';
  const isScript = url.pathname.startsWith('/_sandbox/console/');
  const isEvents = url.pathname === '/_sandbox/events';
  if (!isPage && !isScript && !isEvents) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'GET only'), true;
  if (!fromThisMachine(req)) return plain(res, 403, `the sandbox console is only served to a browser on this machine (loopback)${openInstead(req)}`), true;
  if (isEvents) return streamEvents(req, res, state), true;
  if (isPage) return send(res, 200, 'text/html; charset=utf-8', PAGE), true;
  if (url.pathname === '/_sandbox/console/console.css') return send(res, 200, 'text/css; charset=utf-8', STYLE), true;
  const name = url.pathname.slice('/_sandbox/console/'.length);
  if (!SCRIPT_NAME.test(name)) return plain(res, 404, 'no such console file'), true;
  try {
    send(res, 200, 'text/javascript; charset=utf-8', await readFile(new URL(name, SCRIPTS)));
  } catch {
    plain(res, 404, `no console script ${name} (run \`npm run build\`)`);
  }
  return true;
}

/** A request from loopback that names a loopback host (a DNS-rebound name does not). */
export function fromThisMachine(req: IncomingMessage): boolean {
  return isLoopback(req.socket.remoteAddress) && LOOPBACK_HOSTS.has(hostOf(req));
}

/** Where to open the console instead, when the browser is on this machine but named another host (`0.0.0.0`, a LAN name). */
function openInstead(req: IncomingMessage): string {
  if (!isLoopback(req.socket.remoteAddress)) return '';
  return `: open http://${req.socket.localAddress === '::1' ? '[::1]' : '127.0.0.1'}:${req.socket.localPort}/`;
}

function isLoopback(address = ''): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The Host header's name, without its port, in lower case. */
function hostOf(req: IncomingMessage): string {
  return (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
}

/**
 * Why a request to a `/_sandbox/` route (reset, faults, RTM drops, the visitor's side) is refused,
 * or undefined. Those routes answer scripts, which send no Origin, and the console, which is served
 * only to this machine: a request with any other Origin is a page elsewhere in the user's browser
 * (a form or a no-cors fetch needs no CORS preflight, and `sandbox` listens on a known port, 8788).
 * A request that reached a loopback address under another host name is a DNS-rebound page.
 */
export function foreignPageRefusal(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try {
      host = new URL(origin).hostname.toLowerCase();
    } catch {
      host = '';
    }
    if (!LOOPBACK_HOSTS.has(host)) return `the /_sandbox/ routes answer scripts and the sandbox's own console, not a page from ${origin.slice(0, 200)}`;
  }
  const host = hostOf(req);
  if (isLoopback(req.socket.localAddress) && !LOOPBACK_HOSTS.has(host)) return `the sandbox listens on this machine only: its /_sandbox/ routes answer the host names localhost, 127.0.0.1 and [::1], not ${JSON.stringify(host.slice(0, 200))}`;
  return undefined;
}

function streamEvents(req: IncomingMessage, res: ServerResponse, state: SandboxState): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  // Reconnect quickly after the sandbox restarts; the first comment flushes the headers.
  res.write('retry: 1000\n: connected\n\n');
  const relay = (event: SandboxEvent) => res.write(`data: ${JSON.stringify({ event: event.event, website_id: event.website_id, data: event.data })}\n\n`);
  // A named event: the page's onmessage never mistakes it for one of Crisp's.
  const reset = () => res.write('event: reset\ndata: {}\n\n');
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  state.on('event', relay);
  state.on('reset', reset);
  req.once('close', () => {
    clearInterval(heartbeat);
    state.off('event', relay);
    state.off('reset', reset);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Everything comes from the sandbox itself: no CDN, no inline script.
    'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  });
  res.end(body);
}

function plain(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crisp sandbox console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_sandbox/console/console.css">
<script type="module" src="/_sandbox/console/main.js"></script>
</head>
<body>
<header class="top">
  <h1>Crisp sandbox</h1>
  <span id="website" class="muted"></span>
  <span id="live" class="live" role="status" aria-live="polite">connecting…</span>
</header>
<p id="problem" class="error" role="alert" hidden></p>
<main class="layout">
  <section class="inbox" aria-label="Inbox">
    <div class="inbox-tools">
      <label for="filter">State</label>
      <select id="filter">
        <option value="">all</option><option value="pending">pending</option>
        <option value="unresolved">unresolved</option><option value="resolved">resolved</option>
      </select>
      <button id="new-conversation" type="button">New visitor conversation</button>
    </div>
    <ul id="conversations" class="conversations" aria-label="Conversations"></ul>
  </section>
  <section id="conversation" class="conversation" aria-label="Conversation">
    <p class="empty">Pick a conversation, or start one as a new visitor.</p>
  </section>
</main>
</body>
</html>
`;

const STYLE = `:root { color-scheme: light; --line: #d9dee5; --muted: #5b6573; --visitor: #f1f3f6; --operator: #1560d6; --bot: #6d3fd1; --note: #fff4c2; font: 15px/1.4 system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; color: #1c2430; }
.top { display: flex; gap: 1rem; align-items: baseline; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.1rem; margin: 0; }
.muted { color: var(--muted); font-size: .85rem; }
.live { margin-left: auto; font-size: .85rem; color: var(--muted); }
.live.on::before { content: "● " / ""; color: #1a9c4a; }
.layout { flex: 1; display: grid; grid-template-columns: minmax(260px, 340px) minmax(0, 1fr); min-height: 0; }
.layout > * { min-width: 0; }
.inbox { border-right: 1px solid var(--line); display: flex; flex-direction: column; min-height: 0; }
.inbox-tools { display: flex; gap: .5rem; align-items: center; padding: .5rem; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
.conversations { list-style: none; margin: 0; padding: 0; overflow-y: auto; }
.conversations button { all: unset; display: block; width: 100%; padding: .55rem .75rem; border-bottom: 1px solid var(--line); cursor: pointer; box-sizing: border-box; }
.conversations button:focus-visible, button:focus-visible, select:focus-visible, textarea:focus-visible, a:focus-visible { outline: 2px solid var(--operator); outline-offset: 1px; }
.conversations li.current button { background: #e8f0fe; }
.row { display: flex; gap: .5rem; align-items: baseline; }
.row .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .time { margin-left: auto; color: var(--muted); font-size: .8rem; white-space: nowrap; }
.last { display: block; color: var(--muted); font-size: .85rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.badge { font-size: .72rem; padding: 0 .4rem; border-radius: 1rem; background: var(--visitor); }
.badge.pending { background: #ffe3c2; } .badge.unresolved { background: #d7e7ff; } .badge.resolved { background: #d5f2df; }
.badge.unread { background: #c62828; color: white; }
/* Read by a screen reader, not shown: what a bare number or sign stands for. */
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.conversation { display: grid; grid-template-rows: auto 1fr auto auto; grid-template-columns: minmax(0, 1fr); min-height: 0; }
.conversation .empty { padding: 2rem; color: var(--muted); }
.details { padding: .5rem 1rem; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; }
.details h2 { font-size: 1rem; margin: 0; min-width: 0; overflow-wrap: anywhere; }
.details dl { display: flex; flex-wrap: wrap; gap: 0 1rem; margin: 0; font-size: .85rem; }
.details dt { color: var(--muted); } .details dd { margin: 0 0 0 .25rem; overflow-wrap: anywhere; }
.details .field { display: flex; }
.thread { list-style: none; margin: 0; overflow-y: auto; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
.message { max-width: min(36rem, 85%); padding: .45rem .7rem; border-radius: .6rem; background: var(--visitor); white-space: pre-wrap; overflow-wrap: anywhere; }
.typing { margin: 0; padding: 0 1rem; min-height: 1.3em; font-size: .8rem; color: var(--muted); font-style: italic; }
.conversations .none { padding: 1rem .75rem; color: var(--muted); }
.message .who { display: block; font-size: .75rem; color: var(--muted); }
.message.operator, .message.bot { align-self: flex-end; color: white; }
.message.operator { background: var(--operator); } .message.bot { background: var(--bot); }
.message.operator .who, .message.bot .who { color: #e8eaff; }
.message.note { align-self: flex-end; background: var(--note); color: #3b3000; }
.message.note .who { color: #6b5a00; }
.choices { display: flex; flex-wrap: wrap; gap: .35rem; margin-top: .35rem; }
.message .choices button, .message .choices a { font: inherit; font-size: .85rem; padding: .2rem .6rem; border-radius: 1rem; border: 1px solid white; background: white; color: var(--bot); text-decoration: none; cursor: pointer; }
.message .choices button[aria-pressed="true"] { background: #ffe27a; border-color: #ffe27a; color: #1c2430; }
.choices button:disabled { cursor: default; }
.message a { color: inherit; }
.composers { border-top: 1px solid var(--line); display: grid; grid-template-columns: 1fr 1fr; gap: .5rem; padding: .5rem; }
.composer { display: flex; flex-direction: column; gap: .25rem; }
.composer label { font-size: .8rem; color: var(--muted); }
.composer textarea { font: inherit; min-height: 2.6rem; resize: vertical; padding: .35rem; }
.composer .actions { display: flex; gap: .35rem; }
button { font: inherit; padding: .3rem .7rem; }
.error { margin: 0; color: #b42318; background: #fff1f0; border-bottom: 1px solid #f3c1bc; font-size: .85rem; padding: .35rem 1rem; }
[hidden] { display: none !important; } /* author display rules (.details is flex) would show it */
.not-found { color: #b42318; }
@media (max-width: 760px) {
  /* The page scrolls rather than squeezing the inbox and thread into one screen: at 320×256 (400%
     zoom) that left the inbox list 11px and the thread 30px tall. Each keeps a scroll of its own
     below a share of the screen, so the composers stay a short scroll away. */
  body { height: auto; min-height: 100vh; }
  .layout { grid-template-columns: minmax(0, 1fr); grid-template-rows: auto auto; }
  .conversations { max-height: 60vh; min-height: 3.6rem; }
  .thread { max-height: 70vh; min-height: 5rem; }
  .top { flex-wrap: wrap; gap: 0 1rem; } .top h1 { font-size: 1rem; }
  /* Which website this inbox is, and the links to the others, stay: on its own line, under the title. */
  .top #website { order: 1; flex-basis: 100%; overflow-wrap: anywhere; }
  .composers { gap: .25rem; padding: .35rem; }
  .composer { display: grid; grid-template-columns: 1fr auto; gap: .25rem; }
  .composer label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .composer textarea { min-height: 2.2rem; }
  .composer .actions { flex-direction: column; }
  .inbox { border-right: 0; border-bottom: 1px solid var(--line); }
  .composers { grid-template-columns: 1fr; }
}
`;
