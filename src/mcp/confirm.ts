// Asking the user before a tool acts (--send-mode confirm), one way for both protocol eras: the
// handler throws ConfirmationNeeded, we answer with an input-required result carrying a form
// elicitation, and the call comes back with the user's answer. 2026-07-28 clients do the round
// trip themselves; on 2025-era connections the SDK's legacy shim sends elicitation/create and
// re-enters the handler.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { CLIENT_CAPABILITIES_META_KEY, acceptedContent, inputRequired, inputResponse, type ClientCapabilities, type InputRequiredResult, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { GuardError } from './guard.js';
import { ConfirmationNeeded, type CallContext } from './tools/define.js';

const Answer = z.object({ send: z.boolean().describe('Send it') });

// requestState comes back through the client, so it is signed: an answer counts only for the very
// arguments it was asked about, and only when this server asked. Random per process unless replicas
// share one (useConfirmationSecret), so a 2026-07-28 answer is accepted by whichever replica gets it.
let signingKey: Buffer = randomBytes(32);

/** Replicas behind one address set the same secret (CRISP_MCP_STATE_SECRET); never logged. */
export function useConfirmationSecret(secret: string): void {
  signingKey = createHmac('sha256', 'crisp-mcp confirm requestState').update(secret).digest();
}

function stateFor(tool: string, input: unknown): string {
  return createHmac('sha256', signingKey).update(tool).update('\0').update(JSON.stringify(input)).digest('base64url');
}

function sameState(received: unknown, expected: string): boolean {
  if (typeof received !== 'string' || received.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(received), Buffer.from(expected));
}

/** Form-mode elicitation: an empty `elicitation` object means form (the 2025-06-18 shape). */
function canElicitForm(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation as { form?: unknown; url?: unknown } | undefined;
  if (!elicitation) return false;
  return elicitation.form !== undefined || elicitation.url === undefined;
}

/**
 * The CallContext of one tools/call. `connectionCapabilities` is what a 2025-era client declared at
 * initialize; a 2026-07-28 request carries its own in the `_meta` envelope.
 */
export function callContext(tool: string, input: unknown, ctx: ServerContext, connectionCapabilities: ClientCapabilities | undefined): CallContext {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? connectionCapabilities;
  const responses = ctx.mcpReq.inputResponses;
  // Every Crisp call of the tool follows this one signal: list_conversations with include_messages
  // makes up to 51 at once, past Node's 10 listeners, which warned of a leak on stderr at each call.
  setMaxListeners(0, ctx.mcpReq.signal);
  return {
    signal: ctx.mcpReq.signal,
    canAsk: canElicitForm(capabilities),
    answer(key) {
      const view = inputResponse(responses, key);
      // An answer without our signature over these exact arguments was never asked for: ask again.
      if (view.kind !== 'elicit' || !sameState(ctx.mcpReq.requestState(), stateFor(tool, input))) return 'unasked';
      // Cancel is the dialog closed without a choice (MCP's elicitation): not the user's no to this content.
      if (view.action === 'cancel') return 'dismissed';
      return acceptedContent(responses, key, Answer)?.send === true ? 'accepted' : 'declined';
    },
  };
}

/** The input-required result that asks the question; the signed state binds the answer to `input`. */
export function askUser(tool: string, input: unknown, need: ConfirmationNeeded): InputRequiredResult {
  return inputRequired({
    requestState: stateFor(tool, input),
    inputRequests: { [need.key]: inputRequired.elicit({ message: need.question, requestedSchema: Answer }) },
  });
}

const DISMISSED = 'Not sent: the user closed the confirmation without answering; nothing went out. Ask them whether to send it before calling again.';

/**
 * --send-mode confirm for one tool call: returns once the user said yes to exactly these arguments;
 * otherwise throws ConfirmationNeeded (ask them) or a GuardError that says why nothing went out.
 */
export function requireConfirmation(call: CallContext, key: string, question: string, refusals: { declined: string; cannotAsk: string }): true {
  const answer = call.answer(key);
  if (answer === 'accepted') return true;
  if (answer === 'declined') throw new GuardError('send_refused', refusals.declined);
  if (answer === 'dismissed') throw new GuardError('send_refused', DISMISSED);
  if (!call.canAsk) throw new GuardError('send_refused', refusals.cannotAsk);
  throw new ConfirmationNeeded(key, question);
}
