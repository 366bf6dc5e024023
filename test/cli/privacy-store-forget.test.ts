// A visitor asks to be erased. What the built bot kept of their conversation — an unresolved one,
// which the store keeps for good — is gone after `crisp-mcp store forget WEBSITE_ID/SESSION_ID`,
// from the SQLite file's bytes and from Redis, while another visitor's stays. Before this command
// there was no way to do it but deleting rows or keys by hand.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botTexts, scenarioDir, spawnBot } from '../helpers/autopilot.js';
import { runCli } from '../helpers/cli.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const ERASED = 'jane.erased@example.org';
const KEPT = 'john.kept@example.org';

/**
 * The built bot (echo scenario: it keeps each visitor's words in its record) started with `args`
 * and `env`, answering two visitors, then stopped (SIGTERM); their conversation keys.
 */
async function twoVisitorsAnswered(sandbox: Sandbox, args: string[], env?: Record<string, string>): Promise<{ erased: string; kept: string }> {
  const bot = await spawnBot(sandbox, ['--scenarios', scenarioDir(), '--scenario', 'echo', ...args], env);
  try {
    const erased = await visitorStarts(sandbox, `hi, I am ${ERASED}`);
    const kept = await visitorStarts(sandbox, `hi, I am ${KEPT}`);
    await eventually(() => botTexts(sandbox, erased).length === 2 && botTexts(sandbox, kept).length === 2, 15_000, 'both answered');
    return { erased: `${sandbox.websiteId}/${erased}`, kept: `${sandbox.websiteId}/${kept}` };
  } finally {
    bot.child.kill('SIGTERM');
    await bot.exited;
  }
}

