// The inbox column: one button per conversation (state, unread count, assignee, last message,
// time), newest activity first. The list is one stop for Tab (the open conversation's button, or
// the first); ↑/↓, j/k, Home and End move between conversations, so the composers are a few Tabs
// away however long the inbox is.
import type { Conversation, Operator } from './api.js';
import { el, shortTime } from './dom.js';

export function renderInbox(list: HTMLUListElement, conversations: Conversation[], operators: Operator[], current: string | undefined, state: string, open: (sessionId: string) => void): void {
  const focused = (document.activeElement as HTMLElement | null)?.closest('li')?.dataset.session;
  const names = new Map(operators.map((o) => [o.user_id, o.nickname]));
  if (conversations.length === 0) {
    list.replaceChildren(el('li', { class: 'none' }, state ? `No ${state} conversation.` : 'No conversation yet: start one as a new visitor.'));
    return;
  }
  const tabStop = [focused, current].find((id) => id && conversations.some((c) => c.session_id === id)) ?? conversations[0]!.session_id;
  list.replaceChildren(
    ...conversations.map((c) => {
      const unread = c.unread?.operator ?? 0;
      const assignee = c.assigned ? (names.get(c.assigned.user_id) ?? c.assigned.user_id) : undefined;
      const last = c.preview_message?.excerpt || c.last_message || '(no message yet)';
      const button = el(
        'button',
        { type: 'button', 'aria-current': c.session_id === current ? 'true' : undefined, tabindex: c.session_id === tabStop ? '0' : '-1' },
        el('span', { class: 'row' }, el('span', { class: 'name', dir: 'auto' }, c.meta?.nickname || c.session_id), el('span', { class: `badge ${c.state}` }, c.state), unread > 0 && el('span', { class: 'badge unread' }, String(unread), el('span', { class: 'visually-hidden' }, ' unread')), el('span', { class: 'time' }, shortTime(c.updated_at))),
        el('span', { class: 'last', dir: 'auto' }, `${c.preview_message?.from === 'operator' ? '↩ ' : ''}${last}`),
        assignee && el('span', { class: 'last' }, `assigned to ${assignee}`),
      );
      button.addEventListener('click', () => open(c.session_id));
      return el('li', { 'data-session': c.session_id, class: c.session_id === current ? 'current' : undefined }, button);
    }),
  );
  if (focused) list.querySelector<HTMLButtonElement>(`li[data-session="${CSS.escape(focused)}"] button`)?.focus();
}

/** ↑/↓ (and j/k), Home and End move the focus, and the list's one Tab stop with it. */
export function listKeys(list: HTMLUListElement): void {
  list.addEventListener('keydown', (event) => {
    const buttons = [...list.querySelectorAll<HTMLButtonElement>('button')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const moves: Record<string, number> = { ArrowDown: at + 1, j: at + 1, ArrowUp: at - 1, k: at - 1, Home: 0, End: buttons.length - 1 };
    const to = moves[event.key];
    if (to === undefined || at === -1) return;
    const target = buttons[Math.min(buttons.length - 1, Math.max(0, to))];
    if (!target) return;
    for (const button of buttons) button.tabIndex = button === target ? 0 : -1;
    target.focus();
    event.preventDefault();
  });
}
