// The keyed queue on a fake clock: in order per key, a cap across keys, merged work, tasks with
// results, wake-ups (earliest wins), retries after a failed run, yielding to priority work, and a
// close that waits for what runs.
import { describe, expect, it } from 'vitest';
import { KeyedQueue, Priority, QueueClosedError, type Timers } from '../../src/engine/keyed-queue.js';

/** Timers on a clock that moves only when the test says so. */
class FakeClock implements Timers {
  now = 0;
  #timers = new Map<number, { at: number; fire: () => void }>();
  #next = 1;

  set(fire: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fire });
    return id;
  }

  clear(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock by `ms`, firing the timers due on the way in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fire();
      await settle();
    }
    this.now = end;
  }
}

/** Lets every promise callback queued so far run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise the test resolves when it wants a run to end. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('KeyedQueue', () => {
  it('runs one piece of work at a time per key, in order, and at most `concurrency` keys at once', async () => {
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const queue = new KeyedQueue<string>({
      concurrency: 2,
      run: async (key, work) => {
        started.push(`${key}:${work}`);
        const g = gate();
        gates.set(`${key}:${work}`, g);
        await g.promise;
      },
    });
    queue.add('a', '1');
    queue.add('a', '2');
    queue.add('b', '1');
    queue.add('c', '1');
    await settle();
    expect(started).toEqual(['a:1', 'b:1']);
    expect(queue.running).toBe(2);
    expect(queue.busy('c')).toBe(true);
    gates.get('a:1')!.open();
    await settle();
    // "a" goes to the back of the line behind "c", which waited first.
    expect(started).toEqual(['a:1', 'b:1', 'c:1']);
    gates.get('b:1')!.open();
    await settle();
    expect(started).toEqual(['a:1', 'b:1', 'c:1', 'a:2']);
    gates.get('c:1')!.open();
    gates.get('a:2')!.open();
    await queue.idle();
    expect(queue.busy('a')).toBe(false);
  });

  it('merges work queued while the key runs into its next run', async () => {
    const runs: number[][] = [];
    const first = gate();
    const queue = new KeyedQueue<number[]>({
      concurrency: 4,
      merge: (a, b) => [...a, ...b],
      run: async (_key, work) => {
        runs.push(work);
        if (runs.length === 1) await first.promise;
      },
    });
    queue.add('k', [1]);
    await settle();
    queue.add('k', [2]);
    queue.add('k', [3]);
    queue.add('k', [4]);
    first.open();
    await queue.idle();
    expect(runs).toEqual([[1], [2, 3, 4]]);
  });

  it('runs submitted tasks in the key order with the queued work, and hands back their results and errors', async () => {
    const order: string[] = [];
    const queue = new KeyedQueue<string>({
      concurrency: 1,
      merge: (a, b) => (a === b ? a : undefined),
      run: async (_key, work) => {
        order.push(work);
      },
    });
    queue.add('k', 'drain');
    const answer = queue.submit('k', async () => {
      order.push('task');
      return 42;
    });
    queue.add('k', 'drain'); // not merged across the task: it runs after it
    const failure = queue.submit('k', () => Promise.reject(new Error('boom')));
    await expect(answer).resolves.toBe(42);
    await expect(failure).rejects.toThrow('boom');
    await queue.idle();
    expect(order).toEqual(['drain', 'task', 'drain']);
  });

  it('wakes a key at the earliest time asked, on the injected clock, queueing the wake-up work', async () => {
    const clock = new FakeClock();
    const runs: Array<{ at: number; work: string }> = [];
    const queue = new KeyedQueue<string>({
      concurrency: 1,
      now: () => clock.now,
      timers: clock,
      run: async (_key, work) => {
        runs.push({ at: clock.now, work });
      },
    });
    queue.wake('k', 500, 'retry');
    queue.wake('k', 200, 'retry');
    queue.wake('k', 900, 'retry'); // later than the one armed: ignored
    expect(clock.pending).toBe(1);
    expect(queue.waking('k')).toBe(true);
    await clock.advance(199);
    expect(runs).toEqual([]);
    await clock.advance(1);
    await queue.idle();
    expect(runs).toEqual([{ at: 200, work: 'retry' }]);
    await clock.advance(10_000);
    expect(runs).toHaveLength(1);
    expect(queue.waking('k')).toBe(false);
  });

  it('runs a failed piece of work again after the delay `failed` gives, merged with what came meanwhile; undefined drops it', async () => {
    const clock = new FakeClock();
    const runs: Array<{ at: number; work: number[] }> = [];
    const failures: number[] = [];
    let failing = 2;
    const queue = new KeyedQueue<number[]>({
      concurrency: 1,
      now: () => clock.now,
      timers: clock,
      merge: (a, b) => [...a, ...b],
      run: async (key, work) => {
        runs.push({ at: clock.now, work });
        if (key === 'flaky' && failing-- > 0) throw new Error('store busy');
        if (key === 'broken') throw new Error('gone');
      },
      failed: (key, _work, _error, n) => {
        failures.push(n);
        return key === 'broken' ? undefined : 100 * n;
      },
    });
    queue.add('flaky', [1]);
    await queue.idle();
    expect(runs).toEqual([{ at: 0, work: [1] }]);
    await clock.advance(100);
    await queue.idle();
    expect(runs.at(-1)).toEqual({ at: 100, work: [1] });
    // Failed twice in a row: the next try waits 200 ms.
    await clock.advance(199);
    await settle();
    expect(runs).toHaveLength(2);
    await clock.advance(1);
    await queue.idle();
    expect(runs.at(-1)).toEqual({ at: 300, work: [1] });
    expect(failures).toEqual([1, 2]);
    queue.add('broken', [7]);
    await queue.idle();
    await clock.advance(10_000);
    expect(runs.filter((r) => r.work.includes(7))).toHaveLength(1);
    expect(failures).toEqual([1, 2, 1]);
  });

  it('lets new work run a key waiting on a failure at once, with the failed work first', async () => {
    const clock = new FakeClock();
    const runs: number[][] = [];
    let fail = true;
    const queue = new KeyedQueue<number[]>({
      concurrency: 1,
      now: () => clock.now,
      timers: clock,
      merge: (a, b) => [...a, ...b],
      run: async (_key, work) => {
        runs.push(work);
        if (fail) {
          fail = false;
          throw new Error('once');
        }
      },
      failed: () => 1_000,
    });
    queue.add('k', [1]);
    await queue.idle();
    queue.add('k', [2]);
    await queue.idle();
    expect(runs).toEqual([[1], [1, 2]]);
  });

  it('starts fewer runs during a burst of the priority work it yields to, and catches up once the burst is over', async () => {
    const clock = new FakeClock();
    const priority = new Priority({ busyAt: 3, windowMs: 20, now: () => clock.now, timers: clock });
    const gates: Array<ReturnType<typeof gate>> = [];
    const queue = new KeyedQueue<string>({
      concurrency: 4,
      yieldTo: priority,
      concurrencyWhileBusy: 1,
      run: async () => {
        const g = gate();
        gates.push(g);
        await g.promise;
      },
    });
    priority.arrived();
    priority.arrived();
    expect(priority.busy).toBe(false); // two within the window are not a burst
    await clock.advance(20);
    priority.arrived();
    priority.arrived();
    expect(priority.busy).toBe(false); // a new window: counted afresh
    priority.arrived();
    expect(priority.busy).toBe(true);
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key, 'x');
    await settle();
    expect(queue.running).toBe(1);
    await clock.advance(19);
    await settle();
    expect(priority.busy).toBe(true);
    expect(queue.running).toBe(1);
    await clock.advance(1);
    await settle();
    expect(priority.busy).toBe(false);
    expect(queue.running).toBe(4);
    expect(queue.waiting).toBe(1);
    for (const g of gates) g.open();
    await settle();
    for (const g of gates) g.open();
    await queue.idle();
    expect(gates).toHaveLength(5);
  });

  it('with a pause, starts nothing for the first pauseMs of a busy period, then the reduced cap until it is over; each new busy period pauses again', async () => {
    const clock = new FakeClock();
    const priority = new Priority({ busyAt: 2, windowMs: 20, pauseMs: 100, now: () => clock.now, timers: clock });
    const started: string[] = [];
    const gates: Array<ReturnType<typeof gate>> = [];
    const queue = new KeyedQueue<string>({
      concurrency: 4,
      yieldTo: priority,
      concurrencyWhileBusy: 1,
      now: () => clock.now,
      timers: clock,
      run: async (key) => {
        started.push(key);
        const g = gate();
        gates.push(g);
        await g.promise;
      },
    });
    /** The priority work keeps arriving (a burst) for `ms`, in steps of 10 ms. */
    const burst = async (ms: number) => {
      for (let t = 0; t < ms; t += 10) {
        priority.arrived();
        priority.arrived();
        await clock.advance(10);
        await settle();
      }
    };
    priority.arrived();
    priority.arrived();
    expect(priority.pausedFor).toBe(100);
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key, 'x');
    await settle();
    expect(queue.running).toBe(0);
    await burst(90);
    expect(started).toEqual([]); // 90 ms into the burst: still paused
    await burst(20);
    expect(priority.busy).toBe(true);
    expect(priority.pausedFor).toBe(0);
    expect(started).toEqual(['a']); // the pause is over: one at a time while the burst lasts
    gates[0]!.open();
    await burst(10);
    expect(started).toEqual(['a', 'b']);
    // Quiet: the rest run at the full cap.
    await clock.advance(20);
    await settle();
    expect(priority.busy).toBe(false);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const g of gates) g.open();
    await queue.idle();
    // A new burst pauses again, for at most pauseMs.
    priority.arrived();
    priority.arrived();
    queue.add('f', 'x');
    await burst(50);
    expect(started).toHaveLength(5);
    await burst(60);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const g of gates) g.open();
    await queue.close({ drain: true });
    expect(clock.pending).toBe(1); // the priority's own quiet timer; the queue left none
  });

  it('close() drops the wake-ups and the work not started (its tasks reject), and waits for the runs in progress', async () => {
    const clock = new FakeClock();
    const running = gate();
    const ran: string[] = [];
    let ended = false;
    const queue = new KeyedQueue<string>({
      concurrency: 1,
      now: () => clock.now,
      timers: clock,
      run: async (key) => {
        ran.push(key);
        await running.promise;
        ended = true;
      },
    });
    queue.add('a', 'x');
    queue.add('b', 'x');
    const task = queue.submit('c', async () => 'never');
    queue.wake('d', 100, 'x');
    await settle();
    let closed = false;
    const closing = queue.close().then(() => (closed = true));
    await expect(task).rejects.toBeInstanceOf(QueueClosedError);
    expect(clock.pending).toBe(0);
    await settle();
    expect(closed).toBe(false);
    running.open();
    await closing;
    expect(ended).toBe(true);
    expect(ran).toEqual(['a']);
    queue.add('e', 'x');
    await expect(queue.submit('e', async () => 1)).rejects.toBeInstanceOf(QueueClosedError);
    expect(ran).toEqual(['a']);
  });

  it('close({ drain: true }) runs everything already queued, waiting failures included, before it resolves', async () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    let failOnce = true;
    const queue = new KeyedQueue<string>({
      concurrency: 1,
      now: () => clock.now,
      timers: clock,
      run: async (key, work) => {
        ran.push(`${key}:${work}`);
        if (key === 'flaky' && failOnce) {
          failOnce = false;
          throw new Error('once');
        }
      },
      failed: () => 60_000,
    });
    queue.add('flaky', 'x');
    await queue.idle();
    queue.add('a', 'x');
    const result = queue.submit('b', async () => 'done');
    await queue.close({ drain: true });
    await expect(result).resolves.toBe('done');
    expect(ran).toEqual(['flaky:x', 'a:x', 'flaky:x']);
    expect(clock.pending).toBe(0);
  });
});
