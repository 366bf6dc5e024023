// What the agent reads when a Crisp call fails: one sentence per failure that says what to do next,
// shared by tool results (server.ts's explain) and resource and prompt errors (resources.ts), so a
// refused key reads the same whichever of them met it. Never a credential or a raw upstream body.
import type { CrispError } from '../crisp/errors.js';
import type { Logger } from '../log.js';
import type { ToolDeps } from './tools/deps.js';

/**
 * The log line of a failed Crisp call, `where` naming what made it (a tool, a resource's uri). A call
 * the host cancelled is no failure of Crisp's: not a warning for the on-call engineer.
 */
export function logCrispFailure(log: Logger, where: Record<string, string>, error: CrispError): void {
  if (error.code === 'crisp_aborted') log.debug({ ...where, error: error.toJSON() }, 'crisp call cancelled');
  else log.warn({ ...where, error: error.toJSON() }, 'crisp call failed');
}

/** The sentence for `error`; Crisp's 404 is the caller's, which knows what was looked for. */
export function explainCrisp(error: CrispError, deps: ToolDeps): string {
  switch (error.code) {
    case 'crisp_invalid':
      return `Crisp rejected the request: ${error.message}. Fix the argument and retry.`;
    case 'crisp_unauthorized':
      // A token sent with another tier than its own can be refused whole (the sandbox answers it with this 401): the tier is named too.
      return refusedCredentials(deps);
    case 'crisp_forbidden':
      return `Crisp refused this call (${error.reason ?? error.status}): the token's tier or scopes lack the permission; an operator must grant it.`;
    case 'crisp_not_found':
      return `Not found: ${error.message}. Check the id; list_conversations and search_people find valid ones.${deps.guard.elsewhere(error.website)}`;
    case 'crisp_not_subscribed': {
      // With several websites, one of them without the plugin must be named, and the ones to use instead.
      const others = deps.guard.websites.filter((w) => w !== error.website);
      const where = error.website ? `website ${error.website}` : 'that website';
      return `The Crisp plugin is not installed on ${where}; an operator must install it, or use another website_id${others.length && error.website ? ` (${others.join(', ')})` : ''}.`;
    }
    case 'crisp_conflict':
      return `Crisp reports a conflict: ${error.message}.`;
    case 'crisp_rate_limited': {
      const wait = error.retryAfterMs !== undefined ? `retry in ${Math.max(1, Math.ceil(error.retryAfterMs / 1000))} s` : 'retry in a few seconds';
      return `Rate limited by Crisp; ${wait}.`;
    }
    case 'crisp_aborted':
      return 'The call was cancelled before Crisp answered.';
    case 'crisp_unavailable':
    case 'crisp_timeout':
      // Timed out before it was ever sent: every connection to Crisp was busy with other calls.
      if (error.code === 'crisp_timeout' && error.attempts === 0) {
        return 'This server had too many calls to Crisp at once, and this one timed out waiting for a connection: it was not sent. Try again in a few seconds.';
      }
      // A write whose answer never came may still have happened: resending blindly could post twice.
      if (error.method === 'POST' && error.status === undefined) {
        // send_message answers its own (UnconfirmedSend, with the fingerprint a resend needs); this is every other write, which has none.
        return 'Crisp did not answer, so the write may or may not have happened: check before trying again (get_person shows a contact\'s events, get_conversation a conversation), since a resend could do it twice.';
      }
      return unreachableCrisp(error) ?? `Crisp is unavailable right now (${error.code}); try again later.`;
    default:
      return `Crisp is unavailable right now (${error.code}); try again later.`;
  }
}

/**
 * A Crisp that could not be reached at all (no HTTP answer): the client's message names the URL and
 * the system error code (ECONNREFUSED, ENOTFOUND…), which is what an operator fixes.
 */
function unreachableCrisp(error: CrispError): string | undefined {
  if (error.code !== 'crisp_unavailable' || error.status !== undefined) return undefined;
  return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}. Check CRISP_API_URL and the network, then try again.`;
}

/** The 401 answer: which settings to fix, named where the user sets them. */
function refusedCredentials(deps: ToolDeps): string {
  const fix = `Crisp refused the server's credentials (401). An operator must fix CRISP_IDENTIFIER/CRISP_KEY, or CRISP_TIER (sent: ${deps.config.credentials?.tier ?? 'plugin'}; it must be the tier the token was issued for)`;
  // A settings form has no command line to run `crisp-mcp auth …` in: the form's own names instead.
  if (deps.inSettingsTerms) return deps.inSettingsTerms(`${fix}.`);
  return `${fix}, or run \`crisp-mcp auth login\`; \`crisp-mcp auth status\` checks them.`;
}
