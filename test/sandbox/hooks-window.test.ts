// The sandbox's Web Hook sender's in-flight window (src/sandbox/hooks.ts, option `concurrency`):
// at most N deliveries of a website on the wire at once, started in event order, each retried on
// its own; concurrency 1 is strictly serial. Driven by a bare event emitter standing in for
// SandboxState (so events and website ids are exact), against a real node:http receiver that
// can hold its answers and counts what is in flight per website.
import { EventEmitter } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxHooks, type HookOptions, type HookReport } from '../../src/sandbox/hooks.js';
import type { SandboxEvent, SandboxState } from '../../src/sandbox/state.js';
import { eventually } from '../helpers/events.js';

const SITE_A = '11111111-1111-4111-8111-111111111111';
const SITE_B = '22222222-2222-4222-8222-222222222222';

interface Hit {
  website: string;
  content: string;
  attempt: number;
  /** What the receiver answered; 'held' until released, 'gone' when the sender hung up first. */
  answer: number | 'held' | 'gone';
}

/** What the receiver does with a request: a status now, or hold it until release(). */
type Answer = number | 'hold';

class WindowReceiver {
  readonly hits: Hit[] = [];
  /** Requests received and not yet answered (or hung up), per website, and the most ever at once. */
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  answer: (hit: Hit, nthForBody: number) => Answer = () => 200;
  url = '';
  readonly #held: { res: ServerResponse; hit: Hit }[] = [];
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { website_id: string; data: { content: string } };
        const hit: Hit = { website: body.website_id, content: body.data.content, attempt: Number(req.headers['x-delivery-attempt-count']), answer: 'held' };
        this.hits.push(hit);
        const now = (this.inFlight.get(hit.website) ?? 0) + 1;
        this.inFlight.set(hit.website, now);
        this.maxInFlight.set(hit.website, Math.max(now, this.maxInFlight.get(hit.website) ?? 0));
        res.once('close', () => {
          this.inFlight.set(hit.website, this.inFlight.get(hit.website)! - 1);
          if (hit.answer === 'held') hit.answer = 'gone';
        });
        const what = this.answer(hit, this.hits.filter((h) => h.content === hit.content).length);
        if (what === 'hold') this.#held.push({ res, hit });
        else this.#reply(res, hit, what);
      });
    });
  }

  static async start(): Promise<WindowReceiver> {
    const receiver = new WindowReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as AddressInfo).port}/hooks/crisp`;
    return receiver;
  }

  #reply(res: ServerResponse, hit: Hit, status: number): void {
    hit.answer = status;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
  }

  /** Answers the held requests `which` picks (all by default), with `status`. */
  release(which: (hit: Hit) => boolean = () => true, status = 200): number {
    let n = 0;
    for (let i = 0; i < this.#held.length; ) {
      const { res, hit } = this.#held[i]!;
      if (which(hit) && !res.destroyed) {
        this.#held.splice(i, 1);
        this.#reply(res, hit, status);
        n++;
      } else i++;
    }
    return n;
  }

  of(website: string): Hit[] {
    return this.hits.filter((h) => h.website === website);
  }

  /** How many 2xx answers each body got. */
  deliveredCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const h of this.hits) if (typeof h.answer === 'number' && h.answer >= 200 && h.answer < 300) counts.set(h.content, (counts.get(h.content) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {
    for (const { res } of this.#held.splice(0)) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Stands in for SandboxState: SandboxHooks only listens to its 'event'. */
class FakeState extends EventEmitter {
  announce(website_id: string, content: string): void {
    const event: SandboxEvent = { event: 'message:send', website_id, data: { website_id, content }, timestamp: Date.now() };
    this.emit('event', event);
  }
}

const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

let hooks: SandboxHooks | undefined;
let receiver: WindowReceiver | undefined;
afterEach(async () => {
  await hooks?.close();
  await receiver?.close();
  hooks = receiver = undefined;
});

async function setUp(options: Partial<HookOptions> = {}): Promise<{ state: FakeState; hooks: SandboxHooks; receiver: WindowReceiver; reports: HookReport[] }> {
  receiver = await WindowReceiver.start();
  const state = new FakeState();
  const reports: HookReport[] = [];
  hooks = new SandboxHooks(state as unknown as SandboxState, {
    url: receiver.url,
    secret: 'window-test-secret',
    retryDelayMs: 5,
    maxRetryDelayMs: 20,
    timeoutMs: 60_000,
    onDelivery: (report) => reports.push(report),
    ...options,
  });
  return { state, hooks, receiver, reports };
}

/** Whether `promise` is already settled: its callbacks run before a setImmediate queued now. */
async function settledAlready(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('the hook sender\'s in-flight window', () => {
  it('keeps exactly `concurrency` (4) of a website\'s deliveries in flight, the rest waiting in event order; each website has its own window', async () => {
    const { state, hooks, receiver } = await setUp({ concurrency: 4 });
    receiver.answer = () => 'hold';
    const a = range(10, 'a');
    const b = range(3, 'b');
    for (const text of a) state.announce(SITE_A, text);
    for (const text of b) state.announce(SITE_B, text);
    expect(hooks.stats().pending).toBe(13);

    await eventually(() => receiver.inFlight.get(SITE_A) === 4 && receiver.inFlight.get(SITE_B) === 3, 10_000, '4 of A and 3 of B in flight');
    // The window decides as each event arrives: 7 started and no more, so no fifth of A is coming.
    expect(hooks.stats().started).toBe(7);
    expect(receiver.of(SITE_A).map((h) => h.content).sort()).toEqual(a.slice(0, 4));
    expect(receiver.of(SITE_B).map((h) => h.content).sort()).toEqual(b);
    expect(receiver.maxInFlight.get(SITE_A)).toBe(4);
    expect(hooks.stats().pending).toBe(13);

    // One answer frees one slot: the next in line (a4) starts, and only it.
    expect(receiver.release((h) => h.content === 'a0')).toBe(1);
    await eventually(() => receiver.of(SITE_A).length === 5, 10_000, 'a4 starting');
    expect(hooks.stats().started).toBe(8); // a4 and nothing else
    expect(receiver.of(SITE_A).map((h) => h.content)[4]).toBe('a4');
    expect(receiver.of(SITE_A)).toHaveLength(5);
    expect(receiver.inFlight.get(SITE_A)).toBe(4);
    expect(hooks.stats().pending).toBe(12);

    receiver.answer = () => 200;
    receiver.release();
    await hooks.idle();
    expect(receiver.maxInFlight.get(SITE_A)).toBe(4);
    expect(receiver.maxInFlight.get(SITE_B)).toBe(3);
    expect([...receiver.deliveredCounts()].sort()).toEqual([...a, ...b].map((c) => [c, 1]).sort());
    expect(hooks.stats()).toEqual({ started: 13, delivered: 13, failed: 0, retries: 0, pending: 0, dropped: 0 });
  });

  it('starts deliveries in event order with a window: the first `concurrency` to arrive are the oldest', async () => {
    const { state, hooks, receiver } = await setUp({ concurrency: 3 });
    receiver.answer = () => 'hold';
    const sent = range(9, 'm');
    for (const text of sent) state.announce(SITE_A, text);
    // Release one at a time, the oldest in flight first: each freed slot goes to the oldest waiting.
    for (let i = 0; i < sent.length; i++) {
      await eventually(() => receiver.hits.length === Math.min(sent.length, i + 3) && receiver.inFlight.get(SITE_A) === Math.min(3, sent.length - i), 10_000, `window after ${i} answers`);
      expect(receiver.hits.slice(0, Math.min(sent.length, i + 3)).map((h) => h.content).sort()).toEqual(sent.slice(0, Math.min(sent.length, i + 3)).sort());
      expect(receiver.release((h) => h.content === sent[i])).toBe(1);
    }
    await hooks.idle();
    expect(receiver.maxInFlight.get(SITE_A)).toBe(3);
    expect(hooks.stats()).toMatchObject({ delivered: 9, pending: 0 });
  });

  it('concurrency 1 delivers a website\'s events strictly one at a time, in order, through failures', async () => {
    const { state, hooks, receiver } = await setUp({ concurrency: 1 });
    let n = 0;
    receiver.answer = () => (++n % 4 === 0 ? 500 : 200);
    const sent = range(30, 'm');
    for (const text of sent) state.announce(SITE_A, text);
    await hooks.idle();
    const delivered = receiver.hits.filter((h) => h.answer === 200).map((h) => h.content);
    expect(delivered).toEqual(sent);
    expect(receiver.maxInFlight.get(SITE_A)).toBe(1);
    expect(hooks.stats()).toMatchObject({ delivered: 30, failed: 0, pending: 0 });
    expect(hooks.stats().retries).toBeGreaterThan(0);
  });

  it('the default window is 8', async () => {
    const { state, hooks, receiver } = await setUp();
    receiver.answer = () => 'hold';
    for (const text of range(12, 'm')) state.announce(SITE_A, text);
    await eventually(() => receiver.inFlight.get(SITE_A) === 8, 10_000, '8 in flight');
    expect(hooks.stats().started).toBe(8);
    expect(receiver.hits).toHaveLength(8);
    receiver.answer = () => 200;
    receiver.release();
    await hooks.idle();
    expect(receiver.maxInFlight.get(SITE_A)).toBe(8);
    expect(hooks.stats()).toMatchObject({ delivered: 12, pending: 0 });
  });

  it('retries a delivery that got a 503 on its own while the others in the window go on; none lost, none duplicated', async () => {
    const { state, hooks, receiver, reports } = await setUp({ concurrency: 4 });
    // m0: 503 first, then its retry is held until every other delivery is through. A window that
    // waited on m0 (or a serial sender) never gets the others through, and the wait below times out.
    receiver.answer = (hit, nth) => (hit.content === 'm0' ? (nth === 1 ? 503 : 'hold') : 200);
    const sent = range(12, 'm');
    for (const text of sent) state.announce(SITE_A, text);
    // The receiver sees a delivery before the sender has counted its answer: wait for both.
    await eventually(() => sent.slice(1).every((c) => receiver.deliveredCounts().get(c) === 1) && hooks.stats().delivered === 11, 10_000, 'm1..m11 delivered while m0 is retried');
    expect(receiver.hits.filter((h) => h.content === 'm0').map((h) => [h.attempt, h.answer])).toEqual([
      [1, 503],
      [2, 'held'],
    ]);
    expect(hooks.stats()).toMatchObject({ delivered: 11, pending: 1, retries: 1 });
    // What the sender counts at the moment idle() resolves: a premature resolve would see m0 pending.
    const atIdle = hooks.idle().then(() => hooks.stats());
    expect(await settledAlready(atIdle)).toBe(false);

    receiver.release();
    expect(await atIdle).toMatchObject({ delivered: 12, pending: 0 });
    expect([...receiver.deliveredCounts()].sort()).toEqual(sent.map((c) => [c, 1]).sort());
    expect(receiver.hits).toHaveLength(13); // 12 deliveries + the one retry
    expect(hooks.stats()).toEqual({ started: 12, delivered: 12, failed: 0, retries: 1, pending: 0, dropped: 0 });
    expect(reports).toHaveLength(12);
    expect(reports.find((r) => r.attempts === 2)).toMatchObject({ ok: true, status: 200 });
    expect(reports.filter((r) => r.attempts === 1 && r.ok)).toHaveLength(11);
  });

  it('counts waiting + in flight as pending, and idle() resolves only once both are empty (and at once when they are)', async () => {
    const { state, hooks, receiver } = await setUp({ concurrency: 2 });
    await expect(settledAlready(hooks.idle())).resolves.toBe(true);
    receiver.answer = () => 'hold';
    for (const text of range(5, 'm')) state.announce(SITE_A, text);
    expect(hooks.stats()).toMatchObject({ pending: 5, delivered: 0 });
    // idle() records what is pending when it resolves: a premature resolve is caught by that, and by
    // the check at each step (made after the sender has counted the previous answer).
    let idleResolved = false;
    const idle = hooks.idle().then(() => {
      idleResolved = true;
      return hooks.stats().pending;
    });
    await eventually(() => receiver.inFlight.get(SITE_A) === 2, 10_000, '2 in flight');
    for (let left = 5; left > 0; left--) {
      expect(hooks.stats().pending).toBe(left);
      expect(idleResolved).toBe(false);
      const before = receiver.hits.length;
      const oldest = receiver.hits.find((h) => h.answer === 'held')!;
      expect(receiver.release((h) => h === oldest)).toBe(1);
      await eventually(() => hooks.stats().pending === left - 1, 10_000, `pending ${left - 1}`);
      if (left > 2) await eventually(() => receiver.hits.length === before + 1, 10_000, 'the next one starting');
    }
    // The last answer counted resolved it then and there.
    await expect(settledAlready(idle)).resolves.toBe(true);
    expect(await idle).toBe(0);
    expect(hooks.stats()).toEqual({ started: 5, delivered: 5, failed: 0, retries: 0, pending: 0, dropped: 0 });
    await expect(settledAlready(hooks.idle())).resolves.toBe(true);
  });

  it('past maxQueue drops the oldest waiting delivery, never one in flight', async () => {
    const { state, hooks, receiver } = await setUp({ concurrency: 2, maxQueue: 3 });
    receiver.answer = () => 'hold';
    for (const text of range(8, 'm')) state.announce(SITE_A, text);
    // m0, m1 in flight; m2..m7 arrive for 3 waiting places: m2, m3, m4 are dropped.
    expect(hooks.stats()).toMatchObject({ pending: 5, dropped: 3 });
    await eventually(() => receiver.inFlight.get(SITE_A) === 2, 10_000, '2 in flight');
    receiver.answer = () => 200;
    receiver.release();
    await hooks.idle();
    expect([...receiver.deliveredCounts().keys()].sort()).toEqual(['m0', 'm1', 'm5', 'm6', 'm7']);
    expect(hooks.stats()).toEqual({ started: 5, delivered: 5, failed: 0, retries: 0, pending: 0, dropped: 3 });
  });

  it('close() with deliveries in flight aborts them, abandons the waiting ones and resolves; nothing is delivered after it', async () => {
    const { state, hooks, receiver, reports } = await setUp({ concurrency: 3 });
    receiver.answer = () => 'hold';
    for (const text of range(8, 'm')) state.announce(SITE_A, text);
    await eventually(() => receiver.inFlight.get(SITE_A) === 3, 10_000, '3 in flight');
    const idle = hooks.idle();
    const closing = hooks.close();
    await closing;
    await expect(settledAlready(idle)).resolves.toBe(true);
    expect(hooks.stats()).toMatchObject({ delivered: 0, failed: 3, pending: 0 });
    expect(reports.map((r) => [r.ok, r.error])).toEqual(Array.from({ length: 3 }, () => [false, 'the sandbox closed']));
    // The receiver sees the three connections go, answers nothing more, and gets nothing new.
    await eventually(() => receiver.inFlight.get(SITE_A) === 0, 10_000, 'the aborted requests closing');
    receiver.answer = () => 200;
    expect(receiver.release()).toBe(0);
    state.announce(SITE_A, 'after close');
    // Closed, the sender no longer listens, so the event starts nothing.
    expect(state.listenerCount('event')).toBe(0);
    expect(hooks.stats()).toMatchObject({ started: 3, pending: 0 });
    expect(receiver.hits).toHaveLength(3);
    expect(receiver.hits.every((h) => h.answer === 'gone')).toBe(true);
    expect(receiver.deliveredCounts().size).toBe(0);
  });

  it('refuses a concurrency that is not a whole number ≥ 1', () => {
    const state = new FakeState() as unknown as SandboxState;
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      expect(() => new SandboxHooks(state, { url: 'http://127.0.0.1:9/hooks', concurrency })).toThrow(/concurrency must be a whole number/);
    }
  });
});
