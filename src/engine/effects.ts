// The effects a scenario stops and waits on, performed in one place for every channel: a webhook
// call, or a helpdesk search (an `articles` block). Each goes out through the channel's port and
// comes back as the same kind of answer, which advanceTurn (turn.ts) feeds to the runner as the
// event that block waits for.
import type { EffectAction, EffectAnswer, EffectPort } from './port.js';
import type { Action } from '../scenario/index.js';
import { refusedWebhook, webhookAllowed } from './limits.js';
import type { LoadedScenario } from './library.js';

export function isEffect(action: Action): action is EffectAction {
  return action.type === 'webhook' || action.type === 'search_articles';
}

/** The `url` an articles search shows under in turn results and logs. */
export const HELPDESK_SEARCH = 'helpdesk:search';

/** Performs one effect through `port`; never throws: a failure is an answer with `ok: false` and `error`. */
export async function performEffect(loaded: LoadedScenario, action: EffectAction, idempotencyKey: string, port: Pick<EffectPort, 'callWebhook' | 'searchHelpdesk'>): Promise<EffectAnswer> {
  if (action.type === 'webhook') return webhookAllowed(loaded, action.url) ? port.callWebhook(action, idempotencyKey) : refusedWebhook(action.url);
  if (!port.searchHelpdesk) return { url: HELPDESK_SEARCH, status: null, ok: false, data: null, error: 'no Crisp helpdesk here (serve with Crisp credentials or --sandbox): the articles block takes its none path' };
  try {
    const found = await port.searchHelpdesk(action.query, { ...(action.locale ? { locale: action.locale } : {}), limit: action.limit });
    return { url: HELPDESK_SEARCH, status: null, ok: true, data: { articles: found.articles.map((a) => ({ title: a.title, url: a.url })) } };
  } catch (error) {
    return { url: HELPDESK_SEARCH, status: null, ok: false, data: null, error: `the helpdesk search failed (${(error as Error).message}): the articles block takes its none path` };
  }
}
