// The Redis store's draft indexes (`drafts`, `drafts:{c}`) on a server that runs for weeks: each
// conversation an agent ever drafted in has an index key, so one that gets no more drafts must not
// keep it forever. An index expires with the last draft it lists, never before it.
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

const HOUR = 60 * 60_000;

describeWithRedis('RedisStore draft indexes', () => {
  const redis = useRedis();

  async function withStore(run: (store: RedisStore, raw: ReturnType<typeof createClient>, prefix: string) => Promise<void>): Promise<void> {
    const prefix = `drafts-${randomUUID()}:`;
    const store = await RedisStore.connect(redis().url, { prefix });
    const raw = await createClient({ url: redis().url }).connect();
    try {
      await run(store, raw, prefix);
    } finally {
      for await (const keys of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length > 0) await raw.del(keys);
      await raw.close();
      await store.close();
    }
  }

  it("gives a conversation's index the time to live of its draft: it goes once its drafts have", async () => {
    await withStore(async (store, raw, prefix) => {
      await store.putDraft({ value: { text: 'hi' }, ttlMs: HOUR, conversation: 'w/session_1' });
      for (const key of [`${prefix}drafts:w/session_1`, `${prefix}drafts`]) {
        const left = await raw.pTTL(key);
        // -1 would be a key kept forever; the draft itself lives an hour.
        expect(left, key).toBeGreaterThan(0);
        expect(left, key).toBeLessThanOrEqual(HOUR);
      }
      // Its time to live is the draft's: a draft with a short one takes its index with it.
      await store.putDraft({ value: { text: 'short' }, ttlMs: 30, conversation: 'w/session_2' });
      await expect.poll(() => raw.exists(`${prefix}drafts:w/session_2`), { interval: 10, timeout: 5_000 }).toBe(0);
      expect(await store.listDrafts('w/session_2')).toEqual([]);
    });
  });

  it("is never shortened by a later draft that expires sooner, so the earlier one is still listed", async () => {
    await withStore(async (store, raw, prefix) => {
      const long = await store.putDraft({ value: { n: 1 }, ttlMs: HOUR, conversation: 'w/session_1' });
      const short = await store.putDraft({ value: { n: 2 }, ttlMs: 30, conversation: 'w/session_1' });
      expect(await raw.pTTL(`${prefix}drafts:w/session_1`)).toBeGreaterThan(HOUR / 2);
      await expect.poll(() => store.getDraft(short.id), { interval: 10, timeout: 5_000 }).toBeUndefined();
      expect((await store.listDrafts('w/session_1')).map((d) => d.id)).toEqual([long.id]);
    });
  });

  it("gives an index an earlier release left without a time to live one at the conversation's next draft", async () => {
    await withStore(async (store, raw, prefix) => {
      const index = `${prefix}drafts:w/session_1`;
      await raw.zAdd(index, { score: Date.now() - 1_000, value: 'expired-long-ago' });
      expect(await raw.pTTL(index)).toBe(-1);
      const d = await store.putDraft({ value: { n: 1 }, ttlMs: HOUR, conversation: 'w/session_1' });
      expect(await raw.pTTL(index)).toBeGreaterThan(0);
      expect(await raw.zRange(index, 0, -1)).toEqual([d.id]);
    });
  });
});
