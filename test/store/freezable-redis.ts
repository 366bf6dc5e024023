// A redis-server of a test's own, so that it can be frozen (SIGSTOP: the process stops answering
// with its connections open and its data kept, as a paused VM or a partition without a reset) and
// thawed again (SIGCONT). The shared helper (test/helpers/redis.ts) stops and restarts its server,
// which loses the data.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { freePort } from '../helpers/net.js';
import { findRedisServer, killedWithTestProcess } from '../helpers/redis.js';

export interface FreezableRedis {
  url: string;
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

export async function startFreezableRedis(): Promise<FreezableRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(findRedisServer()!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  killedWithTestProcess(child);
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => line.includes('Ready to accept connections') && resolve());
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
