// Seeded fault injection for the sandbox's REST routes, so a test or a demo can reproduce a bad
// day at Crisp: rate limits, server errors, latency, and answers lost after the request was carried
// out (the case that makes a blind retry post a message twice).
//
// Spec: comma-separated `kind:value` items, e.g. "429:10%,5xx:5%,latency:20-80ms,drop:1%,seed:7".
//   429 | 420 | 500 | 502 | 503 | 5xx : probability of that answer (5xx picks 500/502/503)
//   5xx-after   : probability the request is handled, then answered 500/502/503 all the same
//   drop        : probability the connection is destroyed before the request is handled
//   drop-after  : probability the request is handled, then the connection destroyed unanswered
//   dedupe      : on (default) or off; off posts a message again when its fingerprint is already in
//                 the conversation (Crisp does not document dropping a repeated fingerprint)
//   latency     : added delay, "80ms" or a range "20-80ms"
//   retry-after : seconds sent in Retry-After with 429/420 (default 1)
//   seed        : the random seed (default 1)
import { createRng } from './seed.js';

/**
 * `status`: answered with an error instead; `status-after`: handled, then answered with an error all
 * the same; `latency`: held `delayMs` before it is handled; `latency-after`: handled at once, its
 * answer held `delayMs` (a caller that gives up first never learns the write was made).
 */
export type FaultKind = 'status' | 'status-after' | 'drop' | 'drop-after' | 'latency' | 'latency-after';

export interface Fault {
  kind: FaultKind;
  status?: number;
  retryAfterSeconds?: number;
  /** How long `latency` and `latency-after` hold the request, in ms. */
  delayMs?: number;
}

export interface FaultSpec {
  statuses: { status: number | '5xx'; probability: number }[];
  drop: number;
  dropAfter: number;
  statusAfter: number;
  /** Whether a message whose fingerprint is already in the conversation is dropped (true) or posted again. */
  dedupe: boolean;
  latencyMs: [number, number];
  retryAfterSeconds: number;
  seed: number;
}

/** Faults for the next `count` requests of one route (`method` and `pathIncludes`), or of any. */
export interface Burst {
  fault: Fault;
  count: number;
  /** Only requests with this method are hit (default: any). */
  method?: string;
  /** Only paths containing this text are hit (default: any). */
  pathIncludes?: string;
}

const EMPTY: FaultSpec = { statuses: [], drop: 0, dropAfter: 0, statusAfter: 0, dedupe: true, latencyMs: [0, 0], retryAfterSeconds: 1, seed: 1 };

const FAULT_KINDS = '429, 420, 5xx, 500, 502, 503, 5xx-after, drop, drop-after, dedupe, latency, retry-after or seed';
const KNOWN_FAULT = /^(420|429|5\d\d|5xx|5xx-after|drop|drop-after|dedupe|latency|retry-after|seed)$/;
/** What a value looks like for the kinds that take no percentage. */
const EXAMPLE_VALUE: Record<string, string> = { latency: '20-80ms', seed: '7', 'retry-after': '1', dedupe: 'on' };

export function parseFaultSpec(text: string | undefined): FaultSpec {
  const spec: FaultSpec = { ...EMPTY, statuses: [] };
  if (!text || !text.trim()) return spec;
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [rawKind, rawValue] = item.split(':', 2).map((s) => s?.trim() ?? '');
    const kind = rawKind ?? '';
    const value = rawValue ?? '';
    if (!KNOWN_FAULT.test(kind)) throw new Error(`unknown fault "${kind}" in "${item}"; use ${FAULT_KINDS}`);
    if (!value) throw new Error(`fault "${item}" needs a value, e.g. "${kind}:${EXAMPLE_VALUE[kind] ?? '10%'}"`);
    if (kind === 'latency') spec.latencyMs = parseLatency(value, item);
    else if (kind === 'seed') spec.seed = parseWhole(value, item);
    else if (kind === 'retry-after') spec.retryAfterSeconds = parseWhole(value, item);
    else if (kind === 'drop') spec.drop = parseProbability(value, item);
    else if (kind === 'drop-after') spec.dropAfter = parseProbability(value, item);
    else if (kind === '5xx-after') spec.statusAfter = parseProbability(value, item);
    else if (kind === 'dedupe') spec.dedupe = parseSwitch(value, item);
    else if (kind === '5xx') spec.statuses.push({ status: '5xx', probability: parseProbability(value, item) });
    else if (/^(420|429|5\d\d)$/.test(kind)) spec.statuses.push({ status: Number(kind), probability: parseProbability(value, item) });
    else throw new Error(`unknown fault "${kind}" in "${item}"; use ${FAULT_KINDS}`);
  }
  const total = spec.statuses.reduce((sum, s) => sum + s.probability, 0) + spec.drop + spec.dropAfter + spec.statusAfter;
  if (total > 1) throw new Error(`fault probabilities add up to ${Math.round(total * 100)}%, more than 100%`);
  return spec;
}

