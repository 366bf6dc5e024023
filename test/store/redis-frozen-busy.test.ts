// A Redis that stops answering with its connection left open (frozen: a paused VM, a partition
// without a reset) while the store keeps writing to it, as a running bot does (its outbox sweep,
// its lock renewals, every visitor's turn). The calls must fail as store_unavailable within the
// grace, told once, and work again once Redis answers. Before, they hung for good, and nothing was
// logged: node-redis drops a connection after the grace of *inactivity*, and Node counts the
// store's own writes as activity, so a store written to more often than the grace never noticed
// (test/store/redis-offline.test.ts freezes a store that is not written to meanwhile).
// A real redis-server frozen with SIGSTOP and thawed with SIGCONT.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { StoreError } from '../../src/store/index.js';
import type { RedisOutage } from '../../src/store/redis-connection.js';
import { RedisStore } from '../../src/store/redis.js';
import { eventually } from '../helpers/events.js';
import { describeWithRedis } from '../helpers/redis.js';
import { startFreezableRedis, type FreezableRedis } from './freezable-redis.js';

const GRACE_MS = 300;

describeWithRedis('RedisStore on a frozen Redis it keeps writing to', () => {
  let redis: FreezableRedis;
  beforeAll(async () => {
    redis = await startFreezableRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('fails the calls as store_unavailable, says so once, and works again once Redis answers', async () => {
    const errors: Error[] = [];
    const reconnections: RedisOutage[] = [];
    const store = await RedisStore.connect(redis.url, { prefix: `frozen-${randomUUID()}:`, offlineGraceMs: GRACE_MS, onError: (e) => errors.push(e), onReconnected: (o) => reconnections.push(o) });
    // Traffic more often than the grace, whatever the calls answer.
    const traffic = setInterval(() => void store.getPosition('other', 's').catch(() => undefined), GRACE_MS / 6);
    try {
      await store.savePosition('c', 's', { at: 1 }, { expectedVersion: 0 });
      redis.freeze();
      const failed = await store.getPosition('c', 's').then(() => undefined, (error: unknown) => error);
      expect(failed).toBeInstanceOf(StoreError);
      expect(failed).toMatchObject({ code: 'store_unavailable' });
      // Still frozen: a new call fails too.
      await expect(store.savePosition('c', 's', { at: 2 }, { expectedVersion: 1 })).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(errors).toHaveLength(1);

      redis.thaw();
      await eventually(() => store.getPosition('c', 's').then((found) => found?.version === 1, () => false), 20_000, 'a call answered once Redis answers again');
      expect(await store.savePosition('c', 's', { at: 2 }, { expectedVersion: 1 })).toMatchObject({ ok: true, version: 2 });
      expect(reconnections).toEqual([expect.objectContaining({ downMs: expect.any(Number) })]);
      expect(errors).toHaveLength(1);
    } finally {
      clearInterval(traffic);
      await store.close();
    }
  }, 60_000);
});
