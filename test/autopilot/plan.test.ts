// The autopilot's decisions as tables, with nothing running: intake (scope and origin), the rate
// limits, planTurn / planWebhookAnswer over a thread and a saved value, and the conversation queue.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chainDepth, planTurn, planWebhookAnswer, readFrom, type Plan, type ThreadMessage, type TurnInput } from '../../src/autopilot/plan.js';
import { ConversationQueue, MAX_HINTS } from '../../src/autopilot/queue.js';
import { freshState, itemFingerprints, readValue, type AutopilotItem, type AutopilotState } from '../../src/autopilot/state.js';
import { hashesOfTimes, hasHash, total } from '../../src/autopilot/rate-memory.js';
import type { ConversationRecord } from '../../src/engine/record.js';
import { DEFAULT_GUARDRAILS, intake, limitReplies, parseDuration, parseReplyBudget, type Guardrails } from '../../src/autopilot/guardrails.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { parseCrispEvent } from '../../src/crisp/rtm.js';
import type { Action } from '../../src/scenario/index.js';
import { ECHO_SCENARIO, echoOf } from '../helpers/autopilot.js';
import { eventually } from '../helpers/events.js';

const W = '11111111-1111-4111-8111-111111111111';
const S = 'session_test';
const NOW = 1_750_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const GUARD = { ...DEFAULT_GUARDRAILS, websites: new Set([W]), inboxes: undefined } satisfies Guardrails;

const WEBHOOK_SCENARIO = JSON.stringify({
  name: 'lookup',
  version: 1,
  webhook_origins: ['https://api.example.com'],
  start: 'ask',
  blocks: {
    ask: { type: 'ask', text: 'Your order number?', save: { var: 'order' }, next: 'call' },
    call: { type: 'webhook', url: 'https://api.example.com/orders', body: { order: '{{order}}' }, map: { status: 'status' }, next: 'done', on_error: 'fail' },
    done: { type: 'end', text: 'Order {{order}}: {{status}}.' },
    fail: { type: 'handoff', text: 'I could not look it up.', reason: 'lookup_failed' },
  },
});
const library = scenarioLibraryFromTexts([
  { file: 'echo.json', source: ECHO_SCENARIO },
  { file: 'lookup.json', source: WEBHOOK_SCENARIO },
]);
const echo = library.require('echo').program;
const lookup = library.require('lookup').program;

let clock = NOW - 60_000;
const visitor = (text: string, at = ++clock): ThreadMessage => ({ type: 'text', from: 'user', content: text, fingerprint: at * 10, timestamp: at });
const operator = (text: string, at = ++clock, type = 'text'): ThreadMessage => ({ type, from: 'operator', content: text, fingerprint: at * 10 + 1, timestamp: at, user: { user_id: 'op-jane' } });

/** The autopilot's part of the record a plan saves. */
const autopilotOf = (plan: Plan) => readValue(plan.value).state!;

function turn(thread: ThreadMessage[], saved?: ConversationRecord, more: Partial<TurnInput> = {}): Plan | undefined {
  return planTurn({ program: echo, website: W, session: S, read: readValue(saved), thread, firstContact: true, guard: GUARD, now: NOW, context: { now: NOW }, ...more });
}

const texts = (plan: Plan | undefined): string[] =>
  (plan?.outbox ?? []).map((i) => (i.payload as AutopilotItem).action).filter((a): a is Extract<Action, { type: 'send_message' }> => a.type === 'send_message').map((a) => a.message.text ?? '');
const kinds = (plan: Plan | undefined): string[] => (plan?.outbox ?? []).map((i) => (i.payload as AutopilotItem).action.type);

/** The thread as it reads after the plan's items were posted (our replies carry the planned fingerprints). */
function posted(thread: ThreadMessage[], plan: Plan): ThreadMessage[] {
  const ours = plan.outbox.flatMap((i) => itemFingerprints(i.id!, (i.payload as AutopilotItem).action).map((fp) => ({ fp, action: (i.payload as AutopilotItem).action })));
  return [...thread, ...ours.map(({ fp, action }) => ({ type: action.type === 'send_message' ? 'text' : 'note', from: 'operator' as const, content: 'reply', fingerprint: fp, timestamp: ++clock, user: { user_id: 'bot' } }))];
}

