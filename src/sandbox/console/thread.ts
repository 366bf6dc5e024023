// One conversation: who the visitor is (meta, profile), the state and assignment controls, the
// thread as Crisp shows it, and the two composers (the visitor's and the operator's).
import type { Conversation, Message, Operator, SandboxApi, Thread } from './api.js';
import { el, shortTime } from './dom.js';

interface Choice {
  value: string;
  label: string;
  selected?: boolean;
  action?: { type?: string; target?: string };
}

export interface ConversationView {
  sessionId: string;
  update(thread: Thread): void;
}

/** Where the console tells what failed; cleared once something the user did works again. */
export interface Problems {
  show(error: unknown): void;
  clear(): void;
}

/** Builds the view for one conversation; `update` redraws its details and thread in place, leaving the composers alone. */
export function openConversation(root: HTMLElement, api: SandboxApi, sessionId: string, operators: Operator[], problems: Problems): ConversationView {
  const details = el('div', { class: 'details' });
  // Polite once the history is in (update): a conversation opening would otherwise read all of it out.
  const thread = el('ol', { class: 'thread', 'aria-label': 'Messages', tabindex: '0' });
  const typing = el('p', { class: 'typing', 'aria-live': 'polite' });
  /** Runs what the user asked for; true when it worked, else the problem is shown. */
  const act = (work: () => Promise<unknown>): Promise<boolean> =>
    work().then(
      () => (problems.clear(), true),
      (error: unknown) => (problems.show(error), false),
    );

  const stateSelect = select('state', 'State', ['pending', 'unresolved', 'resolved'].map((s) => [s, s]), (value) => act(() => api.setState(sessionId, value)));
  const assignSelect = select('assignee', 'Assigned to', [['', 'nobody'], ...operators.map((o): [string, string] => [o.user_id, `${o.nickname} (${o.availability})`])], (value) => act(() => api.assign(sessionId, value || null)));
  // Built once and then only filled in: a control taken out of the page and put back loses the focus.
  const heading = el('h2', {});
  const fieldList = el('dl', {});
  details.append(heading, stateSelect.node, assignSelect.node, fieldList);
  details.hidden = true; // until the sandbox has said what to show in them

  const visitor = composer('visitor', 'Write as the visitor', [['Send as visitor', 'visitor-send', (text) => api.writeAsVisitor(sessionId, text)]], act, `${sessionId} visitor`, (typing) => api.composeAsVisitor(sessionId, typing));
  const operator = composer('operator', 'Write as an operator', [
    ['Send as operator', 'operator-send', (text) => api.writeAsOperator(sessionId, 'text', text)],
    ['Add note', 'operator-note', (text) => api.writeAsOperator(sessionId, 'note', text)],
  ], act, `${sessionId} operator`, (typing) => api.composeAsOperator(sessionId, typing));
  root.replaceChildren(details, thread, typing, el('div', { class: 'composers' }, visitor, operator));
  // A typing line goes by itself once its last `start` is too old (whoIsTyping), with no event to redraw it.
  let typingExpiry: ReturnType<typeof setTimeout> | undefined;
  const showTyping = (conversation: Conversation, messages: Message[], visitorName: string) => {
    clearTimeout(typingExpiry);
    const shown = whoIsTyping(conversation, messages, visitorName, Date.now());
    typing.textContent = shown.line;
    if (shown.until !== undefined) typingExpiry = setTimeout(() => showTyping(conversation, messages, visitorName), shown.until - Date.now());
  };

  return {
    sessionId,
    update({ conversation, messages, person }) {
      const meta = conversation.meta ?? {};
      stateSelect.show(conversation.state);
      assignSelect.show(conversation.assigned?.user_id ?? '');
      const fields: Array<[string, string | undefined]> = [
        ['email', meta.email],
        ['phone', meta.phone],
        ['segments', meta.segments?.join(', ')],
        ['data', meta.data && Object.keys(meta.data).length ? JSON.stringify(meta.data) : undefined],
        ['profile', person ? [person.person?.nickname, person.company?.name, person.person?.geolocation?.city].filter(Boolean).join(' · ') : undefined],
        ['session', conversation.session_id],
      ];
      details.hidden = false;
      heading.textContent = meta.nickname || 'Visitor';
      fieldList.replaceChildren(...fields.filter(([, v]) => v).map(([k, v]) => el('div', { class: 'field' }, el('dt', {}, k), el('dd', {}, v!))));
      const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
      syncThread(thread, messages, (m) => messageItem(m, meta.nickname || 'Visitor', (choice) => act(() => api.choose(sessionId, m.fingerprint, choice))));
      thread.setAttribute('aria-live', 'polite');
      showTyping(conversation, messages, meta.nickname || 'The visitor');
      if (atBottom) thread.scrollTop = thread.scrollHeight;
    },
  };
}

