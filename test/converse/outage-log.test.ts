// The converse API's background work (its inbox poll runs every second) through a Redis outage:
// one warning when the store stops answering, the rest counted at debug, one line when it answers
// again — and events are answered after it. Before, each poll wrote an error
// line: 3,600 an hour. A real redis-server, stopped and started again on its port.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startConverseHarness } from '../helpers/converse.js';
import { eventually } from '../helpers/events.js';
import { Receiver } from '../helpers/receiver.js';
import { describeWithRedis, startRedis, type TestRedis } from '../helpers/redis.js';

describeWithRedis('converse through a Redis outage', () => {
  let redis: TestRedis;
  let receiver: Receiver;
  beforeAll(async () => {
    redis = await startRedis();
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await redis?.stop();
  });

  it('warns once that it cannot read its inbox, counts the rest at debug, says once that the store answers again, then answers', async () => {
    const store = await RedisStore.connect(redis.url, { prefix: `converse-outage-${process.pid}-${Date.now()}:`, offlineGraceMs: 200 });
    const h = await startConverseHarness({ receiver, store });
    const of = (msg: string) => h.logs.filter((l) => l.msg === msg);
    try {
      await redis.stop();
      // The poll, as the sweeper runs it every second; here three times in a row.
      for (let i = 0; i < 3; i++) await h.service.resume();
      const failed = of('converse: cannot read the pending inbox events');
      expect(failed.map((l) => l.level)).toEqual([40, 20, 20]);
      expect(failed[0]).toMatchObject({ code: 'store_unavailable' });

      await redis.restart();
      await eventually(async () => {
        await h.service.resume();
        return of('converse: the store answers again').length > 0;
      }, 15_000, 'the store answering again');
      expect(of('converse: the store answers again')).toEqual([expect.objectContaining({ level: 30, failures: expect.any(Number), down_ms: expect.any(Number) })]);
      expect(of('converse: cannot read the pending inbox events').filter((l) => l.level === 40)).toHaveLength(1);

      // And it works: an event now is answered.
      expect(await h.service.accept({ conversationId: `after-${process.pid}`, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Ada' }] })).toMatchObject({ status: 202 });
      await receiver.waitFor(() => receiver.of(`after-${process.pid}`).length === 2, 5_000, 'the replies');
    } finally {
      await h.stop();
      await store.close();
    }
  }, 60_000);
});