function parseProbability(value: string, item: string): number {
  const match = /^(\d+(?:\.\d+)?)(%)?$/.exec(value);
  if (!match) throw new Error(`fault "${item}": expected a probability like 10% or 0.1`);
  const n = match[2] ? Number(match[1]) / 100 : Number(match[1]);
  if (n < 0 || n > 1) throw new Error(`fault "${item}": probability must be between 0 and 100%`);
  return n;
}

function parseSwitch(value: string, item: string): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  throw new Error(`fault "${item}": expected on or off`);
}

function parseLatency(value: string, item: string): [number, number] {
  const match = /^(\d+)(?:-(\d+))?(ms)?$/.exec(value);
  if (!match) throw new Error(`fault "${item}": expected a latency like 50ms or 20-80ms`);
  const low = Number(match[1]);
  const high = match[2] ? Number(match[2]) : low;
  if (high < low) throw new Error(`fault "${item}": range must be low-high`);
  return [low, high];
}

function parseWhole(value: string, item: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`fault "${item}": expected a whole number`);
  return Number(value);
}

/** Decides, request by request, what goes wrong. Bursts come first, in order; then the dice. */
export class FaultInjector {
  #spec: FaultSpec;
  #rng: () => number;
  #bursts: Burst[] = [];

  constructor(spec: FaultSpec | string = EMPTY) {
    this.#spec = typeof spec === 'string' ? parseFaultSpec(spec) : spec;
    this.#rng = createRng(this.#spec.seed);
  }

  configure(spec: FaultSpec | string): void {
    this.#spec = typeof spec === 'string' ? parseFaultSpec(spec) : spec;
    this.#rng = createRng(this.#spec.seed);
  }

  /** Queues `count` faults for the next matching requests. */
  burst(burst: Burst): void {
    if (!Number.isInteger(burst.count) || burst.count < 1) throw new Error('burst count must be a whole number ≥ 1');
    const { kind, delayMs } = burst.fault;
    if ((kind === 'latency' || kind === 'latency-after') && !(Number.isInteger(delayMs) && delayMs! > 0)) throw new Error(`a ${kind} burst needs delayMs, a whole number of ms ≥ 1`);
    this.#bursts.push({ ...burst });
  }

  clear(): void {
    this.#bursts = [];
    this.configure(EMPTY);
  }

  get active(): boolean {
    const s = this.#spec;
    return this.#bursts.length > 0 || s.statuses.length > 0 || s.drop > 0 || s.dropAfter > 0 || s.statusAfter > 0 || !s.dedupe || s.latencyMs[1] > 0;
  }

  /** Whether a repeated message fingerprint is dropped (Crisp's behaviour as assumed) or posted again. */
  get dedupe(): boolean {
    return this.#spec.dedupe;
  }

  latency(): number {
    const [low, high] = this.#spec.latencyMs;
    return high === 0 ? 0 : low + Math.floor(this.#rng() * (high - low + 1));
  }

  next(method: string, path: string): Fault | undefined {
    const index = this.#bursts.findIndex((b) => (!b.method || b.method === method) && (!b.pathIncludes || path.includes(b.pathIncludes)));
    if (index !== -1) {
      const burst = this.#bursts[index]!;
      if (--burst.count === 0) this.#bursts.splice(index, 1);
      return burst.fault;
    }
    const spec = this.#spec;
    if (spec.statuses.length === 0 && spec.drop === 0 && spec.dropAfter === 0 && spec.statusAfter === 0) return undefined;
    let roll = this.#rng();
    for (const { status, probability } of spec.statuses) {
      if ((roll -= probability) < 0) {
        const chosen = status === '5xx' ? [500, 502, 503][Math.floor(this.#rng() * 3)]! : status;
        return { kind: 'status', status: chosen, retryAfterSeconds: spec.retryAfterSeconds };
      }
    }
    if ((roll -= spec.drop) < 0) return { kind: 'drop' };
    if ((roll -= spec.dropAfter) < 0) return { kind: 'drop-after' };
    if ((roll -= spec.statusAfter) < 0) return { kind: 'status-after', status: [500, 502, 503][Math.floor(this.#rng() * 3)]! };
    return undefined;
  }
}
