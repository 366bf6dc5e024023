// The confirmation binding, without a transport: an answer counts only for the arguments it was
// asked about and only with this process's signature; capabilities come from the request's
// envelope (2026-07-28) or the connection (2025).
import type { ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { askUser, callContext } from '../../src/mcp/confirm.js';
import { ConfirmationNeeded } from '../../src/mcp/tools/define.js';

const input = { session_id: 'session_1', content: 'Refund approved' };

function ctx(state: string | undefined, answer?: unknown, envelope?: Record<string, unknown>): ServerContext {
  return { mcpReq: { inputResponses: answer ? { confirm_send: answer } : undefined, requestState: () => state, envelope, signal: new AbortController().signal } } as unknown as ServerContext;
}

function askedState(args: unknown): string {
  const result = askUser('send_message', args, new ConfirmationNeeded('confirm_send', 'Send?')) as unknown as { requestState: string; inputRequests: Record<string, { method: string; params: { message: string } }> };
  expect(result.inputRequests.confirm_send).toMatchObject({ method: 'elicitation/create', params: { message: 'Send?' } });
  return result.requestState;
}

describe('callContext', () => {
  const yes = { action: 'accept', content: { send: true } };

  it('accepts a yes signed for these exact arguments', () => {
    expect(callContext('send_message', input, ctx(askedState(input), yes), undefined).answer('confirm_send')).toBe('accepted');
  });

  it('treats a yes for other arguments, another tool, or without our signature as never asked', () => {
    const otherArgs = askedState({ ...input, content: 'Something else' });
    expect(callContext('send_message', input, ctx(otherArgs, yes), undefined).answer('confirm_send')).toBe('unasked');
    expect(callContext('send_other', input, ctx(askedState(input), yes), undefined).answer('confirm_send')).toBe('unasked');
    expect(callContext('send_message', input, ctx(undefined, yes), undefined).answer('confirm_send')).toBe('unasked');
    expect(callContext('send_message', input, ctx('forged', yes), undefined).answer('confirm_send')).toBe('unasked');
  });

  it('reads decline and "send: false" as declined, cancel (closed unanswered) as dismissed, and a missing answer as unasked', () => {
    const state = askedState(input);
    for (const answer of [{ action: 'decline' }, { action: 'accept', content: { send: false } }]) {
      expect(callContext('send_message', input, ctx(state, answer), undefined).answer('confirm_send')).toBe('declined');
    }
    expect(callContext('send_message', input, ctx(state, { action: 'cancel' }), undefined).answer('confirm_send')).toBe('dismissed');
    expect(callContext('send_message', input, ctx(state), undefined).answer('confirm_send')).toBe('unasked');
  });

  it('knows whether the client can show a form', () => {
    const can = (envelope: Record<string, unknown> | undefined, connection: Record<string, unknown> | undefined) => callContext('t', {}, ctx(undefined, undefined, envelope), connection).canAsk;
    expect(can(undefined, undefined)).toBe(false);
    expect(can(undefined, {})).toBe(false);
    expect(can(undefined, { elicitation: {} })).toBe(true);
    expect(can(undefined, { elicitation: { form: {} } })).toBe(true);
    expect(can(undefined, { elicitation: { url: {} } })).toBe(false);
    expect(can({ 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } }, {})).toBe(true);
    expect(can({ 'io.modelcontextprotocol/clientCapabilities': {} }, undefined)).toBe(false);
  });
});

describe('useConfirmationSecret', () => {
  it('lets a replica with the same secret accept an answer another replica asked for', async () => {
    const { useConfirmationSecret } = await import('../../src/mcp/confirm.js');
    const yes = { action: 'accept', content: { send: true } };
    useConfirmationSecret('shared-between-replicas');
    const askedByReplicaA = askedState(input);
    useConfirmationSecret('another-deployment');
    expect(callContext('send_message', input, ctx(askedByReplicaA, yes), undefined).answer('confirm_send')).toBe('unasked');
    useConfirmationSecret('shared-between-replicas');
    expect(callContext('send_message', input, ctx(askedByReplicaA, yes), undefined).answer('confirm_send')).toBe('accepted');
  });
});
