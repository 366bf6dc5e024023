// Scenario actions and positions as short text, for drafts shown to agents and for notes to
// operators. Rendering only: nothing here does I/O.
import type { OutMessage, Program } from '../scenario/compile.js';
import { carryOver, type Action, type Position } from '../scenario/run.js';

/** A bot message as one readable text: the words, then its buttons, cards or file. */
export function messageText(m: OutMessage): string {
  switch (m.type) {
    case 'text':
      return m.text;
    case 'picker':
      return `${m.text}\nButtons: ${m.choices.map((c) => (c.url ? `${c.label} <${c.url}>` : c.label)).join(' | ')}`;
    case 'carousel':
      return `${m.text}\nCards: ${m.cards.map((c) => `${c.title}${c.url ? ` <${c.url}>` : ''}`).join(' | ')}`;
    case 'file':
      return `${m.text ? `${m.text}\n` : ''}File: ${m.file.name} <${m.file.url}>`;
  }
}

/** One line per action that is not a message. */
export function actionLine(a: Exclude<Action, { type: 'send_message' }>): string {
  switch (a.type) {
    case 'set_conversation_data':
      return `set conversation data ${JSON.stringify(a.data)}`;
    case 'set_people_data':
      return `set contact data ${JSON.stringify(a.data)}`;
    case 'set_people_profile':
      return `set contact profile ${JSON.stringify(a.profile)}`;
    case 'set_segments':
      return `segments${a.add.length ? ` +${a.add.join(' +')}` : ''}${a.remove.length ? ` -${a.remove.join(' -')}` : ''}`;
    case 'assign':
      return `assign to ${a.user_id ?? a.email ?? '?'}`;
    case 'unassign':
      return 'unassign';
    case 'handoff':
      return `hand off to a human (${a.reason})${a.note ? `; note for operators: ${a.note}` : ''}`;
    case 'resolve':
      return 'resolve the conversation';
    case 'webhook':
      return `call webhook ${a.method} ${a.url} with ${JSON.stringify(a.body)} (its answer decides what follows)`;
    case 'search_articles':
      return `search the helpdesk${a.locale ? ` (${a.locale})` : ''} for ${JSON.stringify(a.query)} and offer up to ${a.limit} articles`;
    case 'error':
      return `error ${a.code} at block ${a.block}: ${a.message}`;
  }
}

/** What the scenario waits for once at `position`. */
export function waitsFor(program: Program, position: Position): string {
  if (position.handed_off) return 'nothing: handed off to a human, the bot stays silent here (reset_scenario restarts it)';
  if (position.ended) return "nothing: the scenario ended; the visitor's next message starts it again";
  let at = position;
  if (position.program_hash !== program.hash || position.scenario !== program.scenario) {
    // Saved by another version of the scenario: what it waits for is what the next message finds.
    const moved = carryOver(program, position);
    if (!moved) return `nothing: block ${position.block} is not in this version of the scenario (nor in its migrations), so the visitor's next message starts it again`;
    at = moved.position;
  }
  if (!at.waiting) return 'nothing yet: the scenario runs on the next visitor message';
  const ins = program.code[at.pc];
  switch (ins?.op) {
    case 'choice':
      return `a choice at block ${ins.block}: ${ins.message.type === 'picker' ? ins.message.choices.map((c) => c.label).join(' | ') : ins.values.join(' | ')}`;
    case 'ask':
      return `the visitor's answer at block ${ins.block}${ins.check ? ` (${ins.check})` : ''}`;
    case 'match':
      return `the visitor's next message (block ${ins.block})`;
    case 'webhook':
      return `the answer of the webhook at block ${ins.block}`;
    case 'articles':
      return `the helpdesk search at block ${ins.block}`;
    default:
      return `block ${at.block}`;
  }
}
