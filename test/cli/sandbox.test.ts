// `crisp-mcp sandbox`, run from the BUILT CLI (dist/cli.js; `npm test` builds it via pretest).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface SandboxInfo {
  url: string;
  website_id: string;
  website_ids?: string[];
  identifier: string;
  key: string;
  tier: string;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<ChildProcess>();

function run(args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.CRISP_SANDBOX_KEY;
  for (const [name, value] of Object.entries(env)) if (value !== undefined) childEnv[name] = value;
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(child), () => undefined);
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Resolves with the exit, or rejects if the process is still running after `ms`. */
function within(exited: Promise<Exit>, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the CLI did not exit within ${ms} ms`)), ms);
  });
  return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
}

/** The first stdout line, parsed as JSON. */
function firstJsonLine(proc: ReturnType<typeof run>, ms = 10_000): Promise<SandboxInfo> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON line on stdout within ${ms} ms; stderr: ${proc.stderr()}`)), ms);
    const check = () => {
      const newline = proc.stdout().indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      proc.child.stdout?.off('data', check);
      try {
        resolve(JSON.parse(proc.stdout().slice(0, newline)) as SandboxInfo);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    proc.child.stdout?.on('data', check);
    proc.exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`the CLI exited (${JSON.stringify(exit)}) before printing; stderr: ${proc.stderr()}`));
    }, reject);
    check();
  });
}

async function authenticatedGet(info: SandboxInfo, path: string) {
  const res = await request(`${info.url}${path}`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${info.identifier}:${info.key}`).toString('base64')}`,
      'user-agent': 'crisp-mcp-tests/1.0',
      'x-crisp-tier': info.tier,
    },
  });
  return { status: res.statusCode, body: (await res.body.json()) as { error: boolean; reason: string; data: unknown } };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it via pretest)`);
});

afterEach(() => {
  // Only the processes this file started, by their handle.
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

describe('crisp-mcp sandbox', () => {
  it('prints one JSON line with working credentials, and exits 0 on SIGTERM', async () => {
    const proc = run(['sandbox', '--port', '0', '--json']);
    const info = await firstJsonLine(proc);
    expect(info).toEqual({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      console: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/),
      website_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      identifier: expect.any(String),
      key: expect.stringMatching(/^[0-9a-f]{48}$/),
      tier: 'plugin',
    });

    const reply = await authenticatedGet(info, `/v1/website/${info.website_id}/conversations/1`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ error: false, reason: 'resolved' });
    expect(reply.body.data).toHaveLength(20);
    expect(proc.stdout().trim().split('\n')).toHaveLength(1);

    const wrongKey = await authenticatedGet({ ...info, key: 'nope' }, `/v1/website/${info.website_id}/conversations/1`);
    expect(wrongKey.status).toBe(401);

    proc.child.kill('SIGTERM');
    expect(await within(proc.exited, 5_000)).toEqual({ code: 0, signal: null });
  });

  it('--websites 3 seeds three websites the credentials reach, the first the one-website demo, and prints the allow-list line', async () => {
    const one = await firstJsonLine(run(['sandbox', '--port', '0', '--json']));
    const proc = run(['sandbox', '--port', '0', '--json', '--websites', '3']);
    const info = await firstJsonLine(proc);
    expect(info.website_ids).toHaveLength(3);
    expect(new Set(info.website_ids).size).toBe(3);
    expect(info.website_ids![0]).toBe(info.website_id);
    expect(info.website_id).toBe(one.website_id);
    const firsts = [];
    for (const website of info.website_ids!) {
      const reply = await authenticatedGet(info, `/v1/website/${website}/conversations/1`);
      expect(reply.status).toBe(200);
      firsts.push((reply.body.data as { session_id: string }[])[0]!.session_id);
    }
    expect(new Set(firsts).size).toBe(3);
    proc.child.kill('SIGTERM');
    expect(await within(proc.exited, 5_000)).toEqual({ code: 0, signal: null });

    const text = run(['sandbox', '--port', '0', '--websites', '2']);
    await expect.poll(() => text.stdout(), { timeout: 10_000 }).toMatch(/CRISP_WEBSITE_ID=[0-9a-f-]{36},[0-9a-f-]{36}\n/);
    expect(text.stdout()).toMatch(/^ {2}websites {4}[0-9a-f-]{36} [0-9a-f-]{36} \(the first is the default\)$/m);
    text.child.kill('SIGTERM');
    await within(text.exited, 5_000);
  });

  it('uses CRISP_SANDBOX_KEY as the key when it is set', async () => {
    const proc = run(['sandbox', '--port', '0', '--json'], { CRISP_SANDBOX_KEY: 'fixed-test-key-123' });
    const info = await firstJsonLine(proc);
    expect(info.key).toBe('fixed-test-key-123');
    expect((await authenticatedGet(info, `/v1/website/${info.website_id}/operators/list`)).status).toBe(200);
    proc.child.kill('SIGTERM');
    expect(await within(proc.exited, 5_000)).toEqual({ code: 0, signal: null });
  });

  it.each([
    [['--port', 'abc'], /--port must be a whole number from 0 to 65535, got "abc"/],
    [['--port', '70000'], /--port must be a whole number/],
    [['--port', '0', '--websites', '6'], /--websites must be a whole number from 1 to 5, got "6"/],
    [['--port', '0', '--faults', 'bogus:1'], /unknown fault "bogus" in "bogus:1"/],
    [['--port', '0', '--faults', '429:150%'], /"429:150%"/],
    [['--port', '0', '--rate-limit', 'fast'], /--rate-limit/],
    [['--port', '0', '--no-such-flag'], /no-such-flag/],
    [['--port', '0', '--hooks', 'http://127.0.0.1:9/hooks', '--hook-concurrency', '0'], /--hook-concurrency must be a whole number from 1 to 64, got "0"/],
    [['--port', '0', '--hooks', 'http://127.0.0.1:9/hooks', '--hook-concurrency', '65'], /--hook-concurrency must be a whole number from 1 to 64, got "65"/],
    [['--port', '0', '--hooks', 'http://127.0.0.1:9/hooks', '--hook-concurrency', '2.5'], /--hook-concurrency must be a whole number from 1 to 64, got "2.5"/],
    [['--port', '0', '--hooks', 'http://127.0.0.1:9/hooks', '--hook-concurrency', 'many'], /--hook-concurrency must be a whole number from 1 to 64, got "many"/],
    [['--port', '0', '--hook-concurrency', '4'], /--hook-concurrency needs --hooks URL/],
  ])('exits non-zero for %j, naming the problem on stderr', async (args, message) => {
    const proc = run(['sandbox', ...args]);
    const exit = await within(proc.exited, 5_000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(proc.stderr()).toMatch(message);
    expect(proc.stdout()).toBe('');
  });
});
