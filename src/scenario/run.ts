// The runner: a pure step function over a compiled program. It resumes at `position.pc` (an index
// into the instruction array, O(1) however big the graph), applies the event, runs until the
// scenario waits, hands off or ends, and returns the actions to perform as data; it performs none.
// Time and operator availability come in through `context`, never from a clock.
import { z } from 'zod';
import type { CompiledCondition, Instruction, OutMessage, Program } from './compile.js';
import { asciiDigits, compatible, cut, normalize } from './fold.js';
import { pick, route } from './pick.js';
import type { Position, Scalar, Vars } from './position.js';

export type { Position, Vars };

/** What happened in the conversation. `fingerprint` (Crisp's message fingerprint) makes redelivery a no-op. */
export type ScenarioEvent =
  | { type: 'start'; text?: string; fingerprint?: number }
  | { type: 'visitor_text'; text: string; fingerprint?: number }
  | { type: 'choice'; value: string; fingerprint?: number }
  | { type: 'card'; index: number; fingerprint?: number }
  | { type: 'webhook_result'; ok: boolean; status?: number; data?: unknown }
  | { type: 'articles_result'; articles: FoundArticle[] };

/** A helpdesk article a search found, as an `articles` block offers it. */
export interface FoundArticle {
  title: string;
  url: string;
  description?: string;
}

export type Action =
  | { type: 'send_message'; message: OutMessage }
  | { type: 'set_conversation_data'; data: Record<string, Scalar> }
  | { type: 'set_people_data'; data: Record<string, Scalar> }
  | { type: 'set_people_profile'; profile: Partial<Record<'email' | 'phone' | 'nickname', string>> }
  | { type: 'set_segments'; add: string[]; remove: string[] }
  | { type: 'assign'; user_id?: string; email?: string }
  | { type: 'unassign' }
  | { type: 'handoff'; reason: string; note?: string }
  | { type: 'resolve' }
  | { type: 'webhook'; block: string; url: string; method: 'POST' | 'GET'; body: Record<string, Scalar> }
  | { type: 'search_articles'; block: string; query: string; locale: string | null; limit: number }
  | { type: 'error'; code: 'step_budget' | 'no_clock'; message: string; block: string };

export interface StepContext {
  /** The time, for business-hours conditions. */
  now?: number | Date;
  /** Whether an operator is available; unknown counts as not available. */
  operatorsAvailable?: boolean;
  /** Instructions one turn may run before it is cut off (default DEFAULT_STEP_BUDGET). */
  budget?: number;
}

export interface StepResult {
  actions: Action[];
  position: Position;
  /** The saved position could not be resumed as is, so the scenario started again from its start. */
  restarted?: { reason: 'program_changed' | 'bad_position'; from_hash: string; from_block: string };
  /** The saved position was from another version of the program and resumes in this one: where a declared migration says, or at the block of the same id (to_block = from_block). */
  migrated?: { from_block: string; to_block: string };
  /** Nothing ran: the bot is silent (handed off), the message was handled already, or the scenario waits for something else. */
  ignored?: 'handed_off' | 'duplicate' | 'unexpected_input';
}

export const DEFAULT_STEP_BUDGET = 1_000;
/** Visitor text beyond this many characters is not looked at by match rules and validations. */
export const MAX_INPUT = 4_000;

export function initialPosition(program: Program): Position {
  return {
    scenario: program.scenario,
    program_hash: program.hash,
    pc: program.start,
    block: program.code[program.start]?.block ?? '',
    vars: {},
    waiting: false,
    handed_off: false,
    ended: false,
    last_fingerprint: null,
  };
}

type Input = { kind: 'text'; text: string } | { kind: 'card'; index: number } | { kind: 'webhook'; ok: boolean; data: unknown } | { kind: 'articles'; articles: FoundArticle[] } | null;

/** The op whose answer each effect result event is; any other event is visitor input. */
const ANSWERS: Partial<Record<ScenarioEvent['type'], Instruction['op']>> = { webhook_result: 'webhook', articles_result: 'articles' };

