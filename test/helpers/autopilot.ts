// Helpers for the autopilot tests: a test scenario, the bot started in this process against a
// sandbox over either event source, a child-process bot (`node dist/cli.js bot`), and oracles that
// read the sandbox's state: what the visitor wrote and what the bot answered, in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { startBot, type RunningBot, type EventSource } from '../../src/commands/bot.js';
import { DEFAULT_GUARDRAILS, type Guardrails } from '../../src/autopilot/guardrails.js';
import { type LoadedScenario } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { readValue } from '../../src/autopilot/state.js';
import { conversationKey } from '../../src/engine/turn.js';
import type { CrispClient } from '../../src/crisp/index.js';
import { signHook } from '../../src/crisp/hooks.js';
import type { Message } from '../../src/crisp/schemas.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { Store } from '../../src/store/index.js';
import type { Sandbox } from '../../src/sandbox/server.js';
import { CLI } from './cli.js';
import { clientFor } from './crisp.js';
import { demoSite } from './sandbox-http.js';
import { eventually } from './events.js';

/** Each visitor message gets two replies that name it; "human" hands off; "bye" ends and resolves. */
export const ECHO_SCENARIO = JSON.stringify({
  name: 'echo',
  version: 1,
  description: 'Echoes each visitor message twice.',
  start: 'listen',
  blocks: {
    listen: {
      type: 'match',
      rules: [
        { contains: ['human'], next: 'human' },
        { contains: ['bye'], next: 'bye' },
      ],
      otherwise: 'echo',
      save: 'said',
    },
    echo: { type: 'message', text: 'You said: {{said}}', next: 'echo2' },
    echo2: { type: 'message', text: 'Noted: {{said}}', next: 'listen' },
    human: { type: 'handoff', text: 'Passing you to a human.', reason: 'asked_for_human' },
    bye: { type: 'end', text: 'Bye!', resolve: true },
  },
});

export const HOOK_SECRET = 'autopilot-test-hook-secret-0123456789';

export function echoScenario(): LoadedScenario {
  return scenarioLibraryFromTexts([{ file: 'echo.json', source: ECHO_SCENARIO }]).require('echo');
}

/** A directory holding echo.json, for the CLI. */
export function scenarioDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-bot-'));
  writeFileSync(join(dir, 'echo.json'), ECHO_SCENARIO);
  return dir;
}

/** The replies the echo scenario gives to one ordinary visitor message. */
export const echoOf = (text: string): string[] => [`You said: ${text}`, `Noted: ${text}`];

export function hooksUrl(port: number): string {
  return `http://127.0.0.1:${port}/hooks/crisp`;
}

export interface InProcessBot extends RunningBot {
  crisp: CrispClient;
  stop(): Promise<void>;
}

/** startBot() against `sandbox`, with short retry delays; the caller owns the store. */
export async function startTestBot(
  sandbox: Sandbox,
  options: { events: EventSource; store: Store; port?: number; guardrails?: Partial<Guardrails>; lockTtlMs?: number; scenario?: LoadedScenario; catchUpEveryMs?: number; log?: Logger },
): Promise<InProcessBot> {
  const crisp = clientFor(sandbox);
  const { identifier, key, tier } = sandbox.credentials[0]!;
  const bot = await startBot({
    crisp,
    credentials: { identifier, key, tier },
    store: options.store,
    scenario: options.scenario ?? echoScenario(),
    guardrails: { ...DEFAULT_GUARDRAILS, inboxes: undefined, websites: new Set([sandbox.websiteId]), ...options.guardrails },
    events: options.events,
    log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    hooks: options.events === 'hooks' ? { host: '127.0.0.1', port: options.port ?? 0, secret: HOOK_SECRET } : undefined,
    lockTtlMs: options.lockTtlMs ?? 1_000,
    retry: { baseMs: 50, maxMs: 500 },
    sweepMs: 200,
    ...(options.catchUpEveryMs === undefined ? {} : { catchUpEveryMs: options.catchUpEveryMs }),
    rtmReconnect: { delayMs: 50, maxDelayMs: 200 },
  });
  return {
    ...bot,
    crisp,
    stop: async () => {
      await bot.close();
      await crisp.close();
    },
  };
}

// ---------------------------------------------------------------- oracles

export function thread(sandbox: Sandbox, session: string): Message[] {
  return demoSite(sandbox).messages.get(session) ?? [];
}

/** What the bot posted in the conversation (customer-visible text only), in order. */
export function botTexts(sandbox: Sandbox, session: string): string[] {
  return thread(sandbox, session)
    .filter((m) => m.from === 'operator' && m.automated === true && m.type === 'text')
    .map((m) => String(m.content));
}

/** Private notes the bot left for operators. */
export function botNotes(sandbox: Sandbox, session: string): string[] {
  return thread(sandbox, session)
    .filter((m) => m.from === 'operator' && m.automated === true && m.type === 'note')
    .map((m) => String(m.content));
}

/** The conversation as "V: text" / "B: text" lines (visitor, bot; operators as "O:"), notes left out. */
export function transcript(sandbox: Sandbox, session: string): string[] {
  return thread(sandbox, session)
    .filter((m) => m.type !== 'note')
    .map((m) => `${m.from === 'user' ? 'V' : m.automated ? 'B' : 'O'}: ${String(m.content)}`);
}

