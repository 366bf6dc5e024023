// One block as one instruction: messages, choices, conditions and business hours in their compiled
// form.
// Part of compile.ts (the entry point); pure, no I/O.
import { DAYS, type Block, type BusinessHours, type ChoiceBlock, type Condition, type Scalar } from '../schema.js';
import type { CompiledCondition, Instruction, MatchRuleCode, OutMessage } from './program.js';
import { normalize } from '../fold.js';
import { ASSIGN_KEYS, CARD_KEYS, FILE_KEYS, SAVE_KEYS, pick } from './validate.js';

/** The block's targets are `to[e]`, `to[e + 1]`…, as instruction indexes, in the order pushTargets lists them. */
export function instruction(id: string, b: Block, to: Int32Array, e: number, endPc: number, regexes: Map<string, RegExp>, answers: string[] | undefined): Instruction {
  switch (b.type) {
    case 'message':
      return { op: 'say', block: id, message: messageOf(id, b), next: b.next === undefined ? endPc : to[e]! };
    case 'choice': {
      const count = b.choices.length;
      const values = new Array<string>(count);
      const targets = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        values[i] = b.choices[i]!.value ?? b.choices[i]!.label;
        targets[i] = to[e++]!;
      }
      return { op: 'choice', block: id, message: choiceMessage(id, b), answers: answers!, values, targets, fallback: b.fallback === undefined ? -1 : to[e]!, save: b.save ?? null };
    }
    case 'ask': {
      const v = b.validation;
      return {
        op: 'ask',
        block: id,
        message: { type: 'text', text: b.text },
        ...(v === undefined ? { check: null } : typeof v === 'string' ? { check: v } : { check: 'regex', re: regexes.get(`blocks.${id}.validation.regex`)! }),
        invalid: b.invalid_text === undefined ? null : { type: 'text', text: b.invalid_text },
        save: pick(b.save, SAVE_KEYS),
        next: to[e]!,
      };
    }
    case 'match': {
      const rules = new Array<MatchRuleCode>(b.rules.length);
      for (let i = 0; i < rules.length; i++) {
        const r = b.rules[i]!;
        if (r.regex !== undefined) {
          rules[i] = { kind: 'regex', words: [], re: regexes.get(`blocks.${id}.rules.${i}.regex`)!, next: to[e++]! };
          continue;
        }
        const words = r.contains ?? r.exact ?? [];
        rules[i] = { kind: r.contains !== undefined ? 'contains' : 'exact', words: (Array.isArray(words) ? words : [words]).map(normalize), next: to[e++]! };
      }
      return { op: 'match', block: id, rules, otherwise: to[e]!, save: b.save ?? null };
    }
    case 'condition':
      return { op: 'cond', block: id, when: conditions(b.when).map(condition), then: to[e]!, else: to[e + 1]! };
    case 'set':
      return {
        op: 'set',
        block: id,
        vars: b.vars ? { ...b.vars } : null,
        conversation_data: b.conversation_data ? { ...b.conversation_data } : null,
        people_data: b.people_data ? { ...b.people_data } : null,
        segments: b.segments ? { add: [...(b.segments.add ?? [])], remove: [...(b.segments.remove ?? [])] } : null,
        next: to[e]!,
      };
    case 'webhook': {
      const next = to[e]!;
      return {
        op: 'webhook',
        block: id,
        url: b.url,
        method: b.method ?? 'POST',
        body: b.body ? { ...b.body } : null,
        map: Object.entries(b.map ?? {}).map(([name, path]) => [name, path.split('.')]),
        next,
        on_error: b.on_error === undefined ? next : to[e + 1]!,
      };
    }
    case 'articles':
      return {
        op: 'articles',
        block: id,
        query: b.query ?? null,
        text: b.text ?? 'These articles may help:',
        limit: b.limit ?? 3,
        locale: b.locale ?? null,
        display: b.display ?? 'buttons',
        next: to[e]!,
        none: to[e + 1]!,
      };
    case 'handoff':
      return {
        op: 'handoff',
        block: id,
        message: b.text === undefined ? null : { type: 'text', text: b.text },
        assign: b.assign ? pick(b.assign, ASSIGN_KEYS) : null,
        unassign: b.unassign ?? false,
        note: b.note ?? null,
        reason: b.reason ?? 'handoff',
      };
    case 'end':
      return { op: 'end', block: id, message: b.text === undefined ? null : { type: 'text', text: b.text }, resolve: b.resolve ?? false };
  }
}

function messageOf(id: string, b: Extract<Block, { type: 'message' }>): OutMessage {
  const text = b.text ?? '';
  if (b.buttons) return { type: 'picker', id, text, choices: b.buttons.map((x) => ({ value: x.label, label: x.label, url: x.url })) };
  if (b.cards) return { type: 'carousel', text, cards: b.cards.map((c) => pick(c, CARD_KEYS)) };
  if (b.file) return b.text === undefined ? { type: 'file', file: pick(b.file, FILE_KEYS) } : { type: 'file', text, file: pick(b.file, FILE_KEYS) };
  return { type: 'text', text };
}

function choiceMessage(id: string, b: ChoiceBlock): OutMessage {
  if (b.display === 'carousel') {
    return {
      type: 'carousel',
      text: b.text,
      cards: b.choices.map((c) => ({ title: c.label, value: c.value ?? c.label, ...(c.description ? { description: c.description } : {}), ...(c.image ? { image: c.image } : {}) })),
    };
  }
  return { type: 'picker', id, text: b.text, choices: b.choices.map((c) => ({ value: c.value ?? c.label, label: c.label })) };
}

export function conditions(when: Condition | Condition[]): Condition[] {
  return Array.isArray(when) ? when : [when];
}

function condition(c: Condition): CompiledCondition {
  if ('business_hours' in c) return hours(c.business_hours);
  if ('operators_available' in c) return { kind: 'operators', available: c.operators_available };
  const op = (['equals', 'not_equals', 'exists', 'contains', 'matches', 'gt', 'lt'] as const).find((k) => c[k] !== undefined)!;
  const value = c[op] as Scalar;
  if (op === 'matches') return { kind: 'var', var: c.var, op, value, re: new RegExp(String(value), 'i') };
  return { kind: 'var', var: c.var, op, value: op === 'contains' ? normalize(String(value)) : value };
}

function hours(h: BusinessHours): CompiledCondition {
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  return {
    kind: 'hours',
    timezone: h.timezone,
    ranges: h.hours.map((r) => ({ days: r.days.reduce((mask, d) => mask | (1 << DAYS.indexOf(d)), 0), from: minutes(r.from), to: minutes(r.to) })),
    closed: [...(h.closed_dates ?? [])],
  };
}

// ---------------------------------------------------------------- helpers

/** The runtime's canonical IANA names, read once: a lookup here costs far less than a formatter. */
let knownTimeZones: ReadonlySet<string> | undefined;

export function validTimeZone(tz: string): boolean {
  // A DateTimeFormat with a time zone loads the time-zone data (about 10 MiB resident, 50 ms), which
  // a server compiling its scenarios at start-up would pay before any conversation asks the hour
  // (bench/startup). Only names outside the canonical list (aliases such as UTC) build one.
  knownTimeZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (knownTimeZones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}
