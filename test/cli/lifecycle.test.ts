// Lifecycle of the built CLI's long-running commands (src/commands/resources.ts): a start-up step
// failing after another has opened a socket ends the process by itself, non-zero, with one line,
// every part released (the port is free again, and cli.ts never had to force the exit past what
// was left open); a Redis store that dies after start turns tool calls into clear errors (never a
// call left unanswered), and SIGTERM still ends serve and bot; an autopilot whose start fails
// after RTM connected closes the socket and the process ends; an uncaught exception or unhandled
// rejection in a running serve releases every part (its SQLite WAL checkpointed, its ports free)
// and exits 1 with one line.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { MemoryStore, StoreError } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { HOOK_SECRET, hooksUrl, scenarioDir, spawnBot, startTestBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { connect, INITIALIZE, spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { callTool } from '../helpers/mcp.js';
import { freePort } from '../helpers/net.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

/** Generous: a process that releases everything ends within a few seconds; this only tells "ended" from "hung". */
const ENDS_WITHIN_MS = 20_000;
/** The tests that wait on a process ending, beyond vitest's default 20 s. */
const LONG_TEST_MS = 60_000;

/** True when nothing listens on 127.0.0.1:port any more (we can bind it ourselves). */
async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  try {
    probe.listen(port, '127.0.0.1');
    await once(probe, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

/** The port of the URL a JSON log line of the run carries under `msg`. */
function loggedPort(stderr: string, msg: string): number {
  const line = stderr.split('\n').find((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === msg);
  if (!line) throw new Error(`no "${msg}" line in: ${stderr}`);
  return Number(new URL((JSON.parse(line) as { url: string }).url).port);
}

/** The lines of stderr that are not JSON log lines: what a person reads. */
const plainLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l !== '' && !l.startsWith('{'));

/** A run that ended by itself, non-zero, with one plain line, and released every part before returning. */
function expectCleanFailure(run: CliRun, line: RegExp | string): void {
  expect(run.status, run.stderr).not.toBeNull(); // runCli kills a hung child after 15 s (null status)
  expect(run.status).not.toBe(0);
  expect(plainLines(run.stderr)).toEqual([typeof line === 'string' ? line : expect.stringMatching(line)]);
  expect(run.stderr).not.toContain('still open');
}

const TOKEN = 'lifecycle-token-0123456789abcdef';
const CONVERSE_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('a start-up step failing after another opened a socket', () => {
  it('serve --http --sandbox on a taken port: one line, exit 2, the sandbox closed', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const { port } = taken.address() as { port: number };
      const run = await runCli(['serve', '--http', '--sandbox', '--store', 'memory', '--port', String(port)]);
      expectCleanFailure(run, `crisp-mcp: cannot listen on 127.0.0.1:${port} (EADDRINUSE): choose another --port or --host`);
      expect(run.status).toBe(2);
      expect(await portIsFree(loggedPort(run.stderr, 'embedded Crisp sandbox started'))).toBe(true);
    } finally {
      taken.close();
    }
  });

  it('serve --http --sandbox whose converse API names no loaded scenario: one line, exit 2, the sandbox closed', async () => {
    const run = await runCli(['serve', '--http', '--sandbox', '--store', 'memory', '--port', '0'], {
      env: { CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://127.0.0.1:9/replies', CRISP_MCP_CONVERSE_SECRET: CONVERSE_SECRET, CRISP_MCP_CONVERSE_SCENARIO: 'nope' },
    });
    expectCleanFailure(run, /^crisp-mcp: CRISP_MCP_CONVERSE_SCENARIO names no loaded scenario: "nope"/);
    expect(await portIsFree(loggedPort(run.stderr, 'embedded Crisp sandbox started'))).toBe(true);
  });

  it('bot --sandbox --events hooks on a taken port exits non-zero with one line', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const { port } = taken.address() as { port: number };
      const run = await runCli(['bot', '--sandbox', '--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(port), '--store', 'memory']);
      expectCleanFailure(run, `crisp-mcp: cannot listen on 127.0.0.1:${port} (EADDRINUSE): choose another --port or --host`);
    } finally {
      taken.close();
    }
  });

  it('bot --sandbox --events hooks whose store cannot be reached, after its hook server and the sandbox are up: one line, both closed', async () => {
    const nobody = await freePort();
    const hookPort = await freePort();
    const run = await runCli(['bot', '--sandbox', '--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(hookPort), '--store', `redis://127.0.0.1:${nobody}`]);
    expectCleanFailure(run, new RegExp(`^crisp-mcp: cannot reach the Redis store at redis://127.0.0.1:${nobody}`));
    expect(run.status).toBe(2);
    const sandboxPort = loggedPort(run.stderr, 'embedded Crisp sandbox started');
    expect(await portIsFree(sandboxPort)).toBe(true);
    expect(await portIsFree(hookPort)).toBe(true);
  });

  it('serve over stdio ends by itself once stdin ends, every part released', async () => {
    const run = await runCli(['serve', '--sandbox', '--store', 'memory'], { input: '' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('"msg":"stopping: stdin ended (the host closed it)"');
    expect(run.stderr).not.toContain('still open');
  });
});

describe('an autopilot whose start fails after RTM connected (real process)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 5 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('bot --events rtm exits non-zero with one line, and its RTM socket is closed, not reconnecting', async () => {
    // A store whose autopilot marker is unreadable: opening it works, the autopilot's start (after RTM authenticated) fails.
    const file = join(mkdtempSync(join(tmpdir(), 'crisp-mcp-lifecycle-')), 'state.db');
    await new SqliteStore(file).close();
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => { prepare(sql: string): { run(...args: unknown[]): unknown }; close(): void };
    const db = new Database(file);
    db.prepare('INSERT INTO positions (conversation, scenario, version, data, updated_at) VALUES (?, ?, 1, ?, 0)').run('autopilot', 'echo', '{not json');
    db.close();
    const credential = sandbox.credentials[0]!;
    const authenticationsBefore = sandbox.rtm.stats().authentications;
    const run = await runCli(['bot', '--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'rtm', '--store', `sqlite:${file}`], {
      env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key, CRISP_TIER: credential.tier, CRISP_WEBSITE_ID: sandbox.websiteId },
    });
    expect(run.stderr).toContain('"msg":"RTM authenticated"');
    expectCleanFailure(run, /^crisp-mcp: .*JSON/);
    expect(run.stderr).not.toContain(credential.key);
    await eventually(() => sandbox.rtm.stats().connected === 0, 5_000, 'the RTM socket closed');
    expect(sandbox.rtm.stats().authentications - authenticationsBefore).toBe(1);
  });
});

describe('a running bot whose RTM credentials are refused for good (real process)', () => {
  it('releases everything and exits 1 with one line, instead of reconnecting', async () => {
    const sandbox = await startSandbox({ seed: 8 });
    try {
      const bot = await spawnBot(sandbox, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'rtm', '--store', 'memory']);
      try {
        // The key is revoked, then the socket dropped: the reconnection's authentication is refused.
        sandbox.credentials.splice(0);
        sandbox.rtm.drop('server');
        expect(await endsWithin(bot.exited, ENDS_WITHIN_MS)).toBe(1);
        expect(plainLines(bot.stderr())).toEqual([expect.stringMatching(/^crisp-mcp: Crisp RTM refused the credentials/)]);
        expect(bot.stderr()).not.toContain('still open');
        expect(sandbox.rtm.stats()).toMatchObject({ connected: 0, refused: 1 });
      } finally {
        if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
      }
    } finally {
      await sandbox.close();
    }
  }, LONG_TEST_MS);
});

