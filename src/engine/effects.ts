// The effects a scenario stops and waits on, performed in one place for every channel: a webhook
// call, or a helpdesk search (an `articles` block). Each comes back as the same kind of answer,
// which limits.ts's stepWebhookAnswer feeds to the runner as the event that block waits for.
import type { Action } from '../scenario/index.js';
import { callWebhook, type WebhookOutcome } from './actions.js';
import { refusedWebhook, webhookAllowed } from './limits.js';
import type { LoadedScenario } from './library.js';

/** An action the runner stops at: its answer decides what follows. Always the last action of its step. */
export type EffectAction = Extract<Action, { type: 'webhook' | 'search_articles' }>;

export function isEffect(action: Action): action is EffectAction {
  return action.type === 'webhook' || action.type === 'search_articles';
}

/** What an `articles` block searches: `crisp.helpdesk` fits, and so does a local helpdesk file. */
export interface HelpdeskPort {
  search(website: string, question: string, options: { locale?: string; limit?: number }): Promise<{ articles: ReadonlyArray<{ title: string; url: string }> }>;
}

export interface EffectIO {
  fetch?: typeof fetch | undefined;
  /** The helpdesk and the website whose helpdesk it is; none: searches fail with a clear error. */
  helpdesk?: { port: HelpdeskPort; website: string } | undefined;
}

/** The `url` an articles search shows under in turn results and logs. */
export const HELPDESK_SEARCH = 'helpdesk:search';

/** Performs one effect; never throws: a failure is an answer with `ok: false` and `error`. */
export async function performEffect(loaded: LoadedScenario, action: EffectAction, idempotencyKey: string, io: EffectIO): Promise<WebhookOutcome> {
  if (action.type === 'webhook') return webhookAllowed(loaded, action.url) ? callWebhook(action, idempotencyKey, io.fetch) : refusedWebhook(action.url);
  if (!io.helpdesk) return { url: HELPDESK_SEARCH, status: null, ok: false, data: null, error: 'no Crisp helpdesk here (serve with Crisp credentials or --sandbox): the articles block takes its none path' };
  try {
    const found = await io.helpdesk.port.search(io.helpdesk.website, action.query, { ...(action.locale ? { locale: action.locale } : {}), limit: action.limit });
    return { url: HELPDESK_SEARCH, status: null, ok: true, data: { articles: found.articles.map((a) => ({ title: a.title, url: a.url })) } };
  } catch (error) {
    return { url: HELPDESK_SEARCH, status: null, ok: false, data: null, error: `the helpdesk search failed (${(error as Error).message}): the articles block takes its none path` };
  }
}