/**
 * Brings the list in line with `messages`, touching only what changed: a message already shown
 * keeps its node (and the keyboard focus on its buttons), and the live region announces only
 * what is new.
 */
function syncThread(list: HTMLElement, messages: Message[], render: (m: Message) => HTMLElement): void {
  const shown = new Map([...list.children].map((node) => [(node as HTMLElement).dataset.key, node]));
  let previous: Element | null = null;
  for (const m of messages) {
    // The key changes when the message does (a picker answered, a name changed): then it is redrawn.
    const key = `${m.fingerprint}:${JSON.stringify([m.content, m.user?.nickname])}`;
    let node = shown.get(key);
    shown.delete(key);
    if (!node) {
      node = render(m);
      (node as HTMLElement).dataset.key = key;
    }
    if (node.previousElementSibling !== previous || node.parentElement !== list) {
      if (previous) previous.after(node);
      else list.prepend(node);
    }
    previous = node;
  }
  for (const stale of shown.values()) stale?.remove();
}

/**
 * How long a `start` shows when no `stop` follows (a tab closed mid-typing sends none). Crisp keeps
 * the compose atom; its clients time it out: the web chatbox hides the typing indicator 3 minutes
 * after the `start`, and when it joins a session shows a `start` younger than that for the time
 * left (a Crisp maintainer, crisp-im/crisp-sdk-android#199, 2024-12-16).
 */
const TYPING_SHOWN_MS = 3 * 60_000;

/**
 * "Sam is typing…" while a side's compose atom is a `start` newer than that side's last message (a
 * message ends the typing it was) and younger than TYPING_SHOWN_MS; `until`: when the line changes by itself.
 */
function whoIsTyping(conversation: Conversation, messages: Message[], visitor: string, now: number): { line: string; until?: number } {
  const since = (from: Message['from']) => messages.findLast((m) => m.from === from && m.type !== 'note')?.timestamp ?? 0;
  const { visitor: byVisitor, operator: byOperator } = conversation.compose ?? {};
  const typing = (atom: typeof byVisitor, from: Message['from']) => atom?.type === 'start' && atom.timestamp >= since(from) && now - atom.timestamp < TYPING_SHOWN_MS;
  const shown = [
    typing(byVisitor, 'user') && { name: visitor, until: byVisitor!.timestamp + TYPING_SHOWN_MS },
    typing(byOperator, 'operator') && { name: byOperator!.user?.nickname || 'An operator', until: byOperator!.timestamp + TYPING_SHOWN_MS },
  ].filter((t) => t !== false);
  if (!shown.length) return { line: '' };
  const names = shown.map((t) => t.name);
  return { line: `${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} typing…`, until: Math.min(...shown.map((t) => t.until)) };
}

type Send = [label: string, id: string, send: (text: string) => Promise<unknown>];

/** How often a side still typing says so again: one signal per key would be an event per key. */
const TYPING_REPEAT_MS = 5_000;

/** What was typed and not sent, per conversation and side: leaving a conversation and coming back loses none of it. */
const drafts = new Map<string, string>();