/** The lines a person reads that the CLI itself wrote (the embedded sandbox's own banner aside). */
const cliLines = (stderr: string) => plainLines(stderr).filter((l) => l.startsWith('crisp-mcp:'));

/** A SQLite store file in a fresh folder; its `-wal` file exists while a connection has it open, and is checkpointed away by the last close. */
const sqliteFile = () => join(mkdtempSync(join(tmpdir(), 'crisp-mcp-fault-')), 'state.db');

describe('a fault in a running process (CRISP_MCP_TEST_FAULT: SIGUSR2 raises it from an event callback)', () => {
  it('serve --http --sandbox --store sqlite: an uncaught exception releases every part (WAL checkpointed, both ports free) and exits 1 with one line', async () => {
    const file = sqliteFile();
    const cli = await spawnHttpCli(['--port', '0', '--sandbox', '--store', `sqlite:${file}`], { CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_TEST_FAULT: 'uncaughtException' });
    try {
      expect(existsSync(`${file}-wal`)).toBe(true); // the store is open
      const httpPort = Number(new URL(cli.url).port);
      const sandboxPort = Number(new URL(cli.sandboxUrl!).port);
      cli.child.kill('SIGUSR2');
      expect(await endsWithin(cli.exited, ENDS_WITHIN_MS)).toBe(1);
      expect(cliLines(cli.stderr())).toEqual(['crisp-mcp: CRISP_MCP_TEST_FAULT: uncaughtException raised on purpose']);
      expect(cli.stderr()).not.toMatch(/^\s+at /m); // no stack in front of a user
      expect(cli.stderr()).not.toContain('still open');
      expect(cli.stderr()).not.toContain(TOKEN);
      expect(existsSync(`${file}-wal`)).toBe(false); // closed: checkpointed into the database file
      expect(await portIsFree(httpPort)).toBe(true);
      expect(await portIsFree(sandboxPort)).toBe(true);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  }, LONG_TEST_MS);

  it('serve over stdio: an unhandled rejection releases the store it opened and exits 1, with nothing but MCP on stdout', async () => {
    const file = sqliteFile();
    const child = spawn(process.execPath, [CLI, 'serve', '--sandbox', '--store', `sqlite:${file}`], {
      env: { PATH: process.env.PATH ?? '', CRISP_MCP_TEST_FAULT: 'unhandledRejection' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // A host's first messages: once tools/list is answered, the store is opened.
      child.stdin.write(`${INITIALIZE}\n${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
      await eventually(() => stdout.includes('"id":2') && existsSync(`${file}-wal`), ENDS_WITHIN_MS, 'tools/list answered and the SQLite store opened');
      child.kill('SIGUSR2');
      expect(await endsWithin(exited, ENDS_WITHIN_MS)).toBe(1);
      expect(cliLines(stderr)).toEqual(['crisp-mcp: CRISP_MCP_TEST_FAULT: unhandledRejection raised on purpose']);
      expect(stderr).not.toContain('still open');
      const messages = stdout.trim().split('\n').map((line) => JSON.parse(line) as { jsonrpc: string; id?: number });
      expect(messages.map((m) => [m.jsonrpc, m.id])).toEqual([['2.0', 1], ['2.0', 2]]);
      expect(existsSync(`${file}-wal`)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, LONG_TEST_MS);

  it('bot --events hooks --store sqlite: an uncaught exception releases the autopilot, its store and its hook server, and exits 1 with one line', async () => {
    const hookPort = await freePort();
    const sandbox = await startSandbox({ seed: 9, hooks: { url: hooksUrl(hookPort), secret: HOOK_SECRET } });
    const file = sqliteFile();
    try {
      const bot = await spawnBot(sandbox, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(hookPort), '--store', `sqlite:${file}`, '--catch-up', '0'], { CRISP_MCP_TEST_FAULT: 'uncaughtException' });
      try {
        expect(existsSync(`${file}-wal`)).toBe(true);
        bot.child.kill('SIGUSR2');
        expect(await endsWithin(bot.exited, ENDS_WITHIN_MS)).toBe(1);
        expect(cliLines(bot.stderr())).toEqual(['crisp-mcp: CRISP_MCP_TEST_FAULT: uncaughtException raised on purpose']);
        expect(bot.stderr()).not.toContain('still open');
        expect(existsSync(`${file}-wal`)).toBe(false);
        expect(await portIsFree(hookPort)).toBe(true);
      } finally {
        if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
      }
    } finally {
      await sandbox.close();
    }
  }, LONG_TEST_MS);
});

describeWithRedis('serve --http --store redis:// when Redis dies after start', () => {
  let server: TestRedis;
  let cli: HttpCli;

  beforeAll(async () => {
    server = await startRedis();
    cli = await spawnHttpCli(['--port', '0', '--sandbox', '--store', server.url], { CRISP_MCP_HTTP_TOKEN: TOKEN });
  });

  afterAll(async () => {
    if (cli && cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await server?.stop();
  });

  it('answers a tool call with a clear isError, logs the lost connection, then ends on SIGTERM with every part released', async () => {
    const client = await connect(cli.url, { era: 'modern', token: TOKEN });
    const website = (await (await fetch(`${cli.sandboxUrl!}/_sandbox/info`)).json()) as { data: { website_id: string } };
    const websiteId = website.data.website_id;
    const opened = (await (await fetch(`${cli.sandboxUrl!}/_sandbox/websites/${websiteId}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'GDPR question' }) })).json()) as { data: { session_id: string } };
    const args = { website_id: websiteId, session_id: opened.data.session_id, scenario: 'gdpr' };
    const before = await callTool(client, 'reset_scenario', args);
    expect(before.isError, before.text).toBe(false);

    await server.stop();
    const after = await callTool(client, 'reset_scenario', args);
    expect(after.isError).toBe(true);
    expect(after.text).toBe('The scenario store is unavailable right now; try again later.');
    expect(cli.logs()).toContainEqual(expect.objectContaining({ msg: 'store call failed', code: 'store_unavailable' }));
    await eventually(() => cli.logs().some((l) => l.msg === 'the Redis store connection failed; reconnecting'), 10_000, 'the lost Redis connection logged');

    await client.close().catch(() => undefined);
    cli.child.kill('SIGTERM');
    expect(await endsWithin(cli.exited, ENDS_WITHIN_MS)).toBe(0);
    expect(cli.logs().at(-1)).toMatchObject({ msg: 'stopped' });
  }, LONG_TEST_MS);
});

