// A held conversation lock (HeldLocks, the autopilot's) while the machine's wall clock is set back
// (NTP stepping it, a VM resumed): the lock must still be kept alive, so no replica takes it while
// this process works under it. Before, the lock's bookkeeping read Date.now(): set back a minute,
// the lock looked a minute fresher than it was and was not extended, Redis let it expire after its
// ttl, and a second holder (as a replica is) took it while the first still worked — two workers on one
// conversation, which the lock exists to prevent.
// A real redis-server (its lock ttl is its own, which the process's clock does not move); the step
// is Date.now() set back a minute in this process.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { HeldLocks } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

const TTL_MS = 600;

describeWithRedis('a held lock while the wall clock is set back', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('is kept alive: a second holder (as a replica is) does not get it while the first works under it', async () => {
    const store = await RedisStore.connect(redis.url, { prefix: `clock-${randomUUID()}:` });
    const first = new HeldLocks(store, { ttlMs: TTL_MS, waitMs: TTL_MS * 4 });
    const second = new HeldLocks(store, { ttlMs: TTL_MS, waitMs: TTL_MS * 4 });
    const realNow = Date.now.bind(Date);
    let firstWorking = false;
    let overlapped: boolean | undefined;
    let secondDone: Promise<unknown> | undefined;
    try {
      await first.run('conversation', async (lease) => {
        firstWorking = true;
        const step = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 60_000);
        try {
          secondDone = second.run('conversation', async () => {
            overlapped = firstWorking;
          }).catch((error: unknown) => error);
          // Work under the lock for several of its ttls.
          await sleep(TTL_MS * 3);
          expect(lease.signal.aborted).toBe(false);
        } finally {
          step.mockRestore();
          firstWorking = false;
        }
      });
      await secondDone;
      expect(overlapped).not.toBe(true);
    } finally {
      await first.close();
      await second.close();
      await store.close();
    }
  }, 30_000);
});
