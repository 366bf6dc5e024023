// A Redis that answers but refuses the URL's login is a setting to fix, not an outage to wait out:
// the store says so (store_misconfigured, which the tools turn into "an operator must fix this"),
// in one line without the password.
import { expect, it } from 'vitest';
import { openStore, StoreError } from '../../src/store/index.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

describeWithRedis('RedisStore login', () => {
  const redis = useRedis();

  it.each([
    ['an unknown user', 'nobody:s3cret@', /WRONGPASS/],
    ['a password where none is set', ':s3cret@', /^ERR AUTH/],
  ])('%s: store_misconfigured, naming what Redis said, without the password', async (_, login, said) => {
    const url = new URL(redis().url);
    const error = await openStore(`redis://${login}${url.host}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_misconfigured');
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^the Redis store at redis://${url.host} refused the user name or password in the URL: `));
    expect(message.slice(message.indexOf(': ') + 2)).toMatch(said);
    expect(message).not.toContain('s3cret');
    expect(message).not.toContain('\n');
  });

  it('a reachable Redis without a login still opens', async () => {
    const store = await openStore(redis().url);
    expect(store.kind).toBe('redis');
    await store.close();
  });
});