/** One turn: resume `position` with `event`, run, return the actions and the new position. */
export function step(program: Program, position: Position, event: ScenarioEvent, context: StepContext = {}): StepResult {
  const answers = ANSWERS[event.type];
  const fingerprint = answers !== undefined || !('fingerprint' in event) ? undefined : event.fingerprint;
  let pos = position;
  let restarted: StepResult['restarted'];
  let migrated: StepResult['migrated'];
  if (event.type === 'start') pos = initialPosition(program);
  else {
    if (pos.handed_off) return { actions: [], position: pos, ignored: 'handed_off' };
    if (fingerprint !== undefined && fingerprint === pos.last_fingerprint) return { actions: [], position: pos, ignored: 'duplicate' };
    if (pos.program_hash !== program.hash || pos.scenario !== program.scenario) {
      // Saved by another version of the scenario: resume where `migrations` say, else at the block
      // of the same id (a reworded text, a block added elsewhere, a new version number: the
      // visitor's answer goes to the question they saw), else restart from the start.
      const moved = pos.ended ? undefined : carryOver(program, pos, answers);
      if (moved) {
        migrated = moved.migrated;
        pos = moved.position;
      } else if (answers === undefined) {
        restarted = { reason: 'program_changed', from_hash: pos.program_hash, from_block: pos.block };
        pos = initialPosition(program);
      }
    } else if (program.code[pos.pc]?.block !== pos.block) {
      restarted = { reason: 'bad_position', from_hash: pos.program_hash, from_block: pos.block };
      pos = initialPosition(program);
    } else if (pos.ended && answers === undefined) pos = initialPosition(program);
    // A webhook's or a search's answer only means something to the block that waits for it.
    if (answers !== undefined && !(pos.waiting && pos.program_hash === program.hash && program.code[pos.pc]?.op === answers)) {
      return { actions: [], position, ignored: 'unexpected_input' };
    }
  }
  const turn = new Turn(program, pos, context);
  const ignored = turn.run(inputOf(event));
  const result: StepResult = { actions: turn.actions, position: turn.position(fingerprint ?? pos.last_fingerprint) };
  if (restarted) result.restarted = restarted;
  if (migrated) result.migrated = migrated;
  if (ignored) result.ignored = 'unexpected_input';
  return result;
}

/**
 * A position saved by another program, carried over to `program`: to the block its `migrations`
 * name for the saved block, else to the block of the same id; undefined when neither exists. It
 * still waits only if the block it lands on waits for what comes: the visitor's words for a visitor
 * event (a `choice`, `ask` or `match`), the effect's answer for an answer (`answers`). Otherwise the
 * block runs: a `webhook` a visitor was moved to is called, rather than waiting for an answer no call
 * will bring.
 */
export function carryOver(program: Program, pos: Position, answers?: Instruction['op']): { position: Position; migrated: NonNullable<StepResult['migrated']> } | undefined {
  const target = Object.hasOwn(program.migrations, pos.block) ? program.migrations[pos.block]! : pos.block;
  const pc = program.index.get(target);
  if (pc === undefined) return undefined;
  const op = program.code[pc]!.op;
  const waiting = pos.waiting && (answers === undefined ? VISITOR_WAITS.has(op) : op === answers);
  return { position: { ...pos, scenario: program.scenario, program_hash: program.hash, pc, block: target, waiting }, migrated: { from_block: pos.block, to_block: target } };
}

/** The instructions that wait for the visitor's words (the others wait for an effect's answer). */
const VISITOR_WAITS: ReadonlySet<Instruction['op']> = new Set(['choice', 'ask', 'match']);

function inputOf(event: ScenarioEvent): Input {
  switch (event.type) {
    case 'start':
      return event.text === undefined ? null : { kind: 'text', text: event.text };
    case 'visitor_text':
      return { kind: 'text', text: event.text };
    case 'choice':
      return { kind: 'text', text: event.value };
    case 'card':
      return { kind: 'card', index: event.index };
    case 'webhook_result':
      return { kind: 'webhook', ok: event.ok, data: event.data };
    case 'articles_result':
      return { kind: 'articles', articles: event.articles };
  }
}

class Turn {
  readonly actions: Action[] = [];
  private pc: number;
  private vars: Vars;
  private ownVars = false;
  private waiting: boolean;
  private handedOff: boolean;
  private ended: boolean;
  private steps = 0;
  /** The visitor's words this turn, for an articles block without a query of its own. */
  private said = '';
  private readonly code: Instruction[];