describe('intake: scope and origin', () => {
  const msg = (over: Record<string, unknown> = {}) => ({ website_id: W, session_id: S, inbox_id: null, type: 'text', from: 'user', origin: 'chat', content: 'hi', fingerprint: 5, timestamp: NOW, ...over });
  it.each([
    ['a visitor message', 'message:send', msg(), GUARD, 'visitor_message'],
    ['another website', 'message:send', msg({ website_id: '22222222-2222-4222-8222-222222222222' }), GUARD, 'website_not_allowed'],
    ['an inbox off the list', 'message:send', msg({ inbox_id: 'inbox-b' }), { ...GUARD, inboxes: new Set(['inbox-a']) }, 'inbox_not_allowed'],
    ['no inbox, "default" allowed', 'message:send', msg(), { ...GUARD, inboxes: new Set(['default']) }, 'visitor_message'],
    ['an operator message', 'message:received', msg({ from: 'operator' }), GUARD, 'operator_message'],
    ['an operator note', 'message:received', msg({ from: 'operator', type: 'note' }), GUARD, 'private_note'],
    ['an integration\'s event message on the operator side', 'message:received', msg({ from: 'operator', type: 'event', content: { namespace: 'order:shipped', text: 'Order shipped' } }), GUARD, 'operator_event'],
    ['a resolution', 'session:set_state', { website_id: W, session_id: S, state: 'resolved' }, GUARD, 'resolved'],
    ['another state', 'session:set_state', { website_id: W, session_id: S, state: 'unresolved' }, GUARD, 'event_not_used'],
    ['an event the bot does not use', 'message:compose:send', { website_id: W, session_id: S, type: 'start', timestamp: NOW }, GUARD, 'event_not_used'],
  ])('%s', (_name, event, data, guard, expected) => {
    const got = intake(parseCrispEvent(event, data), guard);
    expect(got.kind === 'ignored' ? got.reason : got.kind).toBe(expected);
  });
});

describe('settings', () => {
  it('parses durations and reply budgets, and says what is wrong', () => {
    expect(parseDuration('500ms', '--x')).toBe(500);
    expect(parseDuration('90', '--x')).toBe(90_000);
    expect(parseDuration('10m', '--x')).toBe(600_000);
    expect(parseReplyBudget('20/10m')).toEqual({ max: 20, windowMs: 600_000 });
    expect(() => parseReplyBudget('twenty')).toThrow(/--reply-budget must look like 20\/10m/);
    expect(() => parseDuration('soon', '--catch-up')).toThrow(/--catch-up must be a duration/);
  });
});

describe('rate control', () => {
  const say = (text: string): Action => ({ type: 'send_message', message: { type: 'text', text } });
  it('cuts a turn at the reply budget and leaves the operators a note', () => {
    const state: AutopilotState = { ...freshState(), budget: { w: 1000, k: NOW / 1000 - 2, n: [1, 1] } };
    const out = limitReplies([say('a'), say('b'), { type: 'resolve' }], state, 'hi', { replyBudget: { max: 3, windowMs: 60_000 }, repeatWindowMs: 0 }, NOW);
    expect(out.overBudget).toBe(true);
    expect(out.actions.map((a) => a.type)).toEqual(['send_message', 'handoff']);
    expect(out.actions[1]).toMatchObject({ type: 'handoff', reason: 'reply_budget' });
  });
  it('counts only the window', () => {
    const state: AutopilotState = { ...freshState(), budget: { w: 1000, k: NOW / 1000 - 121, n: [1, 1] } };
    expect(limitReplies([say('a'), say('b')], state, 'hi', { replyBudget: { max: 2, windowMs: 60_000 }, repeatWindowMs: 0 }, NOW).overBudget).toBe(false);
  });
  it('suppresses the same reply to the same input within the window, not to another input', () => {
    const g = { replyBudget: { max: 100, windowMs: 60_000 }, repeatWindowMs: 30_000 };
    const first = limitReplies([say('Sorry?')], freshState(), 'asdf', g, NOW);
    expect(limitReplies([say('Sorry?')], first.state, ' ASDF ', g, NOW + 1000)).toMatchObject({ suppressed: 1, actions: [] });
    expect(limitReplies([say('Sorry?')], first.state, 'qwer', g, NOW + 1000).suppressed).toBe(0);
    expect(limitReplies([say('Sorry?')], first.state, 'asdf', g, NOW + 31_000).suppressed).toBe(0);
    // The same words, composed then decomposed (as two keyboards send café), or full-width: one input, as the scenario's rules read it.
    const cafe = limitReplies([say('Sorry?')], freshState(), 'un caf\u00e9', g, NOW);
    expect(limitReplies([say('Sorry?')], cafe.state, 'UN CAFE\u0301', g, NOW + 1000).suppressed).toBe(1);
    expect(limitReplies([say('Sorry?')], cafe.state, '\uff55\uff4e caf\u00e9', g, NOW + 1000).suppressed).toBe(1);
    expect(limitReplies([say('Sorry?')], cafe.state, 'un the', g, NOW + 1000).suppressed).toBe(0);
    // The previous release kept 22 characters of the same digest: a reply it sent is still a repeat.
    const earlier = createHash('sha256').update('asdf').update('\u0000').update(JSON.stringify({ type: 'text', text: 'Sorry?' })).digest('base64url').slice(0, 22);
    const saved = { ...freshState(), recent: hashesOfTimes([{ h: earlier, at: NOW }]) };
    expect(limitReplies([say('Sorry?')], saved, 'asdf', g, NOW + 1000).suppressed).toBe(1);
    expect(first.state.recent).toEqual({ w: 500, k: NOW / 500, r: earlier.slice(0, 8) });
  });
});