describeWithRedis('bot --events hooks --store redis:// when Redis dies after start', () => {
  let sandbox: Sandbox;
  let server: TestRedis;
  let hookPort: number;

  beforeAll(async () => {
    hookPort = await freePort();
    sandbox = await startSandbox({ seed: 6, hooks: { url: hooksUrl(hookPort), secret: HOOK_SECRET } });
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
    await sandbox?.close();
  });

  it('keeps running with the failures logged, and SIGTERM still ends it (the store close does not wait for Redis)', async () => {
    const bot = await spawnBot(sandbox, ['--scenarios', scenarioDir(), '--scenario', 'echo', '--events', 'hooks', '--port', String(hookPort), '--store', server.url, '--catch-up', '0']);
    try {
      await server.stop();
      // A visitor writes while the store is down: the conversation's store calls wait on the reconnection, then fail.
      await visitorStarts(sandbox, 'hello while Redis is down');
      await eventually(() => bot.logs().some((l) => l.msg === 'the Redis store connection failed; reconnecting'), 10_000, 'the lost Redis connection logged');
      expect(bot.child.exitCode).toBeNull(); // still serving
      bot.child.kill('SIGTERM');
      expect(await endsWithin(bot.exited, ENDS_WITHIN_MS)).toBe(0);
      expect(bot.logs().at(-1)).toMatchObject({ msg: 'stopped' });
      expect(bot.stderr()).not.toContain('still open');
      expect(await portIsFree(hookPort)).toBe(true);
    } finally {
      if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    }
  }, LONG_TEST_MS);
});

