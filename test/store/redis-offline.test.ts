// The Redis store while its server is unreachable: calls wait for the reconnection for a grace
// period, then fail with a clear StoreError, and fail at once until Redis is back. Also while it
// stops answering with the connection left open (a frozen server): the calls fail the same way. The store talks
// to a real Redis through a TCP relay this test can cut and restore (the same port each time), so
// it needs no restart of the server.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { StoreError } from '../../src/store/index.js';
import type { RedisOutage } from '../../src/store/redis-connection.js';
import { RedisStore } from '../../src/store/redis.js';
import { eventually } from '../helpers/events.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

/**
 * A TCP relay to `target` on a fixed local port: cut() drops every connection and refuses new ones;
 * hangUp() drops every connection and closes each new one at once, counting them; restore() relays again.
 */
class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;
  /** Connections closed at once since hangUp(). */
  hungUp = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async hangUp(): Promise<void> {
    await this.cut();
    this.hungUp = 0;
    await this.#listen(
      createServer((client) => {
        this.hungUp++;
        client.destroy();
      }),
    );
  }

  /** Keeps every connection open but carries nothing more either way: a server that stopped answering. */
  freeze(): void {
    for (const s of this.#sockets) {
      s.unpipe();
      s.pause();
    }
  }

  async restore(): Promise<void> {
    await this.cut();
    await this.#listen(createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    }));
  }

  async #listen(server: Server): Promise<void> {
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

const GRACE_MS = 300;

describeWithRedis('RedisStore while Redis is unreachable', () => {
  const redis = useRedis();
  let relay: Relay;
  let store: RedisStore | undefined;
  let connectionErrors: Error[] = [];
  let reconnections: RedisOutage[] = [];

  afterEach(async () => {
    await store?.close();
    store = undefined;
    await relay?.cut();
  });

  async function connectThroughRelay(offlineGraceMs: number): Promise<RedisStore> {
    const url = new URL(redis().url);
    relay = new Relay({ host: url.hostname, port: Number(url.port) });
    await relay.restore();
    connectionErrors = [];
    reconnections = [];
    return RedisStore.connect(`redis://127.0.0.1:${relay.port}${url.pathname}`, {
      prefix: `offline-${randomUUID()}:`,
      offlineGraceMs,
      onError: (err) => connectionErrors.push(err),
      onReconnected: (outage) => reconnections.push(outage),
    });
  }

  /** Cuts the relay and waits until the store has seen its connection go (a call already sent fails with the socket; these tests are about the ones after). */
  async function cutAndNotice(): Promise<void> {
    await relay.cut();
    await eventually(() => connectionErrors.length > 0, 10_000, 'the lost connection noticed');
  }

  it('a call made while the connection is down waits for the reconnection within the grace, and is answered', async () => {
    store = await connectThroughRelay(60_000);
    await store.savePosition('c', 's', { at: 1 }, { expectedVersion: 0 });
    await cutAndNotice();
    const call = store.getPosition('c', 's');
    const settled = { done: false };
    void call.finally(() => (settled.done = true)).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled.done).toBe(false); // still waiting for Redis, not failed
    await relay.restore();
    expect(await call).toMatchObject({ value: { at: 1 }, version: 1 });
  }, 20_000);

  it('past the grace, the waiting calls fail with store_unavailable naming why, later calls fail until Redis is back, then calls work again', async () => {
    store = await connectThroughRelay(GRACE_MS);
    await store.savePosition('c', 's', { at: 1 }, { expectedVersion: 0 });
    await cutAndNotice();
    const waiting = await store.getPosition('c', 's').then(() => undefined, (error: unknown) => error);
    expect(waiting).toBeInstanceOf(StoreError);
    expect(waiting).toMatchObject({ code: 'store_unavailable' });
    expect((waiting as Error).message).toBe(`the Redis store at redis://127.0.0.1:${relay.port} failed: unreachable for more than ${GRACE_MS} ms`);
    // Still down: a new call fails too (it is not queued behind the reconnection).
    await expect(store.savePosition('c', 's', { at: 2 }, { expectedVersion: 1 })).rejects.toMatchObject({ code: 'store_unavailable' });
    await relay.restore();
    const s = store;
    await eventually(() => s.getPosition('c', 's').then((found) => found?.version === 1, () => false), 10_000, 'a call answered once Redis is back');
    expect(await s.savePosition('c', 's', { at: 2 }, { expectedVersion: 1 })).toMatchObject({ ok: true, version: 2 });
  }, 20_000);

  it('a Redis that stops answering with the connection open: the calls fail with store_unavailable, then work again once it answers', async () => {
    store = await connectThroughRelay(GRACE_MS);
    await store.savePosition('c', 's', { at: 1 }, { expectedVersion: 0 });
    relay.freeze();
    // Without a watch on the silence this call would wait for ever (the test's own timeout).
    const waiting = await store.getPosition('c', 's').then(() => undefined, (error: unknown) => error);
    expect(waiting).toBeInstanceOf(StoreError);
    expect(waiting).toMatchObject({ code: 'store_unavailable' });
    await relay.restore();
    const s = store;
    await eventually(() => s.getPosition('c', 's').then((found) => found?.version === 1, () => false), 10_000, 'a call answered once Redis answers again');
    expect(await s.savePosition('c', 's', { at: 2 }, { expectedVersion: 1 })).toMatchObject({ ok: true, version: 2 });
  }, 20_000);

  it('an outage is told once, however many reconnections fail, and its end once, with how long and how many errors', async () => {
    store = await connectThroughRelay(60_000);
    await store.savePosition('c', 's', { at: 1 }, { expectedVersion: 0 });
    await relay.hangUp();
    // Every reconnection is accepted and closed at once: node-redis sees each one fail.
    await eventually(() => relay.hungUp >= 3, 10_000, 'three failed reconnections');
    expect(connectionErrors).toHaveLength(1);
    expect(reconnections).toEqual([]);
    await relay.restore();
    await eventually(() => reconnections.length > 0, 10_000, 'the reconnection told');
    expect(reconnections).toHaveLength(1);
    expect(reconnections[0]!.errors).toBeGreaterThanOrEqual(3);
    expect(reconnections[0]!.downMs).toBeGreaterThanOrEqual(0);
    expect(connectionErrors).toHaveLength(1);
    expect(await store.getPosition('c', 's')).toMatchObject({ value: { at: 1 }, version: 1 });

    // The next outage is told again.
    await relay.hangUp();
    await eventually(() => connectionErrors.length === 2, 10_000, 'the second outage told');
    await relay.restore();
    await eventually(() => reconnections.length === 2, 10_000, 'the second reconnection told');
  }, 30_000);
});