describe('the reply budget, counted per bucket (an injected clock)', () => {
  const say = (text: string): Action => ({ type: 'send_message', message: { type: 'text', text } });
  const budget = (max: number, windowMs: number) => ({ replyBudget: { max, windowMs }, repeatWindowMs: 0 });
  /** One bot message at `now`: whether the budget let it through, and the state after. */
  function send(state: AutopilotState, now: number, g: ReturnType<typeof budget>): { ok: boolean; state: AutopilotState } {
    const out = limitReplies([say('a')], state, 'hi', g, now);
    return { ok: !out.overBudget, state: out.state };
  }

  it('lets exactly N through in a window, refuses the N+1th, and lets one through again once the window has passed their bucket', () => {
    const g = budget(3, 60_000); // buckets of 1 s
    let state = freshState();
    for (const at of [NOW + 100, NOW + 200, NOW + 900]) {
      const r = send(state, at, g);
      expect(r.ok).toBe(true);
      state = r.state;
    }
    expect(state.budget).toEqual({ w: 1000, k: NOW / 1000, n: [3] });
    expect(send(state, NOW + 950, g).ok).toBe(false);
    // The window from the first message (NOW + 100) has passed, not yet the one from its bucket's end.
    expect(send(state, NOW + 60_100, g).ok).toBe(false);
    expect(send(state, NOW + 60_998, g).ok).toBe(false);
    // A window after the bucket's last millisecond: all three have left it.
    expect(send(state, NOW + 60_999, g).ok).toBe(true);
  });

  it('at a bucket edge: a message in the next bucket counts a bucket longer', () => {
    const g = budget(2, 60_000);
    const first = send(freshState(), NOW + 999, g); // the last millisecond of bucket NOW
    const second = send(first.state, NOW + 1000, g); // the first of the next
    expect(second.state.budget).toEqual({ w: 1000, k: NOW / 1000, n: [1, 1] });
    expect(send(second.state, NOW + 60_998, g).ok).toBe(false);
    const third = send(second.state, NOW + 60_999, g); // the first has left the window, the second not
    expect(third.ok).toBe(true);
    expect(send(third.state, NOW + 61_998, g).ok).toBe(false);
    expect(send(third.state, NOW + 61_999, g).ok).toBe(true);
  });

  it('never lets more than N through in any window, whatever the times (checked against every message time)', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const [max, windowMs] of [[5, 10_000], [20, 60_000], [3, 1000], [7, 59]] as const) {
      const g = budget(max, windowMs);
      let state = freshState();
      let now = NOW;
      const sent: number[] = [];
      for (let i = 0; i < 2000; i++) {
        now += Math.floor(random() * random() * windowMs * 0.3);
        const r = send(state, now, g);
        if (r.ok) {
          sent.push(now);
          state = r.state;
        }
        // The memory stays within a window's buckets, however many messages.
        expect(state.budget!.n.length).toBeLessThanOrEqual(61);
      }
      expect(sent.length).toBeGreaterThan(max * 10);
      for (const [i, at] of sent.entries()) expect(sent.filter((t) => t > at - windowMs && t <= at).length, `window ending at message ${i}`).toBeLessThanOrEqual(max);
    }
  });

  it('keeps at most 61 counts however high the budget: 100000/1m over ten busy minutes', () => {
    const g = budget(100_000, 60_000);
    let state = freshState();
    for (let i = 0; i < 12_000; i++) state = send(state, NOW + i * 50, g).state;
    expect(state.budget!.n.length).toBeLessThanOrEqual(61);
    expect(total(state.budget)).toBe(1220); // 20 a second: the 60 buckets back from now's, and the one the window starts in
    const saved = turnWith(state).value.channels.autopilot as { budget: { w: number; n: number[] } };
    expect(saved.budget.w).toBe(1000);
    expect(saved.budget.n.length).toBeLessThanOrEqual(61);
  });

  it('counts kept under another window (changed between runs) still count, to their buckets\' ends at the new width', () => {
    const short = budget(3, 60_000); // buckets of 1 s
    let state = freshState();
    for (const at of [NOW + 10, NOW + 20, NOW + 30]) state = send(state, at, short).state;
    const long = budget(3, 600_000); // buckets of 10 s
    expect(send(state, NOW + 500_000, long).ok).toBe(false);
    // Their 1 s bucket (NOW to NOW + 999) lies in the 10 s one of NOW to NOW + 9999: counted a window past its end.
    expect(send(state, NOW + 609_998, long).ok).toBe(false);
    expect(send(state, NOW + 609_999, long).ok).toBe(true);
  });

  /** A turn at NOW + 600_000 that reads a record holding `state` (and sends nothing new but one reply). */
  function turnWith(state: AutopilotState): Plan {
    const read = readValue(undefined);
    return planTurn({ program: echo, website: W, session: S, read: { ...read, state: { ...state, cursor: { ts: NOW, fps: [] } } }, thread: [], firstContact: true, guard: { ...GUARD, replyBudget: { max: 100_000, windowMs: 60_000 } }, now: NOW + 600_000, context: { now: NOW + 600_000 } })!;
  }
});

