import { describe, expect, it } from 'vitest';
import { FaultInjector, parseFaultSpec, type Fault, type FaultSpec } from '../../src/sandbox/faults.js';

const EMPTY: FaultSpec = { statuses: [], drop: 0, dropAfter: 0, statusAfter: 0, dedupe: true, latencyMs: [0, 0], retryAfterSeconds: 1, seed: 1 };

/** A decision as one comparable string: "-" for none, "429", "drop", ... */
const label = (fault: Fault | undefined): string => (fault ? (fault.status ? String(fault.status) : fault.kind) : '-');
const draw = (injector: FaultInjector, n: number, method = 'GET', path = '/v1/website/w/conversations/1'): string[] =>
  Array.from({ length: n }, () => label(injector.next(method, path)));

describe('parseFaultSpec', () => {
  it.each([
    ['', EMPTY],
    ['   ', EMPTY],
    ['429:10%', { ...EMPTY, statuses: [{ status: 429, probability: 0.1 }] }],
    ['429:0.25', { ...EMPTY, statuses: [{ status: 429, probability: 0.25 }] }],
    ['420:1%,503:2%', { ...EMPTY, statuses: [{ status: 420, probability: 0.01 }, { status: 503, probability: 0.02 }] }],
    ['5xx:50%,500:50%', { ...EMPTY, statuses: [{ status: '5xx', probability: 0.5 }, { status: 500, probability: 0.5 }] }],
    ['latency:50ms', { ...EMPTY, latencyMs: [50, 50] }],
    ['latency:50', { ...EMPTY, latencyMs: [50, 50] }],
    ['latency:20-80ms', { ...EMPTY, latencyMs: [20, 80] }],
    ['drop:1%,drop-after:0.02', { ...EMPTY, drop: 0.01, dropAfter: 0.02 }],
    ['5xx-after:3%,dedupe:off', { ...EMPTY, statusAfter: 0.03, dedupe: false }],
    ['dedupe:on', EMPTY],
    ['retry-after:3,seed:7', { ...EMPTY, retryAfterSeconds: 3, seed: 7 }],
    [' 429 : 10% , seed : 3 ', { ...EMPTY, statuses: [{ status: 429, probability: 0.1 }], seed: 3 }],
    [
      '429:10%,5xx:5%,latency:20-80ms,drop:1%,seed:7',
      { ...EMPTY, statuses: [{ status: 429, probability: 0.1 }, { status: '5xx', probability: 0.05 }], latencyMs: [20, 80], drop: 0.01, seed: 7 },
    ],
  ] as [string, FaultSpec][])('parses %j', (text, expected) => {
    expect(parseFaultSpec(text)).toEqual(expected);
  });

  it('treats undefined as no faults', () => {
    expect(parseFaultSpec(undefined)).toEqual(EMPTY);
  });

  it.each([
    ['bogus:1', /unknown fault "bogus" in "bogus:1"/],
    ['404:10%', /unknown fault "404"/],
    ['429', /fault "429" needs a value/],
    ['drop:', /fault "drop:" needs a value/],
    // The kind is checked first, and the example fits the kind.
    ['bogus', /unknown fault "bogus" in "bogus"; use 429/],
    ['latency', /fault "latency" needs a value, e\.g\. "latency:20-80ms"/],
    ['seed', /e\.g\. "seed:7"/],
    ['429:abc', /fault "429:abc": expected a probability/],
    ['429:-5%', /fault "429:-5%": expected a probability/],
    ['429:150%', /fault "429:150%": probability must be between 0 and 100%/],
    ['drop:1.5', /fault "drop:1.5": probability must be between 0 and 100%/],
    ['latency:fast', /fault "latency:fast": expected a latency/],
    ['latency:80-20ms', /fault "latency:80-20ms": range must be low-high/],
    ['seed:x', /fault "seed:x": expected a whole number/],
    ['retry-after:1.5', /fault "retry-after:1.5": expected a whole number/],
    ['429:10%,bogus:2', /"bogus:2"/],
    ['dedupe:maybe', /fault "dedupe:maybe": expected on or off/],
  ])('rejects %j, naming the bad item', (text, message) => {
    expect(() => parseFaultSpec(text)).toThrow(message);
  });

  it.each([
    ['429:60%,5xx:50%', '110%'],
    ['429:50%,drop:30%,drop-after:30%', '110%'],
    ['500:100%,drop:1%', '101%'],
  ])('rejects %j whose probabilities add up to over 100%%', (text, total) => {
    expect(() => parseFaultSpec(text)).toThrow(`fault probabilities add up to ${total}, more than 100%`);
  });

  it('accepts probabilities adding up to exactly 100%', () => {
    expect(parseFaultSpec('429:50%,503:50%').statuses).toHaveLength(2);
  });
});

