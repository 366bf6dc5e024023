// The scenario runner's surface for the rest of src: the format, the program's types and the step's.
// The compiler (compile.ts) and step() (run.ts) are imported from their own modules.
// Nothing here does I/O; the store (src/store/) and the CLI (src/commands/scenario.ts) are separate.
// The engine imports run.ts and position.ts directly, not this: stdio `serve` loads the engine at
// start-up and the compiler (compile.ts, schema.ts) only when it compiles (engine/library.ts).
export { Position, Scalar, Vars } from './schema.js';
export type { OutMessage, Program } from './compile.js';
export { carryOver, DEFAULT_STEP_BUDGET, initialPosition } from './run.js';
export type { Action, ScenarioEvent, StepContext, StepResult } from './run.js';
