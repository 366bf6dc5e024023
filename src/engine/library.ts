// The scenarios this process serves: every `*.json` of one directory, compiled once at boot and
// kept as { source text, program, summary }. Afterwards only the compiled program is used. The
// compiler (scenario/compile.ts and the format's schemas) is imported when a library is compiled,
// not with this module: stdio `serve` loads this at start-up and compiles after it has answered
// tools/list (bench/startup).
//
// A scenario that does not compile stops the boot (ScenarioLibraryError, listing every bad file
// with each problem and its block path): a scenario silently left out would make agents and the
// autopilot behave differently from what its author wrote, and nobody reads a log line at boot.
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Compiler from '../scenario/compile.js';
import type { CompileOptions, Problem, Program, ProgramSummary } from '../scenario/compile.js';

/** What a library compiles with: the compiler module, which loadScenarioLibrary imports when it compiles. */
export type ScenarioCompiler = Pick<typeof Compiler, 'compileText' | 'summarize' | 'withoutBom'>;

export interface LoadedScenario {
  name: string;
  /** The file it came from (a path, or a label for scenarios built from text). */
  file: string;
  /** The JSON text as written. */
  source: string;
  description: string;
  program: Program;
  summary: ProgramSummary;
  /** Compile warnings (unreachable blocks…); errors never get this far. */
  warnings: Problem[];
}

export type ScenarioLibraryErrorCode = 'scenarios_dir_missing' | 'scenario_invalid' | 'scenario_duplicate';

export class ScenarioLibraryError extends Error {
  override readonly name = 'ScenarioLibraryError';
  constructor(
    readonly code: ScenarioLibraryErrorCode,
    message: string,
    /** Per file, what is wrong with it. */
    readonly files: ReadonlyArray<{ file: string; problems: Problem[] }> = [],
  ) {
    super(message);
  }
}

/** Thrown when a name is not one of the library's scenarios; the message lists the valid ones. */
export class UnknownScenarioError extends Error {
  override readonly name = 'UnknownScenarioError';
  readonly code = 'scenario_not_found';
}

/** The scenarios of a library, or how to compile them when first asked (stdio serve defers that past its start-up). */
type LibrarySource = readonly LoadedScenario[] | { files: readonly string[]; compile: () => Promise<readonly LoadedScenario[]> };

export class ScenarioLibrary {
  /** The files the scenarios come from. */
  readonly files: readonly string[];
  #byName: ReadonlyMap<string, LoadedScenario> | undefined;
  #compile: (() => Promise<readonly LoadedScenario[]>) | undefined;
  #compiling: Promise<this> | undefined;
  #failure: unknown;

  constructor(
    source: LibrarySource,
    /** The directory the scenarios were read from, for messages. */
    readonly dir?: string,
    /** Files of that directory that look like scenarios in another format (YAML, JSON5…): not read. */
    readonly notRead: readonly string[] = [],
  ) {
    if ('compile' in source) {
      this.files = source.files;
      this.#compile = source.compile;
    } else {
      this.files = source.map((s) => s.file);
      this.#byName = byName(source);
    }
  }

  /**
   * This library once its scenarios are compiled: at once for one compiled when loaded; a deferred
   * one compiles at the first call (loading the compiler), and a compile failure rejects this and
   * every later call, and is thrown by every read. Every read of a deferred library awaits this first.
   */
  compiled(): Promise<this> {
    if (this.#byName) return Promise.resolve(this);
    this.#compiling ??= this.#compile!().then(
      (scenarios) => {
        this.#byName = byName(scenarios);
        this.#compile = undefined;
        return this;
      },
      (error: unknown) => {
        this.#failure = error;
        throw error;
      },
    );
    return this.#compiling;
  }

