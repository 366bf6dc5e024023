// stdio serve's scenario library compiled, and store opened, on first use (src/commands/on-first-use.ts):
// the same answers as the eager ones, nothing done before it is asked for, and a broken folder said
// the same way each time — in the start-up log and by the tools of the running server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreOpenedOnFirstUse } from '../../src/commands/on-first-use.js';
import { loadScenarioLibrary, ScenarioLibraryError, SHIPPED_SCENARIOS_DIR } from '../../src/engine/library.js';
import { StoreError } from '../../src/store/index.js';
import { CLI } from '../helpers/cli.js';
import { connectStdio } from '../helpers/stdio.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-first-use-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder with one good scenario and one whose start block does not exist. */
function brokenFolder(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.json'), JSON.stringify({ name: 'good', version: 1, start: 'hi', blocks: { hi: { type: 'message', text: 'Hello', next: 'bye' }, bye: { type: 'end' } } }));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ name: 'bad', version: 1, start: 'nowhere', blocks: { hi: { type: 'end' } } }));
  return dir;
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('loadScenarioLibrary(dir, { onFirstUse: true })', () => {
  it('answers as loadScenarioLibrary does, for the shipped examples', async () => {
    const lazy = await loadScenarioLibrary(SHIPPED_SCENARIOS_DIR, { onFirstUse: true });
    const eager = await loadScenarioLibrary(SHIPPED_SCENARIOS_DIR);
    expect(lazy.files.map((f) => f.slice(SHIPPED_SCENARIOS_DIR.length + 1))).toEqual(eager.names().map((n) => `${n}.json`));
    expect(lazy.files).toEqual(eager.files);
    expect(lazy.dir).toBe(eager.dir);
    // Read before it is compiled: a wiring mistake, said as such.
    expect(() => lazy.names()).toThrow('the scenario library is compiled on first use: await compiled() before reading it');
    expect(await lazy.compiled()).toBe(lazy);
    expect(lazy.names()).toEqual(eager.names());
    expect(lazy.size).toBe(eager.size);
    expect(lazy.list().map((s) => s.program.hash)).toEqual(eager.list().map((s) => s.program.hash));
    expect(lazy.get('gdpr')?.summary).toEqual(eager.get('gdpr')?.summary);
    expect(lazy.require('booking').file).toBe(eager.require('booking').file);
    expect(thrown(() => lazy.require('nope'))).toEqual(thrown(() => eager.require('nope')));
  });

  it('a folder that cannot be read fails at once with the same message', async () => {
    const file = join(tempDir(), 'one.json');
    writeFileSync(file, '{}');
    for (const dir of [join(tempDir(), 'missing'), file]) {
      const lazy = await loadScenarioLibrary(dir, { onFirstUse: true }).catch((error: unknown) => error);
      const eager = await loadScenarioLibrary(dir).catch((error: unknown) => error);
      expect(lazy).toBeInstanceOf(ScenarioLibraryError);
      expect((lazy as Error).message).toBe((eager as Error).message);
    }
  });

  it('a file that does not compile fails each use with the error loadScenarioLibrary throws at once', async () => {
    const dir = brokenFolder();
    const lazy = await loadScenarioLibrary(dir, { onFirstUse: true });
    const eager = await loadScenarioLibrary(dir).catch((error: unknown) => error);
    expect(eager).toBeInstanceOf(ScenarioLibraryError);
    const first = await lazy.compiled().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(ScenarioLibraryError);
    expect((first as Error).message).toBe((eager as Error).message);
    await expect(lazy.compiled()).rejects.toBe(first); // compiled once, not again at each ask
    for (const use of [() => lazy.names(), () => lazy.get('good'), () => lazy.list()]) {
      const error = thrown(use);
      expect(error).toBeInstanceOf(ScenarioLibraryError);
      expect((error as Error).message).toBe((eager as Error).message);
      expect((error as Error).message).toContain(join(dir, 'bad.json'));
    }
  });
});

describe('StoreOpenedOnFirstUse', () => {
  it('creates the SQLite file only at the first call, then answers from it', async () => {
    const path = join(tempDir(), 'state', 'state.db');
    const store = new StoreOpenedOnFirstUse({ kind: 'sqlite', path });
    try {
      expect(store.kind).toBe('sqlite');
      expect(store.where).toBe(path);
      expect(existsSync(path)).toBe(false);
      const draft = await store.putDraft({ value: { a: 1 }, ttlMs: 60_000 });
      expect(existsSync(path)).toBe(true);
      expect((await store.getDraft(draft.id))?.value).toEqual({ a: 1 });
      expect(await store.acquireLock('k', 1_000)).toEqual(expect.any(String));
    } finally {
      await store.close();
    }
    await expect(store.getDraft('x')).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('a store that cannot be opened rejects each call with the StoreError of the open, and is tried again', async () => {
    const blocker = join(tempDir(), 'a-file');
    writeFileSync(blocker, '');
    const store = new StoreOpenedOnFirstUse({ kind: 'sqlite', path: join(blocker, 'state.db') });
    const first = await store.listDrafts().catch((error: unknown) => error);
    expect(first).toBeInstanceOf(StoreError);
    expect((first as StoreError).code).toBe('store_unavailable');
    // The obstacle removed, the next call opens it.
    rmSync(blocker);
    mkdirSync(blocker);
    expect(await store.listDrafts()).toEqual([]);
    await store.close();
  });

  it('names a Redis store without its password before it is opened', () => {
    expect(new StoreOpenedOnFirstUse({ kind: 'redis', url: 'redis://user:secret@cache.example:6379/2' }).where).not.toContain('secret');
  });
});

describe('crisp-mcp serve over stdio with a scenario folder that does not compile', () => {
  it('starts, lists the scenario tools, logs the problem once tools/list is answered, and each scenario tool says it', async () => {
    const dir = brokenFolder();
    const home = tempDir();
    const { client, stderr } = await connectStdio(['serve', '--sandbox', '--scenarios', dir, '--store', `sqlite:${join(home, 'state.db')}`], { env: { HOME: home, XDG_STATE_HOME: home } });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_scenarios');
      await expect.poll(stderr, { timeout: 10_000 }).toContain('scenario tools cannot run');
      const logged = stderr().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; level: number; files?: string[] });
      expect(logged.find((l) => l.msg === `scenarios loaded from ${dir}`)?.files).toEqual([join(dir, 'bad.json'), join(dir, 'good.json')]);
      expect(logged.find((l) => l.msg.startsWith('scenario tools cannot run'))).toMatchObject({ level: 50, msg: expect.stringContaining(join(dir, 'bad.json')) });
      const listed = await client.callTool({ name: 'list_scenarios', arguments: {} });
      expect(listed.isError).toBe(true);
      expect((listed.content as Array<{ text: string }>)[0]!.text).toMatch(new RegExp(`^Scenario tools cannot run: 1 scenario file did not compile .*\\n${join(dir, 'bad.json')}:`, 's'));
      // The other tools are untouched.
      expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('logs the problem even when no host ever asks for tools/list (someone trying it in a terminal)', async () => {
    const dir = brokenFolder();
    const home = tempDir();
    const child = spawn(process.execPath, [CLI, 'serve', '--sandbox', '--scenarios', dir, '--store', `sqlite:${join(home, 'state.db')}`], {
      env: { PATH: process.env.PATH ?? '', HOME: home, XDG_STATE_HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    try {
      await expect.poll(() => stderr, { timeout: 15_000 }).toContain('scenario tools cannot run');
      expect(stderr).toContain(join(dir, 'bad.json'));
    } finally {
      child.stdin.end();
      await once(child, 'exit');
    }
  });
});