  constructor(
    private readonly program: Program,
    from: Position,
    private readonly context: StepContext,
  ) {
    this.code = program.code;
    this.pc = from.pc;
    this.vars = from.vars;
    this.waiting = from.waiting;
    this.handedOff = from.handed_off;
    this.ended = from.ended;
  }

  position(lastFingerprint: number | null): Position {
    return {
      scenario: this.program.scenario,
      program_hash: this.program.hash,
      pc: this.pc,
      block: this.code[this.pc]!.block,
      vars: this.vars,
      waiting: this.waiting,
      handed_off: this.handedOff,
      ended: this.ended,
      last_fingerprint: lastFingerprint,
    };
  }

  /** Returns true if the event was not what the scenario waits for (and nothing ran). */
  run(input: Input): boolean {
    let fresh = input;
    if (input?.kind === 'text') this.said = input.text;
    if (this.waiting) {
      const ins = this.code[this.pc]!;
      this.steps++;
      switch (ins.op) {
        case 'choice': {
          if (fresh === null || fresh.kind === 'webhook' || fresh.kind === 'articles') return true;
          const picked = pick(ins, fresh);
          if (typeof picked === 'number') {
            if (ins.save !== null) this.set(ins.save, ins.values[picked]!);
            this.pc = ins.targets[picked]!;
            fresh = null;
          } else if (picked === undefined && fresh.kind === 'text' && ins.fallback >= 0) {
            this.pc = ins.fallback; // the answer stays fresh, so a match there can route it
          } else {
            // Not one of the choices and nowhere to go, or the words of two of them: show the buttons again.
            this.send(ins.message);
            return false;
          }
          break;
        }
        case 'ask': {
          if (fresh?.kind !== 'text') return true;
          const value = validate(ins, fresh.text);
          if (value === null) {
            this.send(ins.invalid ?? ins.message);
            return false;
          }
          this.save(ins.save, value);
          this.pc = ins.next;
          fresh = null;
          break;
        }
        case 'match':
          if (fresh?.kind !== 'text') return true;
          break; // the loop routes it
        case 'webhook':
          if (fresh?.kind !== 'webhook') return true;
          for (const [name, path] of ins.map) this.set(name, dig(fresh.data, path));
          this.pc = fresh.ok ? ins.next : ins.on_error;
          fresh = null;
          break;
        case 'articles': {
          if (fresh?.kind !== 'articles') return true;
          const found = fresh.articles.slice(0, ins.limit);
          if (found.length > 0) this.send(articlesMessage(ins, found));
          this.pc = found.length > 0 ? ins.next : ins.none;
          fresh = null;
          break;
        }
        default:
          break; // not a waiting instruction: run it
      }
      this.waiting = false;
    }
    this.loop(fresh);
    return false;
  }

  private loop(input: Input): void {
    let fresh = input;
    const budget = this.context.budget ?? DEFAULT_STEP_BUDGET;
    for (;;) {
      const ins = this.code[this.pc]!;
      if (this.steps++ >= budget) {
        this.actions.push(
          { type: 'error', code: 'step_budget', message: `the turn ran ${budget} steps without waiting; a human takes over`, block: ins.block },
          { type: 'handoff', reason: 'step_budget' },
        );
        this.handedOff = true;
        return;
      }
      switch (ins.op) {
        case 'say':
          this.send(ins.message);
          this.pc = ins.next;
          break;
        case 'choice':
        case 'ask':
          this.send(ins.message);
          this.waiting = true;
          return;
        case 'match': {
          if (fresh?.kind !== 'text') {
            this.waiting = true;
            return;
          }
          const text = cut(fresh.text, MAX_INPUT);
          if (ins.save !== null) this.set(ins.save, text.trim());
          this.pc = route(ins, text);
          fresh = null;
          break;
        }
        case 'cond':
          this.pc = this.holds(ins.when, ins.block) ? ins.then : ins.else;
          break;
        case 'set':
          if (ins.vars !== null) for (const name in ins.vars) this.set(name, this.value(ins.vars[name]!));
          if (ins.conversation_data !== null) this.actions.push({ type: 'set_conversation_data', data: this.values(ins.conversation_data) });
          if (ins.people_data !== null) this.actions.push({ type: 'set_people_data', data: this.values(ins.people_data) });
          if (ins.segments !== null) this.actions.push({ type: 'set_segments', add: ins.segments.add, remove: ins.segments.remove });
          this.pc = ins.next;
          break;
        case 'webhook':
          this.actions.push({ type: 'webhook', block: ins.block, url: ins.url, method: ins.method, body: ins.body === null ? { ...this.vars } : this.values(ins.body) });
          this.waiting = true;
          return;
        case 'articles': {
          const query = cut(ins.query === null ? this.said : render(ins.query, this.vars), MAX_INPUT).trim();
          if (query === '') {
            this.pc = ins.none; // nothing to search for: nothing can match
            break;
          }
          this.actions.push({ type: 'search_articles', block: ins.block, query, locale: ins.locale, limit: ins.limit });
          this.waiting = true;
          return;
        }
        case 'handoff':
          if (ins.message !== null) this.send(ins.message);
          if (ins.assign !== null) this.actions.push({ type: 'assign', ...ins.assign });
          if (ins.unassign) this.actions.push({ type: 'unassign' });
          this.actions.push(ins.note === null ? { type: 'handoff', reason: ins.reason } : { type: 'handoff', reason: ins.reason, note: render(ins.note, this.vars) });
          this.handedOff = true;
          return;
        case 'end':
          if (ins.message !== null) this.send(ins.message);
          if (ins.resolve) this.actions.push({ type: 'resolve' });
          this.ended = true;
          return;
      }
    }
  }

