// The visitor side and the control panel, under /_sandbox/ (no Crisp credentials; the sandbox
// listens on loopback). Tests, the demo and the autopilot use these to play the customer.
import { z } from 'zod';
import { MESSAGE_CONTENT } from '../../crisp/schemas.js';
import type { FaultInjector } from '../faults.js';
import type { SandboxHooks } from '../hooks.js';
import { invalid, notFound, validate, type Route } from '../http.js';
import type { SandboxRtm } from '../rtm.js';
import type { SandboxState, WebsiteState } from '../state.js';
import { MessageText, visibleText } from '../visible-text.js';

export interface ControlContext {
  state: SandboxState;
  faults: FaultInjector;
  body: unknown;
  query: URLSearchParams;
  stats: () => Record<string, unknown>;
  resetStats: () => void;
  rtm: SandboxRtm;
  hooks: SandboxHooks | undefined;
}

const NewConversation = z.object({
  nickname: visibleText('the nickname', 200).optional(),
  email: z.email().optional(),
  text: MessageText.optional(),
});

// What a visitor's widget sends besides text: an attachment, a GIF, a voice message (the kinds of
// `message:send` a visitor writes; a picker answer goes through /choices). `type` defaults to text
// before validation, so a missing one is never offered as an allowed value.
const VisitorMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), content: MessageText }),
  z.object({ type: z.literal('file'), content: MESSAGE_CONTENT.file }),
  z.object({ type: z.literal('animation'), content: MESSAGE_CONTENT.animation }),
  z.object({ type: z.literal('audio'), content: MESSAGE_CONTENT.audio }),
]);

const VisitorCompose = z.object({ type: z.enum(['start', 'stop']), excerpt: z.string().max(1000).optional() });

const FaultsBody = z.object({
  spec: z.string().optional(),
  clear: z.boolean().optional(),
  burst: z
    .object({
      fault: z.enum(['420', '429', '500', '502', '503', '500-after', '502-after', '503-after', 'drop', 'drop-after', 'latency', 'latency-after']),
      count: z.number().int().min(1).max(10_000),
      retry_after: z.number().int().min(0).optional(),
      /** How long `latency` (before handling) or `latency-after` (answer held) lasts. */
      delay_ms: z.number().int().min(1).max(600_000).optional(),
      method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
      path_includes: z.string().optional(),
    })
    .optional(),
});

const VisitorChoice = z.object({ fingerprint: z.number().int().positive(), value: z.string().min(1).max(200) });

const RtmDrop = z.object({ mode: z.enum(['transport', 'server']).default('transport') });

export const S = '/_sandbox/websites/:website_id/conversations';

export function site(state: SandboxState, websiteId: string): WebsiteState {
  const found = state.websites.get(websiteId);
  if (!found) throw notFound(`website ${websiteId} does not exist in the sandbox`);
  return found;
}

export function visitorUser(state: SandboxState, w: WebsiteState, sessionId: string) {
  return { user_id: sessionId, nickname: state.conversation(w, sessionId).meta?.nickname ?? 'visitor' };
}