describe('the rate memory as saved', () => {
  const g = { ...GUARD, replyBudget: { max: 3, windowMs: 60_000 }, repeatWindowMs: 30_000 };
  const position = () => turn([visitor('one')])!.value.scenario;
  /** A record as the first release saved it: absolute times, 22-character repeat hashes. */
  function firstReleaseRecord(sent: number[], repeats: Array<{ h: string; at: number }>): ConversationRecord {
    return { v: 2, scenario: position(), channels: { autopilot: { v: 1, cursor: { ts: NOW - 50_000, fps: [1] }, ours: [7, 8], paused: null, restart_after: null, sent, repeats, webhook: null } } };
  }
  /** A record as the previous release saved it (`rate`: times in ms after t0, a repeat as an 11-character hash and its ms). */
  function previousReleaseRecord(rate: { t0: number; sent: number[]; repeats: string[] }): ConversationRecord {
    return { v: 2, scenario: position(), channels: { autopilot: { v: 1, cursor: { ts: NOW - 50_000, fps: [1] }, ours: [7, 8], paused: null, restart_after: null, sent: [], repeats: [], webhook: null, rate } } };
  }
  const digest = (input: string, text: string) => createHash('sha256').update(input).update('\u0000').update(JSON.stringify({ type: 'text', text })).digest('base64url');
  const earlierHash = (input: string, text: string) => digest(input, text).slice(0, 22);
  const say = (text: string): Action => ({ type: 'send_message', message: { type: 'text', text } });

  it('reads a record saved by the first release: its budget and its repeats still count', () => {
    const saved = firstReleaseRecord([NOW - 2000, NOW - 1000], [{ h: earlierHash('two', 'You said: two'), at: NOW - 1000 }]);
    const read = readValue(saved).state!;
    expect(total(read.budget)).toBe(2);
    expect(hasHash(read.recent, earlierHash('two', 'You said: two').slice(0, 8))).toBe(true);
    expect(read.cursor).toEqual({ ts: NOW - 50_000, fps: [1] });
    // Budget 3 with 2 spent: the echo's two messages do not both fit.
    const plan = turn([visitor('three', NOW - 10)], saved, { guard: g })!;
    expect(plan.notes).toContainEqual({ kind: 'paused', reason: 'reply_budget', by: null });
  });

  it('reads a record saved by the previous release (rate): its budget and its repeats still count', () => {
    const saved = previousReleaseRecord({ t0: NOW - 2000, sent: [0, 1000], repeats: [`${digest('asdf', 'Sorry?').slice(0, 11)}.1000`] });
    const read = readValue(saved).state!;
    expect(total(read.budget)).toBe(2);
    expect(read.recent?.r).toBe(digest('asdf', 'Sorry?').slice(0, 8));
    expect(read.ours).toEqual([7, 8]);
    expect(limitReplies([say('Sorry?')], read, 'asdf', g, NOW).suppressed).toBe(1);
    expect(limitReplies([say('Sorry?')], read, 'qwer', g, NOW).suppressed).toBe(0);
    const plan = turn([visitor('three', NOW - 10)], saved, { guard: g })!;
    expect(plan.notes).toContainEqual({ kind: 'paused', reason: 'reply_budget', by: null });
  });

  it('saves the budget as counts per bucket and the repeats as one string, and reads them back as they were', () => {
    const saved = previousReleaseRecord({ t0: NOW - 2000, sent: [0], repeats: [`${digest('x', 'y').slice(0, 11)}.500`] });
    const plan = turn([visitor('hello', NOW - 10)], saved, { guard: { ...g, replyBudget: { max: 100, windowMs: 60_000 } } })!;
    const part = plan.value.channels.autopilot as Record<string, unknown> & { budget: { w: number; k: number; n: number[] }; recent: { w: number; k: number; r: string } };
    expect(part.sent).toEqual([]);
    expect(part.repeats).toEqual([]);
    expect(part.rate).toBeUndefined();
    // Buckets of 1 s (a sixtieth of the window): one message in NOW - 2000's, the echo's two in NOW's.
    expect(part.budget).toEqual({ w: 1000, k: (NOW - 2000) / 1000, n: [1, 0, 2] });
    // Buckets of 500 ms (a sixtieth of the repeat window): the earlier repeat in NOW - 1500's, the echo's two in NOW's, three buckets later.
    expect(part.recent.w).toBe(500);
    expect(part.recent.k).toBe((NOW - 1500) / 500);
    expect(part.recent.r).toMatch(new RegExp(`^${digest('x', 'y').slice(0, 8).replace(/-/g, '\\-')},,,[\\w-]{16}$`));
    expect(readValue(plan.value).state).toEqual(plan.state);
    expect(plan.state.budget).toEqual(part.budget);
    expect(plan.state.recent).toEqual(part.recent);
    // What the saved record says is what the next turn counts: one more message passes a budget of 4, not two.
    const next = turn([...posted([visitor('hello', NOW - 10)], plan), visitor('again', NOW - 5)], plan.value, { guard: { ...g, replyBudget: { max: 4, windowMs: 60_000 } } })!;
    expect(next.notes).toContainEqual({ kind: 'paused', reason: 'reply_budget', by: null });
    // And the repeats: the same reply to the same input is suppressed after the round trip.
    const again = limitReplies([say('y')], readValue(plan.value).state!, 'x', g, NOW);
    expect(again.suppressed).toBe(1);
  });

  it('keeps the record of a busy conversation small: 60 replies within the window, 50 repeats', () => {
    let value: ConversationRecord | undefined;
    let thread: ThreadMessage[] = [];
    const guard = { ...GUARD, replyBudget: { max: 100_000, windowMs: 60_000 } };
    for (let i = 0; i < 60; i++) {
      thread = [...thread, visitor(`message number ${i}`, NOW - 6000 + i * 100)];
      const plan = turn(thread, value, { guard, now: NOW - 6000 + i * 100 + 50 })!;
      thread = posted(thread, plan);
      value = plan.value;
    }
    const part = value!.channels.autopilot as { budget: { n: number[] }; recent: { r: string } };
    expect(part.budget.n.reduce((a, b) => a + b, 0)).toBe(120); // the echo sends two messages a turn
    expect(part.recent.r.replace(/,/g, '')).toHaveLength(50 * 8);
    expect(JSON.stringify(part.budget).length).toBeLessThan(80);
    expect(JSON.stringify(part.recent).length).toBeLessThan(50 * 8 + 60);
  });

  it('forgets a rate memory that does not parse, and keeps the cursor and the pause beside it', () => {
    const autopilot = { v: 1, cursor: { ts: NOW - 50_000, fps: [1] }, ours: [7], paused: { reason: 'operator', at: NOW - 3000, by: 'op' }, restart_after: null, webhook: null, sent: [], repeats: [] };
    for (const broken of [{ recent: { w: 500, k: 1, r: 'short,hashes' } }, { budget: { w: 0, k: 1, n: [1] } }, { rate: { t0: 'then' } }]) {
      const read = readValue({ v: 2, scenario: position(), channels: { autopilot: { ...autopilot, ...broken } } }).state!;
      expect(read).toMatchObject({ cursor: { ts: NOW - 50_000, fps: [1] }, paused: { reason: 'operator', by: 'op' } });
      expect(read.budget).toBeUndefined();
      expect(read.recent).toBeUndefined();
    }
  });

  it('leaves a reader of the first or the previous release the cursor, the fingerprints and the pause', () => {
    const paused = { ...firstReleaseRecord([NOW - 2000], []), channels: { autopilot: { ...(firstReleaseRecord([NOW - 2000], []).channels.autopilot as object), ours: [7], paused: { reason: 'operator', at: NOW - 3000, by: 'op' } } } } as ConversationRecord;
    const plan = turn([visitor('hello', NOW - 10)], paused)!;
    const firstSchema = z.object({ v: z.literal(1), cursor: z.object({ ts: z.number(), fps: z.array(z.number()) }).nullable(), ours: z.array(z.number()), paused: z.object({ reason: z.string(), at: z.number(), by: z.string().nullable() }).nullable(), restart_after: z.number().nullable(), sent: z.array(z.number()), repeats: z.array(z.object({ h: z.string(), at: z.number() })), webhook: z.string().nullable() });
    const previousSchema = firstSchema.extend({ rate: z.object({ t0: z.number(), sent: z.array(z.number()), repeats: z.array(z.string()) }).optional() });
    for (const schema of [firstSchema, previousSchema]) {
      const asRead = schema.parse(plan.value.channels.autopilot);
      expect(asRead).toMatchObject({ cursor: plan.state.cursor, ours: plan.state.ours, paused: { reason: 'operator', by: 'op' }, sent: [], repeats: [] });
    }
  });
});

