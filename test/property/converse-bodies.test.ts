// Generated `POST /converse` bodies over real HTTP: well-formed events, events with one field
// broken, JSON that is not an event, and bytes that are not JSON. Every answer is a 202 or a 400
// whose `field` names the field at fault; nothing is logged as an error; the service still
// answers a fresh conversation afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERSE_EVENT_TYPES, ConverseRequest } from '../../src/converse/input.js';
import { CONVERSE_TOKEN, startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { anyJson } from './json-schema.js';

/** Generated bodies per property; docs/operating.md's Reliability section quotes these numbers. */
export const CONVERSE_RUNS = 150;

let h: ConverseHarness;
beforeAll(async () => {
  h = await startConverseHarness({ http: {} });
});
afterAll(() => h.close());

const idArb = fc.oneof(fc.string({ minLength: 1, maxLength: 60 }).filter((s) => !/\p{Cc}/u.test(s)), fc.uuid());
const pairArb = fc.record({
  key: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/),
  value: fc.oneof(fc.string({ maxLength: 50 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
});
const eventArb = fc.record(
  {
    conversationId: idArb,
    eventType: fc.constantFrom(...CONVERSE_EVENT_TYPES),
    text: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('Plans', 'Book', 'Human', 'Bye', 'Pro')),
    cardIndex: fc.integer({ min: 0, max: 99 }),
    messageId: idArb,
    userId: idArb,
    metadata: fc.array(pairArb, { maxLength: 4 }),
  },
  { requiredKeys: ['conversationId', 'eventType'] },
);
const FIELDS = ['conversationId', 'platformConversationId', 'eventType', 'text', 'cardIndex', 'messageId', 'userId', 'metadata', 'metaData'] as const;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

async function post(body: string | Uint8Array): Promise<Answer> {
  const response = await fetch(h.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CONVERSE_TOKEN}` }, body });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** 202, or a 400 that names a field and says what it expected. */
function expectHandled(answer: Answer, body: unknown): void {
  expect([202, 400], JSON.stringify({ body, answer })).toContain(answer.status);
  if (answer.status === 400) {
    expect(typeof answer.json.message, JSON.stringify(answer.json)).toBe('string');
    expect((answer.json.message as string).length).toBeGreaterThan(5);
  }
}

describe('generated /converse bodies', () => {
  it('well-formed events: accepted, or refused naming the field an event-type rule needs', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(eventArb, async (event) => {
        const answer = await post(JSON.stringify(event));
        expectHandled(answer, event);
        if (answer.status === 400) expect(['text', 'metadata', 'cardIndex'], JSON.stringify(answer.json)).toContain(String(answer.json.field).split(/[.[]/)[0]);
      }),
      { numRuns: CONVERSE_RUNS },
    );
  });

  it('one field broken: a 400 naming that field whenever the value is outside the schema', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(eventArb, fc.constantFrom(...FIELDS), anyJson, async (event, field, value) => {
        const body = { ...event, [field]: value };
        const answer = await post(JSON.stringify(body));
        expectHandled(answer, body);
        const parsed = ConverseRequest.safeParse(JSON.parse(JSON.stringify(body)));
        if (!parsed.success) {
          expect(answer.status).toBe(400);
          expect(String(answer.json.field), JSON.stringify(answer.json)).toMatch(new RegExp(`^${field}\\b`));
          expect(answer.json.message).toContain(field);
        }
      }),
      { numRuns: CONVERSE_RUNS },
    );
  });

  it('JSON that is no event object, and bytes that are no JSON: a 400', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyJson.map((v) => JSON.stringify(v) ?? 'null'), fc.uint8Array({ maxLength: 200 })), async (body) => {
        const answer = await post(body);
        if (typeof body === 'string' && typeof JSON.parse(body) === 'object' && JSON.parse(body) !== null && !Array.isArray(JSON.parse(body))) {
          expectHandled(answer, body);
        } else {
          expect(answer.status, JSON.stringify({ body: String(body), answer })).toBe(400);
        }
      }),
      { numRuns: CONVERSE_RUNS },
    );
  });

  it('afterwards: nothing logged as an error, and a fresh conversation still gets its replies', async () => {
    const id = `after-${process.pid}`;
    expect((await post(JSON.stringify({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Ann' }] }))).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of(id).length >= 2);
    expect(h.receiver.of(id)[0]!.text).toBe('Hello Ann!');
    expect(h.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