describe('crisp-mcp store forget', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 61 });
    dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-forget-cli-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SQLite: erases one visitor of the file the bot wrote, to the bytes, and keeps the other', async () => {
    const file = join(dir, 'state.db');
    const visitors = await twoVisitorsAnswered(sandbox, ['--store', `sqlite:${file}`]);
    expect(readFileSync(file).toString('latin1')).toContain(ERASED);

    const run = await runCli(['store', 'forget', visitors.erased, '--store', `sqlite:${file}`]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`forgot ${visitors.erased}: 1 scenario position, 0 drafts, 0 undelivered items, 0 delivery keys\n`);
    expect(run.status).toBe(0);
    const bytes = ['', '-wal'].map((suffix) => {
      try {
        return readFileSync(`${file}${suffix}`).toString('latin1');
      } catch {
        return '';
      }
    }).join('');
    expect(bytes).not.toContain(ERASED);
    expect(bytes).toContain(KEPT);
  }, 60_000);

  it('--idle-for 180d: a retention period — forgets the conversations no scenario saved for 180 days, and no other', async () => {
    const file = join(dir, 'retention.db');
    const day = 24 * 60 * 60_000;
    const at = (daysAgo: number): SqliteStore => new SqliteStore(file, { now: () => Date.now() - daysAgo * day });
    for (const [conversation, scenario, daysAgo] of [['w/months-ago', 'newsletter', 200], ['w/months-ago', 'booking', 181], ['w/came-back', 'newsletter', 200], ['w/came-back', 'booking', 3], ['w/today', 'newsletter', 0]] as const) {
      const store = at(daysAgo);
      await store.savePosition(conversation, scenario, { vars: { email: ERASED } }, { expectedVersion: 0 });
      await store.close();
    }
    const run = await runCli(['store', 'forget', '--idle-for', '180d', '--store', `sqlite:${file}`]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('forgot w/months-ago: 2 scenario positions, 0 drafts, 0 undelivered items, 0 delivery keys\n');
    expect(run.status).toBe(0);
    const store = new SqliteStore(file);
    try {
      expect(await store.getPosition('w/months-ago', 'newsletter')).toBeUndefined();
      expect(await store.getPosition('w/months-ago', 'booking')).toBeUndefined();
      expect(await store.getPosition('w/came-back', 'newsletter')).toBeDefined();
      expect(await store.getPosition('w/today', 'newsletter')).toBeDefined();
    } finally {
      await store.close();
    }
    const again = await runCli(['store', 'forget', '--idle-for', '180d', '--store', `sqlite:${file}`]);
    expect(again.stdout).toBe('no conversation idle for 180 days\n');
    const bad = await runCli(['store', 'forget', '--idle-for', '6m', '--store', `sqlite:${file}`]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('crisp-mcp store: --idle-for must be a whole number of days, at least 1, like 180d; got "6m"\n');
  });

  it('refuses a conversation not written as the logs name it, and a memory store, naming what it expected', async () => {
    const bad = await runCli(['store', 'forget', 'session_only', '--store', `sqlite:${join(dir, 'untouched.db')}`]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('crisp-mcp store: CONVERSATION must be WEBSITE_ID/SESSION_ID or converse:CONVERSATION_ID (as the log lines name it), got "session_only"\n');
    const memory = await runCli(['store', 'forget', 'w/s', '--store', 'memory']);
    expect(memory.status).toBe(2);
    expect(memory.stderr).toContain('--store memory keeps nothing once its process ends');
    const none = await runCli(['store', 'forget', '--store', `sqlite:${join(dir, 'untouched.db')}`]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('forget needs at least one CONVERSATION');
    const missing = await runCli(['store', 'forget', 'w/s', '--store', `sqlite:${join(dir, 'untouched.db')}`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`crisp-mcp store: no SQLite store at ${join(dir, 'untouched.db')}: name the file the server or bot runs with (--store sqlite:PATH)\n`);
    // The default file, when no --store or CRISP_MCP_STORE names one.
    const byDefault = await runCli(['store', 'forget', 'w/s'], { env: { HOME: dir, XDG_STATE_HOME: join(dir, 'state') } });
    expect(byDefault.stderr).toBe(`crisp-mcp store: no SQLite store at ${join(dir, 'state', 'crisp-mcp', 'state.db')}: name the file the server or bot runs with (--store sqlite:PATH)\n`);
    expect(() => readFileSync(join(dir, 'untouched.db'))).toThrow();
    expect(() => readFileSync(join(dir, 'state', 'crisp-mcp', 'state.db'))).toThrow();
    const help = await runCli(['store', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('crisp-mcp store forget CONVERSATION… | --idle-for DAYSd  [--store sqlite:PATH|redis://HOST:PORT]');
  });
});

describeWithRedis('crisp-mcp store forget (Redis)', () => {
  const redis = useRedis();
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 62 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('erases one visitor of the Redis the bot wrote (CRISP_MCP_STORE), and keeps the other', async () => {
    const url = redis().url;
    const visitors = await twoVisitorsAnswered(sandbox, [], { CRISP_MCP_STORE: url });
    const raw = createClient({ url });
    await raw.connect();
    const everything = async (): Promise<string> => {
      const values: string[] = [];
      for await (const keys of raw.scanIterator({ MATCH: 'crisp-mcp:*' })) {
        for (const key of keys) {
          const type = await raw.type(key);
          values.push(key, type === 'hash' ? JSON.stringify(await raw.hGetAll(key)) : type === 'string' ? String(await raw.get(key)) : type === 'zset' ? (await raw.zRange(key, 0, -1)).join() : '');
        }
      }
      return values.join('\n');
    };
    try {
      expect(await everything()).toContain(ERASED);
      const run = await runCli(['store', 'forget', visitors.erased], { env: { CRISP_MCP_STORE: url } });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe(`forgot ${visitors.erased}: 1 scenario position, 0 drafts, 0 undelivered items, 0 delivery keys\n`);
      expect(run.status).toBe(0);
      const left = await everything();
      expect(left).not.toContain(ERASED);
      expect(left).not.toContain(visitors.erased.split('/')[1]);
      expect(left).toContain(KEPT);
    } finally {
      await raw.quit();
    }
  }, 60_000);
});