  private send(message: OutMessage): void {
    const text = message.text;
    const rendered = text !== undefined && text.includes('{{') ? ({ ...message, text: render(text, this.vars) } as OutMessage) : message;
    this.actions.push({ type: 'send_message', message: rendered });
  }

  private set(name: string, value: Scalar): void {
    if (!this.ownVars) {
      this.vars = { ...this.vars };
      this.ownVars = true;
    }
    this.vars[name] = value;
  }

  private save(target: Extract<Instruction, { op: 'ask' }>['save'], value: string): void {
    if (target.var !== undefined) this.set(target.var, value);
    if (target.conversation_data !== undefined) this.actions.push({ type: 'set_conversation_data', data: { [target.conversation_data]: value } });
    if (target.people_data !== undefined) this.actions.push({ type: 'set_people_data', data: { [target.people_data]: value } });
    if (target.people_profile !== undefined) this.actions.push({ type: 'set_people_profile', profile: { [target.people_profile]: value } });
  }

  private value(v: Scalar): Scalar {
    return typeof v === 'string' && v.includes('{{') ? render(v, this.vars) : v;
  }

  private values(map: Record<string, Scalar>): Record<string, Scalar> {
    const out: Record<string, Scalar> = {};
    for (const key in map) out[key] = this.value(map[key]!);
    return out;
  }

  private holds(conditions: CompiledCondition[], block: string): boolean {
    for (const c of conditions) {
      if (c.kind === 'operators') {
        if ((this.context.operatorsAvailable === true) !== c.available) return false;
      } else if (c.kind === 'hours') {
        const now = this.context.now;
        if (now === undefined) {
          this.actions.push({ type: 'error', code: 'no_clock', message: 'a business-hours condition needs context.now; taking it as closed', block });
          return false;
        }
        if (!isOpen(c, typeof now === 'number' ? now : now.getTime())) return false;
      } else if (!varHolds(c, Object.hasOwn(this.vars, c.var) ? this.vars[c.var] : undefined)) return false;
    }
    return true;
  }
}

// ---------------------------------------------------------------- matching and checks

/** The articles a search found, as link buttons (a picker) or a carousel of cards. */
function articlesMessage(ins: Extract<Instruction, { op: 'articles' }>, found: FoundArticle[]): OutMessage {
  if (ins.display === 'carousel') {
    return { type: 'carousel', text: ins.text, cards: found.map((a) => ({ title: a.title, url: a.url, button: 'Read', ...(a.description ? { description: a.description } : {}) })) };
  }
  return { type: 'picker', id: ins.block, text: ins.text, choices: found.map((a) => ({ value: a.url, label: a.title, url: a.url })) };
}

/**
 * The address check Crisp's wire schemas and the sandbox make (src/crisp/schemas.ts, `z.email()`):
 * an address the `ask` block saves must be one a `set_people_profile` can post, or the turn that
 * carries it is refused every time it is retried.
 */