describeWithRedis('RedisStore.close() while Redis is down', () => {
  it('returns, failing the call still waiting for an answer, instead of waiting for a server that is gone', async () => {
    const server = await startRedis();
    const store = await RedisStore.connect(server.url, { prefix: `lifecycle-${Date.now()}:` });
    await store.getPosition('c', 's');
    await server.stop();
    // Whether or not the client has noticed yet, this call waits for an answer that cannot come.
    const call = store.getPosition('c', 's').then(() => 'answered', (error: unknown) => (error as Error).message);
    await endsWithin(store.close(), ENDS_WITHIN_MS);
    expect(await call).not.toBe('answered');
  }, LONG_TEST_MS);
});

describe('startBot failing after RTM connected', () => {
  it('closes the RTM socket it opened (none left reconnecting)', async () => {
    const sandbox = await startSandbox({ seed: 3 });
    // A store that fails the outbox drain the autopilot runs at start, once RTM is up.
    const store = new MemoryStore();
    store.outboxPending = () => Promise.reject(new StoreError('store_unavailable', 'the store went away'));
    try {
      await expect(startTestBot(sandbox, { events: 'rtm', store })).rejects.toThrow('the store went away');
      await eventually(() => sandbox.rtm.stats().connected === 0, 5_000, 'the RTM socket closed');
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});

/** The promise's value once it settles, or a failure naming the wait when it has not after `ms` (a hang). */
async function endsWithin<T>(exited: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms)));
  try {
    return await Promise.race([exited, hung]);
  } finally {
    clearTimeout(timer);
  }
}
