// The sandbox console: the inbox on the left, one conversation on the right, kept current by the
// sandbox's event stream (each event redraws what it touches; nothing polls). The open
// conversation is in the URL's hash, so a reload or a shared link opens it again.
import { SandboxApi, type Operator, type SandboxEvent } from './api.js';
import { el } from './dom.js';
import { listKeys, renderInbox } from './inbox.js';
import { openConversation, type ConversationView } from './thread.js';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function start(): Promise<void> {
  const api = await SandboxApi.connect();
  const operators: Operator[] = await api.operators();
  const list = byId<HTMLUListElement>('conversations');
  const filter = byId<HTMLSelectElement>('filter');
  const pane = byId<HTMLElement>('conversation');
  const live = byId<HTMLElement>('live');
  byId('website').textContent = `website ${api.websiteId}`;
  let view: ConversationView | undefined;

  const report = (error: unknown) => {
    pane.querySelector('.error')?.remove();
    pane.prepend(el('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error)));
  };

  const refreshInbox = async () => renderInbox(list, await api.conversations(filter.value), operators, view?.sessionId, open);
  const refreshThread = async () => {
    if (!view) return;
    const shown = view;
    const thread = await api.thread(shown.sessionId);
    if (view !== shown) return;
    view.update(thread);
    // Looking at a conversation reads it, as in Crisp's app (the answer's event redraws once more, then it settles).
    if ((thread.conversation.unread?.operator ?? 0) > 0) await api.readAsOperator(shown.sessionId);
  };

  function open(sessionId: string): void {
    if (location.hash !== `#${sessionId}`) history.replaceState(null, '', `#${sessionId}`);
    view = openConversation(pane, api, sessionId, operators, report);
    void Promise.all([refreshThread(), refreshInbox()]).catch(report);
  }

  // Events come in bursts (a bot turn is several); one redraw per burst.
  let pending: { inbox: boolean; thread: boolean } | undefined;
  const onEvent = (event: SandboxEvent) => {
    if (event.website_id !== api.websiteId) return;
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
  api.events(onEvent, (on) => {
    live.textContent = on ? 'live' : 'reconnecting…';
    live.classList.toggle('on', on);
    // After a gap, events may have been missed: read everything again.
    if (on) void Promise.all([refreshInbox(), refreshThread()]).catch(report);
  });

  filter.addEventListener('change', () => void refreshInbox().catch(report));
  byId('new-conversation').addEventListener('click', () =>
    void api
      .startConversation()
      .then((sessionId) => {
        open(sessionId);
        byId<HTMLTextAreaElement>('visitor-text').focus();
      })
      .catch(report),
  );
  listKeys(list);
  const initial = decodeURIComponent(location.hash.slice(1));
  if (initial) open(initial);
  else await refreshInbox();
}

start().catch((error: unknown) => {
  document.body.append(el('p', { class: 'error', role: 'alert' }, `The console could not start: ${error instanceof Error ? error.message : String(error)}`));
});
