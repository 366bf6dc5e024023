// The hand checks ahead of zod (plain-shapes.ts) against the schemas they stand for: whatever a
// check accepts, zod accepts and builds the same value from (the same keys, in the same order);
// whatever zod refuses, the check leaves to zod, so the refusal is zod's own.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { readPlain, readPlainArray, type PlainShape } from '../../src/crisp/plain-shapes.js';
import { CrispEventError, MessageEventData, MessageEventPlain, parseCrispEvent } from '../../src/crisp/rtm.js';
import { MessageDispatched, MessageDispatchedPlain, MessageSummary, MessageSummaryPlain } from '../../src/crisp/schemas.js';

const EVENT = {
  website_id: 'b0c5389f-1597-4875-a73a-c7bda903774c',
  session_id: 'session_98f359f0-1443-4ffb-80df-0a4f08b32719',
  inbox_id: null,
  routing_ids: ['r1'],
  type: 'text',
  from: 'user',
  origin: 'chat',
  content: 'hello',
  preview: [],
  mentions: [],
  read: '',
  delivered: '',
  edited: false,
  translated: false,
  automated: false,
  stamped: true,
  fingerprint: 179660679216580,
  timestamp: 1796606792160,
  user: { user_id: 'session_98f359f0', nickname: 'visitor12824', avatar: null, extra: 1 },
};

/** Values of every kind a field may be given. */
const ODD: unknown[] = ['x', '', 0, -1.5, Number.NaN, Number.POSITIVE_INFINITY, true, null, undefined, [], ['a'], ['a', 1], {}, { type: 'x' }, { avatar: 2 }, 'user', 'operator'];

/** The payload and variants of it: each field removed, or given each odd value, and keys the schema does not name. */
function variants(base: Record<string, unknown>): unknown[] {
  const out: unknown[] = [base, { ...base, zzz: 'kept?' }, { zzz: 1, ...base }, null, [], 'text', [base]];
  for (const key of Object.keys(base)) {
    const { [key]: _gone, ...rest } = base;
    out.push(rest);
    for (const value of ODD) out.push({ ...base, [key]: value });
  }
  out.push(JSON.parse(`{"__proto__": {"x": 1}, ${JSON.stringify(base).slice(1)}`));
  out.push(Object.assign(Object.create({ inherited: 1 }), base));
  return out;
}

/** The check and zod agree on `input`: the same value, keys in the same order, or the check steps aside. */
function agree(schema: z.ZodType, plain: unknown, input: unknown): void {
  const zod = schema.safeParse(input);
  if (plain === undefined) return;
  expect(zod.success, `the check accepted what zod refuses: ${JSON.stringify(input)}`).toBe(true);
  expect(isDeepStrictEqual(plain, zod.data)).toBe(true);
  expect(JSON.stringify(plain)).toBe(JSON.stringify(zod.data));
  expect(Object.keys(plain as object)).toEqual(Object.keys(zod.data as object));
}

function checkAll(schema: z.ZodType, shape: PlainShape, base: Record<string, unknown>): number {
  let accepted = 0;
  for (const input of variants(base)) {
    const plain = readPlain(shape, input);
    if (plain !== undefined) accepted++;
    agree(schema, plain, input);
    agree(schema.array(), readPlainArray(shape, [input, input]), [input, input]);
  }
  return accepted;
}

describe('plain shapes ahead of zod', () => {
  it('the message event: what the check accepts, zod builds the same; the rest is zod\'s', () => {
    // The plain payload and many of its variants go through the check, not only through zod.
    expect(checkAll(MessageEventData, MessageEventPlain, EVENT)).toBeGreaterThan(40);
    expect(checkAll(MessageEventData, MessageEventPlain, EVENT.user as unknown as Record<string, unknown>)).toBe(0);
  });

  it('the thread page\'s summaries and the send\'s answer', () => {
    const { preview: _p, read: _r, delivered: _d, ...message } = EVENT;
    expect(checkAll(MessageSummary, MessageSummaryPlain, { ...message, user: { user_id: 'u', nickname: 'n', avatar: 'a', type: 'website' } })).toBeGreaterThan(40);
    expect(checkAll(MessageDispatched, MessageDispatchedPlain, { fingerprint: 123 })).toBeGreaterThan(3);
    expect(readPlainArray(MessageSummaryPlain, [])).toEqual([]);
  });

  it('a malformed event is refused with zod\'s message, naming the field', () => {
    expect(() => parseCrispEvent('message:send', { ...EVENT, fingerprint: 'twelve' })).toThrow(CrispEventError);
    expect(() => parseCrispEvent('message:send', { ...EVENT, fingerprint: 'twelve' })).toThrow(/^the message:send event is malformed \(data\.fingerprint: Invalid input: expected number, received string\)$/);
    expect(() => parseCrispEvent('message:received', { ...EVENT, user: { nickname: 3 } })).toThrow(/\(data\.user\.nickname: /);
    // A plain one comes out as zod builds it.
    expect(parseCrispEvent('message:send', EVENT).data).toStrictEqual(MessageEventData.parse(EVENT));
  });
});
