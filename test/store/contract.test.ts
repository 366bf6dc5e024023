// One contract, three stores: memory, SQLite (a temp file) and a REAL Redis (test/helpers/redis.ts).
// Every test gets fresh state; `open()` returns another Store on the same state (same MemoryBacking,
// same file, same key prefix), which is how two processes or replicas see each other.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { HeldLocks, MemoryBacking, MemoryStore, StoreError, withLock, type Store } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';
import { sqliteRows } from '../helpers/sqlite-file.js';

interface Backend {
  /**
   * Fresh, empty state for one test; returns how to open Stores on it, how to drop it, the stores'
   * clock (`now`) and how to move it on (`elapse`): memory and SQLite take an injected clock, so
   * expiry tests jump it; Redis expires keys on its own server clock (PX), so there it is a real wait.
   */
  fresh(): Promise<{ open(): Promise<Store>; drop(): Promise<void>; now(): number; elapse(ms: number): Promise<void> }>;
}

/** Wall time plus an offset the test moves forward: expiries fall due without waiting. */
function movableClock(): { now: () => number; elapse: (ms: number) => Promise<void> } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    elapse: async (ms) => {
      offset += ms;
    },
  };
}

const C1 = 'website-1/session_a';
const C2 = 'website-1/session_b';

function storeContract(name: string, backend: () => Backend): void {
  describe(`${name} store`, () => {
    let state: Awaited<ReturnType<Backend['fresh']>>;
    const opened: Store[] = [];
    let store: Store;
    const open = async (): Promise<Store> => {
      const s = await state.open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      state = await backend().fresh();
      store = await open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      await state.drop();
    });

    describe('positions', () => {
      test('compare-and-set on the version: the stale writer loses', async () => {
        expect(await store.getPosition(C1, 'demo')).toBeUndefined();
        expect(await store.savePosition(C1, 'demo', { pc: 1 }, { expectedVersion: 0 })).toEqual({ ok: true, version: 1, outbox: [] });
        expect(await store.savePosition(C1, 'demo', { pc: 9 }, { expectedVersion: 0 })).toEqual({ ok: false, current: 1 });
        expect(await store.savePosition(C1, 'demo', { pc: 2 }, { expectedVersion: 1 })).toMatchObject({ ok: true, version: 2 });
        expect(await store.savePosition(C1, 'demo', { pc: 9 }, { expectedVersion: 1 })).toEqual({ ok: false, current: 2 });
        expect(await store.savePosition(C1, 'demo', { pc: 9 }, { expectedVersion: 5 })).toEqual({ ok: false, current: 2 });
        const saved = await store.getPosition<{ pc: number }>(C1, 'demo');
        expect(saved).toMatchObject({ value: { pc: 2 }, version: 2 });
        expect(saved!.updatedAt).toBeGreaterThan(Date.now() - 10_000);
      });

      test('a version that never existed is a conflict too', async () => {
        expect(await store.savePosition(C1, 'demo', { pc: 1 }, { expectedVersion: 3 })).toEqual({ ok: false, current: 0 });
        expect(await store.getPosition(C1, 'demo')).toBeUndefined();
      });

      test('JSON comes back verbatim, and keys never collide', async () => {
        const value = { scenario: 'demo', program_hash: 'h', pc: 3, vars: { a: [1, 2.5, null], s: 'ü 🙂 "q" \n', big: 1_725_000_000_123 }, waiting: true, handed_off: false, last_fingerprint: 17 };
        await store.savePosition(C1, 'demo', value, { expectedVersion: 0 });
        expect((await store.getPosition(C1, 'demo'))!.value).toEqual(value);
        await store.savePosition('a:b', 'c', 'first', { expectedVersion: 0 });
        await store.savePosition('a', 'b:c', 'second', { expectedVersion: 0 });
        await store.savePosition('a%3Ab', 'c', 'third', { expectedVersion: 0 });
        expect((await store.getPosition('a:b', 'c'))!.value).toBe('first');
        expect((await store.getPosition('a', 'b:c'))!.value).toBe('second');
        expect((await store.getPosition('a%3Ab', 'c'))!.value).toBe('third');
        expect(await store.getPosition(C1, 'other')).toBeUndefined();
      });

      test('of many concurrent first saves exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.savePosition(C1, 'demo', { i }, { expectedVersion: 0 })));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.current === 1)).toBe(true);
      });

      test('a value that is not JSON is refused and nothing is written', async () => {
        await expect(store.savePosition(C1, 'demo', undefined, { expectedVersion: 0 })).rejects.toThrow(TypeError);
        await expect(store.savePosition(C1, 'demo', {}, { expectedVersion: 0, outbox: [{ payload: () => 1 }] })).rejects.toThrow(TypeError);
        expect(await store.getPosition(C1, 'demo')).toBeUndefined();
        expect(await store.outboxHead(C1)).toBeUndefined();
      });

      test('listIdle reports positions saved with trackIdle, oldest first, until saved without it', async () => {
        await store.savePosition(C1, 'demo', 1, { expectedVersion: 0, trackIdle: true });
        await state.elapse(5);
        await store.savePosition(C2, 'demo', 1, { expectedVersion: 0, trackIdle: true });
        await store.savePosition('untracked', 'demo', 1, { expectedVersion: 0 });
        const now = state.now() + 1;
        expect((await store.listIdle(now)).map((p) => p.conversation)).toEqual([C1, C2]);
        expect(await store.listIdle(now, 1)).toEqual([{ conversation: C1, scenario: 'demo', updatedAt: (await store.getPosition(C1, 'demo'))!.updatedAt }]);
        expect(await store.listIdle((await store.getPosition(C1, 'demo'))!.updatedAt)).toEqual([]);
        await store.savePosition(C1, 'demo', 2, { expectedVersion: 1 });
        expect((await store.listIdle(state.now() + 1)).map((p) => p.conversation)).toEqual([C2]);
      });

      test('a position saved with expireAfterMs is gone once that passes with no later save; a save without it keeps it', async () => {
        await store.savePosition(C1, 'demo', 'over', { expectedVersion: 0, expireAfterMs: 250 });
        await store.savePosition(C2, 'demo', 'over', { expectedVersion: 0, expireAfterMs: 250 });
        await store.savePosition(C2, 'demo', 'going on', { expectedVersion: 1 });
        expect(await store.getPosition(C1, 'demo')).toMatchObject({ value: 'over', version: 1 });
        await state.elapse(350);
        expect(await store.getPosition(C1, 'demo')).toBeUndefined();
        expect((await store.listPositions('demo')).positions.map((p) => p.conversation)).toEqual([C2]);
        expect(await store.getPosition(C2, 'demo')).toMatchObject({ value: 'going on', version: 2 });
        // Expired is none: the stale version loses, a first save wins and is version 1 again.
        expect(await store.savePosition(C1, 'demo', 'late', { expectedVersion: 1 })).toEqual({ ok: false, current: 0 });
        expect(await store.savePosition(C1, 'demo', 'again', { expectedVersion: 0 })).toMatchObject({ ok: true, version: 1 });
        await state.elapse(350);
        expect(await store.getPosition(C1, 'demo')).toMatchObject({ value: 'again', version: 1 });
      });

      test('expireAfterMs is refused with trackIdle, and when not a positive number', async () => {
        await expect(store.savePosition(C1, 'demo', 1, { expectedVersion: 0, expireAfterMs: 1000, trackIdle: true })).rejects.toThrow(/expireAfterMs and trackIdle/);
        await expect(store.savePosition(C1, 'demo', 1, { expectedVersion: 0, expireAfterMs: 0 })).rejects.toThrow(/expireAfterMs must be a positive number/);
        expect(await store.getPosition(C1, 'demo')).toBeUndefined();
      });
    });

    describe('outbox', () => {
      test('items are enqueued with the position save, or not at all', async () => {
        const saved = await store.savePosition(C1, 'demo', { pc: 1 }, { expectedVersion: 0, outbox: [{ payload: { text: 'one' }, id: 'm-1' }, { payload: { text: 'two' } }] });
        expect(saved.ok).toBe(true);
        if (!saved.ok) return;
        expect(saved.outbox.map((o) => o.id)[0]).toBe('m-1');
        expect(saved.outbox[1]!.id).toMatch(/^[\w-]{16,}$/);
        expect(saved.outbox[1]!.seq).toBeGreaterThan(saved.outbox[0]!.seq);

        const stale = await store.savePosition(C1, 'demo', { pc: 9 }, { expectedVersion: 0, outbox: [{ payload: { text: 'never' } }] });
        expect(stale).toEqual({ ok: false, current: 1 });

        const texts: string[] = [];
        for (let item = await store.outboxHead<{ text: string }>(C1); item; item = await store.outboxHead<{ text: string }>(C1)) {
          texts.push(item.payload.text);
          expect(await store.outboxAck(C1, item.seq)).toBe(true);
        }
        expect(texts).toEqual(['one', 'two']);
      });

      test('head carries everything a deliverer needs', async () => {
        const before = Date.now();
        await store.savePosition(C1, 'demo', {}, { expectedVersion: 0, outbox: [{ payload: { n: 1.5, s: 'é' }, id: 'x' }] });
        const head = await store.outboxHead(C1);
        expect(head).toMatchObject({ conversation: C1, id: 'x', payload: { n: 1.5, s: 'é' }, attempts: 0, lastError: undefined });
        expect(head!.createdAt).toBeGreaterThanOrEqual(before);
        expect(head!.nextAttemptAt).toBe(head!.createdAt);
      });

      test('order holds within a conversation across turns, and conversations are independent', async () => {
        let v1 = 0;
        let v2 = 0;
        for (let turn = 0; turn < 4; turn++) {
          const r1 = await store.savePosition(C1, 'demo', turn, { expectedVersion: v1, outbox: [{ payload: `c1-${turn}a` }, { payload: `c1-${turn}b` }] });
          const r2 = await store.savePosition(C2, 'demo', turn, { expectedVersion: v2, outbox: [{ payload: `c2-${turn}` }] });
          if (!r1.ok || !r2.ok) throw new Error('unexpected conflict');
          v1 = r1.version;
          v2 = r2.version;
        }
        const drain = async (c: string): Promise<unknown[]> => {
          const out: unknown[] = [];
          for (let item = await store.outboxHead(c); item; item = await store.outboxHead(c)) {
            out.push(item.payload);
            await store.outboxAck(c, item.seq);
          }
          return out;
        };
        expect(await drain(C2)).toEqual(['c2-0', 'c2-1', 'c2-2', 'c2-3']);
        expect(await drain(C1)).toEqual(['c1-0a', 'c1-0b', 'c1-1a', 'c1-1b', 'c1-2a', 'c1-2b', 'c1-3a', 'c1-3b']);
        expect(await store.outboxPending()).toEqual([]);
      });

      test('pending lists conversations by their head due time; a retried one does not hold up the others', async () => {
        const now = Date.now();
        await store.savePosition(C1, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: 'a1' }, { payload: 'a2' }] });
        await store.savePosition(C2, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: 'b1', notBefore: now + 60_000 }] });
        await store.savePosition('c3', 'demo', 0, { expectedVersion: 0 });
        let pending = await store.outboxPending();
        expect(pending.map((p) => p.conversation)).toEqual([C1, C2]);
        expect(pending[1]!.nextAttemptAt).toBe(now + 60_000);
        expect((await store.outboxPending({ dueBy: now + 1000 })).map((p) => p.conversation)).toEqual([C1]);

        // C1's endpoint is down: its head is pushed back, past C2's.
        const head = await store.outboxHead(C1);
        expect(await store.outboxRetry(C1, head!.seq, { nextAttemptAt: now + 120_000, error: 'HTTP 503' })).toBe(true);
        expect(await store.outboxRetry(C1, head!.seq, { nextAttemptAt: now + 180_000, error: 'ECONNRESET' })).toBe(true);
        expect(await store.outboxHead(C1)).toMatchObject({ seq: head!.seq, payload: 'a1', attempts: 2, nextAttemptAt: now + 180_000, lastError: 'ECONNRESET' });
        pending = await store.outboxPending();
        expect(pending).toEqual([{ conversation: C2, nextAttemptAt: now + 60_000 }, { conversation: C1, nextAttemptAt: now + 180_000 }]);
        expect(await store.outboxPending({ dueBy: now + 1000 })).toEqual([]);
        expect(await store.outboxPending({ limit: 1 })).toEqual([{ conversation: C2, nextAttemptAt: now + 60_000 }]);

        // A retry without an error clears the last one; the ack moves the due time to the next head.
        await store.outboxRetry(C1, head!.seq, { nextAttemptAt: now });
        expect(await store.outboxHead(C1)).toMatchObject({ attempts: 3, lastError: undefined });
        expect(await store.outboxAck(C1, head!.seq)).toBe(true);
        const next = await store.outboxHead(C1);
        expect(next).toMatchObject({ payload: 'a2', attempts: 0 });
        expect((await store.outboxPending())[0]).toEqual({ conversation: C1, nextAttemptAt: next!.nextAttemptAt });
      });

      test('pending by prefix: another user with more due queues than the limit starves no one', async () => {
        const t0 = Date.now() - 60_000;
        /** One item for `conversation`, due at `at`. */
        const queue = (conversation: string, at: number) => store.savePosition(conversation, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: conversation, notBefore: at }] });
        // 1,200 autopilot-style queues due first: 1,100 at one time (more ties than two of the Redis
        // store's pages of 500), then one per ms. The others are due among and after them.
        for (let i = 0; i < 1_200; i++) await queue(`site-a/s${String(i).padStart(4, '0')}`, i < 1_100 ? t0 : t0 + i);
        await queue('converse:1', t0);
        await queue('tie:1', t0); // among the ties, after every site-a/ key in member order
        await queue('converse:2', t0 + 800);
        await queue('converse:3', t0 + 5_000);
        await queue('converse:4', t0 + 5_001);
        await queue('converse-in:1', t0 + 1); // another prefix that `converse:` must not match

        // Without a prefix the limit is used up by the other user: the starvation the prefix is for.
        expect((await store.outboxPending({ limit: 1_000 })).map((p) => p.conversation)).not.toContain('converse:3');
        expect(await store.outboxPending({ prefix: 'converse:', limit: 3 })).toEqual([
          { conversation: 'converse:1', nextAttemptAt: t0 },
          { conversation: 'converse:2', nextAttemptAt: t0 + 800 },
          { conversation: 'converse:3', nextAttemptAt: t0 + 5_000 },
        ]);
        expect((await store.outboxPending({ prefix: 'converse:', limit: 1_000 })).map((p) => p.conversation)).toEqual(['converse:1', 'converse:2', 'converse:3', 'converse:4']);
        expect(await store.outboxPending({ prefix: 'converse-in:', limit: 1 })).toEqual([{ conversation: 'converse-in:1', nextAttemptAt: t0 + 1 }]);
        expect(await store.outboxPending({ prefix: 'tie:', limit: 1 })).toEqual([{ conversation: 'tie:1', nextAttemptAt: t0 }]);

        // dueBy and prefix together.
        expect((await store.outboxPending({ prefix: 'converse:', dueBy: t0 + 1_000, limit: 1_000 })).map((p) => p.conversation)).toEqual(['converse:1', 'converse:2']);
        expect(await store.outboxPending({ prefix: 'converse:', dueBy: t0 - 1 })).toEqual([]);

        // The crowded prefix itself: due order, limit honoured, nothing else in it.
        const mine = await store.outboxPending({ prefix: 'site-a/', limit: 1_000 });
        expect(mine).toHaveLength(1_000);
        expect(mine.every((p, i) => p.conversation.startsWith('site-a/') && (i === 0 || mine[i - 1]!.nextAttemptAt <= p.nextAttemptAt))).toBe(true);
        expect(new Set(mine.map((p) => p.conversation)).size).toBe(1_000);
        expect(new Set((await store.outboxPending({ prefix: 'site-a/', limit: 2_000 })).map((p) => p.conversation)).size).toBe(1_200);
        const few = await store.outboxPending({ prefix: 'site-a/', limit: 3 });
        expect(few).toHaveLength(3);
        expect(few.every((p) => p.nextAttemptAt === t0)).toBe(true);

        // No match; and an empty or absent prefix is no filter.
        expect(await store.outboxPending({ prefix: 'nobody/', limit: 10 })).toEqual([]);
        expect(await store.outboxPending({ prefix: 'converse:5' })).toEqual([]);
        const all = await store.outboxPending({ limit: 5_000 });
        expect(all).toHaveLength(1_206);
        expect(await store.outboxPending({ prefix: '', limit: 5_000 })).toEqual(all);
        expect(await store.outboxPending({ prefix: undefined, limit: 5_000 })).toEqual(all);
      });

      test('a prefix is matched literally, character for character: %, _, :, non-ASCII, astral and U+FFFF', async () => {
        const t0 = Date.now() - 60_000;
        const keys = [
          'a%b/1', 'a_b/1', 'axb/1', 'a%/2', 'a:b/1', 'a%3Ab/1', 'a\\b/1',
          'é/1', 'éa/1', 'ê/1', 'e/1', 'e\u0301/1',
          '😀/1', '😁/1', '日本/1', '日/1',
          'z\uFFFF', 'z\u{10000}', 'z\u{10FFFF}x', 'z\uFFFF\u{10FFFF}', 'z',
        ];
        for (const [i, key] of keys.entries()) await store.savePosition(key, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: i, notBefore: t0 + i }] });
        const under = async (prefix: string) => (await store.outboxPending({ prefix, limit: 100 })).map((p) => p.conversation);
        expect(await under('a%')).toEqual(['a%b/1', 'a%/2', 'a%3Ab/1']);
        expect(await under('a_')).toEqual(['a_b/1']);
        expect(await under('a:')).toEqual(['a:b/1']);
        expect(await under('a%3A')).toEqual(['a%3Ab/1']);
        expect(await under('a\\')).toEqual(['a\\b/1']);
        expect(await under('a')).toEqual(['a%b/1', 'a_b/1', 'axb/1', 'a%/2', 'a:b/1', 'a%3Ab/1', 'a\\b/1']);
        expect(await under('é')).toEqual(['é/1', 'éa/1']);
        expect(await under('e')).toEqual(['e/1', 'e\u0301/1']);
        expect(await under('😀')).toEqual(['😀/1']);
        expect(await under('日')).toEqual(['日本/1', '日/1']);
        expect(await under('日本/')).toEqual(['日本/1']);
        expect(await under('z')).toEqual(['z\uFFFF', 'z\u{10000}', 'z\u{10FFFF}x', 'z\uFFFF\u{10FFFF}', 'z']);
        expect(await under('z\uFFFF')).toEqual(['z\uFFFF', 'z\uFFFF\u{10FFFF}']);
        expect(await under('z\u{10FFFF}')).toEqual(['z\u{10FFFF}x']);
        expect(await under('z\u{10000}')).toEqual(['z\u{10000}']);
        expect(await under('ë')).toEqual([]);
        expect(await under('a%b/1/')).toEqual([]);
      });

      test('ack and retry of an unknown item say so', async () => {
        expect(await store.outboxAck(C1, 12345)).toBe(false);
        expect(await store.outboxRetry(C1, 12345, { nextAttemptAt: 0 })).toBe(false);
        const r = await store.savePosition(C1, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: 1 }] });
        const seq = r.ok ? r.outbox[0]!.seq : -1;
        expect(await store.outboxAck(C2, seq)).toBe(false);
        expect(await store.outboxAck(C1, seq)).toBe(true);
        expect(await store.outboxAck(C1, seq)).toBe(false);
      });

      test('a non-head item can be acked out of order; the head stays', async () => {
        const r = await store.savePosition(C1, 'demo', 0, { expectedVersion: 0, outbox: [{ payload: 1 }, { payload: 2 }, { payload: 3 }] });
        if (!r.ok) throw new Error('conflict');
        expect(await store.outboxAck(C1, r.outbox[1]!.seq)).toBe(true);
        expect((await store.outboxHead(C1))!.payload).toBe(1);
        await store.outboxAck(C1, r.outbox[0]!.seq);
        expect((await store.outboxHead(C1))!.payload).toBe(3);
      });

      test('a save acknowledges delivered items in the same step, only if it happens, and the due index follows', async () => {
        const first = await store.savePosition(C1, 'demo', 1, { expectedVersion: 0, outbox: [{ payload: 'a' }, { payload: 'b', notBefore: 5_000 }] });
        if (!first.ok) throw new Error('conflict');
        const [a, b] = first.outbox;
        // A stale save acknowledges nothing.
        expect(await store.savePosition(C1, 'demo', 9, { expectedVersion: 0, ack: [a!.seq] })).toEqual({ ok: false, current: 1 });
        expect((await store.outboxHead(C1))!.seq).toBe(a!.seq);
        // The head acknowledged with the next save: the next item is the head, and due when it is due.
        const second = await store.savePosition(C1, 'demo', 2, { expectedVersion: 1, ack: [a!.seq], outbox: [{ payload: 'c' }] });
        expect(second.ok).toBe(true);
        expect((await store.outboxHead(C1))!.payload).toBe('b');
        expect(await store.outboxPending({ dueBy: 5_000 })).toEqual([{ conversation: C1, nextAttemptAt: 5_000 }]);
        expect(await store.outboxAck(C1, a!.seq)).toBe(false);
        // Everything acknowledged, nothing appended: the conversation leaves the due index.
        const third = second.ok ? second.outbox[0]!.seq : -1;
        expect((await store.savePosition(C1, 'demo', 3, { expectedVersion: 2, ack: [b!.seq, third] })).ok).toBe(true);
        expect(await store.outboxHead(C1)).toBeUndefined();
        expect(await store.outboxPending()).toEqual([]);
        expect(await store.getPosition(C1, 'demo')).toMatchObject({ value: 3, version: 3 });
      });
    });

    describe('outbox append (once-keys)', () => {
      const drain = async (s: Store, conversation: string): Promise<unknown[]> => {
        const payloads: unknown[] = [];
        for (let item = await s.outboxHead(conversation); item; item = await s.outboxHead(conversation)) {
          payloads.push(item.payload);
          await s.outboxAck(conversation, item.seq);
        }
        return payloads;
      };

      test('appends in call order, after and before the items of position saves; head and pending see them', async () => {
        await store.savePosition(C1, 'demo', {}, { expectedVersion: 0, outbox: [{ payload: 'saved' }] });
        const [a, b] = await Promise.all([store.outboxAppend(C1, { payload: { n: 1 }, id: 'given' }), store.outboxAppend(C1, { payload: { n: 2 } })]);
        expect(a).toEqual({ ok: true, seq: expect.any(Number), id: 'given' });
        expect(b).toEqual({ ok: true, seq: expect.any(Number), id: expect.stringMatching(/^[\w-]{16,}$/) });
        if (!a.ok || !b.ok) return;
        expect(b.seq).toBeGreaterThan(a.seq);
        const later = state.now() + 60_000;
        await store.outboxAppend(C2, { payload: 'later' }, { once: { key: 'k', ttlMs: 60_000 } });
        await store.outboxAppend(C2, { payload: 'notBefore', id: 'nb' });
        expect(await store.outboxPending({ dueBy: state.now() + 1_000 })).toEqual([expect.objectContaining({ conversation: C1 }), expect.objectContaining({ conversation: C2 })]);
        await store.savePosition(C1, 'demo', {}, { expectedVersion: 1, outbox: [{ payload: 'saved again' }] });
        expect(await drain(store, C1)).toEqual(['saved', { n: 1 }, { n: 2 }, 'saved again']);
        const c3 = 'website-1/session_c';
        await store.outboxAppend(c3, { payload: 'x', notBefore: later });
        expect(await store.outboxHead(c3)).toMatchObject({ payload: 'x', attempts: 0, nextAttemptAt: later });
        expect((await store.outboxPending({ dueBy: state.now() + 1_000 })).map((p) => p.conversation)).toEqual([C2]);
      });

      test('a once-key appends once per conversation; the duplicate writes nothing', async () => {
        expect(await store.outboxAppend(C1, { payload: 'first' }, { once: { key: 'm-1', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend(C1, { payload: 'again' }, { once: { key: 'm-1', ttlMs: 60_000 } })).toEqual({ ok: false, duplicate: true });
        expect(await store.outboxAppend(C1, { payload: 'other key' }, { once: { key: 'm-2', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend(C2, { payload: 'other conversation' }, { once: { key: 'm-1', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        // Keys are taken literally: separators and escapes of the store's own key layout collide with nothing.
        expect(await store.outboxAppend('a:b', { payload: 1 }, { once: { key: 'c', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend('a', { payload: 2 }, { once: { key: 'b:c', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend('a%3Ab', { payload: 3 }, { once: { key: 'c', ttlMs: 60_000 } })).toMatchObject({ ok: true });
        expect(await drain(store, C1)).toEqual(['first', 'other key']);
        expect(await drain(store, C2)).toEqual(['other conversation']);
        // Delivered and acked is not forgotten: the key outlives its item.
        expect(await store.outboxAppend(C1, { payload: 'after ack' }, { once: { key: 'm-1', ttlMs: 60_000 } })).toEqual({ ok: false, duplicate: true });
      });

      test('of many concurrent appends with one key exactly one is written', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.outboxAppend(C1, { payload: i }, { once: { key: 'same', ttlMs: 60_000 } })));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(await drain(store, C1)).toHaveLength(1);
      });

      test('the key is kept across instances and a reopen, until its time to live is over', async () => {
        expect(await store.outboxAppend(C1, { payload: 'first' }, { once: { key: 'm-1', ttlMs: 300 } })).toMatchObject({ ok: true });
        expect(await (await open()).outboxAppend(C1, { payload: 'second instance' }, { once: { key: 'm-1', ttlMs: 300 } })).toEqual({ ok: false, duplicate: true });
        await store.close();
        store = await open();
        expect(await store.outboxAppend(C1, { payload: 'reopened' }, { once: { key: 'm-1', ttlMs: 300 } })).toEqual({ ok: false, duplicate: true });
        await state.elapse(400);
        expect(await store.outboxAppend(C1, { payload: 'expired' }, { once: { key: 'm-1', ttlMs: 300 } })).toMatchObject({ ok: true });
        expect(await drain(store, C1)).toEqual(['first', 'expired']);
      });

      test("a duplicate hands back the digest its key was first appended with, across instances, and none when it had none", async () => {
        expect(await store.outboxAppend(C1, { payload: 'first' }, { once: { key: 'm-1', ttlMs: 300, digest: 'aaa' } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend(C1, { payload: 'retry' }, { once: { key: 'm-1', ttlMs: 300, digest: 'aaa' } })).toEqual({ ok: false, duplicate: true, digest: 'aaa' });
        expect(await (await open()).outboxAppend(C1, { payload: 'another' }, { once: { key: 'm-1', ttlMs: 300, digest: 'bbb' } })).toEqual({ ok: false, duplicate: true, digest: 'aaa' });
        expect(await store.outboxAppend(C1, { payload: 'no digest' }, { once: { key: 'm-2', ttlMs: 300 } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend(C1, { payload: 'with one' }, { once: { key: 'm-2', ttlMs: 300, digest: 'ccc' } })).toEqual({ ok: false, duplicate: true });
        // Expired: the key is written again with the new digest.
        await state.elapse(400);
        expect(await store.outboxAppend(C1, { payload: 'later' }, { once: { key: 'm-1', ttlMs: 300, digest: 'ddd' } })).toMatchObject({ ok: true });
        expect(await store.outboxAppend(C1, { payload: 'later again' }, { once: { key: 'm-1', ttlMs: 300, digest: 'eee' } })).toEqual({ ok: false, duplicate: true, digest: 'ddd' });
        expect(await drain(store, C1)).toEqual(['first', 'no digest', 'later']);
      });

      test('a bad ttl or payload is refused and nothing is written', async () => {
        await expect(store.outboxAppend(C1, { payload: 1 }, { once: { key: 'k', ttlMs: 0 } })).rejects.toThrow(/ttlMs must be a positive number/);
        await expect(store.outboxAppend(C1, { payload: () => 1 })).rejects.toThrow(/outbox payload must be JSON-serialisable/);
        expect(await store.outboxHead(C1)).toBeUndefined();
        expect(await store.outboxAppend(C1, { payload: 1 }, { once: { key: 'k', ttlMs: 60_000 } })).toMatchObject({ ok: true });
      });
    });

    describe('listPositions', () => {
      test('every position of one scenario, page by page, only those saved since a time', async () => {
        const conversations = Array.from({ length: 25 }, (_, i) => `site/c:${i}%`);
        for (const c of conversations) await store.savePosition(c, 'inbox', { c }, { expectedVersion: 0 });
        await store.savePosition(C1, 'other', { c: 'other scenario' }, { expectedVersion: 0 });
        const all = async (opts: { since?: number } = {}) => {
          const found: Array<{ conversation: string; value: unknown; version: number }> = [];
          let cursor: string | undefined;
          do {
            const page = await store.listPositions('inbox', { ...opts, cursor, limit: 10 });
            found.push(...page.positions.map(({ conversation, value, version }) => ({ conversation, value, version })));
            cursor = page.cursor;
          } while (cursor !== undefined);
          return found.sort((a, b) => a.conversation.localeCompare(b.conversation));
        };
        expect(await all()).toEqual(conversations.map((c) => ({ conversation: c, value: { c }, version: 1 })).sort((a, b) => a.conversation.localeCompare(b.conversation)));
        await state.elapse(50);
        const since = state.now();
        await store.savePosition(conversations[3]!, 'inbox', { c: 'saved again' }, { expectedVersion: 1 });
        expect(await all({ since })).toEqual([{ conversation: conversations[3], value: { c: 'saved again' }, version: 2 }]);
        expect((await store.listPositions('none')).positions).toEqual([]);
      });
    });

    describe('drafts', () => {
      test('put, get, list', async () => {
        const d = await store.putDraft({ value: { text: 'hello' }, ttlMs: 60_000, conversation: C1 });
        expect(d.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(d.expiresAt - d.createdAt).toBe(60_000);
        expect(await store.getDraft(d.id)).toEqual(d);
        const other = await store.putDraft({ value: 2, ttlMs: 30_000, id: 'given-id', conversation: C2 });
        const loose = await store.putDraft({ value: 3, ttlMs: 90_000 });
        expect(loose.conversation).toBeUndefined();
        expect((await store.listDrafts()).map((x) => x.id)).toEqual(['given-id', d.id, loose.id]);
        expect(await store.listDrafts(C1)).toEqual([d]);
        expect(await store.listDrafts(undefined, 1)).toEqual([other]);
      });

      test('a given id is overwritten; generated ids differ', async () => {
        await store.putDraft({ value: 'v1', ttlMs: 60_000, id: 'same' });
        await store.putDraft({ value: 'v2', ttlMs: 60_000, id: 'same' });
        expect((await store.getDraft('same'))!.value).toBe('v2');
        const ids = new Set(await Promise.all(Array.from({ length: 50 }, async () => (await store.putDraft({ value: 0, ttlMs: 60_000 })).id)));
        expect(ids.size).toBe(50);
      });

      test('drafts expire', async () => {
        const d = await store.putDraft({ value: 'soon gone', ttlMs: 250, conversation: C1 });
        expect(await store.getDraft(d.id)).toBeDefined();
        await state.elapse(350);
        expect(await store.getDraft(d.id)).toBeUndefined();
        expect(await store.listDrafts()).toEqual([]);
        expect(await store.listDrafts(C1)).toEqual([]);
      });
    });

    describe('locks', () => {
      test('a bad ttl is refused', async () => {
        await expect(store.acquireLock('k', 0)).rejects.toThrow(RangeError);
        await expect(store.acquireLock('k', -1)).rejects.toThrow(RangeError);
        await expect(store.putDraft({ value: 1, ttlMs: 0 })).rejects.toThrow(RangeError);
      });

      test('one owner; only the owner extends or releases', async () => {
        const token = await store.acquireLock('conv', 60_000);
        expect(token).toEqual(expect.any(String));
        expect(await store.acquireLock('conv', 60_000)).toBeUndefined();
        expect(await store.acquireLock('other', 60_000)).toEqual(expect.any(String));
        expect(await store.releaseLock('conv', 'not-the-token')).toBe(false);
        expect(await store.extendLock('conv', 'not-the-token', 60_000)).toBe(false);
        expect(await store.extendLock('conv', token!, 60_000)).toBe(true);
        expect(await store.releaseLock('conv', token!)).toBe(true);
        expect(await store.releaseLock('conv', token!)).toBe(false);
        expect(await store.acquireLock('conv', 60_000)).toEqual(expect.any(String));
      });

      test('an expired lock is taken over, and its old owner can no longer extend or release it', async () => {
        const old = await store.acquireLock('conv', 60);
        await state.elapse(120);
        const taker = await store.acquireLock('conv', 60_000);
        expect(taker).toEqual(expect.any(String));
        expect(await store.extendLock('conv', old!, 60_000)).toBe(false);
        expect(await store.releaseLock('conv', old!)).toBe(false);
        expect(await store.acquireLock('conv', 60_000)).toBeUndefined();
        expect(await store.releaseLock('conv', taker!)).toBe(true);
      });

      test('extending keeps the lock past its first expiry', async () => {
        // Redis keeps its own time, so its elapse() waits for real: the margins are wide enough for a loaded machine.
        const token = await store.acquireLock('conv', 1_000);
        await state.elapse(400);
        expect(await store.extendLock('conv', token!, 2_000)).toBe(true);
        await state.elapse(1_000); // past the first expiry, within the extended one
        expect(await store.acquireLock('conv', 1000)).toBeUndefined();
      });

      test('of many concurrent acquires exactly one wins', async () => {
        const tokens = await Promise.all(Array.from({ length: 50 }, () => store.acquireLock('conv', 60_000)));
        expect(tokens.filter((t) => t !== undefined)).toHaveLength(1);
      });

      test('withLock runs one holder at a time and keeps the lock alive while it works', async () => {
        let inside = 0;
        let most = 0;
        const order: number[] = [];
        await Promise.all(Array.from({ length: 5 }, (_, i) => withLock(store, 'conv', async () => {
          most = Math.max(most, ++inside);
          await sleep(10);
          order.push(i);
          inside--;
        }, { ttlMs: 1000, waitMs: 5000 })));
        expect(most).toBe(1);
        expect(order.sort()).toEqual([0, 1, 2, 3, 4]);

        // ttl 150 ms, work 400 ms: the heartbeat extends it, so nobody else gets in meanwhile.
        const other = await open();
        const result = await withLock(store, 'conv', async (lease) => {
          await sleep(400);
          expect(await other.acquireLock('conv', 1000)).toBeUndefined();
          expect(lease.signal.aborted).toBe(false);
          return 'done';
        }, { ttlMs: 150 });
        expect(result).toBe('done');
        expect(await other.acquireLock('conv', 1000)).toEqual(expect.any(String)); // released after
      });

      test('withLock gives up after waitMs with store_lock_busy, and releases on a throw', async () => {
        const token = await store.acquireLock('conv', 60_000);
        const busy = await withLock(store, 'conv', async () => 1, { waitMs: 50 }).catch((e: unknown) => e);
        expect(busy).toBeInstanceOf(StoreError);
        expect((busy as StoreError).code).toBe('store_lock_busy');
        await store.releaseLock('conv', token!);
        await expect(withLock(store, 'conv', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
        expect(await store.acquireLock('conv', 1000)).toEqual(expect.any(String));
      });

      test('withLock aborts its signal when the lock is taken over', async () => {
        const other = await open();
        const reason = await withLock(store, 'conv', async (lease) => {
          // As if this holder stalled past its ttl: the lock goes, someone else takes it, the next heartbeat fails.
          await other.releaseLock('conv', lease.token);
          expect(await other.acquireLock('conv', 60_000)).toEqual(expect.any(String));
          // The next heartbeat finds the lock gone: wait for that abort itself, not for a guessed time.
          if (!lease.signal.aborted) await new Promise((resolve) => lease.signal.addEventListener('abort', resolve, { once: true }));
          return lease.signal.reason as unknown;
        }, { ttlMs: 60 });
        expect(reason).toBeInstanceOf(StoreError);
        expect((reason as StoreError).code).toBe('store_lock_lost');
      });

      /** The store's lock calls, in order, with the store itself doing the work. */
      function countingLocks(): { store: Store; calls: string[] } {
        const calls: string[] = [];
        const counted = {
          acquireLock: (key: string, ttl: number) => (calls.push('acquire'), store.acquireLock(key, ttl)),
          extendLock: (key: string, token: string, ttl: number) => (calls.push('extend'), store.extendLock(key, token, ttl)),
          releaseLock: (key: string, token: string) => (calls.push('release'), store.releaseLock(key, token)),
        };
        return { store: counted as unknown as Store, calls };
      }

      async function until(what: () => Promise<boolean>, label: string): Promise<void> {
        let done = false;
        for (let i = 0; i < 400 && !(done = await what()); i++) await sleep(5);
        expect(done, label).toBe(true);
      }

      test('HeldLocks keeps a lock across pieces of work with no store call, and releases it once idle (its last writes first)', async () => {
        const { store: counted, calls } = countingLocks();
        const locks = new HeldLocks(counted, { ttlMs: 5_000, idleMs: 100 });
        const other = await open();
        const tokens: string[] = [];
        for (let i = 0; i < 3; i++) await locks.run('conv', async (lease) => void tokens.push(lease.token), async () => void calls.push(`before release ${i}`));
        expect(new Set(tokens).size).toBe(1);
        expect(calls).toEqual(['acquire']);
        expect(await other.acquireLock('conv', 1000)).toBeUndefined(); // held between the pieces of work
        await until(async () => (await other.acquireLock('conv', 1000)) !== undefined, 'the idle lock released');
        expect(calls).toEqual(['acquire', 'before release 2', 'release']);
        await locks.close();
      });

      test('HeldLocks keeps a held lock alive past its ttl, releases it on close, and aborts the lease when it is taken over', async () => {
        const other = await open();
        const locks = new HeldLocks(store, { ttlMs: 150, idleMs: 10_000 });
        await locks.run('conv', async (lease) => {
          await sleep(400);
          expect(await other.acquireLock('conv', 1000)).toBeUndefined();
          expect(lease.signal.aborted).toBe(false);
        });
        await sleep(300); // idle, yet still extended
        expect(await other.acquireLock('conv', 1000)).toBeUndefined();
        await locks.close();
        const taken = await other.acquireLock('conv', 1000);
        expect(taken).toEqual(expect.any(String));
        await other.releaseLock('conv', taken!);

        const held = new HeldLocks(store, { ttlMs: 60, idleMs: 10_000 });
        const token = await held.run('conv', async (lease) => lease.token);
        const lost = await held.run('conv', async (lease) => {
          expect(lease.token).toBe(token);
          await other.releaseLock('conv', lease.token);
          expect(await other.acquireLock('conv', 60_000)).toEqual(expect.any(String));
          if (!lease.signal.aborted) await new Promise((resolve) => lease.signal.addEventListener('abort', resolve, { once: true }));
          return lease.signal.reason as unknown;
        });
        expect((lost as StoreError).code).toBe('store_lock_lost');
        await held.close();
      });
    });

    describe('two instances on the same state', () => {
      test('see each other\'s positions, outbox, drafts and locks', async () => {
        const a = store;
        const b = await open();
        await a.savePosition(C1, 'demo', { pc: 1 }, { expectedVersion: 0, outbox: [{ payload: 'hi', id: 'm1' }] });
        expect(await b.getPosition(C1, 'demo')).toMatchObject({ value: { pc: 1 }, version: 1 });
        expect(await b.savePosition(C1, 'demo', { pc: 9 }, { expectedVersion: 0 })).toEqual({ ok: false, current: 1 });
        expect(await b.outboxHead(C1)).toMatchObject({ id: 'm1', payload: 'hi' });
        expect(await b.outboxPending()).toEqual([expect.objectContaining({ conversation: C1 })]);
        const d = await a.putDraft({ value: 'draft', ttlMs: 60_000, conversation: C1 });
        expect(await b.getDraft(d.id)).toEqual(d);
        const token = await a.acquireLock('conv', 60_000);
        expect(await b.acquireLock('conv', 60_000)).toBeUndefined();
        await a.releaseLock('conv', token!);
        expect(await b.acquireLock('conv', 60_000)).toEqual(expect.any(String));
      });

      test('racing turns from both instances: no lost update', async () => {
        const a = store;
        const b = await open();
        // 20 turns split between the two, each under the conversation lock: read, +1, save with one item.
        await Promise.all(Array.from({ length: 20 }, (_, i) => {
          const s = i % 2 ? a : b;
          return withLock(s, `lock:${C1}`, async () => {
            const cur = await s.getPosition<number>(C1, 'demo');
            const r = await s.savePosition(C1, 'demo', (cur?.value ?? 0) + 1, { expectedVersion: cur?.version ?? 0, outbox: [{ payload: i }] });
            expect(r.ok).toBe(true);
          }, { ttlMs: 5000, waitMs: 10_000 });
        }));
        expect(await a.getPosition(C1, 'demo')).toMatchObject({ value: 20, version: 20 });
        let n = 0;
        for (let item = await b.outboxHead(C1); item; item = await b.outboxHead(C1)) {
          n++;
          await b.outboxAck(C1, item.seq);
        }
        expect(n).toBe(20);
      });
    });
  });
}

/** Deletes a test's keys (matters with REDIS_URL, where the server outlives the run). */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const client = await createClient({ url }).connect();
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length > 0) await client.del(keys);
  await client.close();
}

// --- the three backends -------------------------------------------------------------------------

storeContract('memory', () => ({
  async fresh() {
    const backing = new MemoryBacking();
    const clock = movableClock();
    return { open: async () => new MemoryStore(backing, { now: clock.now }), drop: async () => {}, ...clock };
  },
}));

storeContract('sqlite', () => ({
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-store-'));
    const file = join(dir, 'nested', 'state.db'); // the store creates missing directories
    const clock = movableClock();
    return { open: async () => new SqliteStore(file, { now: clock.now }), drop: async () => rmSync(dir, { recursive: true, force: true }), ...clock };
  },
}));

describeWithRedis('redis store contract', () => {
  const redis = useRedis();
  storeContract('redis', () => ({
    async fresh() {
      const prefix = `test:${randomUUID()}:`;
      return { open: () => RedisStore.connect(redis().url, { prefix }), drop: () => dropKeys(redis().url, prefix), now: () => Date.now(), elapse: (ms: number) => sleep(ms).then(() => undefined) };
    },
  }));
});

describe('sqlite store: expired positions', () => {
  test('a running store deletes them from the file (every 1000 expiring saves), not only hides them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-store-'));
    const file = join(dir, 'state.db');
    const clock = movableClock();
    const store = new SqliteStore(file, { now: clock.now });
    const rows = () => (sqliteRows(file, 'SELECT count(*) AS n FROM positions')[0] as { n: number }).n;
    try {
      await store.savePosition('kept', 'demo', 1, { expectedVersion: 0 });
      await Promise.all(Array.from({ length: 999 }, (_, i) => store.savePosition(`over-${i}`, 'demo', 1, { expectedVersion: 0, expireAfterMs: 1000 })));
      expect(rows()).toBe(1000);
      await clock.elapse(1001);
      await store.savePosition('last', 'demo', 1, { expectedVersion: 0, expireAfterMs: 1000 });
      expect(rows()).toBe(2);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
