// The ONE turn (src/engine/turn.ts) with nothing running: advanceTurn as a table of
// (position, input) → (actions, effect, position), and runTurn through a port that records what
// leaves it — the limits (webhook chain, allow-list) hold whatever port carries the turn out.
import { describe, expect, it } from 'vitest';
import { webhookIdempotencyKey } from '../../src/engine/actions.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { MAX_WEBHOOKS_PER_TURN, WEBHOOK_CHAIN_HANDOFF } from '../../src/engine/limits.js';
import type { ActionRef, EffectPort, PlainAction } from '../../src/engine/port.js';
import { advanceTurn, allActions, runTurn, type Advance } from '../../src/engine/turn.js';
import { initialPosition } from '../../src/scenario/index.js';

const ORIGIN = 'https://hooks.example';
const CHAIN = MAX_WEBHOOKS_PER_TURN + 2;

const chain: Record<string, unknown> = {};
for (let i = 1; i <= CHAIN; i++) {
  chain[`w${i}`] = { type: 'webhook', url: `${ORIGIN}/step`, body: { n: String(i) }, map: { n: 'n' }, next: `m${i}`, on_error: 'failed' };
  chain[`m${i}`] = { type: 'message', text: 'Call {{n}} done', next: i < CHAIN ? `w${i + 1}` : 'route' };
}
const loaded = scenarioLibraryFromTexts([
  {
    file: 'turn.json',
    source: JSON.stringify({
      name: 'turn',
      version: 1,
      start: 'route',
      webhook_origins: [ORIGIN],
      blocks: {
        route: { type: 'match', rules: [{ contains: 'chain', next: 'w1' }, { contains: 'docs', next: 'docs' }], otherwise: 'hello' },
        hello: { type: 'message', text: 'Say chain or docs.', next: 'route' },
        ...chain,
        failed: { type: 'handoff', text: 'That did not work.', reason: 'webhook_failed' },
        docs: { type: 'articles', text: 'These may help:', limit: 2, next: 'route', none: 'no_docs' },
        no_docs: { type: 'message', text: 'No article answers that.', next: 'route' },
      },
    }),
  },
]).require('turn');
const program = loaded.program;

/** A port that records what leaves it; its webhook answers `{n}` back, or fails when told. */
class RecordingPort implements EffectPort {
  readonly carried: Array<{ action: PlainAction; ref: ActionRef }> = [];
  readonly calls: Array<{ body: unknown; key: string }> = [];
  constructor(private readonly failWebhooks = false) {}
  async carryOut(action: PlainAction, ref: ActionRef) {
    this.carried.push({ action, ref });
    return { step: ref.step, type: action.type, status: 'done' as const, detail: '' };
  }
  async callWebhook(action: { body: Record<string, unknown> }, key: string) {
    this.calls.push({ body: action.body, key });
    return this.failWebhooks ? { url: `${ORIGIN}/step`, status: 500, ok: false, data: null } : { url: `${ORIGIN}/step`, status: 200, ok: true, data: { n: action.body.n } };
  }
}

const texts = (actions: readonly PlainAction[]) => actions.map((a) => (a.type === 'send_message' ? a.message.text : a.type === 'handoff' ? `handoff:${a.reason}` : a.type));
const chainStart = (): Advance => advanceTurn(program, initialPosition(program), { type: 'event', event: { type: 'start', text: 'chain please', fingerprint: 1 } });

