// A real Redis for tests: REDIS_URL when set, else a `redis-server` child process on a free port
// (no persistence), killed after. `redisAvailability()` says up front, synchronously, whether the
// Redis suites can run, so they can be skipped with a visible reason; under CI=true a missing
// redis-server is a failure, not a skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { freePort } from './net.js';

export type RedisAvailability = { ok: true; url: string | undefined; binary: string | undefined } | { ok: false; reason: string };

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port after stop() (an outage that ends); not for REDIS_URL's Redis. */
  restart(): Promise<void>;
}

/** The redis-server on PATH (or REDIS_SERVER), if any. */
export function findRedisServer(): string | undefined {
  const candidates = process.env.REDIS_SERVER ? [process.env.REDIS_SERVER] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server'));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function redisAvailability(): RedisAvailability {
  if (process.env.REDIS_URL) return { ok: true, url: process.env.REDIS_URL, binary: undefined };
  const binary = findRedisServer();
  if (binary) return { ok: true, url: undefined, binary };
  const missing = process.env.REDIS_SERVER ? `REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable` : 'no redis-server on PATH';
  return { ok: false, reason: `${missing} and REDIS_URL is not set (apt-get install redis-server, or set REDIS_URL)` };
}

/**
 * Declares a suite that needs a real Redis: as written when one can run; otherwise, under CI=true, a
 * test that fails with the reason, and locally a visible skip (a warning and a skipped test).
 */
export function describeWithRedis(name: string, suite: () => void): void {
  const redis = redisAvailability();
  if (redis.ok) describe(name, suite);
  else if (process.env.CI === 'true') {
    test(`${name}: a real redis-server is required under CI`, () => {
      throw new Error(`cannot run ${name}: ${redis.reason}`);
    });
  } else {
    console.warn(`[${name}] SKIPPED: ${redis.reason}`);
    describe.skip(`${name} (skipped: ${redis.reason})`, () => test(name, () => {}));
  }
}

/** Starts (or points at) a Redis; throws with the reason when there is none. */
export async function startRedis(): Promise<TestRedis> {
  const found = redisAvailability();
  if (!found.ok) throw new Error(found.reason);
  if (found.url) {
    return {
      url: found.url,
      stop: async () => {},
      restart: () => Promise.reject(new Error('cannot restart the Redis at REDIS_URL: unset it to let the tests start their own')),
    };
  }
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      let child = await spawnRedis(found.binary!, port);
      return {
        url: `redis://127.0.0.1:${port}`,
        restart: async () => {
          child = await spawnRedis(found.binary!, port);
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        },
      };
    } catch (err) {
      lastError = err as Error; // most likely the port was taken between freePort() and the bind: try another
    }
  }
  throw lastError ?? new Error('redis-server did not start');
}

async function spawnRedis(binary: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      if (line.includes('Ready to accept connections')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output.slice(-5).join(' | ')}`)));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  killedWithTestProcess(child);
  return child;
}

/**
 * Kills `child` if the test process exits first. The hook goes once the child has exited: a worker
 * runs file after file (isolate: false), and hooks left behind by every Redis it started piled up
 * past Node's 10, whose MaxListenersExceededWarning then landed in whichever test was watching for one.
 */
export function killedWithTestProcess(child: ChildProcess): void {
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/**
 * A Redis for the enclosing suite: started before its tests, stopped after them. The returned
 * function gives it, from a test or a hook.
 */
export function useRedis(): () => TestRedis {
  let server: TestRedis | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('useRedis: the Redis is only there inside the suite\'s tests and hooks');
    return server;
  };
}