describe('planTurn', () => {
  it('first contact: answers the messages after the last operator answer, the first one as the start', () => {
    // The operator answered two days ago, past the operator hold: the visitor is back on a conversation nobody holds.
    const thread = [visitor('old question', NOW - 2 * DAY - 1), operator('old answer', NOW - 2 * DAY), visitor('one'), visitor('two')];
    const plan = turn(thread)!;
    expect(texts(plan)).toEqual([...echoOf('one'), ...echoOf('two')]);
    expect(plan.notes.filter((n) => n.kind === 'turn').map((n) => n.kind === 'turn' && n.start)).toEqual([true, false]);
    expect(plan.outbox.map((i) => i.id)).toEqual([`ap:${S}:${thread[2]!.fingerprint}.0`, `ap:${S}:${thread[2]!.fingerprint}.1`, `ap:${S}:${thread[3]!.fingerprint}.0`, `ap:${S}:${thread[3]!.fingerprint}.1`]);
    expect(autopilotOf(plan).ours).toEqual(plan.ours);
    expect(autopilotOf(plan).cursor).toEqual({ ts: thread[3]!.timestamp, fps: [thread[3]!.fingerprint] });
  });

  it('first contact: an operator who wrote within the operator hold keeps the conversation — unless it was resolved since, the message was automated, or the hold is off', () => {
    const thread = [visitor('question'), operator('Jane here, looking'), visitor('thanks'), visitor('any news?')];
    const held = turn(thread)!;
    expect(held.outbox).toEqual([]);
    expect(autopilotOf(held).paused).toEqual({ reason: 'operator', at: thread[1]!.timestamp, by: 'op-jane' });
    expect(held.notes.filter((n) => n.kind === 'skipped').map((n) => n.kind === 'skipped' && n.reason)).toEqual(['paused', 'paused']);
    // Past the hold (23 h is inside the 24 h default; 25 h is not).
    const dayOld = [visitor('question', NOW - 25 * HOUR - 1), operator('Jane here', NOW - 25 * HOUR), visitor('back again')];
    expect(texts(turn(dayOld))).toEqual(echoOf('back again'));
    const recent = [visitor('question', NOW - 23 * HOUR - 1), operator('Jane here', NOW - 23 * HOUR), visitor('back again')];
    expect(turn(recent)!.outbox).toEqual([]);
    // Resolved after the operator wrote (a session:set_state the bot saw): the next message starts the scenario.
    expect(texts(turn(thread, undefined, { resolvedAt: thread[1]!.timestamp + 1 }))).toEqual([...echoOf('thanks'), ...echoOf('any news?')]);
    // A scenario's own message (this bot's before its record was lost, an agent's post_draft) is automated: nobody holds the conversation.
    const automated = [visitor('question'), { ...operator('You said: question'), automated: true }, visitor('more')];
    expect(texts(turn(automated))).toEqual(echoOf('more'));
    // --operator-hold 0: the operator's messages are only where the bot starts reading.
    expect(texts(turn(thread, undefined, { guard: { ...GUARD, operatorHoldMs: 0 } }))).toEqual([...echoOf('thanks'), ...echoOf('any news?')]);
  });

  it('reads nothing twice: the same thread again is no change, a new message is one turn', () => {
    const thread = [visitor('one')];
    const first = turn(thread)!;
    const after = posted(thread, first);
    expect(turn(after, first.value)).toMatchObject({ changed: true, outbox: [] }); // only our replies to read past
    const second = turn(after, turn(after, first.value)!.value)!;
    expect(second.changed).toBe(false);
    const more = [...after, visitor('two')];
    expect(texts(turn(more, first.value))).toEqual(echoOf('two'));
  });

  it('keeps the fingerprints of its own messages only until the cursor has passed them', () => {
    const thread = [visitor('one')];
    const first = turn(thread)!;
    expect(autopilotOf(first).ours).toHaveLength(2);
    // Our replies read back, then the visitor again: the replies are behind the cursor now, never read again.
    const after = [...posted(thread, first), visitor('two')];
    const second = turn(after, first.value)!;
    expect(texts(second)).toEqual(echoOf('two'));
    expect(autopilotOf(second).ours).toEqual(second.ours);
    // Our replies at the cursor's own millisecond are kept: a message there may still be read.
    const replies = posted([], second).map((m) => ({ ...m, timestamp: clock }));
    const third = turn([...after, ...replies], second.value)!;
    expect(autopilotOf(third).ours).toEqual(second.ours);
  });

  it('an operator who answered before the bot read the thread has those visitor messages: the turn sends nothing to the visitor', () => {
    const thread = [visitor('hello')];
    const first = turn(thread)!;
    const answered = [...posted(thread, first), visitor('anyone?'), visitor('hello??'), operator('Jane here')];
    const plan = turn(answered, first.value)!;
    expect(texts(plan)).toEqual([]);
    expect(plan.ours).toEqual([]);
    expect(autopilotOf(plan).paused).toMatchObject({ reason: 'operator', by: 'op-jane' });
    // A private note in the same place takes nothing over: the replies go.
    expect(texts(turn([...posted(thread, first), visitor('anyone?'), operator('fyi', undefined, 'note')], first.value))).toEqual(echoOf('anyone?'));
  });

  it('an operator writing pauses the bot; our own messages do not; a resolution starts it again', () => {
    const thread = [visitor('hello')];
    const first = turn(thread)!;
    const withOperator = [...posted(thread, first), operator('Jane here'), visitor('hi Jane')];
    const paused = turn(withOperator, first.value)!;
    expect(texts(paused)).toEqual([]);
    expect(autopilotOf(paused).paused).toMatchObject({ reason: 'operator', by: 'op-jane' });
    expect(paused.notes).toContainEqual({ kind: 'skipped', fingerprint: withOperator.at(-1)!.fingerprint, reason: 'paused' });
    // A note is not taking over.
    expect(autopilotOf(turn([...posted(thread, first), operator('fyi', undefined, 'note'), visitor('still there?')], first.value)!).paused).toBeNull();

    const resolvedAt = ++clock;
    const back = [...withOperator, visitor('back again')];
    const resumed = turn(back, paused.value, { resolvedAt })!;
    expect(texts(resumed)).toEqual(echoOf('back again'));
    expect(resumed.notes).toContainEqual({ kind: 'resumed' });
    expect(autopilotOf(resumed).paused).toBeNull();
  });

  it('a resolution that comes in after a visitor message written after it (Web Hooks keep no order) reads that message again and answers it', () => {
    const thread = [visitor('hello')];
    const first = turn(thread)!;
    const withOperator = [...posted(thread, first), operator('Jane here')];
    const paused = turn(withOperator, first.value)!;
    const resolvedAt = ++clock; // the operator resolves…
    const after = [...withOperator, visitor('one more thing')]; // …and the visitor writes right after
    // The message's delivery comes first: the bot is still paused and skips it.
    const skipped = turn(after, paused.value)!;
    expect(skipped.outbox).toEqual([]);
    expect(skipped.notes).toContainEqual({ kind: 'skipped', fingerprint: after.at(-1)!.fingerprint, reason: 'paused' });
    // Then the resolution's: read again from the resolution, the message is answered, once.
    const late = turn(after, skipped.value, { resolvedAt })!;
    expect(texts(late)).toEqual(echoOf('one more thing'));
    expect(autopilotOf(late).paused).toBeNull();
    expect(turn(posted(after, late), late.value, { resolvedAt })!.outbox).toEqual([]);
    // An operator who writes after the resolution pauses the bot again on the second read.
    const operatorAfter = [...withOperator, operator('Jane again'), visitor('and this?')];
    const skippedToo = turn(operatorAfter, paused.value)!;
    expect(turn(operatorAfter, skippedToo.value, { resolvedAt: operatorAfter.at(-2)!.timestamp - 1 })!.outbox).toEqual([]);
    // A resolution older than the pause changes nothing: the operator took over after it.
    expect(readFrom(autopilotOf(skipped), autopilotOf(paused).paused!.at - 1)).toEqual(autopilotOf(skipped).cursor);
  });

  it('the handoff block silences the bot until a resolution', () => {
    const thread = [visitor('a human please')];
    const first = turn(thread)!;
    expect(kinds(first)).toEqual(['send_message', 'handoff']);
    expect(first.value.scenario!.handed_off).toBe(true);
    const later = [...posted(thread, first), visitor('hello?')];
    const silent = turn(later, first.value)!;
    expect(silent.outbox).toEqual([]);
    expect(silent.notes).toContainEqual({ kind: 'skipped', fingerprint: later.at(-1)!.fingerprint, reason: 'handed_off' });
    const resolvedAt = ++clock;
    expect(texts(turn([...later, visitor('new question')], silent.value, { resolvedAt }))).toEqual(echoOf('new question'));
  });

  it('does not start on a conversation it never worked unless allowed, and not on stale messages', () => {
    expect(turn([visitor('hi')], undefined, { firstContact: false })).toBeUndefined();
    const stale = visitor('an hour ago', NOW - 3_600_000);
    expect(texts(turn([stale]))).toEqual([]);
    expect(texts(turn([stale], undefined, { announced: new Set([stale.fingerprint]) }))).toEqual(echoOf('an hour ago'));
  });

  it('stops at the reply budget and pauses there', () => {
    const plan = turn([visitor('a'), visitor('b'), visitor('c')], undefined, { guard: { ...GUARD, replyBudget: { max: 3, windowMs: 60_000 } } })!;
    expect(texts(plan)).toEqual([...echoOf('a'), 'You said: b']);
    expect(kinds(plan).at(-1)).toBe('handoff');
    expect(autopilotOf(plan).paused).toMatchObject({ reason: 'reply_budget' });
    expect(plan.notes.filter((n) => n.kind === 'skipped')).toHaveLength(1);
  });

  it('passes the step budget to the runner', () => {
    const plan = turn([visitor('x')], undefined, { guard: { ...GUARD, stepBudget: 2 } })!;
    expect(kinds(plan)).toEqual(['send_message', 'error', 'handoff']);
  });
});