/**
 * A labelled text area; Enter sends with the first action, Shift+Enter is a new line. While a
 * send is on its way the composer takes no other (a second Enter on a slow network would post the
 * message twice); the text stays in the box until the sandbox has it.
 */
function composer(side: 'visitor' | 'operator', label: string, actions: Send[], act: (work: () => Promise<unknown>) => Promise<boolean>, draft: string, compose?: (typing: boolean) => Promise<unknown>): HTMLElement {
  const input = el('textarea', { id: `${side}-text`, rows: '2', placeholder: label });
  input.value = drafts.get(draft) ?? '';
  // Typing is announced through the side's compose route (a `start`, again while it goes on;
  // `stop` when the box is emptied), so another tab, an agent or the autopilot see the visitor
  // type, and the visitor sees the operator type, as in Crisp. Best effort: a lost typing signal
  // is not worth a problem shown at every key.
  let typingSince = 0;
  const typing = (on: boolean) => void compose?.(on).catch(() => undefined);
  input.addEventListener('input', () => {
    if (input.value) drafts.set(draft, input.value);
    else drafts.delete(draft);
    if (input.value.trim() && Date.now() - typingSince > TYPING_REPEAT_MS) {
      typingSince = Date.now();
      typing(true);
    } else if (!input.value.trim() && typingSince) {
      typingSince = 0;
      typing(false);
    }
  });
  let sending = false;
  const submit = (send: Send[2]) => {
    const text = input.value.trim();
    if (!text || sending) return;
    sending = true;
    input.readOnly = true;
    for (const button of buttons) button.disabled = true;
    void act(async () => {
      try {
        await send(text);
        input.value = '';
        drafts.delete(draft);
        // The message ends the typing it was (the next key starts it again); a private note shows
        // no end in the thread, so the typing is stopped as well.
        if (typingSince) typing(false);
        typingSince = 0;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`Not sent. ${reason}${/[.?!]$/.test(reason) ? '' : '.'} Your text is still in the box.`);
      }
    }).finally(() => {
      sending = false;
      input.readOnly = false;
      for (const button of buttons) button.disabled = false;
      // A button pressed from the keyboard lost the focus when it was disabled (to the page's body):
      // it goes back to the box, where the next message is written.
      if (document.activeElement === document.body) input.focus();
    });
  };
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    submit(actions[0]![2]);
  });
  const buttons: HTMLButtonElement[] = actions.map(([text, id, send]) => {
    const button = el('button', { type: 'button', id }, text);
    button.addEventListener('click', () => submit(send));
    return button;
  });
  return el('div', { class: `composer ${side}` }, el('label', { for: input.id }, label), input, el('div', { class: 'actions' }, ...buttons));
}

/**
 * A labelled select, built once per conversation so a redraw keeps the keyboard focus on it (a new
 * one would drop it to the page's body); `show` sets the sandbox's value, which a failed change shows again.
 */
function select(id: string, label: string, options: Array<[value: string, text: string]>, onChange: (value: string) => Promise<boolean>): { node: HTMLElement; show(value: string): void } {
  const control = el('select', { id }, ...options.map(([value, text]) => el('option', { value }, text)));
  let current = '';
  control.addEventListener('change', () => void onChange(control.value).then((done) => done || (control.value = current)));
  return {
    node: el('label', { class: 'muted' }, `${label} `, control),
    show(value) {
      current = value;
      control.value = value;
    },
  };
}

/** Who wrote it, as Crisp tells them apart: the visitor (`from: user`), a bot (`automated`), an operator; notes apart. */
function author(m: Message, visitor: string): { kind: 'visitor' | 'bot' | 'operator' | 'note'; name: string } {
  if (m.from === 'user') return { kind: 'visitor', name: visitor };
  const name = m.user?.nickname || 'Operator';
  if (m.type === 'note') return { kind: 'note', name: `private note · ${name}` };
  return m.automated ? { kind: 'bot', name: `bot · ${name}` } : { kind: 'operator', name };
}