const WIRE_EMAIL = z.email();
const NON_ASCII = /\P{ASCII}/u;
const PHONE = /^\+?\d{6,15}$/;
/** Invisible format characters (zero-width spaces, direction marks) that a paste carries into an address or a number. */
const FORMAT = /\p{Cf}/gu;
const PHONE_SEPARATORS = /[\s().\p{Pd}]/gu;

/** The value to save, or null if the answer fails the block's validation. */
function validate(ins: Extract<Instruction, { op: 'ask' }>, raw: string): string | null {
  const text = raw.trim();
  if (text === '' || text.length > MAX_INPUT) return null;
  switch (ins.check) {
    case null:
      return text;
    case 'email': {
      const email = asciiEmail(compatible(text).replace(FORMAT, ''));
      return email !== null && email.length <= 254 && WIRE_EMAIL.safeParse(email).success ? email : null;
    }
    case 'phone': {
      const phone = asciiDigits(compatible(text)).replace(FORMAT, '').replace(PHONE_SEPARATORS, '');
      return PHONE.test(phone) ? phone : null;
    }
    case 'regex': {
      const value = compatible(text);
      return ins.re!.test(value) ? value : null;
    }
  }
}

/**
 * The address with its domain in ASCII: a domain in another script (bücher.de) in its IDNA form
 * (xn--bcher-kva.de), which mail delivers to the same place, as the WHATWG URL parser writes it
 * (UTS #46). The part before @ has no such form: outside ASCII, null (the question is asked again).
 */
export function asciiEmail(email: string): string | null {
  const at = email.lastIndexOf('@');
  const [local, domain] = [email.slice(0, at), email.slice(at + 1)];
  if (at < 1 || NON_ASCII.test(local)) return null;
  if (!NON_ASCII.test(domain)) return email;
  // A domain with a space, a slash or another character a host cannot hold is no domain.
  if (!/^[\p{L}\p{M}\p{N}.-]+$/u.test(domain)) return null;
  try {
    return `${local}@${new URL(`http://${domain}`).hostname}`;
  } catch {
    return null;
  }
}

function varHolds(c: Extract<CompiledCondition, { kind: 'var' }>, v: Scalar | undefined): boolean {
  switch (c.op) {
    case 'exists':
      return (v !== undefined && v !== null && v !== '') === c.value;
    case 'equals':
      return same(v, c.value);
    case 'not_equals':
      return !same(v, c.value);
    case 'contains':
      return v !== undefined && v !== null && normalize(String(v)).includes(String(c.value));
    case 'matches':
      return v !== undefined && v !== null && c.re!.test(compatible(String(v)));
    case 'gt':
    case 'lt': {
      if (v === undefined || v === null || v === '') return false;
      const n = Number(v);
      return c.op === 'gt' ? n > Number(c.value) : n < Number(c.value);
    }
  }
}

/** Equal, with strings compared as match rules compare them and "5" equal to 5. */
function same(a: Scalar | undefined, b: Scalar): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === null) return false;
  return normalize(String(a)) === normalize(String(b));
}

const FORMATS = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** Whether `now` falls in the business hours, in their time zone. */
function isOpen(c: Extract<CompiledCondition, { kind: 'hours' }>, now: number): boolean {
  let format = FORMATS.get(c.timezone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: c.timezone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    FORMATS.set(c.timezone, format);
  }
  const part: Record<string, string> = {};
  for (const p of format.formatToParts(now)) part[p.type] = p.value;
  if (c.closed.length > 0 && c.closed.includes(`${part.year}-${part.month}-${part.day}`)) return false;
  const day = WEEKDAY[part.weekday ?? ''] ?? -1;
  const minute = Number(part.hour) * 60 + Number(part.minute);
  return c.ranges.some((r) => (r.days & (1 << day)) !== 0 && minute >= r.from && minute < r.to);
}

const TEMPLATE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Fills `{{name}}` from the variables; an unset variable shows as "". */
export function render(text: string, vars: Vars): string {
  return text.replace(TEMPLATE, (_, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    return v === undefined || v === null ? '' : String(v);
  });
}

/** A scalar at a dotted path of a webhook's JSON answer; objects come as JSON text, missing as null. */
function dig(data: unknown, path: string[]): Scalar {
  let v = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return null;
    v = (v as Record<string, unknown>)[key];
  }
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}