describe('advanceTurn', () => {
  it('stops at the effect: the actions before it to carry out, the webhook to perform, the position waiting on it', () => {
    const first = chainStart();
    expect(first.actions).toEqual([]);
    expect(first.effect).toMatchObject({ type: 'webhook', url: `${ORIGIN}/step`, body: { n: '1' } });
    expect(first.position).toMatchObject({ block: 'w1', waiting: true });
    expect(allActions(first)).toEqual([first.effect]);
  });

  it(`applies the ${MAX_WEBHOOKS_PER_TURN}th answer, then hands off instead of calling one more webhook`, () => {
    let at = chainStart();
    for (let calls = 1; calls < MAX_WEBHOOKS_PER_TURN; calls++) {
      at = advanceTurn(program, at.position, { type: 'answer', answer: { ok: true, status: 200, data: { n: String(calls) } }, calls });
      expect(at.effect?.type).toBe('webhook');
    }
    const last = advanceTurn(program, at.position, { type: 'answer', answer: { ok: true, status: 200, data: { n: '5' } }, calls: MAX_WEBHOOKS_PER_TURN });
    expect(texts(last.actions)).toEqual(['Call 5 done', 'handoff:webhook_chain']);
    expect(last.actions.at(-1)).toEqual(WEBHOOK_CHAIN_HANDOFF);
    expect(last.effect).toBeNull();
    expect(last.position).toMatchObject({ handed_off: true, waiting: false });
  });

  it("feeds a helpdesk search's articles to the block that waits on them, and a failed search to its none path", () => {
    const search = advanceTurn(program, initialPosition(program), { type: 'event', event: { type: 'start', text: 'docs on refunds', fingerprint: 2 } });
    expect(search.effect).toMatchObject({ type: 'search_articles', query: 'docs on refunds', limit: 2 });
    const found = advanceTurn(program, search.position, { type: 'answer', answer: { ok: true, status: null, data: { articles: [{ title: 'Refund policy', url: 'https://help.example/refunds' }] } }, calls: 1 });
    expect(found.actions).toEqual([{ type: 'send_message', message: expect.objectContaining({ type: 'picker', text: 'These may help:' }) }]);
    const failed = advanceTurn(program, search.position, { type: 'answer', answer: { ok: false, status: null, data: null }, calls: 1 });
    expect(texts(failed.actions)).toEqual(['No article answers that.']);
  });
});

describe('runTurn', () => {
  it('carries the actions out in order, each named by its step, and every webhook with a key derived from the turn', async () => {
    const port = new RecordingPort();
    const run = await runTurn(loaded, chainStart(), port, { turn: 'turn-1', context: () => ({ now: 0 }) });
    expect(port.calls.map((c) => c.key)).toEqual(Array.from({ length: MAX_WEBHOOKS_PER_TURN }, (_, i) => webhookIdempotencyKey('turn-1', `w${i + 1}`)));
    expect(port.carried.map((c) => c.ref.step)).toEqual(['w1.0', 'w2.0', 'w3.0', 'w4.0', 'w5.0', 'w5.1']);
    expect(texts(port.carried.map((c) => c.action))).toEqual(['Call 1 done', 'Call 2 done', 'Call 3 done', 'Call 4 done', 'Call 5 done', 'handoff:webhook_chain']);
    expect(run.outcomes.every((o) => o.follow_up)).toBe(true);
    expect(run.answers).toHaveLength(MAX_WEBHOOKS_PER_TURN);
    expect(run.position).toMatchObject({ handed_off: true });
  });

  it('never hands the port a webhook the scenario does not name: the call counts as failed and the scenario takes its error path', async () => {
    const port = new RecordingPort();
    const offList: Advance = { ...chainStart(), effect: { type: 'webhook', block: 'w1', method: 'POST', url: 'https://elsewhere.example/x', body: {} } };
    const run = await runTurn(loaded, offList, port, { turn: 'turn-2', context: () => ({}) });
    expect(port.calls).toEqual([]);
    expect(run.answers).toEqual([{ url: 'https://elsewhere.example/x', status: null, ok: false, data: null, error: "not one of the scenario's webhooks: not called" }]);
    expect(texts(port.carried.map((c) => c.action))).toEqual(['That did not work.', 'handoff:webhook_failed']);
  });

  it('a port without a helpdesk: the search fails with a reason and the articles block takes its none path', async () => {
    const port = new RecordingPort();
    const first = advanceTurn(program, initialPosition(program), { type: 'event', event: { type: 'start', text: 'docs please', fingerprint: 3 } });
    const run = await runTurn(loaded, first, port, { turn: 'turn-3', context: () => ({}) });
    expect(run.answers).toEqual([expect.objectContaining({ url: 'helpdesk:search', ok: false, error: expect.stringContaining('no Crisp helpdesk here') })]);
    expect(texts(port.carried.map((c) => c.action))).toEqual(['No article answers that.']);
  });
});