function messageItem(m: Message, visitor: string, choose: (value: string) => Promise<boolean>): HTMLElement {
  const who = author(m, visitor);
  return el(
    'li',
    { class: `message ${who.kind}`, 'data-fingerprint': String(m.fingerprint), 'data-type': m.type },
    el('span', { class: 'who' }, `${who.name} · ${shortTime(m.timestamp)}${m.type === 'text' || m.type === 'note' ? '' : ` · ${m.type}`}`),
    // `dir="auto"`: a message in Arabic or Hebrew reads right to left, whatever the page's language.
    el('div', { class: 'body', dir: 'auto' }, ...body(m, who.kind === 'visitor', choose)),
  );
}

function body(m: Message, byVisitor: boolean, choose: (value: string) => Promise<boolean>): Array<Node | string> {
  if (typeof m.content === 'string') return [m.content];
  const c = (m.content ?? {}) as Record<string, unknown>;
  switch (m.type) {
    case 'picker': {
      const choices = (c.choices as Choice[] | undefined) ?? [];
      if (byVisitor) return [`chose “${choices.find((x) => x.selected)?.label ?? '?'}”`];
      const answered = choices.some((x) => x.selected);
      const group = el('div', { class: 'choices', role: 'group', 'aria-label': 'Buttons (click as the visitor)' });
      // A picker is answered once: its buttons wait while the click travels (a second click would answer it twice).
      const setDisabled = (disabled: boolean) => group.querySelectorAll('button').forEach((b) => (b.disabled = disabled));
      group.append(
        ...choices.map((choice) => {
          if (choice.action?.type === 'link' && choice.action.target) return link(choice.action.target, `${choice.label} ↗`);
          const button = el('button', { type: 'button', 'data-value': choice.value, 'aria-pressed': choice.selected ? 'true' : 'false', disabled: answered, title: 'Click as the visitor' }, choice.label);
          button.addEventListener('click', () => {
            // Disabled, the pressed button would drop the focus to the page's body: it goes to the
            // thread, where the answer and the reply come (the message is redrawn with its answer).
            button.closest<HTMLElement>('.thread')?.focus();
            setDisabled(true);
            void choose(choice.value).then((done) => done || setDisabled(false));
          });
          return button;
        }),
      );
      return [String(c.text ?? ''), group];
    }
    case 'carousel': {
      const targets = (c.targets as Array<{ title: string; description?: string; actions?: Array<{ label: string; url: string }> }> | undefined) ?? [];
      return [String(c.text ?? ''), el('div', { class: 'choices' }, ...targets.flatMap((t) => (t.actions?.length ? t.actions.map((a) => link(a.url, `${t.title}: ${a.label} ↗`)) : [el('span', {}, t.title)])))];
    }
    case 'file':
    case 'animation':
    case 'audio':
      return [link(String(c.url ?? ''), String(c.name ?? c.url ?? m.type)), ...(typeof c.duration === 'number' ? [` (${c.duration}s)`] : [])];
    case 'field':
      return [`${String(c.text ?? '')} → ${c.value === undefined || c.value === '' ? '(not filled in)' : String(c.value)}`];
    case 'event':
      // An event with no text (most plugins send only a namespace) shows its namespace, not raw JSON.
      return [String(c.text ?? c.namespace ?? m.type)];
    default:
      return [String(c.text ?? JSON.stringify(c))];
  }
}

/**
 * A link that opens in a new tab — only to a web address: anyone can post a file or a button whose
 * URL is `javascript:…`, and the console shows that one as text, never as something to click.
 */
function link(url: string, text: string): HTMLElement {
  let protocol = '';
  try {
    protocol = new URL(url, location.href).protocol;
  } catch {
    // Not a URL at all: shown as text below.
  }
  if (protocol === 'https:' || protocol === 'http:') return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text);
  return el('span', { class: 'not-a-link', title: `not a web address: ${url}` }, text);
}
