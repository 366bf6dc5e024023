// Write tools through a real SDK Client, each checked by its effect in the sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { CrispClient } from '../../src/crisp/index.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { callTool, McpHarness } from '../helpers/mcp.js';

let harness: McpHarness;
let sandbox: Sandbox;
let crisp: CrispClient;
let client: Client;
const connect: McpHarness['connect'] = (argv, elicit) => harness.connect(argv, elicit);

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 9 });
  ({ sandbox, crisp, client } = harness);
});
afterAll(() => harness.close());

const site = () => sandbox.state.websites.get(sandbox.websiteId)!;
const thread = (s: string) => site().messages.get(s)!;
const pendingSession = () => [...site().conversations.values()].find((c) => c.state === 'pending')!.session_id;
/** A new conversation of its own, so a test that resolves it leaves the seeded pending ones to the others. */
const freshSession = () => sandbox.state.createConversation(site(), { nickname: 'Fresh Visitor' }).session_id;

const call = (c: Client, name: string, args: Record<string, unknown>) => callTool(c, name, args);

describe('send_message', () => {
  it('posts a text reply; the conversation leaves pending', async () => {
    const session = pendingSession();
    const { out, text } = await call(client, 'send_message', { session_id: session, content: 'Hello, looking into it.' });
    expect(out).toMatchObject({ session_id: session, sent_as: 'text', held_for_approval: false });
    expect(thread(session).at(-1)).toMatchObject({ type: 'text', from: 'operator', content: 'Hello, looking into it.', fingerprint: out.fingerprint });
    expect(site().conversations.get(session)!.state).toBe('unresolved');
    expect(text).toBe(`Sent text to ${session} (fingerprint ${String(out.fingerprint)}).`);
  });

  it('never posts the same fingerprint twice, even where Crisp would', async () => {
    const session = pendingSession();
    const before = thread(session).length;
    sandbox.faults.configure('dedupe:off');
    try {
      for (let i = 0; i < 2; i++) await call(client, 'send_message', { session_id: session, content: 'Only once', fingerprint: 777000111222333 });
    } finally {
      sandbox.faults.clear();
    }
    expect(thread(session).length).toBe(before + 1);
  });

  it('then_state sets the state in the same call', async () => {
    const session = freshSession();
    const { out, text } = await call(client, 'send_message', { session_id: session, content: 'Done, closing this.', fingerprint: 555000111, then_state: 'resolved' });
    expect(out).toMatchObject({ session_id: session, fingerprint: 555000111, state: 'resolved', state_error: null });
    expect(site().conversations.get(session)!.state).toBe('resolved');
    expect(text).toBe(`Sent text to ${session} (fingerprint 555000111). State is now resolved.`);
  });

  it('then_state refused: the reply is reported sent and the state change refused, and a retry posts nothing twice', async () => {
    const session = freshSession();
    const before = thread(session).length;
    sandbox.faults.burst({ fault: { kind: 'status', status: 403 }, count: 1, method: 'PATCH', pathIncludes: '/state' });
    const first = await call(client, 'send_message', { session_id: session, content: 'Answer with a refused state', fingerprint: 555000222, then_state: 'resolved' });
    expect(first.isError).toBe(false);
    expect(first.out).toMatchObject({ fingerprint: 555000222, state: null, state_error: 'Crisp answered crisp_forbidden (403)' });
    expect(first.text).toBe(
      `Sent text to ${session} (fingerprint 555000222). State NOT changed: Crisp answered crisp_forbidden (403). The message was sent; do not resend it (set_conversation_state sets the state).`,
    );
    expect(site().conversations.get(session)!.state).not.toBe('resolved');
    const retry = await call(client, 'send_message', { session_id: session, content: 'Answer with a refused state', fingerprint: 555000222, then_state: 'resolved' });
    expect(retry.out).toMatchObject({ state: 'resolved', state_error: null });
    expect(thread(session).length).toBe(before + 1);
    expect(site().conversations.get(session)!.state).toBe('resolved');
  });

  it('then_state leaves the state alone when the reply is held for approval', async () => {
    const session = freshSession();
    const noteClient = await connect(['--send-mode', 'note']);
    const { out } = await call(noteClient, 'send_message', { session_id: session, content: 'Held reply', then_state: 'resolved' });
    expect(out).toMatchObject({ held_for_approval: true, state: null, state_error: 'the reply is held for approval, so the conversation stays as it is' });
    expect(site().conversations.get(session)!.state).not.toBe('resolved');
  });

  it('never posts the same fingerprint twice', async () => {
    const session = pendingSession();
    const before = thread(session).length;
    for (let i = 0; i < 2; i++) await call(client, 'send_message', { session_id: session, content: 'Only once', fingerprint: 777000111222333 });
    expect(thread(session).length).toBe(before + 1);
  });

  it('sends buttons and files, and says what a picker or file is missing', async () => {
    const session = pendingSession();
    await call(client, 'send_message', { session_id: session, type: 'picker', content: 'Which plan?', choices: [{ value: 'pro', label: 'Pro' }] });
    expect(thread(session).at(-1)).toMatchObject({ type: 'picker', content: { text: 'Which plan?', choices: [{ value: 'pro', label: 'Pro', selected: false }] } });
    await call(client, 'send_message', { session_id: session, type: 'file', content: 'Your invoice', file_url: 'https://files.example.test/inv-1.pdf', file_mime: 'application/pdf' });
    expect(thread(session).at(-1)).toMatchObject({ type: 'file', content: { name: 'inv-1.pdf', url: 'https://files.example.test/inv-1.pdf', type: 'application/pdf' } });
    expect((await call(client, 'send_message', { session_id: session, type: 'picker', content: 'x' })).text).toMatch(/type picker needs choices/);
    expect((await call(client, 'send_message', { session_id: session, content: 'x', file_url: 'https://a.test/f' })).text).toMatch(/belong to type picker and file, not text/);
  });

  it('with --send-mode note holds a customer-visible reply as a private note', async () => {
    const noteClient = await connect(['--send-mode', 'note']);
    const session = pendingSession();
    const { out, text } = await call(noteClient, 'send_message', { session_id: session, content: 'Refund approved' });
    expect(out).toMatchObject({ sent_as: 'note', held_for_approval: true });
    expect(thread(session).at(-1)).toMatchObject({ type: 'note', from: 'operator' });
    expect(String(thread(session).at(-1)!.content)).toMatch(/^\[Reply held for operator approval — text\]\nRefund approved$/);
    expect(site().conversations.get(session)!.state).toBe('pending');
    expect(text).toMatch(/^Held for approval/);
  });
});

