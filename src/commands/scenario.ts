// `crisp-mcp scenario validate|compile|schema|chat|graph FILE`: the scenario tooling for humans. The I/O
// around the pure src/scenario/ package lives here: it reads the file, prints, and in chat
// mode reads the visitor's lines from stdin and, with --call-webhooks, calls webhooks.
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { callWebhook } from '../engine/actions.js';
import { loadScenarioLibrary } from '../engine/library.js';
import type { EffectAnswer } from '../engine/port.js';
import { advanceTurn, allActions, type Advance, type TurnInput } from '../engine/turn.js';
import { graphToHtml, graphToMermaid, scenarioGraph } from '../scenario/graph.js';
import { compileText, plural, programToJson, summarize, type OutMessage, type Problem, type Program } from '../scenario/compile.js';
import { initialPosition, type Action, type ScenarioEvent } from '../scenario/run.js';
import { scenarioJsonSchema, type Position } from '../scenario/schema.js';
import { readLocalHelpdesk, type LocalHelpdesk } from './local-helpdesk.js';

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  fetch: typeof fetch;
  now: () => number;
}

const USAGE = 'usage: crisp-mcp scenario validate FILE… | compile|chat FILE | graph FILE [--format html|mermaid] | schema';

/** `crisp-mcp scenario --help`: every subcommand and every flag of SCENARIO_FLAGS. */
export const SCENARIO_HELP = `Usage: crisp-mcp scenario validate|compile|schema|chat|graph [FILE] [flags]

  validate FILE…|DIR       check scenario files: every problem with its block path; exit 1 on an error
                           (several files, or a folder's *.json, are checked as one --scenarios folder: names must be unique)
    --json                 the problems (and the summary when it compiles) as JSON; an array for several files
  compile FILE             print the linearized program
    --summary              only its summary (blocks, instructions, waiting points, hash)
  schema                   print the JSON Schema of the scenario format (for an editor)
  chat FILE                talk to the scenario in the terminal, as a visitor would
    --now DATE             the time business-hours conditions see (e.g. 2025-06-14T10:00:00Z; default now)
    --operators-available  operator-availability conditions see someone online
    --call-webhooks        really call the webhook blocks' URLs (otherwise each call is printed, and you
                           type its answer: JSON for the body, Enter for {}, or fail)
    --helpdesk FILE        the helpdesk articles blocks search: a JSON list like
                           [{"title": "Refund policy", "url": "https://…", "content": "…", "locale": "en"}]
                           (without it, every search finds nothing)
  graph FILE               draw the scenario: blocks by type, edges labelled, problems on their blocks
    --format html|mermaid  one self-contained HTML page (default) or a Mermaid flowchart

The format, block by block, is in docs/scenarios.md ("Writing a scenario").
`;

export const SCENARIO_FLAGS = {
  json: { type: 'boolean', default: false },
  summary: { type: 'boolean', default: false },
  now: { type: 'string' },
  'operators-available': { type: 'boolean', default: false },
  'call-webhooks': { type: 'boolean', default: false },
  helpdesk: { type: 'string' },
  format: { type: 'string', default: 'html' },
} as const;

class UsageError extends Error {}

