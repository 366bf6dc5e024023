// The scenario runner's public surface: the format, the compiler and the pure step function.
// Nothing here does I/O; the store (src/store/) and the CLI (src/commands/scenario.ts) are separate.
export { Block, BlockId, Position, Scenario, Scalar, Vars, scenarioJsonSchema, WAITING_BLOCKS } from './schema.js';
export type { BlockType } from './schema.js';
export { compile, compileText, duplicateKeys, IMPLICIT_END, normalize, programToJson, summarize, WAITING_OPS } from './compile.js';
export type { CompileOptions, CompileResult, CompiledCondition, Instruction, Op, MatchRuleCode, OutMessage, Problem, Program, ProgramSummary } from './compile.js';
export { DEFAULT_STEP_BUDGET, initialPosition, MAX_INPUT, render, step } from './run.js';
export type { Action, ScenarioEvent, StepContext, StepResult } from './run.js';