describe('Crisp faults at the tool layer', () => {
  afterAll(() => sandbox.faults.clear());

  it('a lost answer on send_message without a fingerprint is looked for under the one the server gave it: reported sent, posted once', async () => {
    const session = pendingSession();
    const before = thread(session).length;
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST' });
    const lost = await call(client, 'send_message', { session_id: session, content: 'Once only, please' });
    expect(lost.isError).toBe(false);
    expect(thread(session).filter((m) => m.content === 'Once only, please')).toHaveLength(1);
    expect(thread(session).at(-1)!.fingerprint).toBe(lost.out.fingerprint);
    expect(thread(session).length).toBe(before + 1);
  });

  it('a 5xx on send_message is retried, with a fingerprint of the caller or without one', async () => {
    const session = pendingSession();
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 1, method: 'POST' });
    const first = await call(client, 'send_message', { session_id: session, content: 'first try' });
    expect(first.isError).toBe(false);
    expect(thread(session).filter((m) => m.content === 'first try')).toHaveLength(1);
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 1, method: 'POST' });
    const retried = await call(client, 'send_message', { session_id: session, content: 'with fingerprint', fingerprint: 123456789012345 });
    expect(retried.isError).toBe(false);
    expect(thread(session).filter((m) => m.content === 'with fingerprint')).toHaveLength(1);
  });

  it('oversize content is refused before anything is sent', async () => {
    const session = pendingSession();
    const before = thread(session).length;
    const huge = await call(client, 'send_message', { session_id: session, content: 'x'.repeat(10_001) });
    expect(huge.isError).toBe(true);
    expect(huge.text).toMatch(/content/);
    expect(thread(session).length).toBe(before);
  });
});