export async function runScenarioCommand(argv: string[], io: Partial<CommandIO> = {}): Promise<number> {
  const sys: CommandIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, fetch: globalThis.fetch, now: Date.now, ...io };
  try {
    return await dispatch(argv, sys);
  } catch (error) {
    sys.stderr.write(`crisp-mcp scenario: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

async function dispatch(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseScenarioArgs(argv);
  const [sub, file, ...extra] = positionals;
  if (sub === 'validate' && file !== undefined) {
    const { files, notRead } = await scenarioFiles([file, ...extra]);
    // On stderr: --json's stdout stays one JSON document.
    for (const skipped of notRead) io.stderr.write(`${skipped}: not read (scenario files are JSON, named *.json; serve and bot skip it too)\n`);
    return validate(files, values.json, io);
  }
  if (sub === 'schema') {
    io.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
    return 0;
  }
  if (sub !== 'validate' && sub !== 'compile' && sub !== 'chat' && sub !== 'graph') throw new UsageError(sub === undefined ? USAGE : `unknown subcommand "${sub}"${sub === 'check' || sub === 'lint' ? ' (files are checked with validate)' : ''}; ${USAGE}`);
  if (file === undefined) throw new UsageError(`${sub} needs a FILE; ${USAGE}`);
  if (extra.length > 0) throw new UsageError(`${sub} takes one FILE at a time (got ${positionals.length - 1}; validate takes several); ${USAGE}`);
  const text = await readText(file);
  const result = compileText(text);
  const name = basename(file);

  if (sub === 'graph') {
    // Drawn whether or not the file is valid: its problems are shown on their blocks.
    if (values.format !== 'html' && values.format !== 'mermaid') throw new UsageError(`--format must be html or mermaid, got "${values.format}"`);
    const graph = scenarioGraph(parsedOrNothing(text), result.ok ? result.warnings : result.problems);
    io.stdout.write(values.format === 'html' ? graphToHtml(graph) : graphToMermaid(graph));
    // The drawing goes to a file or a page; the terminal still hears that it shows a broken scenario.
    if (!result.ok) io.stderr.write(`${name}: ${count(result.problems, 'error')}, drawn on their blocks; \`crisp-mcp scenario validate ${file}\` lists them\n`);
    return 0;
  }

  if (!result.ok) {
    for (const p of result.problems) io.stderr.write(`${formatProblem(p)}\n`);
    throw new Error(`${name} has ${count(result.problems, 'error')}; run \`crisp-mcp scenario validate ${file}\``);
  }
  if (sub === 'compile') {
    io.stdout.write(`${values.summary ? JSON.stringify(summarize(result.program), null, 2) : programToJson(result.program)}\n`);
    return 0;
  }
  const now = values.now === undefined ? undefined : Date.parse(values.now);
  if (now !== undefined && Number.isNaN(now)) throw new UsageError(`--now must be a date like 2025-06-14T10:00:00Z, got "${values.now}"`);
  const helpdesk = values.helpdesk === undefined ? undefined : await readLocalHelpdesk(values.helpdesk);
  return chat(result.program, io, { now, operatorsAvailable: values['operators-available'], callWebhooks: values['call-webhooks'], helpdesk });
}

/** The subcommand, its FILE and flags; a flag it does not take is a usage error listing those it does. */
function parseScenarioArgs(argv: string[]) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: true, options: SCENARIO_FLAGS });
  } catch (error) {
    const flags = Object.keys(SCENARIO_FLAGS).map((f) => `--${f}`).join(', ');
    const unknown = /^Unknown option '([^']+)'/.exec((error as Error).message);
    throw new UsageError(unknown ? `unknown flag ${unknown[1]}; the flags are ${flags} (crisp-mcp scenario --help says which subcommand takes which)` : (error as Error).message.split('\n')[0]!);
  }
}

/**
 * `validate FILE…`: each file's problems, then its summary line; exit 1 if any file has an error.
 * Several files are checked as a scenarios folder is loaded: two with one name is an error too.
 * `--json`: one file's object, or for several an array of them, each with its `file`.
 */
async function validate(files: string[], json: boolean, io: CommandIO): Promise<number> {
  const reports: Array<{ file: string; ok: boolean; problems: Problem[]; summary?: ReturnType<typeof summarize> }> = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const result = compileText(await readText(file));
    const problems = result.ok ? [...result.warnings] : result.problems;
    const report: (typeof reports)[number] = { file, ok: result.ok, problems, ...(result.ok ? { summary: summarize(result.program) } : {}) };
    const other = result.ok ? seen.get(result.program.scenario) : undefined;
    if (result.ok && other !== undefined) {
      report.ok = false;
      delete report.summary;
      problems.unshift({ level: 'error', path: 'name', message: `"${result.program.scenario}" is also the name of ${other}: scenario names must be unique in a folder` });
    } else if (result.ok) seen.set(result.program.scenario, file);
    reports.push(report);
  }
  const failed = reports.some((r) => !r.ok);
  if (json) {
    io.stdout.write(`${JSON.stringify(files.length === 1 ? { ok: reports[0]!.ok, problems: reports[0]!.problems, ...(reports[0]!.summary ? { summary: reports[0]!.summary } : {}) } : reports, null, 2)}\n`);
    return failed ? 1 : 0;
  }
  for (const { file, ok, problems, summary: s } of reports) {
    for (const p of problems) io.stdout.write(`${formatProblem(p)}\n`);
    const name = basename(file);
    if (!ok || s === undefined) io.stdout.write(`${name}: ${count(problems, 'error')}, ${count(problems, 'warning')}\n`);
    else {
      io.stdout.write(`${name}: ok, ${s.blocks} blocks, ${s.instructions} instructions, ${plural(s.waiting_points.length, 'waiting point')}, ${count(problems, 'warning')}, hash ${s.hash.slice(0, 12)}\n`);
      // A webhook block posts what its body names — visitors' answers — to whoever runs that URL: a reviewer sees each recipient.
      for (const url of s.webhooks) io.stdout.write(`  sends conversation data (what its webhook body names) to ${url}\n`);
    }
  }
  return failed ? 1 : 0;
}

