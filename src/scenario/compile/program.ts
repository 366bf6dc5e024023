// The compiled program: its instructions, messages and conditions as data (what run.ts executes),
// and the problems a compile reports.
// Part of compile.ts (the entry point); pure, no I/O.
import type { SaveTarget, Scalar } from '../schema.js';

/** A message the bot sends, as data; `text` may hold `{{var}}`, which run.ts fills in. */
export type OutMessage =
  | { type: 'text'; text: string }
  | { type: 'picker'; id: string; text: string; choices: Array<{ value: string; label: string; url?: string }> }
  | { type: 'carousel'; text: string; cards: Array<{ title: string; description?: string; image?: string; url?: string; button?: string; value?: string }> }
  | { type: 'file'; text?: string; file: { url: string; name: string; mime: string } };

export type CompiledCondition =
  | { kind: 'var'; var: string; op: 'equals' | 'not_equals' | 'exists' | 'contains' | 'matches' | 'gt' | 'lt'; value: Scalar; re?: RegExp }
  | { kind: 'hours'; timezone: string; ranges: Array<{ days: number; from: number; to: number }>; closed: string[] }
  | { kind: 'operators'; available: boolean };

export interface MatchRuleCode {
  kind: 'contains' | 'exact' | 'regex';
  /** Lowercased words (contains, exact). */
  words: string[];
  re?: RegExp;
  next: number;
}

/** One instruction per block. Every edge (`next`, `then`, `targets`…) is an index into `Program.code`. */
export type Instruction =
  | { op: 'say'; block: string; message: OutMessage; next: number }
  | {
      op: 'choice';
      block: string;
      message: OutMessage;
      /** Accepted answers, lowercased: `answers[2i]` is choice i's label, `answers[2i + 1]` its value. */
      answers: string[];
      /** The value each choice saves. */
      values: string[];
      targets: number[];
      /** -1: none (the buttons are shown again). */
      fallback: number;
      save: string | null;
    }
  | { op: 'ask'; block: string; message: OutMessage; check: 'email' | 'phone' | 'regex' | null; re?: RegExp; invalid: OutMessage | null; save: SaveTarget; next: number }
  | { op: 'match'; block: string; rules: MatchRuleCode[]; otherwise: number; save: string | null }
  | { op: 'cond'; block: string; when: CompiledCondition[]; then: number; else: number }
  | {
      op: 'set';
      block: string;
      vars: Record<string, Scalar> | null;
      conversation_data: Record<string, Scalar> | null;
      people_data: Record<string, Scalar> | null;
      segments: { add: string[]; remove: string[] } | null;
      next: number;
    }
  | { op: 'webhook'; block: string; url: string; method: 'POST' | 'GET'; body: Record<string, Scalar> | null; map: Array<[string, string[]]>; next: number; on_error: number }
  | { op: 'handoff'; block: string; message: OutMessage | null; assign: { user_id?: string; email?: string } | null; unassign: boolean; note: string | null; reason: string }
  | { op: 'end'; block: string; message: OutMessage | null; resolve: boolean };

export type Op = Instruction['op'];
/** Ops that end a turn waiting: for the visitor (choice, ask, match) or for a webhook's answer. */
export const WAITING_OPS: ReadonlySet<Op> = new Set(['choice', 'ask', 'match', 'webhook']);

export interface Program {
  scenario: string;
  version: string | number;
  /** sha-256 of the canonical source (see hashSource). */
  hash: string;
  /** Index of the start instruction (always 0: the start block is laid out first). */
  start: number;
  code: Instruction[];
  /** Block id → instruction index; `$end` is the implicit end after a message without next. */
  index: ReadonlyMap<string, number>;
  /** Old block id → block id of this version (the scenario's `migrations`). */
  migrations: Record<string, string>;
  /** Blocks in the source (code may hold one more: `$end`). */
  blocks: number;
}

export interface Problem {
  level: 'error' | 'warning';
  /** Where, as a dotted path into the scenario (`blocks.ask_email.validation.regex`); "" for the file. */
  path: string;
  message: string;
}

export type CompileResult = { ok: true; program: Program; warnings: Problem[] } | { ok: false; problems: Problem[] };

export interface CompileOptions {
  /** Origins the server lets webhooks call; when given, a scenario may only list origins among them. */
  webhookOrigins?: readonly string[];
  /** From how many blocks zod's compiled parsers read the file (default COMPILED_PARSERS_FROM_BLOCKS; 0: always, as the tests of that path do). */
  compiledParsersFromBlocks?: number;
}

export const IMPLICIT_END = '$end';