/** True once the bot's saved cursor has read past the message `fingerprint`. */
export async function processed(store: Store, sandbox: Sandbox, session: string, fingerprint: number, scenario = 'echo'): Promise<boolean> {
  const saved = await store.getPosition(conversationKey(sandbox.websiteId, session), scenario);
  const cursor = readValue(saved?.value).state?.cursor;
  const message = thread(sandbox, session).find((m) => m.fingerprint === fingerprint);
  if (!cursor || !message) return false;
  return cursor.ts > message.timestamp || (cursor.ts === message.timestamp && cursor.fps.includes(fingerprint));
}

/**
 * A visitor message put straight into the sandbox's inbox, with no event: the test then delivers
 * the event itself (late, twice, out of order).
 */
export function injectVisitorMessage(sandbox: Sandbox, session: string, text: string, timestamp: number): Message {
  const site = demoSite(sandbox);
  const list = site.messages.get(session)!;
  const message: Message = {
    session_id: session,
    website_id: site.website_id,
    type: 'text',
    from: 'user',
    origin: 'chat',
    content: text,
    preview: [],
    mentions: [],
    read: '',
    delivered: '',
    edited: false,
    translated: false,
    automated: false,
    stamped: true,
    fingerprint: timestamp * 1000 + 7,
    timestamp,
    user: { user_id: session, nickname: 'visitor' },
  };
  list.push(message);
  list.sort((a, b) => a.timestamp - b.timestamp);
  return message;
}

/** Delivers `message:send` for `message` to the bot's hook endpoint, signed as Crisp signs it. */
export function postHook(url: string, message: Pick<Message, 'website_id' | 'timestamp'> & Record<string, unknown>, secret = HOOK_SECRET): Promise<number> {
  return postEvent(url, 'message:send', message.website_id, { inbox_id: null, ...message }, message.timestamp, secret);
}

/** Delivers one Web Hook event to the bot's hook endpoint, signed as Crisp signs it; its HTTP status. */
export async function postEvent(url: string, event: string, website: string, data: Record<string, unknown>, at = Date.now(), secret = HOOK_SECRET): Promise<number> {
  const body = JSON.stringify({ website_id: website, event, data, timestamp: at });
  const timestamp = Date.now();
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-crisp-request-timestamp': String(timestamp), 'x-crisp-signature': signHook(secret, timestamp, body) },
    body,
  });
  await res.body.dump();
  return res.statusCode;
}

// ---------------------------------------------------------------- the CLI bot

export interface BotChild {
  child: ChildProcess;
  logs(): Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string | null>;
}

/** `node dist/cli.js bot …` pointed at `sandbox` through the environment; resolves once it logs "autopilot running". */
export async function spawnBot(sandbox: Sandbox, args: string[], env: Record<string, string> = {}): Promise<BotChild> {
  const credential = sandbox.credentials[0]!;
  const child = spawn(process.execPath, [CLI, 'bot', ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      CRISP_API_URL: sandbox.url,
      CRISP_IDENTIFIER: credential.identifier,
      CRISP_KEY: credential.key,
      CRISP_TIER: credential.tier,
      CRISP_WEBSITE_ID: sandbox.websiteId,
      CRISP_HOOK_SECRET: HOOK_SECRET,
      CRISP_MCP_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const logs = () =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bot did not start within 10 s; stderr: ${stderr}`)), 10_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('"msg":"autopilot running"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the bot exited with ${code}: ${stderr}`));
    });
  });
  return { child, logs, stderr: () => stderr, exited };
}

/**
 * Resolves once the bots have been handed, and have worked, every event the sandbox sent them so far,
 * over RTM or Web Hooks (their own replies coming back included): nothing that has happened can still
 * make them act. A test that proves a bot did NOT do something checks after this, not after a sleep.
 */
export async function botsSettled(sandbox: Sandbox, bots: readonly InProcessBot[]): Promise<void> {
  // Events handed over by any channel; compared with what RTM emitted (0 for bots on Web Hooks).
  const handed = () => bots.reduce((sum, bot) => sum + bot.autopilot.stats().events, 0);
  const sent = () => sandbox.rtm.stats().emitted + (sandbox.hooks?.stats().started ?? 0);
  for (;;) {
    const before = sent();
    // Every hook delivery settles only after the bot's answer (it is handed the event before answering).
    await sandbox.hooks?.idle();
    // An RTM event reaches a bot some time after the sandbox emitted it: wait until each is counted.
    await eventually(() => handed() >= sandbox.rtm.stats().emitted, 10_000, 'the bots receiving every RTM event');
    await Promise.all(bots.map((bot) => bot.autopilot.idle()));
    if (sent() === before) return;
  }
}

/** A log line as the bot's logger writes it, parsed. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A logger at `level` whose lines are kept, parsed, in `lines`: what a bot wrote, for the test to read. */
export function capturedLog(level = 'debug'): { lines: LogLine[]; log: Logger } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { lines, log: createLogger(level, sink) };
}