describe('--send-mode confirm (2025-era client: elicitation through the SDK shim)', () => {
  const asked: string[] = [];
  const answering = (content: Record<string, unknown> | null, action: 'accept' | 'decline' | 'cancel' = 'accept') =>
    connect(['--send-mode', 'confirm'], (request) => {
      asked.push((request as { message: string }).message);
      return content ? { action, content: content as Record<string, boolean> } : { action };
    });

  it('asks the user with the exact message, and sends it once on yes', async () => {
    const confirmClient = await answering({ send: true });
    const session = pendingSession();
    const before = thread(session).length;
    asked.length = 0;
    const sent = await call(confirmClient, 'send_message', { session_id: session, content: 'Refund approved ✅' });
    expect(sent.isError).toBe(false);
    expect(sent.out).toMatchObject({ sent_as: 'text', held_for_approval: false, confirmed_by_user: true });
    expect(sent.text).toMatch(/confirmed by the user/);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(`conversation ${session}`);
    expect(asked[0]).toContain('Refund approved ✅');
    expect(thread(session).length).toBe(before + 1);
    expect(thread(session).at(-1)).toMatchObject({ type: 'text', content: 'Refund approved ✅' });
  });

  const DECLINED = /^Not sent: the user declined/;
  it.each([
    ['declines', null, 'decline', DECLINED],
    // Cancel is the dialog closed without a choice: not a no to this content.
    ['cancels', null, 'cancel', /^Not sent: the user closed the confirmation without answering; nothing went out\. Ask them whether to send it/],
    ['unticks "send"', { send: false }, 'accept', DECLINED],
    ['answers off-schema', { send: 'yes' }, 'accept', DECLINED],
  ] as const)('sends nothing when the user %s', async (_label, content, action, says) => {
    const confirmClient = await answering(content, action);
    const session = pendingSession();
    const before = thread(session).length;
    const refused = await call(confirmClient, 'send_message', { session_id: session, content: 'Refund approved' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(says);
    expect(thread(session).length).toBe(before);
  });

  it('refuses, saying why, when the client cannot ask the user; a note needs no confirmation', async () => {
    const confirmClient = await connect(['--send-mode', 'confirm']);
    const session = pendingSession();
    const before = thread(session).length;
    const refused = await call(confirmClient, 'send_message', { session_id: session, content: 'Refund approved' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/^Not sent: .*--send-mode confirm.*cannot ask the user.*type "note"/);
    expect(thread(session).length).toBe(before);
    const note = await call(confirmClient, 'send_message', { session_id: session, type: 'note', content: 'Draft: refund approved' });
    expect(note.out).toMatchObject({ sent_as: 'note', held_for_approval: false, confirmed_by_user: false });
    expect(thread(session).length).toBe(before + 1);
  });

  it('asks about pickers too, showing the buttons', async () => {
    const confirmClient = await answering({ send: true });
    asked.length = 0;
    const session = pendingSession();
    const sent = await call(confirmClient, 'send_message', { session_id: session, type: 'picker', content: 'Which plan?', choices: [{ value: 'pro', label: 'Pro' }, { value: 'team', label: 'Team' }] });
    expect(sent.out).toMatchObject({ sent_as: 'picker', confirmed_by_user: true });
    expect(asked[0]).toMatch(/this picker message[\s\S]*Which plan\?[\s\S]*Pro \| Team/);
  });
});

describe('other conversation writes', () => {
  it('shows and hides typing', async () => {
    const session = pendingSession();
    await call(client, 'set_compose', { session_id: session, typing: true, excerpt: 'Checking…' });
    expect(site().conversations.get(session)!.compose).toMatchObject({ operator: { type: 'start', excerpt: 'Checking…' } });
    await call(client, 'set_compose', { session_id: session, typing: false });
    expect(site().conversations.get(session)!.compose).not.toHaveProperty('operator');
  });

  it('resolves, and marks read', async () => {
    const session = [...site().conversations.values()].find((c) => (c.unread?.operator ?? 0) > 0)!.session_id;
    await call(client, 'mark_messages_read', { session_id: session });
    expect(site().conversations.get(session)!.unread!.operator).toBe(0);
    await call(client, 'set_conversation_state', { session_id: session, state: 'resolved' });
    expect(site().conversations.get(session)!.state).toBe('resolved');
  });

  it('adds and removes segments without losing the others, and merges data', async () => {
    const session = pendingSession();
    await crisp.conversations.updateMeta(sandbox.websiteId, session, { segments: ['a', 'b'], data: { plan: 'pro' } });
    const { out } = await call(client, 'update_conversation_meta', { session_id: session, segments_add: ['vip'], segments_remove: ['a'], data: { seats: 3 }, subject: 'Refund' });
    expect(out.segments).toEqual(['b', 'vip']);
    const meta = site().conversations.get(session)!.meta!;
    expect(meta.segments).toEqual(['b', 'vip']);
    expect(meta.data).toMatchObject({ plan: 'pro', seats: 3 });
    expect(meta.subject).toBe('Refund');
    expect((await call(client, 'update_conversation_meta', { session_id: session })).text).toMatch(/nothing to update/);
  });
});

describe('assign_conversation', () => {
  it('assigns by email or id, unassigns, and lists operators when one is unknown', async () => {
    const session = pendingSession();
    const [first, second] = site().operators;
    const byEmail = await call(client, 'assign_conversation', { session_id: session, operator: first!.details.email!.toUpperCase() });
    expect(byEmail.out).toMatchObject({ assigned_to: first!.details.user_id });
    expect(site().conversations.get(session)!.assigned?.user_id).toBe(first!.details.user_id);
    await call(client, 'assign_conversation', { session_id: session, operator: second!.details.user_id });
    expect(site().conversations.get(session)!.assigned?.user_id).toBe(second!.details.user_id);
    await call(client, 'assign_conversation', { session_id: session, unassign: true });
    expect(site().conversations.get(session)!.assigned).toBeUndefined();
    const unknown = await call(client, 'assign_conversation', { session_id: session, operator: 'nobody@example.test' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain(first!.details.email!);
    expect((await call(client, 'assign_conversation', { session_id: session })).text).toMatch(/either operator .* or unassign/);
  });
});

describe('--read-only', () => {
  it('registers no write tool at all', async () => {
    const readOnly = await connect(['--read-only']);
    const { tools } = await readOnly.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['find_conversations', 'get_article', 'get_conversation', 'get_person', 'list_conversations', 'list_messages', 'list_operators', 'search_helpdesk', 'search_people']);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    const refused = await readOnly.callTool({ name: 'send_message', arguments: { session_id: pendingSession(), content: 'x' } }).catch((e: unknown) => e);
    const text = refused instanceof Error ? refused.message : JSON.stringify(refused);
    expect(text).toMatch(/send_message/);
  });
});
