// The limits a turn runs under, the same on every channel (the MCP draft/post tools, the
// autopilot, the converse API), so that a scenario behaves alike whatever drives it:
//
// - Step budget: one step() runs at most DEFAULT_STEP_BUDGET instructions (scenario/run.ts); past
//   it the runner emits an error and a handoff.
// - Webhook chain: a turn calls at most MAX_WEBHOOKS_PER_TURN webhooks (or helpdesk searches) in a row (an answer may lead
//   to another webhook). The last answer is applied; if it leads to one more webhook, that one is
//   not called: the conversation is handed to a human (a handoff with reason `webhook_chain`).
// - URL allow-list: only the URLs the scenario itself names are called. Any other counts as a
//   failed call (not made), so the scenario takes its error path.
// - Regex backtracking: a scenario's own regexes (match rules, ask validation, conditions) meet
//   visitor text. The compiler refuses the nested repeats that backtrack exponentially
//   (scenario/compile/regex-repeat.ts); for what that check cannot see, such as ^(a.|.b)+$, V8 is told
//   to finish a match that backtracks too much on its linear-time engine. The flag is process-wide
//   and read when a regex first runs, so it is set before the first turn steps (advanceTurn), not
//   at import: loading node:v8 costs a start-up that serves no scenario 1.5 MiB and ~2 ms
//   (bench/startup). That engine (Node 20's) takes no i or u flag, backreferences or lookarounds:
//   those regexes keep only the compiler's check.
import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import type { Action, Position, StepResult } from '../scenario/index.js';
import type { EffectAnswer } from './port.js';
import type { LoadedScenario } from './library.js';

export const MAX_WEBHOOKS_PER_TURN = 5;

let backtrackingLimited = false;

/** Tells V8 to finish a regex match that backtracks too much on its linear-time engine; once per process. */
export function limitRegexBacktracking(): void {
  if (backtrackingLimited) return;
  backtrackingLimited = true;
  (createRequire(import.meta.url)('node:v8') as typeof V8).setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}

/** The handoff a turn ends with when its webhook chain reaches MAX_WEBHOOKS_PER_TURN. */
export const WEBHOOK_CHAIN_HANDOFF: Extract<Action, { type: 'handoff' }> = {
  type: 'handoff',
  reason: 'webhook_chain',
  note: `The scenario called ${MAX_WEBHOOKS_PER_TURN} webhooks in a row without the visitor writing; the bot stopped here.`,
};

/**
 * A step's result after `calls` webhooks of this turn: unchanged, unless it stops at one more
 * webhook than the chain allows — then that webhook is replaced by the chain handoff and the
 * position is handed off.
 */
export function capWebhookChain(result: StepResult, calls: number): StepResult {
  const last = result.actions.at(-1);
  if ((last?.type !== 'webhook' && last?.type !== 'search_articles') || calls < MAX_WEBHOOKS_PER_TURN) return result;
  const position: Position = { ...result.position, handed_off: true, waiting: false };
  return { ...result, actions: [...result.actions.slice(0, -1), WEBHOOK_CHAIN_HANDOFF], position };
}

/** Whether a webhook the runner stopped at may be called: it is one the scenario names. */
export function webhookAllowed(loaded: LoadedScenario, url: string): boolean {
  return loaded.summary.webhooks.includes(url);
}

/** The answer of a webhook that was not called because the scenario does not name its URL. */
export function refusedWebhook(url: string): EffectAnswer {
  return { url, status: null, ok: false, data: null, error: "not one of the scenario's webhooks: not called" };
}
