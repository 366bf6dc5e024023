// What a planned turn says: its notes and actions as log lines, and counted in the autopilot's stats.
import type { Logger } from '../log.js';
import type { Plan } from './plan.js';
import type { AutopilotItem } from './state.js';

/** The stats a plan adds to (AutopilotStats' fields of the same names). */
export interface PlanCounts {
  turns: number;
  suppressed: number;
  paused: number;
  queued: number;
}

/** Logs what the plan of one conversation's turn did, and counts it. */
export function reportPlan(log: Logger, counts: PlanCounts, conversation: string, plan: Plan): void {
  for (const note of plan.notes) {
    switch (note.kind) {
      case 'turn':
        counts.turns++;
        counts.suppressed += note.suppressed;
        if (note.suppressed) log.info({ conversation, fingerprint: note.fingerprint, suppressed: note.suppressed }, 'identical reply to the same input suppressed');
        log.debug({ conversation, fingerprint: note.fingerprint, actions: note.actions, sends: note.sends, start: note.start }, 'turn saved');
        // Said, since the visitor sees the greeting again: the edit removed the block this conversation was at.
        if (note.restarted) {
          const { reason, from_block: block } = note.restarted;
          log.info(
            { conversation, block },
            reason === 'program_changed'
              ? `the scenario changed since this conversation's last turn and has no block ${block} (nor a migrations entry for it): it started again from the start`
              : `the saved position did not fit the scenario (block ${block}): it started again from the start`,
          );
        }
        break;
      case 'paused':
        counts.paused++;
        log.info({ conversation, reason: note.reason, by: note.by }, note.reason === 'operator' ? 'an operator wrote: the bot is silent here until the conversation is resolved' : 'reply budget spent: the bot is silent here until the conversation is resolved');
        break;
      case 'resumed':
        log.info({ conversation }, 'the conversation was resolved: the bot starts again');
        break;
      case 'skipped':
        log.debug({ conversation, fingerprint: note.fingerprint, reason: note.reason }, 'visitor message not answered');
        break;
      case 'webhook_answer':
        break;
    }
  }
  // Why the bot goes silent in a conversation, told once: the turn that hands it over or breaks off
  // (a spent reply budget is told by its 'paused' note above).
  for (const { payload } of plan.outbox) {
    const action = (payload as Partial<AutopilotItem>).action;
    if (action?.type === 'handoff' && action.reason !== 'reply_budget') log.info({ conversation, reason: action.reason }, 'the scenario handed the conversation to a human: the bot is silent here until it is resolved');
    else if (action?.type === 'error') log.warn({ conversation, code: action.code, block: action.block, error: action.message }, 'the scenario broke off its turn');
  }
  counts.queued += plan.outbox.filter((item) => (item.payload as { action?: { type?: string } }).action?.type === 'send_message').length;
}
