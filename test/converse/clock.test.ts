// The converse API on an injected clock: the service, its store and its deliverer given one clock
// that a test moves (as the retention test in converse.test.ts does), events POSTed to /converse
// over HTTP, replies POSTed to a real receiver. Every time the service judges — an inbox event due,
// a session idle past its timeout — is read on that clock. Before, those places read Date.now()
// beside it: an event accepted while the clock was ahead of the wall clock waited for the wall
// clock to catch up (202, then nothing), and a session idle past its timeout on the clock was not
// ended until as much wall time had passed.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { MemoryBacking, MemoryStore } from '../../src/store/index.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { Receiver } from '../helpers/receiver.js';

const DAY = 24 * 60 * 60_000;

let receiver: Receiver;
let h: ConverseHarness | undefined;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

let n = 0;
const fresh = () => `clock-${process.pid}-${++n}`;

/** A clock that runs with the wall clock, `offset` ahead of it. */
function movableClock(): { now: () => number; move(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, move: (ms) => void (offset += ms) };
}

async function harness(clock: { now: () => number }, idleMs?: number): Promise<ConverseHarness> {
  const store = new MemoryStore(new MemoryBacking(), { now: clock.now });
  return startConverseHarness({ receiver, store, http: {}, service: { now: clock.now, ...(idleMs ? { idleMs } : {}) }, deliverer: { now: clock.now } });
}

it('runs an event accepted while the clock is a day ahead of the wall clock, and delivers its replies', async () => {
  const clock = movableClock();
  clock.move(DAY);
  h = await harness(clock);
  const id = fresh();
  const answer = await h.post({ conversationId: id, eventType: 'startSession', messageId: 'm1', metadata: [{ key: 'user_name', value: 'Ida' }] });
  expect(answer.status).toBe(202);
  await receiver.waitFor(() => receiver.of(id).length === 2, 5_000, 'the greeting and the menu');
  const replies = receiver.of(id);
  expect(replies.map((r) => [r.type, r.text])).toEqual([['text', 'Hello Ida!'], ['choice', 'What do you need?']]);
  // Stamped with the clock's time, not the wall clock's.
  expect(Date.parse(String(replies[0]!.createdAt))).toBeGreaterThan(Date.now() + DAY / 2);
});

it('ends a session idle past its timeout on the clock (an `end` reply, reason inactivity) though little wall time passed', async () => {
  const clock = movableClock();
  h = await harness(clock, 10 * 60_000);
  h.service.startSweeper(50);
  const idle = fresh();
  expect((await h.post({ conversationId: idle, eventType: 'startSession' })).status).toBe(202);
  await receiver.waitFor(() => receiver.of(idle).length === 2, 5_000, 'the greeting and the menu');
  clock.move(10 * 60_000 + 1_000);
  await receiver.waitFor(() => receiver.of(idle).length === 3, 5_000, 'the session ended for inactivity');
  expect(receiver.of(idle)[2]).toMatchObject({ type: 'end', reason: 'inactivity', replyTo: null });
  // The next message starts a new session, as after a timeout on the wall clock.
  expect((await h.post({ conversationId: idle, eventType: 'message', text: 'back again' })).status).toBe(202);
  await receiver.waitFor(() => receiver.of(idle).length === 5, 5_000, 'the new session');
  const saved = await h.store.getPosition(`converse:${idle}`, 'converse-test');
  expect(saved?.value).toMatchObject({ channels: { converse: { session: 2, status: 'active' } } });
});