/**
 * The files to validate: a folder stands for the *.json files serve and bot load from it with
 * --scenarios (read by the same function); `notRead`, its files that look like scenarios in another format.
 */
async function scenarioFiles(args: string[]): Promise<{ files: string[]; notRead: string[] }> {
  const files: string[] = [];
  const notRead: string[] = [];
  for (const arg of args) {
    const isFolder = await stat(arg).then(
      (s) => s.isDirectory(),
      () => false, // missing or unreadable: readText says which
    );
    if (!isFolder) {
      files.push(arg);
      continue;
    }
    const folder = await loadScenarioLibrary(arg, { onFirstUse: true });
    if (folder.files.length === 0) throw new UsageError(`${arg} holds no *.json file${folder.notRead.length ? ` (only ${folder.notRead.join(', ')})` : ''}: serve and bot read scenarios from *.json files only`);
    files.push(...folder.files);
    notRead.push(...folder.notRead.map((name) => join(arg, name)));
  }
  return { files, notRead };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`no such file: ${file}`);
    if (code === 'EISDIR') throw new UsageError(`${file} is a folder: give one scenario file (the folder is for --scenarios of serve and bot)`);
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}

function parsedOrNothing(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function formatProblem(p: Problem): string {
  return `${p.level.padEnd(7)} ${p.path === '' ? '(file)' : p.path}: ${p.message}`;
}

function count(problems: Problem[], level: Problem['level']): string {
  return plural(problems.filter((p) => p.level === level).length, level);
}


// ---------------------------------------------------------------- chat

interface ChatOptions {
  now: number | undefined;
  operatorsAvailable: boolean;
  callWebhooks: boolean;
  helpdesk: LocalHelpdesk | undefined;
}

/**
 * Plays the visitor in the terminal. Buttons are numbered: a number picks that button (or card),
 * anything else is sent as text. Webhooks are printed and their answer read from the next line
 * (JSON; Enter for `{}`; `fail` for an error), or really called with --call-webhooks.
 */
async function chat(program: Program, io: CommandIO, options: ChatOptions): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  out(`Chatting with scenario "${program.scenario}" (${program.blocks} blocks). You are the visitor; /state shows the saved position, /restart starts over, /quit leaves.`);
  const context = () => ({ now: options.now ?? io.now(), operatorsAvailable: options.operatorsAvailable });
  let position: Position = initialPosition(program);
  let pendingWebhook: Extract<Action, { type: 'webhook' }> | undefined;
  // Effects performed since the visitor last wrote: the engine's webhook-chain limit counts them, as on every channel.
  let calls = 0;

  /** Runs one input through the engine's turn, prints what the bot does; returns an exit code once the conversation is over. */
  const turn = async (input: TurnInput): Promise<number | undefined> => {
    if (input.type === 'event') calls = 0;
    let next: Advance = advanceTurn(program, position, input, context());
    for (;;) {
      position = next.position;
      pendingWebhook = undefined;
      for (const action of allActions(next)) out(describe(action));
      if (next.ignored === 'unexpected_input') out(`  (the bot is waiting for ${program.code[position.pc]?.op === 'webhook' ? 'the webhook answer' : 'something else'})`);
      const effect = next.effect;
      if (!effect) break;
      calls++;
      if (effect.type === 'search_articles') {
        const articles = options.helpdesk?.search(effect.query, { locale: effect.locale, limit: effect.limit }) ?? [];
        out(`  · ${plural(articles.length, 'article')} found${options.helpdesk ? '' : ' (no --helpdesk FILE given)'}`);
        next = advanceTurn(program, position, { type: 'answer', answer: { ok: true, status: 200, data: { articles } }, calls }, context());
        continue;
      }
      pendingWebhook = effect;
      if (!options.callWebhooks) break;
      next = advanceTurn(program, position, { type: 'answer', answer: await callWebhookFromChat(io, effect), calls }, context());
    }
    if (position.handed_off) {
      out('(handed off to a human: the bot stays silent in this conversation now)');
      return 0;
    }
    if (position.ended) {
      out('(scenario ended)');
      return 0;
    }
    if (pendingWebhook) out('webhook answer? JSON for the body (Enter = {}), or "fail"');
    else if (position.waiting && program.code[position.pc]?.op === 'match' && allActions(next).length === 0) out('(the bot waits for your message)');
    return undefined;
  };

  const echo = (io.stdin as { isTTY?: boolean }).isTTY !== true; // piped input: show it, so the output reads as a transcript
  const first = await turn({ type: 'event', event: { type: 'start' } });
  if (first !== undefined) return first;
  const lines = createInterface({ input: io.stdin, terminal: false, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line === '/quit') break;
    if (line === '/state') {
      out(JSON.stringify(position));
      continue;
    }
    const input: TurnInput | undefined =
      line === '/restart' ? { type: 'event', event: { type: 'start' } } : pendingWebhook ? webhookAnswer(line, calls, out) : { type: 'event', event: visitorEvent(program, position, line) };
    if (input === undefined) continue;
    if (echo) out(`${pendingWebhook && line !== '/restart' ? 'webhook answer' : 'you'}: ${line}`); // a webhook's answer is no visitor message
    const code = await turn(input);
    if (code !== undefined) {
      lines.close();
      return code;
    }
  }
  return 0;
}

