// The retry policy seen from outside: the sandbox injects faults, our client must ride out what
// is safe to repeat, never send a message twice, and fail clearly within its deadline.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CrispClient, CrispError, type RetryEvent } from '../../src/crisp/index.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { freePort } from '../helpers/net.js';

let sandbox: Sandbox;
let w: string;
let session: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 7 });
  w = sandbox.websiteId;
  session = [...sandbox.state.websites.get(w)!.conversations.keys()][0]!;
});
afterAll(() => sandbox.close());
afterEach(() => {
  sandbox.faults.clear();
  sandbox.resetStats();
});

const thread = () => sandbox.state.websites.get(w)!.messages.get(session)!;
const note = (content: string, fingerprint?: number) => ({ type: 'note' as const, from: 'operator' as const, origin: 'chat', content, ...(fingerprint ? { fingerprint } : {}) });

async function failure(promise: Promise<unknown>): Promise<CrispError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CrispError);
  return error as CrispError;
}

describe('retries against injected faults', () => {
  it('rides out a 429 burst on a read, honouring Retry-After', async () => {
    const retries: RetryEvent[] = [];
    const crisp = clientFor(sandbox, { onRetry: (e) => retries.push(e) });
    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: 0 }, count: 3 });
    const operators = await crisp.operators.list(w);
    expect(operators).toHaveLength(4);
    expect(retries.map((r) => r.status)).toEqual([429, 429, 429]);
    expect(sandbox.stats().faults['429']).toBe(3);

    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1 }, count: 1 });
    const started = Date.now();
    await crisp.operators.list(w);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    await crisp.close();
  });

  it('retries 5xx and dropped connections on idempotent calls', async () => {
    const crisp = clientFor(sandbox);
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 1 });
    sandbox.faults.burst({ fault: { kind: 'drop' }, count: 1 });
    sandbox.faults.burst({ fault: { kind: 'status', status: 500 }, count: 1 });
    await crisp.conversations.setState(w, session, 'unresolved');
    expect(sandbox.stats().handled['PATCH /v1/website/:website_id/conversation/:session_id/state']).toBe(1);
    await crisp.close();
  });

  it('gives up after maxAttempts with the last status and the attempt count', async () => {
    const crisp = clientFor(sandbox, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
    sandbox.faults.burst({ fault: { kind: 'status', status: 502 }, count: 10 });
    const error = await failure(crisp.operators.list(w));
    expect(error.code).toBe('crisp_unavailable');
    expect(error.status).toBe(502);
    expect(error.attempts).toBe(3);
    expect(error.retryable).toBe(true);
    await crisp.close();
  });

  it('never retries a 4xx other than 420/429', async () => {
    const crisp = clientFor(sandbox);
    const error = await failure(crisp.conversations.get(w, 'session_00000000-0000-4000-8000-000000000000'));
    expect(error.code).toBe('crisp_not_found');
    expect(error.attempts).toBe(1);
    await crisp.close();
  });
});