describe('planWebhookAnswer', () => {
  const read = (plan: Plan) => readValue(plan.value);
  it('queues the call, then applies its answer exactly once', () => {
    const thread = [visitor('start'), visitor('A-42')];
    const first = planTurn({ program: lookup, website: W, session: S, read: readValue(undefined), thread, firstContact: true, guard: GUARD, now: NOW, context: { now: NOW } })!;
    expect(kinds(first)).toEqual(['send_message', 'webhook']);
    const webhookId = first.outbox[1]!.id!;
    expect(autopilotOf(first).webhook).toBe(webhookId);
    const input = { program: lookup, website: W, session: S, itemId: webhookId, answer: { ok: true, status: 200, data: { status: 'shipped' } }, guard: GUARD, now: NOW, context: { now: NOW } };
    const answered = planWebhookAnswer({ ...input, read: read(first) })!;
    expect(texts(answered)).toEqual(['Order A-42: shipped.']);
    expect(answered.outbox[0]!.id).toBe(`${webhookId}>.0`);
    expect(autopilotOf(answered).webhook).toBeNull();
    // Replayed after a crash between the save and the ack: nothing.
    expect(planWebhookAnswer({ ...input, read: read(answered) })).toBeUndefined();
    expect(chainDepth(answered.outbox[0]!.id!)).toBe(1);
  });

  it('an answer that comes back after an operator wrote moves the scenario on but says nothing to the visitor', () => {
    const thread = [visitor('start'), visitor('A-43')];
    const first = planTurn({ program: lookup, website: W, session: S, read: readValue(undefined), thread, firstContact: true, guard: GUARD, now: NOW, context: { now: NOW } })!;
    const webhookId = first.outbox[1]!.id!;
    const operatorWrote = planTurn({ program: lookup, website: W, session: S, read: read(first), thread: [...posted(thread, first), operator('Jane here')], firstContact: true, guard: GUARD, now: NOW, context: { now: NOW } })!;
    expect(autopilotOf(operatorWrote).paused).toMatchObject({ reason: 'operator' });
    const answered = planWebhookAnswer({ program: lookup, website: W, session: S, itemId: webhookId, answer: { ok: true, status: 200, data: { status: 'shipped' } }, guard: GUARD, now: NOW, context: { now: NOW }, read: read(operatorWrote) })!;
    expect(texts(answered)).toEqual([]);
    expect(autopilotOf(answered).webhook).toBeNull();
  });
});

