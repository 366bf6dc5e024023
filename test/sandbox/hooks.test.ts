// The sandbox's Web Hook deliveries to a real node:http receiver: Crisp's body and
// headers, a signature checked here by an independent HMAC, retries with backoff, per-website
// order with a window of 1, a REST handler never waiting on a delivery — and the CLI's --hooks and
// --hook-concurrency. The window itself (concurrency > 1) is in hooks-window.test.ts.
import { createHmac } from 'node:crypto';
import { Crisp } from 'crisp-api';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { clientFor } from '../helpers/crisp.js';
import { eventually, startReceiver, visitorStarts, visitorWrites, type Answer, type HookReceiver } from '../helpers/events.js';
import { spawnSandboxCli } from '../helpers/sandbox-cli.js';
import { control } from '../helpers/sandbox-http.js';

const SECRET = 'test-hook-secret-0123456789';

/** The signature, computed here from Crisp's documented algorithm, not with the code under test. */
const independentSignature = (secret: string, timestamp: string, raw: string): string => createHmac('sha256', secret).update(`[${timestamp};${raw}]`, 'utf8').digest('hex');

let sandbox: Sandbox | undefined;
let receiver: HookReceiver | undefined;
afterEach(async () => {
  await sandbox?.close();
  await receiver?.close();
  sandbox = receiver = undefined;
});

async function setUp(answer: (n: number) => Answer = () => 200, hooks: Partial<NonNullable<SandboxOptions['hooks']>> = {}): Promise<{ sandbox: Sandbox; receiver: HookReceiver }> {
  receiver = await startReceiver(answer);
  sandbox = await startSandbox({
    seed: 8,
    hooks: { url: receiver.url, secret: SECRET, events: ['message:send', 'message:received'], retryDelayMs: 5, maxRetryDelayMs: 20, attempts: 4, ...hooks },
  });
  return { sandbox, receiver };
}