describe('sends are never duplicated', () => {
  it('does not resend a message without fingerprint when the answer is lost', async () => {
    const crisp = clientFor(sandbox);
    const before = thread().length;
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST' });
    const error = await failure(crisp.messages.send(w, session, note('lost answer, sent once')));
    expect(error.code).toBe('crisp_unavailable');
    expect(error.attempts).toBe(1);
    // Crisp did store it: the failure is honest about the uncertainty, and nothing was repeated.
    expect(thread().length).toBe(before + 1);
    expect(thread().filter((m) => m.content === 'lost answer, sent once')).toHaveLength(1);
    await crisp.close();
  });

  it('does not resend a message without fingerprint on a 5xx either: Crisp may have written it', async () => {
    const crisp = clientFor(sandbox);
    sandbox.faults.burst({ fault: { kind: 'status', status: 503 }, count: 1, method: 'POST' });
    const error = await failure(crisp.messages.send(w, session, note('refused 503')));
    expect(error.status).toBe(503);
    expect(error.attempts).toBe(1);
    expect(sandbox.stats().handled['POST /v1/website/:website_id/conversation/:session_id/message']).toBeUndefined();
    await crisp.close();
  });

  it('sends again a message without fingerprint refused with 429 or 420, which Crisp did not carry out: it lands once', async () => {
    const crisp = clientFor(sandbox);
    for (const status of [429, 420]) {
      sandbox.faults.burst({ fault: { kind: 'status', status, retryAfterSeconds: 0 }, count: 1, method: 'POST' });
      await crisp.messages.send(w, session, note(`rate limited ${status}`));
      expect(thread().filter((m) => m.content === `rate limited ${status}`)).toHaveLength(1);
    }
    expect(sandbox.stats().handled['POST /v1/website/:website_id/conversation/:session_id/message']).toBe(2);
    await crisp.close();
  });

  it('retries a message that carries its own fingerprint, and it shows once', async () => {
    const crisp = clientFor(sandbox);
    const fingerprint = 424242424242424;
    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: 0 }, count: 1, method: 'POST' });
    sandbox.faults.burst({ fault: { kind: 'drop' }, count: 1, method: 'POST' });
    const sent = await crisp.messages.send(w, session, note('idempotent send', fingerprint));
    expect(sent).toBe(fingerprint);
    expect(thread().filter((m) => m.fingerprint === fingerprint)).toHaveLength(1);
    expect(sandbox.stats().handled['POST /v1/website/:website_id/conversation/:session_id/message']).toBe(1);
    await crisp.close();
  });

  it('looks for a message whose answer was lost before sending it again, and finds it there', async () => {
    const crisp = clientFor(sandbox);
    const fingerprint = 434343434343434;
    sandbox.faults.configure('dedupe:off');
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST' });
    sandbox.faults.burst({ fault: { kind: 'status-after', status: 503 }, count: 1, method: 'POST' });
    try {
      expect(await crisp.messages.send(w, session, note('lost answer', fingerprint))).toBe(fingerprint);
      expect(await crisp.messages.send(w, session, note('5xx after the write', fingerprint + 1))).toBe(fingerprint + 1);
      expect(thread().filter((m) => m.fingerprint === fingerprint || m.fingerprint === fingerprint + 1)).toHaveLength(2);
      const handled = sandbox.stats().handled;
      expect(handled['POST /v1/website/:website_id/conversation/:session_id/message']).toBe(2);
      expect(handled['GET /v1/website/:website_id/conversation/:session_id/messages']).toBe(2);
    } finally {
      sandbox.faults.clear();
      await crisp.close();
    }
  });

  it('resends a POST whose connection was refused, since it never left', async () => {
    const port = await freePort();
    const crisp = new CrispClient({ baseUrl: `http://127.0.0.1:${port}`, credentials: { identifier: 'i', key: 'k', tier: 'plugin' }, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const error = await failure(crisp.messages.send(w, session, note('x')));
    expect(error.code).toBe('crisp_unavailable');
    expect(error.attempts).toBe(3);
    expect(error.message).toMatch(/ECONNREFUSED/);
    await crisp.close();
  });
});

describe('deadlines and cancellation', () => {
  it('gives a dead sandbox a clear error within the deadline', async () => {
    const port = await freePort();
    const retries: RetryEvent[] = [];
    const crisp = new CrispClient({ baseUrl: `http://127.0.0.1:${port}`, credentials: { identifier: 'i', key: 'k', tier: 'plugin' }, deadlineMs: 1_500, retry: { maxAttempts: 50, baseDelayMs: 50, maxDelayMs: 200 }, onRetry: (e) => retries.push(e) });
    const error = await failure(crisp.operators.list(w));
    expect(['crisp_unavailable', 'crisp_timeout']).toContain(error.code);
    expect(error.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}|within 1500 ms`));
    // The deadline ended it, not the attempt cap, and no wait was planned past the deadline.
    expect(error.attempts).toBeLessThan(50);
    expect(retries.reduce((total, r) => total + r.delayMs, 0)).toBeLessThan(1_500);
    await crisp.close();
  });

  it('times out a slow answer at the deadline', async () => {
    const crisp = clientFor(sandbox, { deadlineMs: 300 });
    sandbox.faults.configure('latency:1000ms');
    // A timeout, not the answer that arrives after 1000 ms: the deadline cut the call.
    const error = await failure(crisp.operators.list(w));
    expect(error.code).toBe('crisp_timeout');
    expect(error.message).toMatch(/within 300 ms/);
    await crisp.close();
  });

  it('stops when the caller aborts', async () => {
    const crisp = clientFor(sandbox);
    sandbox.faults.configure('latency:1000ms');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(crisp.operators.list(w, { signal: controller.signal }));
    expect(error.code).toBe('crisp_aborted');
    await crisp.close();
  });

  it('does not wait out a Retry-After longer than the deadline', async () => {
    const retries: RetryEvent[] = [];
    const crisp = clientFor(sandbox, { deadlineMs: 1_000, onRetry: (e) => retries.push(e) });
    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: 30 }, count: 1 });
    const error = await failure(crisp.operators.list(w));
    expect(error.code).toBe('crisp_rate_limited');
    expect(error.retryAfterMs).toBe(30_000);
    expect(error.message).toMatch(/retry in 30 s/);
    expect(retries).toEqual([]); // onRetry fires before every wait: it gave up at once
    await crisp.close();
  });
});

describe('seeded random faults', () => {
  it('rides out 30% 429/5xx on reads with the default retry budget', async () => {
    const crisp = clientFor(sandbox, { retry: { maxAttempts: 8, baseDelayMs: 1, maxDelayMs: 5 } });
    sandbox.faults.configure('429:15%,5xx:10%,drop:5%,retry-after:0,seed:3');
    for (let i = 0; i < 40; i++) await crisp.conversations.list(w, 1);
    const injected = Object.values(sandbox.stats().faults).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(5);
    await crisp.close();
  });
});