export const controlRoutes: Route<ControlContext>[] = [
  {
    method: 'GET',
    pattern: '/_sandbox/info',
    handler: ({ state }) => ({
      data: { website_id: state.defaultWebsiteId, websites: [...state.websites.values()].map((w) => ({ website_id: w.website_id, name: w.name, domain: w.domain })) },
    }),
  },
  {
    method: 'POST',
    pattern: S,
    handler: ({ state, body }, p) => {
      const w = site(state, p.website_id!);
      const input = validate(NewConversation, body);
      const conversation = state.createConversation(w, input);
      if (input.text) state.addMessage(w, conversation.session_id, { type: 'text', from: 'user', origin: 'chat', content: input.text }, visitorUser(state, w, conversation.session_id));
      return { reason: 'added', data: { session_id: conversation.session_id } };
    },
  },
  {
    method: 'POST',
    pattern: `${S}/:session_id/messages`,
    handler: ({ state, body }, p) => {
      const w = site(state, p.website_id!);
      const input = validate(VisitorMessage, { type: 'text', ...(body as object) });
      const sent = state.addMessage(w, p.session_id!, { ...input, from: 'user', origin: 'chat' }, visitorUser(state, w, p.session_id!));
      return { reason: 'dispatched', data: { fingerprint: sent.message.fingerprint } };
    },
  },
  {
    // The thread as the visitor sees it (no private notes), oldest first: a script playing the
    // visitor reads the bot's replies here.
    method: 'GET',
    pattern: `${S}/:session_id/messages`,
    handler: ({ state }, p) => {
      const w = site(state, p.website_id!);
      state.conversation(w, p.session_id!);
      return { data: (w.messages.get(p.session_id!) ?? []).filter((m) => m.type !== 'note') };
    },
  },
  {
    method: 'POST',
    pattern: `${S}/:session_id/choices`,
    handler: ({ state, body }, p) => {
      const w = site(state, p.website_id!);
      const input = validate(VisitorChoice, body);
      const sent = state.choose(w, p.session_id!, input.fingerprint, input.value, visitorUser(state, w, p.session_id!));
      return { reason: 'dispatched', data: { fingerprint: sent.fingerprint } };
    },
  },
  {
    method: 'PATCH',
    pattern: `${S}/:session_id/compose`,
    handler: ({ state, body }, p) => {
      const input = validate(VisitorCompose, body);
      state.compose(site(state, p.website_id!), p.session_id!, { ...input, from: 'user' });
      return { reason: 'updated' };
    },
  },
  {
    method: 'PATCH',
    pattern: `${S}/:session_id/read`,
    handler: ({ state }, p) => (state.markRead(site(state, p.website_id!), p.session_id!, { from: 'user', origin: 'chat' }), { reason: 'updated' }),
  },
  { method: 'GET', pattern: '/_sandbox/stats', handler: ({ stats }) => ({ data: stats() }) },
  {
    method: 'POST',
    pattern: '/_sandbox/faults',
    handler: ({ faults, body, resetStats }) => {
      const input = validate(FaultsBody, body);
      if (input.clear) faults.clear();
      if (input.spec !== undefined) {
        try {
          faults.configure(input.spec);
        } catch (error) {
          return { status: 400, reason: 'invalid_data', data: { message: (error as Error).message } };
        }
      }
      if (input.burst) {
        const { fault, count, retry_after, delay_ms, method, path_includes } = input.burst;
        if (fault.startsWith('latency') && delay_ms === undefined) throw invalid(`data.burst.delay_ms is required with a ${fault} burst (ms, e.g. 2000)`);
        const kind = fault === 'drop' || fault === 'drop-after' || fault === 'latency' || fault === 'latency-after' ? fault : fault.endsWith('-after') ? 'status-after' : 'status';
        faults.burst({
          fault: { kind, status: kind.startsWith('status') ? Number.parseInt(fault, 10) : undefined, retryAfterSeconds: retry_after, delayMs: delay_ms },
          count,
          method,
          pathIncludes: path_includes,
        });
      }
      resetStats();
      return { reason: 'updated', data: { active: faults.active } };
    },
  },
  { method: 'GET', pattern: '/_sandbox/rtm', handler: ({ rtm }) => ({ data: rtm.stats() }) },
  {
    method: 'POST',
    pattern: '/_sandbox/rtm/drop',
    handler: ({ rtm, body }) => ({ reason: 'updated', data: { dropped: rtm.drop(validate(RtmDrop, body).mode) } }),
  },
  {
    method: 'GET',
    pattern: '/_sandbox/hooks',
    handler: ({ hooks }) => {
      if (!hooks) throw notFound('web hooks are off; start the sandbox with --hooks URL');
      return { data: { url: hooks.url, ...hooks.stats() } };
    },
  },
  { method: 'POST', pattern: '/_sandbox/reset', handler: ({ state, faults, resetStats }) => (state.reset(), faults.clear(), resetStats(), { reason: 'updated' }) },
];
