// Generated deliveries to the autopilot's `/hooks/crisp` over real HTTP. Signatures: only the exact
// HMAC of "[timestamp;body]" with the secret, at a fresh timestamp, is let in; every near miss is a
// 403 and reaches no handler. Bodies (correctly signed): message events with generated fields,
// other events, JSON that is no envelope, bytes that are no JSON — a 200 or a 400, never a crash,
// and the autopilot still answers a real visitor afterwards.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOOK_WINDOW_MS } from '../../src/crisp/hooks.js';
import { RTM_EVENTS } from '../../src/crisp/rtm.js';
import { MemoryStore } from '../../src/store/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { botTexts, echoOf, HOOK_SECRET, injectVisitorMessage, postHook, startTestBot, thread, type InProcessBot } from '../helpers/autopilot.js';
import { eventually, visitorStarts } from '../helpers/events.js';
import { anyJson } from './json-schema.js';

/** Generated deliveries per property; docs/operating.md's Reliability section quotes these numbers. */
export const SIGNATURE_RUNS = 200;
export const HOOK_BODY_RUNS = 150;

let sandbox: Sandbox;
let bot: InProcessBot;
let session: string;
const store = new MemoryStore();

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 44 });
  bot = await startTestBot(sandbox, { events: 'hooks', store });
  // The sandbox sends no hooks here: the test delivers each one itself.
  session = await visitorStarts(sandbox, 'hello');
  expect(await postHook(bot.hooksUrl!, thread(sandbox, session).at(-1)!)).toBe(200);
  await eventually(() => botTexts(sandbox, session).length === 2, 5_000, 'the first replies');
  // The inbox shows a reply before the bot has counted it as sent: let its turn finish first.
  await bot.autopilot.idle();
});
afterAll(async () => {
  await bot.stop();
  await sandbox.close();
  await store.close();
});

const mac = (secret: string, timestamp: string, body: string | Uint8Array): string =>
  createHmac('sha256', secret).update(`[${timestamp};`).update(body).update(']').digest('hex');

