// The scenario runner's public surface: the format, the compiler and the pure step function.
// Nothing here does I/O; the store (src/store/) and the CLI (src/commands/scenario.ts) are separate.
export { Position, Scalar, Vars } from './schema.js';
export { compileText, summarize, withoutBom } from './compile.js';
export type { CompileOptions, OutMessage, Problem, Program, ProgramSummary } from './compile.js';
export { carryOver, DEFAULT_STEP_BUDGET, initialPosition, step } from './run.js';
export type { Action, FoundArticle, ScenarioEvent, StepContext, StepResult } from './run.js';
