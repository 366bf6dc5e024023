// An operator follows README.md and docs/*.md literally: every `crisp-mcp <command> [sub] --flag`
// they name must be a subcommand and flag its --help lists, every CRISP_ variable one crisp-mcp
// reads (SETTINGS, each with its row in the README's Configuration table, whose defaults are what
// resolveConfig gives), every HTTP route one the running server answers, every --faults spec one the
// sandbox parses, and the guardrail defaults the code's own. The only exceptions are flags that are
// deliberately not crisp-mcp's (NOT_OURS, each with its reason).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GUARDRAILS, parseDuration, parseReplyBudget } from '../../src/autopilot/guardrails.js';
import { SETTINGS } from '../../src/commands/settings-warnings.js';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import { parseFaultSpec } from '../../src/sandbox/faults.js';
import { runCli } from '../helpers/cli.js';
import { spawnHttpCli, type HttpCli } from '../helpers/http.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const TEXTS = new Map(PAGES.map((page) => [page, readFileSync(join(ROOT, page), 'utf8')]));
const COMMANDS = ['serve', 'bot', 'sandbox', 'auth', 'scenario', 'store'] as const;
type Command = (typeof COMMANDS)[number];

/** Flags the docs name that belong to other programs, each with why. */
const NOT_OURS: Record<string, string> = {
  '--nodedir': "npm's, for building better-sqlite3 without a network",
  '--ignore-scripts': "npm's: an install that builds no native module",
  '--allow-scripts': "npm's: the install flag that lets better-sqlite3 build",
  '--cpu-prof': "Node's profiler, used on the benchmarks",
  '--cpu-prof-dir': "Node's profiler, used on the benchmarks",
  '--cli': "the MCP Inspector's command-line mode",
};

/** A page's fenced code lines and its prose (everything else), kept apart. */
function split(markdown: string): { code: string[]; prose: string } {
  const code: string[] = [];
  const prose: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker && (!fence || marker.startsWith(fence))) fence = fence ? undefined : marker;
    else if (fence && code.length && /^\s+\[?--/.test(line)) code[code.length - 1] += ` ${line.trim()}`; // a synopsis wrapped onto the next line
    else (fence ? code : prose).push(line);
  }
  return { code, prose: prose.join('\n') };
}

/** The shell-like snippets of a page: each fenced code line and each inline code span (which may wrap a line). */
function snippets(markdown: string): string[] {
  const { code, prose } = split(markdown);
  return [...code, ...[...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' '))];
}

/** The subcommands whose flags their command's --help gives apart, each under its own line. */
const SUBCOMMANDS: Partial<Record<Command, string[]>> = { auth: ['login', 'status', 'logout'], scenario: ['validate', 'compile', 'schema', 'chat', 'graph'], store: ['forget'] };

interface Invocation {
  page: string;
  /** `auth login`, `scenario chat`…: the subcommand when the docs name one. */
  command: string;
  flags: string[];
  /** The word after the command, for a command that takes subcommands (`validate|compile` names two). */
  second: string | undefined;
  text: string;
}

