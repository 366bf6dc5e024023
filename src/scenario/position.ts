// A conversation's place in a scenario, as stores keep it, apart from the scenario format
// (schema.ts, which re-exports it): the engine reads saved positions with this schema, and stdio
// `serve` loads the engine at start-up but the format's schemas only when it compiles (bench/startup).
// Pure: no I/O.
import { z } from 'zod';

export const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type Scalar = z.infer<typeof Scalar>;
/** Variables of one conversation: flat scalars, so a position stays small JSON. */
export const Vars = z.record(z.string(), Scalar);
export type Vars = z.infer<typeof Vars>;

/**
 * A conversation's saved place in a scenario: plain JSON that stores keep verbatim. `pc` indexes
 * the program's instruction array directly; `block` names the same instruction (for migrations and
 * display). `waiting`: the instruction at `pc` waits for the visitor (or a webhook or helpdesk answer).
 */
export const Position = z.object({
  scenario: z.string(),
  program_hash: z.string(),
  pc: z.number().int().nonnegative(),
  block: z.string(),
  vars: Vars,
  waiting: z.boolean(),
  handed_off: z.boolean(),
  ended: z.boolean(),
  last_fingerprint: z.number().nullable(),
});
export type Position = z.infer<typeof Position>;