describe('FaultInjector', () => {
  it('is inactive and decides nothing without a spec', () => {
    const injector = new FaultInjector();
    expect(injector.active).toBe(false);
    expect(injector.latency()).toBe(0);
    expect(draw(injector, 50).every((d) => d === '-')).toBe(true);
  });

  it('accepts a spec as text or as a parsed object', () => {
    const text = '429:30%,drop:10%,seed:9';
    expect(draw(new FaultInjector(text), 200)).toEqual(draw(new FaultInjector(parseFaultSpec(text)), 200));
  });

  it('makes the same decisions for the same seed, and different ones for another seed', () => {
    const spec = '429:20%,5xx:20%,drop:10%,drop-after:10%,latency:5-50ms,seed:7';
    const run = (text: string) => {
      const injector = new FaultInjector(text);
      return Array.from({ length: 300 }, () => `${injector.latency()}/${label(injector.next('POST', '/x'))}`);
    };
    expect(run(spec)).toEqual(run(spec));
    expect(run(spec.replace('seed:7', 'seed:8'))).not.toEqual(run(spec));
  });

  it('restarts its sequence when configured again with the same spec', () => {
    const injector = new FaultInjector('429:40%,seed:5');
    const first = draw(injector, 100);
    injector.configure('429:40%,seed:5');
    expect(draw(injector, 100)).toEqual(first);
  });

  it('throws on an invalid spec given to the constructor or to configure', () => {
    expect(() => new FaultInjector('nope:1')).toThrow(/"nope:1"/);
    expect(() => new FaultInjector().configure('429:abc')).toThrow(/"429:abc"/);
  });

  it('injects faults at roughly the configured rates', () => {
    const decisions = draw(new FaultInjector('429:30%,5xx:15%,drop:5%,drop-after:5%,seed:3'), 4000);
    const share = (what: string[]) => decisions.filter((d) => what.includes(d)).length / decisions.length;
    expect(share(['429'])).toBeGreaterThan(0.26);
    expect(share(['429'])).toBeLessThan(0.34);
    expect(share(['500', '502', '503'])).toBeGreaterThan(0.12);
    expect(share(['500', '502', '503'])).toBeLessThan(0.18);
    expect(share(['drop'])).toBeGreaterThan(0.03);
    expect(share(['drop-after'])).toBeGreaterThan(0.03);
    expect(share(['-'])).toBeGreaterThan(0.4);
    // "5xx" picks each of 500, 502 and 503.
    for (const status of ['500', '502', '503']) expect(decisions).toContain(status);
  });

  it('attaches the configured Retry-After to status faults', () => {
    const fault = new FaultInjector('429:100%,retry-after:4').next('GET', '/');
    expect(fault).toEqual({ kind: 'status', status: 429, retryAfterSeconds: 4 });
  });

  it('draws latency within the configured range', () => {
    const ranged = new FaultInjector('latency:20-80ms,seed:2');
    const values = Array.from({ length: 500 }, () => ranged.latency());
    expect(Math.min(...values)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...values)).toBeLessThanOrEqual(80);
    expect(new Set(values).size).toBeGreaterThan(20);
    expect(new FaultInjector('latency:50ms').latency()).toBe(50);
    expect(new FaultInjector('latency:50ms').active).toBe(true);
  });

  describe('bursts', () => {
    const f429: Fault = { kind: 'status', status: 429, retryAfterSeconds: 0 };
    const f503: Fault = { kind: 'status', status: 503 };

    it('are consumed in the order they were queued, then nothing', () => {
      const injector = new FaultInjector();
      injector.burst({ fault: f429, count: 2 });
      injector.burst({ fault: f503, count: 1 });
      injector.burst({ fault: { kind: 'drop' }, count: 1 });
      expect(injector.active).toBe(true);
      expect(draw(injector, 6)).toEqual(['429', '429', '503', 'drop', '-', '-']);
      expect(injector.active).toBe(false);
    });

    it('return the fault they were given', () => {
      const injector = new FaultInjector();
      injector.burst({ fault: f429, count: 1 });
      expect(injector.next('GET', '/')).toEqual(f429);
    });

    it('come before the random faults of the spec', () => {
      const injector = new FaultInjector('500:100%');
      injector.burst({ fault: f429, count: 1 });
      expect(draw(injector, 3)).toEqual(['429', '500', '500']);
    });

    it('only hit requests with the given method, leaving others untouched', () => {
      const injector = new FaultInjector();
      injector.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST' });
      expect(draw(injector, 3, 'GET')).toEqual(['-', '-', '-']);
      expect(draw(injector, 2, 'POST')).toEqual(['drop-after', '-']);
    });

    it('only hit paths containing pathIncludes, and a later burst can match first', () => {
      const injector = new FaultInjector();
      injector.burst({ fault: f503, count: 1, pathIncludes: '/message' });
      injector.burst({ fault: f429, count: 1, method: 'GET' });
      expect(label(injector.next('GET', '/v1/website/w/conversations/1'))).toBe('429');
      expect(label(injector.next('GET', '/v1/website/w/conversations/1'))).toBe('-');
      expect(label(injector.next('POST', '/v1/website/w/conversation/s/message'))).toBe('503');
      expect(label(injector.next('POST', '/v1/website/w/conversation/s/message'))).toBe('-');
    });

    it('do not change the caller’s burst object', () => {
      const injector = new FaultInjector();
      const burst = { fault: f429, count: 2 };
      injector.burst(burst);
      draw(injector, 2);
      expect(burst.count).toBe(2);
    });

    it.each([0, -1, 1.5, Number.NaN])('reject a count of %s', (count) => {
      expect(() => new FaultInjector().burst({ fault: f429, count })).toThrow(/count/);
    });

    it('are dropped, with the spec, by clear()', () => {
      const injector = new FaultInjector('429:100%');
      injector.burst({ fault: f503, count: 5 });
      injector.clear();
      expect(injector.active).toBe(false);
      expect(draw(injector, 5)).toEqual(['-', '-', '-', '-', '-']);
    });
  });
});
