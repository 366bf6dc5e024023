// Scenario files → LoadedScenario: the scenario compiler's one use in the engine. library.ts
// imports this module when it compiles (loadScenarioLibrary), not at load: stdio `serve` answers
// initialize and tools/list without the compiler and the scenario format's schemas, and loads
// them when it compiles its library after that (bench/startup).
import { compileText, summarize, withoutBom, type CompileOptions, type Problem } from '../scenario/compile.js';
import { ScenarioLibrary, ScenarioLibraryError, type LoadedScenario } from './library.js';

/** Compiles one scenario from its JSON text; throws ScenarioLibraryError (code scenario_invalid) with the problems. */
export function compileScenario(file: string, text: string, options: CompileOptions = {}): LoadedScenario {
  // Kept without a byte order mark: whoever reads `source` (the scenario resource) parses it as JSON.
  const source = withoutBom(text);
  const result = compileText(source, options);
  if (!result.ok) throw new ScenarioLibraryError('scenario_invalid', invalidMessage([{ file, problems: result.problems }]), [{ file, problems: result.problems }]);
  const parsed = JSON.parse(source) as { description?: unknown };
  return {
    name: result.program.scenario,
    file,
    source,
    description: typeof parsed.description === 'string' ? parsed.description : '',
    program: result.program,
    summary: summarize(result.program),
    warnings: result.warnings,
  };
}

/** A library from texts (tests, embedded scenarios); every scenario must compile. */
export function scenarioLibraryFromTexts(entries: ReadonlyArray<{ file: string; source: string }>, options: CompileOptions = {}): ScenarioLibrary {
  return new ScenarioLibrary(compileAll(entries, options));
}

/** Compiles every entry; one ScenarioLibraryError lists each file that does not compile, with its problems. */
export function compileAll(entries: ReadonlyArray<{ file: string; source: string }>, options: CompileOptions): LoadedScenario[] {
  const loaded: LoadedScenario[] = [];
  const bad: Array<{ file: string; problems: Problem[] }> = [];
  for (const { file, source } of entries) {
    try {
      loaded.push(compileScenario(file, source, options));
    } catch (error) {
      if (!(error instanceof ScenarioLibraryError)) throw error;
      bad.push(...error.files);
    }
  }
  if (bad.length) throw new ScenarioLibraryError('scenario_invalid', invalidMessage(bad), bad);
  return loaded;
}

function invalidMessage(bad: ReadonlyArray<{ file: string; problems: Problem[] }>): string {
  const lines = bad.flatMap(({ file, problems }) => [
    `${file}:`,
    ...problems.filter((p) => p.level === 'error').map((p) => `  ${p.path === '' ? '(file)' : p.path}: ${p.message}`),
  ]);
  const n = bad.length;
  return [`${n} scenario file${n === 1 ? '' : 's'} did not compile (fix ${n === 1 ? 'it' : 'them'}, or check with \`crisp-mcp scenario validate FILE\`):`, ...lines].join('\n');
}
