// The sandbox console: the inbox on the left, one conversation on the right, kept current by the
// sandbox's event stream (each event redraws what it touches; nothing polls). The open
// conversation is in the URL's hash, so a reload, a shared link, the back button or a link to
// another conversation (the Crisp app links redirect to `/#session_…`) opens it.
import { SandboxApi, SandboxError, type Operator, type SandboxEvent } from './api.js';
import { el } from './dom.js';
import { listKeys, renderInbox } from './inbox.js';
import { openConversation, type ConversationView, type Problems } from './thread.js';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** How long the event stream may be down before the page says the sandbox is gone (a blip is not worth a banner). */
const OFFLINE_AFTER_MS = 3_000;

/** The one place a problem shows: under the header, in words, until what failed works again. */
function problemBar(bar: HTMLElement): Problems {
  return {
    show(error) {
      bar.textContent = error instanceof Error ? error.message : String(error);
      bar.hidden = false;
    },
    clear() {
      bar.hidden = true;
      bar.textContent = '';
    },
  };
}

async function start(problems: Problems): Promise<void> {
  const api = await SandboxApi.connect();
  const operators: Operator[] = await api.operators();
  const list = byId<HTMLUListElement>('conversations');
  const filter = byId<HTMLSelectElement>('filter');
  const pane = byId<HTMLElement>('conversation');
  const live = byId<HTMLElement>('live');
  const placeholder = [...pane.childNodes];
  showWebsites(api);
  let view: ConversationView | undefined;
  const report = (error: unknown) => problems.show(error);

  // Reads overlap (a burst of events, a filter changed twice) and their answers can come back in
  // any order: only the newest read draws, so a late answer never puts back what a newer one showed.
  let inboxReads = 0;
  let threadReads = 0;
  const refreshInbox = async () => {
    const read = ++inboxReads;
    const conversations = await api.conversations(filter.value);
    if (read === inboxReads) renderInbox(list, conversations, operators, view?.sessionId, filter.value, (id) => open(id, 'push'));
  };
  const refreshThread = async () => {
    if (!view) return;
    const shown = view;
    const read = ++threadReads;
    let thread;
    try {
      thread = await api.thread(shown.sessionId);
    } catch (error) {
      // A read for a view no longer shown (another conversation opened, this one deleted) is moot.
      if (view !== shown || read !== threadReads) return;
      if (error instanceof SandboxError && error.reason === 'not_found') return gone(shown.sessionId);
      throw error;
    }
    if (view !== shown || read !== threadReads) return;
    view.update(thread);
    // Looking at a conversation reads it, as in Crisp's app (the answer's event redraws once more, then it settles).
    if ((thread.conversation.unread?.operator ?? 0) > 0) await api.readAsOperator(shown.sessionId);
  };

  /**
   * The open conversation is not there: deleted while open (its `session:removed` came), or the
   * hash names one this sandbox does not have (a stale link, or the sandbox restarted or was reset).
   */
  function gone(sessionId: string, removed = false): void {
    view = undefined;
    const why = removed
      ? `Conversation ${sessionId} was deleted (session:removed: through Crisp's REST API, by an agent or a script).`
      : `Conversation ${sessionId} is not in this sandbox. The sandbox keeps its inbox in memory, so after a restart or a reset (POST /_sandbox/reset) it starts again from its demo data.`;
    pane.replaceChildren(el('p', { class: 'empty', role: 'status' }, `${why} Pick a conversation from the inbox, or start one as a new visitor.`));
    void refreshInbox().catch(report);
  }

  function close(): void {
    view = undefined;
    pane.replaceChildren(...placeholder.map((node) => node.cloneNode(true)));
    void refreshInbox().catch(report);
  }

  /** Shows a conversation; `push` makes it a step the back button returns from. */
  function open(sessionId: string, history: 'push' | 'keep'): void {
    if (history === 'push' && location.hash !== `#${sessionId}`) window.history.pushState(null, '', `#${sessionId}`);
    // The one already open is only read again: rebuilt, it would lose the focus.
    if (view?.sessionId !== sessionId) view = openConversation(pane, api, sessionId, operators, problems);
    void Promise.all([refreshThread(), refreshInbox()]).catch(report);
  }

  const followHash = () => {
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (!wanted) close();
    else if (wanted !== view?.sessionId) open(wanted, 'keep');
  };
  window.addEventListener('hashchange', followHash);
  window.addEventListener('popstate', followHash);

  // Events come in bursts (a bot turn is several); one redraw per burst.
  let pending: { inbox: boolean; thread: boolean } | undefined;
  const onEvent = (event: SandboxEvent) => {
    if (event.website_id !== api.websiteId) return;
    if (event.event === 'session:removed' && view && event.data.session_id === view.sessionId) gone(view.sessionId, true);
    pending ??= { inbox: false, thread: false };
    pending.inbox = true;
    if (view && event.data.session_id === view.sessionId) pending.thread = true;
    setTimeout(() => {
      const due = pending;
      pending = undefined;
      if (!due) return;
      if (due.inbox) void refreshInbox().catch(report);
      if (due.thread) void refreshThread().catch(report);
    }, 30);
  };
  let offline: ReturnType<typeof setTimeout> | undefined;
  let lost = false;
  // Reset to its demo data: what the page shows may all be gone, as after a restart.
  const onReset = () => void Promise.all([refreshInbox(), refreshThread()]).catch(report);
  api.events(onEvent, (on) => {
    live.textContent = on ? 'live' : lost ? 'offline, retrying…' : 'reconnecting…';
    live.classList.toggle('on', on);
    if (on) {
      clearTimeout(offline);
      offline = undefined;
      lost = false;
      // After a gap, events may have been missed (or the sandbox restarted with its demo data): read
      // everything again. What failed while it was away is past once that works.
      void Promise.all([refreshInbox(), refreshThread()]).then(() => problems.clear(), report);
      return;
    }
    offline ??= setTimeout(() => {
      lost = true;
      live.textContent = 'offline, retrying…';
      problems.show(
        `Lost the sandbox at ${location.origin}; retrying every second. If you restarted \`serve --sandbox\` or \`bot --sandbox\`, it listens on a new port: open the console URL it printed.`,
      );
    }, OFFLINE_AFTER_MS);
  }, onReset);

  filter.addEventListener('change', () => void refreshInbox().catch(report));
  byId('new-conversation').addEventListener('click', () =>
    void api
      .startConversation()
      .then((sessionId) => {
        problems.clear();
        open(sessionId, 'push');
        byId<HTMLTextAreaElement>('visitor-text').focus();
      })
      .catch(report),
  );
  listKeys(list);
  const initial = decodeURIComponent(location.hash.slice(1));
  if (initial) open(initial, 'keep');
  else await refreshInbox();
}

const problems = problemBar(byId('problem'));
start(problems).catch((error: unknown) => problems.show(`The console could not start: ${error instanceof Error ? error.message : String(error)}`));

/** The website shown; with several (`sandbox --websites N`), the others as links that open their inbox. */
function showWebsites(api: SandboxApi): void {
  const here = byId('website');
  const current = api.websites.find((w) => w.website_id === api.websiteId);
  here.textContent = `website ${current ? `${current.name} ` : ''}${api.websiteId}`;
  // A link naming a website this sandbox does not have (another sandbox's, a typo) opens the default
  // inbox: the header says so, where it stays (the problem bar clears once the event stream is up).
  const asked = new URLSearchParams(location.search).get('website');
  if (asked && asked.toLowerCase() !== api.websiteId) here.prepend(el('strong', { class: 'not-found', role: 'alert' }, `no website ${asked} in this sandbox, so: `));
  for (const other of api.websites.filter((w) => w.website_id !== api.websiteId)) {
    here.append(' · ', el('a', { href: `/?website=${encodeURIComponent(other.website_id)}` }, other.name));
  }
}