async function deliver(body: string | Uint8Array, headers: Record<string, string>): Promise<number> {
  const res = await request(bot.hooksUrl!, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await res.body.dump();
  return res.statusCode;
}

function signed(body: string | Uint8Array): Record<string, string> {
  const timestamp = String(Date.now());
  return { 'x-crisp-request-timestamp': timestamp, 'x-crisp-signature': mac(HOOK_SECRET, timestamp, body) };
}

/** How a sender can get the signature wrong (or, for `exact` and `upper-case`, right). */
const variantArb = fc.oneof(
  fc.constant({ kind: 'exact' as const }),
  fc.constant({ kind: 'upper-case' as const }),
  fc.record({ kind: fc.constant('flipped' as const), at: fc.nat(63) }),
  fc.record({ kind: fc.constant('random-hex' as const), hex: fc.stringMatching(/^[0-9a-f]{64}$/) }),
  fc.record({ kind: fc.constant('garbage' as const), text: fc.string({ maxLength: 80 }) }),
  fc.constant({ kind: 'missing-signature' as const }),
  fc.constant({ kind: 'missing-timestamp' as const }),
  fc.record({ kind: fc.constant('other-secret' as const), secret: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('other-body' as const), suffix: fc.string({ minLength: 1, maxLength: 5 }) }),
  fc.record({ kind: fc.constant('stale' as const), by: fc.integer({ min: DEFAULT_HOOK_WINDOW_MS + 60_000, max: 10 * DEFAULT_HOOK_WINDOW_MS }), sign: fc.constantFrom(-1, 1) }),
  fc.record({ kind: fc.constant('timestamp-text' as const), text: fc.string({ minLength: 1, maxLength: 20 }).filter((t) => !/^\s*\d{1,16}\s*$/.test(t)) }),
);

const messageArb = fc.record({
  website_id: fc.oneof(fc.constant('WEBSITE'), fc.uuid(), anyJson),
  session_id: fc.oneof(fc.constant('SESSION'), fc.constant('session_00000000-0000-0000-0000-000000000000'), anyJson),
  type: fc.oneof(fc.constantFrom('text', 'note', 'file', 'picker', 'event'), anyJson),
  from: fc.oneof(fc.constantFrom('user', 'operator'), anyJson),
  origin: fc.oneof(fc.constantFrom('chat', 'email', 'urn:crisp.im:contact-form:0'), anyJson),
  content: anyJson,
  fingerprint: fc.oneof(fc.nat(), anyJson),
  timestamp: fc.oneof(fc.constant(Date.now()), fc.nat(), anyJson),
  user: fc.oneof(fc.record({ user_id: fc.string({ maxLength: 10 }), nickname: fc.string({ maxLength: 10 }) }), anyJson),
  inbox_id: fc.oneof(fc.constant(null), anyJson),
});

describe('generated /hooks/crisp deliveries', () => {
  it('signatures: only the exact HMAC at a fresh timestamp gets in; every near miss is a 403', { timeout: 120_000 }, async () => {
    const before = bot.autopilot.stats();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(variantArb, async (variant) => {
        // A subscribed event for a website the bot does not serve: accepted means parsed, never answered.
        const body = JSON.stringify({ website_id: '00000000-0000-4000-8000-000000000000', event: 'session:set_subject', data: { session_id: 'session_x', subject: 'hi' }, timestamp: Date.now() });
        const now = Date.now();
        let timestamp: string | undefined = String(now);
        let signature: string | undefined = mac(HOOK_SECRET, timestamp, body);
        let valid = false;
        switch (variant.kind) {
          case 'exact':
            valid = true;
            break;
          case 'upper-case':
            signature = signature.toUpperCase();
            valid = true;
            break;
          case 'flipped': {
            const c = signature[variant.at]!;
            signature = signature.slice(0, variant.at) + (c === '0' ? '1' : '0') + signature.slice(variant.at + 1);
            break;
          }
          case 'random-hex':
            valid = variant.hex === signature;
            signature = variant.hex;
            break;
          case 'garbage':
            signature = variant.text;
            break;
          case 'missing-signature':
            signature = undefined;
            break;
          case 'missing-timestamp':
            timestamp = undefined;
            break;
          case 'other-secret':
            signature = mac(variant.secret, timestamp, body);
            valid = variant.secret === HOOK_SECRET;
            break;
          case 'other-body':
            signature = mac(HOOK_SECRET, timestamp, body + variant.suffix);
            break;
          case 'stale':
            timestamp = String(now + variant.sign * variant.by);
            signature = mac(HOOK_SECRET, timestamp, body);
            break;
          case 'timestamp-text':
            timestamp = variant.text;
            signature = mac(HOOK_SECRET, timestamp, body);
            break;
        }
        const headers: Record<string, string> = {};
        if (timestamp !== undefined) headers['x-crisp-request-timestamp'] = timestamp;
        if (signature !== undefined) headers['x-crisp-signature'] = signature;
        let status: number;
        try {
          status = await deliver(body, headers);
        } catch (error) {
          // A header value node refuses to send (e.g. a control character) never reaches the server.
          if ((error as { code?: string }).code === 'UND_ERR_INVALID_ARG') return;
          throw error;
        }
        expect(status, JSON.stringify({ variant, headers })).toBe(valid ? 200 : 403);
        if (valid) accepted++;
      }),
      { numRuns: SIGNATURE_RUNS },
    );
    expect(accepted, 'some deliveries were signed right').toBeGreaterThan(0);
    // Nothing let in reached a conversation: the one accepted kind is for a website not served.
    expect(bot.autopilot.stats().delivery.sent).toBe(before.delivery.sent);
  });

  it('bodies, correctly signed: a 200 or a 400, never a crash', { timeout: 120_000 }, async () => {
    const eventNameArb = fc.oneof(fc.constantFrom('message:send', 'message:received', 'session:set_state', 'session:removed'), fc.constantFrom(...RTM_EVENTS), fc.string({ maxLength: 20 }));
    const envelopeArb = fc.record(
      { website_id: fc.oneof(fc.constant('WEBSITE'), anyJson), event: eventNameArb, data: fc.oneof(messageArb, anyJson), timestamp: fc.oneof(fc.nat(), anyJson) },
      { requiredKeys: [] },
    );
    const bodyArb = fc.oneof(
      { arbitrary: envelopeArb.map((e) => JSON.stringify(e).replaceAll('"WEBSITE"', JSON.stringify(sandbox.websiteId)).replaceAll('"SESSION"', JSON.stringify(session))), weight: 4 },
      { arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null'), weight: 1 },
      { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(bodyArb, async (body) => {
        const status = await deliver(body, signed(body));
        expect([200, 400], typeof body === 'string' ? body : `${body.length} bytes`).toContain(status);
      }),
      { numRuns: HOOK_BODY_RUNS },
    );
  });

  it('afterwards the autopilot still answers a real visitor message, once', async () => {
    const message = injectVisitorMessage(sandbox, session, 'still there?', Date.now());
    expect(await postHook(bot.hooksUrl!, message)).toBe(200);
    await eventually(() => botTexts(sandbox, session).includes(echoOf('still there?')[1]!), 5_000, 'the echo');
    expect(botTexts(sandbox, session).filter((t) => t === echoOf('still there?')[0])).toHaveLength(1);
  });
});