describe('ConversationQueue', () => {
  it('runs one conversation at a time, merges what arrives meanwhile, caps concurrency and retries a failed run later', async () => {
    const runs: Array<{ key: string; hints: number; resolvedAt: number | undefined }> = [];
    let active = 0;
    let peak = 0;
    let failOnce = true;
    const queue = new ConversationQueue({
      concurrency: 2,
      now: Date.now,
      run: async (c, work) => {
        active++;
        peak = Math.max(peak, active);
        runs.push({ key: c.session, hints: work.hints.length, resolvedAt: work.resolvedAt });
        await new Promise((resolve) => setTimeout(resolve, 10));
        active--;
        if (c.session === 'flaky' && failOnce) {
          failOnce = false;
          throw new Error('store busy');
        }
      },
      failed: () => 5,
    });
    const hint = visitor('x');
    const work = (resolvedAt?: number) => ({ reconcile: true, firstContact: true, hints: [hint], resolvedAt });
    queue.schedule(W, 'a', work());
    queue.schedule(W, 'a', work(1)); // while "a" runs: merged into its next run
    queue.schedule(W, 'a', work(3));
    queue.schedule(W, 'b', work());
    queue.schedule(W, 'c', work());
    queue.schedule(W, 'flaky', work());
    await eventually(() => runs.filter((r) => r.key === 'flaky').length === 2, 2_000, 'the retry');
    await queue.idle();
    expect(peak).toBe(2);
    expect(runs.filter((r) => r.key === 'a')).toEqual([
      { key: 'a', hints: 1, resolvedAt: undefined },
      { key: 'a', hints: 2, resolvedAt: 3 },
    ]);
    expect(runs.filter((r) => r.key === 'flaky').map((r) => r.hints)).toEqual([1, 1]);
  });
});

