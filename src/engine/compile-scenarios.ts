// A scenario library compiled at once from texts, for the tests and embedded scenarios: it imports
// the compiler with itself. What the commands serve is loaded by library.ts's loadScenarioLibrary,
// which imports the compiler only when it compiles (stdio `serve` after its tools/list: bench/startup).
import * as compiler from '../scenario/compile.js';
import type { CompileOptions } from '../scenario/compile.js';
import { compileAll, ScenarioLibrary } from './library.js';

/** A library from texts; every scenario must compile (else one ScenarioLibraryError lists the problems). */
export function scenarioLibraryFromTexts(entries: ReadonlyArray<{ file: string; source: string }>, options: CompileOptions = {}): ScenarioLibrary {
  return new ScenarioLibrary(compileAll(compiler, entries, options));
}
