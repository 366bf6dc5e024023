// The sandbox counts a caller that hangs up before its answer (`stats().abandoned`, also in GET
// /_sandbox/stats): a client timing out on an answer a `latency-after` burst holds is told apart from
// one that got its answer late. Over real sockets; a drop the sandbox makes itself is not counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { eventually } from '../helpers/events.js';
import { basicAuth, control, crispGet, site } from '../helpers/sandbox-http.js';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 3 });
});
afterAll(() => sandbox.close());

const authorized = () => ({ authorization: basicAuth(sandbox.credentials[0]!), 'x-crisp-tier': sandbox.credentials[0]!.tier });

describe('a caller gone before its answer', () => {
  it('is counted once it hangs up on a held answer; an answer late but received, and a drop, are not', async () => {
    sandbox.resetStats();
    sandbox.faults.burst({ fault: { kind: 'latency-after', delayMs: 50 }, count: 1, method: 'GET', pathIncludes: '/conversations/' });
    expect((await crispGet(sandbox, site(sandbox, '/conversations/1'))).status).toBe(200);
    sandbox.faults.burst({ fault: { kind: 'drop' }, count: 1, method: 'GET', pathIncludes: '/conversations/' });
    await expect(crispGet(sandbox, site(sandbox, '/conversations/1'))).rejects.toThrow();
    expect(sandbox.stats().abandoned).toBe(0);

    sandbox.faults.burst({ fault: { kind: 'latency-after', delayMs: 600_000 }, count: 1, method: 'GET', pathIncludes: '/conversations/' });
    const gaveUp = new AbortController();
    const call = fetch(`${sandbox.url}${site(sandbox, '/conversations/1')}`, { headers: authorized(), signal: gaveUp.signal });
    await eventually(() => sandbox.stats().faults['latency-after'] === 2, 5_000, 'the answer held');
    gaveUp.abort();
    await expect(call).rejects.toThrow();
    await eventually(() => sandbox.stats().abandoned === 1, 5_000, 'the caller counted gone');
    expect(((await control<{ abandoned: number }>(sandbox, 'GET', '/_sandbox/stats')).body!.data).abandoned).toBe(1);
  });
});