/** A number picks the numbered button or card of the choice the bot waits on; anything else is text. */
function visitorEvent(program: Program, position: Position, line: string): ScenarioEvent {
  const ins = position.waiting ? program.code[position.pc] : undefined;
  if (ins?.op === 'choice' && /^\d+$/.test(line)) {
    const i = Number(line) - 1;
    if (i >= 0 && i < ins.values.length) return ins.message.type === 'carousel' ? { type: 'card', index: i } : { type: 'choice', value: ins.values[i]! };
  }
  return { type: 'visitor_text', text: line };
}

/** A webhook answer typed by the person chatting, as the `calls`-th effect of the turn. */
function webhookAnswer(line: string, calls: number, out: (line: string) => void): TurnInput | undefined {
  if (line.toLowerCase() === 'fail') return { type: 'answer', answer: { ok: false, status: 500, data: null }, calls };
  try {
    return { type: 'answer', answer: { ok: true, status: 200, data: line === '' ? {} : (JSON.parse(line) as unknown) }, calls };
  } catch {
    out('  (not JSON; type a JSON object, Enter for {}, or "fail")');
    return undefined;
  }
}

/** Calls the webhook as the bot does (the shared caller: answer read up to its bound, no redirects) and prints how it went. */
async function callWebhookFromChat(io: CommandIO, action: Extract<Action, { type: 'webhook' }>): Promise<EffectAnswer> {
  const answer = await callWebhook(action, randomUUID(), io.fetch);
  if (answer.status === null) io.stdout.write(`  · webhook failed: ${answer.error ?? 'no answer'}\n`);
  else io.stdout.write(`  · webhook answered ${answer.status}${answer.error ? ` (${answer.error})` : ''}\n`);
  return answer;
}

function describe(action: Action): string {
  switch (action.type) {
    case 'send_message':
      return message(action.message);
    case 'set_conversation_data':
      return `  · conversation data ${JSON.stringify(action.data)}`;
    case 'set_people_data':
      return `  · contact data ${JSON.stringify(action.data)}`;
    case 'set_people_profile':
      return `  · contact profile ${JSON.stringify(action.profile)}`;
    case 'set_segments':
      return `  · segments${action.add.length ? ` +${action.add.join(' +')}` : ''}${action.remove.length ? ` -${action.remove.join(' -')}` : ''}`;
    case 'assign':
      return `  · assign to ${action.user_id ?? action.email}`;
    case 'unassign':
      return '  · unassign';
    case 'handoff':
      return `  · handoff (${action.reason})${action.note ? `, note for operators: ${action.note}` : ''}`;
    case 'resolve':
      return '  · conversation resolved';
    case 'webhook':
      return `  · webhook ${action.method} ${action.url} ${JSON.stringify(action.body)}`;
    case 'search_articles':
      return `  · helpdesk search${action.locale ? ` (${action.locale})` : ''} ${JSON.stringify(action.query)}`;
    case 'error':
      return `  ! ${action.code} at ${action.block}: ${action.message}`;
  }
}

function message(m: OutMessage): string {
  switch (m.type) {
    case 'text':
      return `bot: ${m.text}`;
    case 'picker':
      return [`bot: ${m.text}`, ...m.choices.map((c, i) => (c.url ? `  [${c.label}] ${c.url}` : `  ${i + 1}) ${c.label}`))].join('\n');
    case 'carousel':
      return [`bot: ${m.text}`, ...m.cards.map((c, i) => `  ${i + 1}) ${c.title}${c.description ? ` — ${c.description}` : ''}${c.url ? ` ${c.url}` : ''}`)].join('\n');
    case 'file':
      return `bot: ${m.text ? `${m.text} ` : ''}[file ${m.file.name}] ${m.file.url}`;
  }
}