describe('web hook deliveries', () => {
  it('POST a visitor message as Crisp does: {website_id, event, data, timestamp}, signed over [timestamp;raw body]', async () => {
    const { sandbox, receiver } = await setUp();
    const before = Date.now();
    const sessionId = await visitorStarts(sandbox, 'Hey :)');
    await sandbox.hooks!.idle();
    const [delivery] = receiver.received;
    expect(receiver.received).toHaveLength(1);
    const body = JSON.parse(delivery!.raw) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['website_id', 'event', 'data', 'timestamp']);
    expect(body).toMatchObject({
      website_id: sandbox.websiteId,
      event: 'message:send',
      data: { website_id: sandbox.websiteId, session_id: sessionId, type: 'text', content: 'Hey :)', from: 'user', origin: 'chat', stamped: true, user: { user_id: sessionId } },
    });
    const { headers } = delivery!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-crisp-hook-origin']).toMatch(/^plugin\//);
    expect(headers['x-delivery-attempt-count']).toBe('1');
    expect(headers['x-delivery-attempt-limit']).toBe('4');
    const timestamp = headers['x-crisp-request-timestamp'] as string;
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(headers['x-crisp-signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(headers['x-crisp-signature']).toBe(independentSignature(SECRET, timestamp, delivery!.raw));
    expect(headers['x-crisp-signature']).not.toBe(independentSignature('another secret', timestamp, delivery!.raw));
  });

  it('posts an operator send made through our CrispClient as message:received', async () => {
    const { sandbox, receiver } = await setUp();
    const sessionId = await visitorStarts(sandbox, 'hello');
    const client = clientFor(sandbox);
    const fingerprint = await client.messages.send(sandbox.websiteId, sessionId, { type: 'text', from: 'operator', origin: 'chat', content: 'On it' });
    await client.close();
    await sandbox.hooks!.idle();
    // Two deliveries may be in flight at once (the default window is 8): no order between them.
    expect(receiver.delivered().map((d) => [d.body.event, d.body.data.content]).sort()).toEqual([
      ['message:received', 'On it'],
      ['message:send', 'hello'],
    ]);
    expect(receiver.delivered().find((d) => d.body.event === 'message:received')!.body.data.fingerprint).toBe(fingerprint);
  });

  it('retries after the receiver fails twice (500, then a dropped connection), re-signing each attempt', async () => {
    const { sandbox, receiver } = await setUp((n) => (n === 1 ? 500 : n === 2 ? 'drop' : 200));
    await visitorStarts(sandbox, 'retry me');
    await sandbox.hooks!.idle();
    expect(receiver.received.map((r) => [r.headers['x-delivery-attempt-count'], r.status])).toEqual([
      ['1', 500],
      ['2', 0],
      ['3', 200],
    ]);
    for (const r of receiver.received) {
      expect(r.headers['x-crisp-signature']).toBe(independentSignature(SECRET, r.headers['x-crisp-request-timestamp'] as string, r.raw));
    }
    // The same delivery every time.
    expect(new Set(receiver.received.map((r) => r.raw)).size).toBe(1);
    expect(sandbox.hooks!.stats()).toEqual({ started: 1, delivered: 1, failed: 0, retries: 2, pending: 0, dropped: 0 });
  });

  it('retries a 429, does not retry a 400, and gives up after the attempt limit — then goes on with the next', async () => {
    const order: Answer[] = [429, 200, 400, 503, 503, 503, 503, 200];
    const reports: { event: string; ok: boolean; attempts: number; status?: number; error?: string }[] = [];
    // Serial, so the receiver's n-th answer goes to a known delivery.
    const { sandbox, receiver } = await setUp((n) => order[n - 1] ?? 200, {
      concurrency: 1,
      onDelivery: ({ event, ok, attempts, status, error }) => reports.push({ event, ok, attempts, status, error }),
    });
    for (const text of ['first', 'second', 'third', 'fourth']) await visitorStarts(sandbox, text);
    await sandbox.hooks!.idle();
    expect(receiver.received.map((r) => [(JSON.parse(r.raw) as { data: { content: string } }).data.content, r.status])).toEqual([
      ['first', 429],
      ['first', 200],
      ['second', 400],
      ['third', 503],
      ['third', 503],
      ['third', 503],
      ['third', 503],
      ['fourth', 200],
    ]);
    expect(reports).toEqual([
      { event: 'message:send', ok: true, attempts: 2, status: 200, error: undefined },
      { event: 'message:send', ok: false, attempts: 1, status: 400, error: 'the receiver answered 400' },
      { event: 'message:send', ok: false, attempts: 4, status: 503, error: 'the receiver answered 503' },
      { event: 'message:send', ok: true, attempts: 1, status: 200, error: undefined },
    ]);
    expect(sandbox.hooks!.stats()).toEqual({ started: 4, delivered: 2, failed: 2, retries: 4, pending: 0, dropped: 0 });
  });

  it('with concurrency 1, keeps each website\'s order while the receiver fails now and then', async () => {
    const { sandbox, receiver } = await setUp((n) => (n % 3 === 0 ? 500 : n % 7 === 0 ? 'drop' : 200), { events: ['message:send'], concurrency: 1 });
    const sessions = await Promise.all(['a', 'b', 'c'].map((name) => visitorStarts(sandbox, `${name}0`)));
    const sent: string[] = sessions.map((_, i) => `${'abc'[i]}0`);
    // Sequential writes so the send order is known; the deliveries run behind them.
    for (let round = 1; round <= 8; round++) {
      for (const [i, session] of sessions.entries()) {
        const text = `${'abc'[i]}${round}`;
        await visitorWrites(sandbox, session, text);
        sent.push(text);
      }
    }
    await sandbox.hooks!.idle();
    expect(receiver.delivered().map((d) => d.body.data.content)).toEqual(sent);
    expect(sandbox.hooks!.stats()).toMatchObject({ delivered: sent.length, failed: 0, pending: 0 });
  });

  it('never holds up the REST handler: a hanging receiver does not delay a send', async () => {
    const { sandbox, receiver } = await setUp(() => 'hang', { timeoutMs: 60_000 });
    const sessionId = await visitorStarts(sandbox, 'first');
    const client = clientFor(sandbox);
    for (let i = 0; i < 5; i++) await client.messages.send(sandbox.websiteId, sessionId, { type: 'text', from: 'operator', origin: 'chat', content: `reply ${i}` });
    await client.close();
    // The sends are answered while every delivery still hangs (for up to 60 s): none has settled.
    expect(sandbox.hooks!.stats()).toMatchObject({ delivered: 0, failed: 0 });
    // All six fit in the default window of 8: all in flight (hanging), none settled.
    await eventually(() => receiver.received.length === 6, 10_000, 'the six deliveries reaching the receiver');
    expect(sandbox.hooks!.stats().pending).toBe(6);
    const stats = await control<{ url: string; pending: number }>(sandbox, 'GET', '/_sandbox/hooks');
    expect(stats.body?.data).toMatchObject({ url: receiver.url, pending: 6 });
  });

  it('sends only the configured events', async () => {
    const { sandbox, receiver } = await setUp(() => 200, { events: ['session:request:initiated'] });
    const sessionId = await visitorStarts(sandbox, 'hello');
    await sandbox.hooks!.idle();
    expect(receiver.delivered().map((d) => [d.body.event, d.body.data.session_id])).toEqual([['session:request:initiated', sessionId]]);
  });

  it('is verified by the official crisp-api client\'s verifyHook', async () => {
    const { sandbox, receiver } = await setUp();
    await visitorStarts(sandbox, 'check me');
    await sandbox.hooks!.idle();
    const official = new Crisp();
    official.setRtmMode('webhooks');
    await official.on('message:send', () => undefined);
    const [delivery] = receiver.delivered();
    const timestamp = Number(delivery!.headers['x-crisp-request-timestamp']);
    // Its loopback binds 500 ms after the first on(); verifyHook says false until then.
    const verified = await eventually(() => official.verifyHook(SECRET, delivery!.body, timestamp, delivery!.headers['x-crisp-signature'] as string), 3_000, 'verifyHook');
    expect(verified).toBe(true);
    expect(official.verifyHook('wrong', delivery!.body, timestamp, delivery!.headers['x-crisp-signature'] as string)).toBe(false);
  });

  it('refuses a URL that is not http(s)', async () => {
    await expect(startSandbox({ hooks: { url: 'ftp://example.test/hooks' } })).rejects.toThrow('the hooks URL must use http or https, got "ftp:"');
    await expect(startSandbox({ hooks: { url: 'not a url' } })).rejects.toThrow('the hooks URL must be an absolute http(s) URL');
  });
});

/** `crisp-mcp sandbox --json …` as a child process: its --json line, the sandbox as the visitor helpers take it, and its stop. */
async function sandboxCli(args: string[], env: NodeJS.ProcessEnv) {
  const started = await spawnSandboxCli(args, env);
  return { info: started, sandbox: { url: started.url, websiteId: started.website_id } as Sandbox, stop: started.stop };
}

describe('crisp-mcp sandbox --hooks URL', () => {
  it('delivers to the URL, signed with CRISP_HOOK_SECRET, and prints the hooks in --json', async () => {
    receiver = await startReceiver();
    const { info, sandbox: fake, stop } = await sandboxCli(['--hooks', receiver.url, '--hook-events', 'message:send'], { CRISP_HOOK_SECRET: SECRET });
    try {
      expect(info.hooks).toEqual({ url: receiver.url, secret: SECRET });
      await visitorStarts(fake, 'from the CLI');
      const [delivery] = await eventually(() => receiver!.delivered().length > 0 && receiver!.delivered(), 5_000, 'a delivery');
      expect(delivery!.body).toMatchObject({ event: 'message:send', data: { content: 'from the CLI' } });
      expect(delivery!.headers['x-crisp-signature']).toBe(independentSignature(SECRET, delivery!.headers['x-crisp-request-timestamp'] as string, delivery!.raw));
    } finally {
      await stop();
    }
  });

  it('--hook-concurrency 2 keeps two deliveries in flight at once, no more', async () => {
    receiver = await startReceiver(() => 'hang');
    const { sandbox: fake, stop } = await sandboxCli(['--hooks', receiver.url, '--hook-events', 'message:send', '--hook-concurrency', '2'], { CRISP_HOOK_SECRET: SECRET });
    try {
      for (let i = 0; i < 5; i++) await visitorStarts(fake, `visitor ${i}`);
      await eventually(() => receiver!.received.length === 2, 10_000, 'two deliveries in flight');
      // The window decides as each event arrives: two started and no more, so no third is coming.
      const stats = await control<{ started: number; pending: number; delivered: number }>(fake, 'GET', '/_sandbox/hooks');
      expect(stats.body?.data).toMatchObject({ started: 2, pending: 5, delivered: 0 });
      expect(receiver.received).toHaveLength(2);
    } finally {
      await stop();
    }
  });

  it('makes up a secret when CRISP_HOOK_SECRET is unset, and prints it', async () => {
    receiver = await startReceiver();
    const { info, stop } = await sandboxCli(['--hooks', receiver.url], {});
    await stop();
    expect(info.hooks?.secret).toMatch(/^[0-9a-f]{48}$/);
  });
});
