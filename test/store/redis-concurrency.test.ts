// The Redis store under many calls at once, as the autopilot makes them (one save per conversation
// in flight): every command carries the store's one offline signal, and dozens waiting together is
// normal use, not a leak for Node to warn about on stderr.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

describeWithRedis('RedisStore with many calls in flight', () => {
  const redis = useRedis();

  it('64 saves at once are all answered, and Node warns of no listener leak', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const store = await RedisStore.connect(redis().url, { prefix: `many-${randomUUID()}:` });
    try {
      const saved = await Promise.all(Array.from({ length: 64 }, (_, i) => store.savePosition(`c${i}`, 's', { at: i }, { expectedVersion: 0 })));
      expect(saved.every((result) => result.ok)).toBe(true);
      // A warning is emitted on the next tick of the call that triggered it.
      await new Promise((resolve) => setImmediate(resolve));
      // Abort listeners, the store's own: the process is shared with other files' leftovers (isolate: false).
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning' && /abort listeners/.test(w.message))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await store.close();
    }
  });
});