describe('ConversationQueue under a conversation whose runs keep failing', () => {
  it('keeps the newest MAX_HINTS hints of the events merged while it waits for its retry, not one per event', async () => {
    // Timers the test fires itself: the retry comes when the test says, not after a sleep.
    const armed: Array<() => void> = [];
    const timers = { set: (fire: () => void) => armed.push(fire), clear: () => undefined };
    const received: ThreadMessage[][] = [];
    let failing = true;
    const queue = new ConversationQueue({
      concurrency: 1,
      now: () => 0,
      timers,
      run: async (_c, work) => {
        received.push(work.hints);
        if (failing) throw new Error('Crisp answers 503');
      },
      failed: () => 1_000,
    });
    queue.schedule(W, S, { reconcile: true, firstContact: true, hints: [visitor('first')], resolvedAt: undefined });
    await eventually(() => armed.length === 1, 2_000, 'the retry armed');
    // Five times the cap of visitor messages: the first starts a run (new work does not wait for the
    // wake-up), the rest arrive while it runs; it fails too, and all of it waits for the next retry.
    const sent = Array.from({ length: 5 * MAX_HINTS }, (_, i) => visitor(`message ${i}`));
    for (const hint of sent) queue.schedule(W, S, { reconcile: true, firstContact: true, hints: [hint], resolvedAt: undefined });
    await eventually(() => received.length === 2 && !queue.busy(`${W}/${S}`), 2_000, 'the second run failed');
    failing = false;
    armed.shift()!(); // the retry, still armed from the first failure
    await eventually(() => received.length === 3, 2_000, 'the retried run');
    await queue.idle();
    expect(received[2]!.map((h) => h.content)).toEqual(sent.slice(-MAX_HINTS).map((h) => h.content));
  });
});