/** `crisp-mcp <command> …` (or `node dist/cli.js …`, or a span starting with a command name) with the flags it gives. */
function invocations(page: string): Invocation[] {
  const found: Invocation[] = [];
  for (const snippet of snippets(TEXTS.get(page)!)) {
    const named = /(?:\bcrisp-mcp|\bdist\/cli\.js)\s+(.*)/.exec(snippet)?.[1];
    const rest = (named ?? snippet).split(/\s(?:\||;|&&|#)\s|\s#\s?/)[0]!.trim();
    const words = rest.split(/\s+/);
    const first = words[0] ?? '';
    const command = (COMMANDS as readonly string[]).includes(first)
      ? (first as Command)
      : named === undefined || !first.startsWith('--')
        ? undefined
        : first === '--help' || first === '--version'
          ? 'top'
          : 'serve';
    if (!command) continue;
    const flags = words.flatMap((word) => /^\[*(--[a-z][a-z0-9-]*)/.exec(word)?.[1] ?? []);
    const sub = command !== 'top' && SUBCOMMANDS[command]?.includes(words[1] ?? '') ? ` ${words[1]}` : '';
    const second = command !== 'top' && SUBCOMMANDS[command] && words[1] !== undefined && !words[1].startsWith('-') ? words[1] : undefined;
    if (flags.length || (named !== undefined && second !== undefined)) found.push({ page, command: `${command}${sub}`, flags, second, text: rest });
  }
  return found;
}

/** Every `--flag` on a page, wherever it stands. */
const allFlags = (markdown: string): string[] => [...markdown.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);

/** A command's --help split by subcommand: the flags under each subcommand's line (auth and scenario list theirs apart). */
function subcommandFlags(command: Command, help: string): Map<string, Set<string>> {
  const subs = new Map<string, Set<string>>();
  let current: string | undefined;
  for (const line of help.split('\n')) {
    const sub = new RegExp(`^\\s{2}(?:crisp-mcp ${command} )?(${(SUBCOMMANDS[command] ?? []).join('|')})\\b`).exec(line)?.[1];
    if (sub) current = sub;
    if (current && SUBCOMMANDS[command]) subs.set(`${command} ${current}`, new Set([...(subs.get(`${command} ${current}`) ?? []), ...allFlags(line), '--help']));
  }
  return subs;
}

describe('the names README.md and docs/*.md give', () => {
  const accepted = new Map<string, Set<string>>();
  const helps = new Map<string, string>();

  beforeAll(async () => {
    const runs = await Promise.all([...COMMANDS.map((command) => runCli([command, '--help'])), runCli(['--help'])]);
    runs.forEach((run, index) => {
      expect(run.status, run.stderr).toBe(0);
      const command = COMMANDS[index];
      helps.set(command ?? 'top', run.stdout);
      accepted.set(command ?? 'top', new Set([...allFlags(run.stdout), '--help']));
      if (command) for (const [sub, flags] of subcommandFlags(command, run.stdout)) accepted.set(sub, flags);
    });
    expect(accepted.get('auth login')).toContain('--key-stdin');
    expect(accepted.get('auth status')).not.toContain('--key-stdin');
    expect(accepted.get('scenario chat')).toContain('--helpdesk');
  });

  it('find commands, flags, variables and routes to check', () => {
    const all = PAGES.flatMap(invocations);
    expect(new Set(all.map((i) => i.command.split(' ')[0]))).toEqual(new Set([...COMMANDS, 'top']));
    expect(all.length).toBeGreaterThan(40);
  });

  it('give each crisp-mcp command only flags its --help lists', () => {
    const wrong = PAGES.flatMap(invocations).flatMap(({ page, command, flags, text }) =>
      flags.filter((flag) => !accepted.get(command)!.has(flag)).map((flag) => `${page}: \`${text}\`: ${command === 'top' ? 'crisp-mcp' : `crisp-mcp ${command}`} has no ${flag}`),
    );
    expect(wrong).toEqual([]);
  });

  it('give auth, scenario and store only subcommands they have', () => {
    const wrong = PAGES.flatMap(invocations).flatMap(({ page, command, second, text }) => {
      const subs = SUBCOMMANDS[command.split(' ')[0] as Command];
      return subs && second !== undefined ? second.split('|').filter((word) => !subs.includes(word)).map((word) => `${page}: \`${text}\`: no subcommand ${word}`) : [];
    });
    expect(wrong).toEqual([]);
  });

  it('name no flag that no command takes, except other programs\' own', () => {
    const anyCommand = new Set([...accepted.values()].flatMap((flags) => [...flags]));
    const wrong = PAGES.flatMap((page) => [...new Set(allFlags(TEXTS.get(page)!))].filter((flag) => !anyCommand.has(flag) && !(flag in NOT_OURS)).map((flag) => `${page}: ${flag}`));
    expect(wrong).toEqual([]);
    // An allow-list entry the docs no longer need would hide a flag crisp-mcp later takes.
    const used = new Set(PAGES.flatMap((page) => allFlags(TEXTS.get(page)!)));
    expect(Object.keys(NOT_OURS).filter((flag) => !used.has(flag) || anyCommand.has(flag))).toEqual([]);
  });

  it('name only environment variables crisp-mcp reads (a NAME_* family: one it has)', () => {
    const wrong = PAGES.flatMap((page) =>
      [...new Set(TEXTS.get(page)!.match(/\bCRISP_[A-Z0-9_]*/g) ?? [])]
        .filter((name) => (name.endsWith('_') ? !SETTINGS.some((known) => known.startsWith(name)) : !SETTINGS.includes(name)))
        .map((name) => `${page}: ${name}`),
    );
    expect(wrong).toEqual([]);
  });

  it('list every setting in the README\'s Configuration table, where the misspelt-setting warning sends the operator', () => {
    const table = /\n## Configuration\n([\s\S]*?)\n## /.exec(TEXTS.get('README.md')!)?.[1] ?? '';
    const rows = new Set(table.split('\n').filter((line) => line.startsWith('| `')).flatMap((line) => line.split(' | ')[0]!.match(/CRISP_[A-Z0-9_]+/g) ?? []));
    // CRISP_MCP_TEST_FAULT is the tests' own (settings-warnings.ts), for no operator to set.
    expect(SETTINGS.filter((name) => name !== 'CRISP_MCP_TEST_FAULT' && !rows.has(name))).toEqual([]);
  });

  it('give in the README\'s Configuration table the defaults the configuration resolves to', () => {
    const table = /\n## Configuration\n([\s\S]*?)\n## /.exec(TEXTS.get('README.md')!)?.[1] ?? '';
    const stated = new Map(table.split('\n').filter((line) => line.startsWith('| `')).map((line) => {
      const cells = line.split(' | ');
      return [/CRISP_[A-Z0-9_]+/.exec(cells[0]!)![0], /`([^`]+)`/.exec(cells.at(-1)!)?.[1]] as const;
    }));
    // The least a real `serve --http` needs, and the converse API on: every default left to the code.
    const env = {
      CRISP_IDENTIFIER: 'id', CRISP_KEY: 'key', CRISP_WEBSITE_ID: '8c842203-7ed8-4e29-a608-7cf78a7d2fcc',
      CRISP_MCP_CONVERSE_WEBHOOK_URL: 'https://example.com/replies', CRISP_MCP_CONVERSE_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`, CRISP_MCP_CONVERSE_SCENARIO: 'gdpr',
    };
    const live = resolveConfig(parseServeFlags(['--http']), { env });
    const sandbox = resolveConfig(parseServeFlags(['--sandbox']), { env: {} });
    const resolved: Record<string, unknown> = {
      CRISP_API_URL: live.apiUrl,
      CRISP_TIER: live.credentials?.tier,
      CRISP_SANDBOX_WEBSITES: sandbox.sandboxWebsites,
      CRISP_MCP_SANDBOX: live.sandbox,
      CRISP_MCP_SEND_MODE: live.sendMode,
      CRISP_MCP_STORE: live.store.kind,
      CRISP_MCP_CONVERSE_IDLE_MINUTES: live.http?.converse?.idleMinutes,
      CRISP_MCP_WEBHOOK_NETWORKS: live.webhookNetworks,
    };
    expect(sandbox.store.kind).toBe('memory'); // the table's "(`memory` with `--sandbox`)"
    expect(Object.entries(resolved).filter(([name, value]) => stated.get(name) !== String(value)).map(([name, value]) => `${name}: README says ${stated.get(name)}, the code ${String(value)}`)).toEqual([]);
  });

  it('give `--faults` only specs the sandbox takes', () => {
    const specs = PAGES.flatMap((page) => [...TEXTS.get(page)!.matchAll(/--faults[ =]"?([^\s`"\]]+)/g)].map((m) => ({ page, spec: m[1]! }))).filter(({ spec }) => spec !== 'SPEC');
    expect(specs.length).toBeGreaterThan(0);
    const wrong = specs.flatMap(({ page, spec }) => {
      try {
        parseFaultSpec(spec);
        return [];
      } catch (error) {
        return [`${page}: --faults ${spec}: ${(error as Error).message}`];
      }
    });
    expect(wrong).toEqual([]);
  });

  it('state the autopilot guardrails\' defaults as the code has them (and so does bot --help)', () => {
    // docs/performance.md gives the settings of the runs it measured, not defaults.
    const texts = new Map([...[...TEXTS].filter(([page]) => page !== 'docs/performance.md'), ['bot --help', helps.get('bot')!]]);
    const stated = (flag: string) => [...texts.keys()].flatMap((page) => [...texts.get(page)!.matchAll(new RegExp(`${flag}[ =]([0-9][^\\s\`)|,\\]]*)`, 'g'))].map((m) => ({ page, value: m[1]! })));
    const checks: [string, (value: string) => unknown, unknown][] = [
      ['--reply-budget', parseReplyBudget, DEFAULT_GUARDRAILS.replyBudget],
      ['--repeat-window', (v) => parseDuration(v, 'x'), DEFAULT_GUARDRAILS.repeatWindowMs],
      ['--step-budget', Number, DEFAULT_GUARDRAILS.stepBudget],
      ['--catch-up', (v) => parseDuration(v, 'x'), DEFAULT_GUARDRAILS.catchUpWindowMs],
      ['--operator-hold', (v) => parseDuration(v, 'x'), DEFAULT_GUARDRAILS.operatorHoldMs],
    ];
    const wrong: string[] = [];
    for (const [flag, parse, expected] of checks) {
      for (const { page, value } of stated(flag)) {
        if (JSON.stringify(parse(value)) !== JSON.stringify(expected)) wrong.push(`${page}: ${flag} ${value} is not the default`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checks.filter(([flag]) => stated(flag).length === 0).map(([flag]) => flag)).toEqual([]); // bot --help states each
  });

  describe('HTTP routes', () => {
    let server: HttpCli;
    let website: string;

    beforeAll(async () => {
      server = await spawnHttpCli(['--sandbox', '--port', '0', '--bot-scenario', 'gdpr'], {
        CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://127.0.0.1:9/replies',
        CRISP_MCP_CONVERSE_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
        CRISP_MCP_CONVERSE_SCENARIO: 'gdpr',
      });
      website = ((await (await fetch(`${server.sandboxUrl}/_sandbox/info`)).json()) as { data: { website_id: string } }).data.website_id;
    });
    afterAll(async () => {
      server?.child.kill('SIGTERM');
      await server?.exited;
    });

    const OUR_ROUTES = /^\/(?:mcp|healthz|converse|hooks\/crisp|_sandbox\/\S*)$/;

    /** `METHOD /path` anywhere, and a code span that is a bare path of ours; `…`-shortened paths skipped. */
    function routes(markdown: string): { method: string | undefined; path: string }[] {
      const withMethod = [...markdown.matchAll(/\b(GET|POST|PUT|PATCH|DELETE|HEAD) `?(\/[\w{}/:.…-]*)/g)].map((m) => ({ method: m[1], path: m[2]! }));
      const bare = snippets(markdown).flatMap((s) => (OUR_ROUTES.test(s) ? [{ method: undefined, path: s }] : []));
      // Other paths after a method are Crisp's REST API (docs/crisp-client.md) or a user's own webhook.
      return [...withMethod, ...bare].filter(({ path }) => OUR_ROUTES.test(path) && !path.includes('…') && !path.endsWith('/'));
    }

    /** Whether the server answers `method path` as a route it has: anything but its "no such route" (404 or 405). */
    async function answers(method: string, path: string): Promise<boolean> {
      const sandbox = path.startsWith('/_sandbox/');
      const url = `${sandbox ? server.sandboxUrl : new URL(server.url).origin}${path.replaceAll('{w}', website).replaceAll('{s}', 'session_00000000-0000-0000-0000-000000000000')}`;
      const reply = await fetch(url, { method, ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) });
      if (reply.status !== 404 && reply.status !== 405) {
        await reply.body?.cancel(); // /_sandbox/events streams for ever
        return true;
      }
      const text = await reply.text();
      // the sandbox's router; the MCP server's 404 for an unknown path
      return !(sandbox ? /the route does not exist|is not allowed on this route/.test(text) : /Not found:/.test(text));
    }

    it('exist on the running server and its sandbox, under the method given', async () => {
      const all = PAGES.flatMap((page) => routes(TEXTS.get(page)!).map((route) => ({ page, ...route })));
      expect(all.length).toBeGreaterThan(20);
      const wrong: string[] = [];
      for (const { page, method, path } of all) {
        const found = method ? await answers(method, path) : (await answers('GET', path)) || (await answers('POST', path));
        if (!found) wrong.push(`${page}: ${method ?? 'GET or POST'} ${path}`);
      }
      expect(wrong).toEqual([]);
    });
  });
});