  /** The scenarios by name; a compile failure is thrown again at each call. */
  #scenarios(): ReadonlyMap<string, LoadedScenario> {
    if (this.#byName) return this.#byName;
    if (this.#failure !== undefined) throw this.#failure;
    throw new Error('the scenario library is compiled on first use: await compiled() before reading it');
  }

  get(name: string): LoadedScenario | undefined {
    return this.#scenarios().get(name);
  }

  /** The scenario, or an UnknownScenarioError naming the valid ones. */
  require(name: string): LoadedScenario {
    const found = this.#scenarios().get(name);
    if (found) return found;
    const valid = this.names();
    throw new UnknownScenarioError(
      (valid.length ? `unknown scenario "${name}"; valid: ${valid.join(', ')} (list_scenarios)` : `unknown scenario "${name}": no scenarios are loaded${this.dir ? ` from ${this.dir}` : ''}`) + this.notReadHint(),
    );
  }

  /** "; not read: a.yaml (…)" when the folder holds scenario-like files in another format, else "". */
  notReadHint(): string {
    return this.notRead.length ? `; not read: ${this.notRead.join(', ')} (scenario files are JSON, named *.json)` : '';
  }

  /** Names, sorted. */
  names(): string[] {
    return [...this.#scenarios().keys()];
  }

  /** Scenarios, sorted by name. */
  list(): LoadedScenario[] {
    return [...this.#scenarios().values()];
  }

  get size(): number {
    return this.#scenarios().size;
  }
}

/** Compiles one scenario from its JSON text; throws ScenarioLibraryError (code scenario_invalid) with the problems. */
function compileScenario(compiler: ScenarioCompiler, file: string, text: string, options: CompileOptions): LoadedScenario {
  // Kept without a byte order mark: whoever reads `source` (the scenario resource) parses it as JSON.
  const source = compiler.withoutBom(text);
  const result = compiler.compileText(source, options);
  if (!result.ok) throw new ScenarioLibraryError('scenario_invalid', invalidMessage([{ file, problems: result.problems }]), [{ file, problems: result.problems }]);
  const parsed = JSON.parse(source) as { description?: unknown };
  return {
    name: result.program.scenario,
    file,
    source,
    description: typeof parsed.description === 'string' ? parsed.description : '',
    program: result.program,
    summary: compiler.summarize(result.program),
    warnings: result.warnings,
  };
}

/** Compiles every entry; one ScenarioLibraryError lists each file that does not compile, with its problems. */
export function compileAll(compiler: ScenarioCompiler, entries: ReadonlyArray<{ file: string; source: string }>, options: CompileOptions = {}): LoadedScenario[] {
  const loaded: LoadedScenario[] = [];
  const bad: Array<{ file: string; problems: Problem[] }> = [];
  for (const { file, source } of entries) {
    try {
      loaded.push(compileScenario(compiler, file, source, options));
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

/**
 * Reads and compiles every `*.json` of `dir` (not recursive). Throws ScenarioLibraryError when the
 * directory is missing, when any file fails to compile (all of them are reported at once), or when
 * two files use one scenario name. An empty directory gives an empty library. `onFirstUse`: only
 * read the files now (a folder that cannot be read still throws here); compile them at the first
 * compiled() call, and throw the compile error at each ask from then on.
 */
export async function loadScenarioLibrary(dir: string, options: CompileOptions & { onFirstUse?: boolean } = {}): Promise<ScenarioLibrary> {
  const { onFirstUse, ...compile } = options;
  const root = resolve(dir);
  let names: string[];
  let notRead: string[];
  try {
    const files = (await readdir(root, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    names = files.filter((name) => name.endsWith('.json'));
    notRead = files.filter((name) => OTHER_FORMATS.test(name) && !name.endsWith('.json')).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ScenarioLibraryError(
      'scenarios_dir_missing',
      code === 'ENOENT'
        ? `--scenarios ${dir}: no such directory`
        : code === 'ENOTDIR'
          ? `--scenarios ${dir} is a file: point it at the directory that holds the scenario files (*.json)`
          : `--scenarios ${dir}: cannot read it (${code ?? (error as Error).message})`,
    );
  }
  const entries = await Promise.all(names.sort().map(async (name) => ({ file: join(root, name), source: await readFile(join(root, name), 'utf8') })));
  const compiled = async () => compileAll(await import('../scenario/compile.js'), entries, compile);
  if (onFirstUse) return new ScenarioLibrary({ files: entries.map((e) => e.file), compile: compiled }, root, notRead);
  return new ScenarioLibrary(await compiled(), root, notRead);
}

/** Names a scenario written in another format than JSON would have: said, since the folder reads *.json only. */
const OTHER_FORMATS = /\.(ya?ml|json5|jsonc|json)$/i;

/** The example scenarios shipped in the package's own `scenarios/` folder (two levels up from dist/bot/ and src/bot/ alike). */
export const SHIPPED_SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios', import.meta.url));

/**
 * The default of --scenarios: `./scenarios` under `cwd` when it is a directory, else the shipped
 * examples (so an installed package, started from anywhere, has scenario tools), else undefined.
 */
export function defaultScenariosDir(cwd: string = process.cwd(), shipped: string = SHIPPED_SCENARIOS_DIR): string | undefined {
  return [join(cwd, 'scenarios'), shipped].find(isDirectory);
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** Scenarios by name in code-unit order (the same in every locale; localeCompare would load ICU's collation data at start-up). */
function byName(scenarios: readonly LoadedScenario[]): ReadonlyMap<string, LoadedScenario> {
  const map = new Map<string, LoadedScenario>();
  for (const s of [...scenarios].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const other = map.get(s.name);
    if (other) throw new ScenarioLibraryError('scenario_duplicate', `two scenarios are named "${s.name}": ${other.file} and ${s.file}; scenario names must be unique`);
    map.set(s.name, s);
  }
  return map;
}
