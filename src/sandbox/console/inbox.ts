// The inbox column: one button per conversation (state, unread count, assignee, last message,
// time), newest activity first. Arrow keys move between conversations.
import type { Conversation, Operator } from './api.js';
import { el, shortTime } from './dom.js';

export function renderInbox(list: HTMLUListElement, conversations: Conversation[], operators: Operator[], current: string | undefined, open: (sessionId: string) => void): void {
  const focused = (document.activeElement as HTMLElement | null)?.closest('li')?.dataset.session;
  const names = new Map(operators.map((o) => [o.user_id, o.nickname]));
  list.replaceChildren(
    ...conversations.map((c) => {
      const unread = c.unread?.operator ?? 0;
      const assignee = c.assigned ? (names.get(c.assigned.user_id) ?? c.assigned.user_id) : undefined;
      const last = c.preview_message?.excerpt || c.last_message || '(no message yet)';
      const button = el(
        'button',
        { type: 'button', 'aria-current': c.session_id === current ? 'true' : undefined },
        el('span', { class: 'row' }, el('span', { class: 'name' }, c.meta?.nickname || c.session_id), el('span', { class: `badge ${c.state}` }, c.state), unread > 0 && el('span', { class: 'badge unread', title: 'unread' }, String(unread)), el('span', { class: 'time' }, shortTime(c.updated_at))),
        el('span', { class: 'last' }, `${c.preview_message?.from === 'operator' ? '↩ ' : ''}${last}`),
        assignee && el('span', { class: 'last' }, `assigned to ${assignee}`),
      );
      button.addEventListener('click', () => open(c.session_id));
      return el('li', { 'data-session': c.session_id, class: c.session_id === current ? 'current' : undefined }, button);
    }),
  );
  if (focused) list.querySelector<HTMLButtonElement>(`li[data-session="${CSS.escape(focused)}"] button`)?.focus();
}

/** ↑/↓ (and j/k) move the focus through the list. */
export function listKeys(list: HTMLUListElement): void {
  list.addEventListener('keydown', (event) => {
    const step = event.key === 'ArrowDown' || event.key === 'j' ? 1 : event.key === 'ArrowUp' || event.key === 'k' ? -1 : 0;
    if (step === 0) return;
    const buttons = [...list.querySelectorAll<HTMLButtonElement>('button')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    buttons[Math.min(buttons.length - 1, Math.max(0, at + step))]?.focus();
    event.preventDefault();
  });
}
