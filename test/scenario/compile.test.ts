// The linear form: a flat instruction array with integer edges, laid out depth-first from start,
// plus a hash of the canonical source that ignores layout, key order and comments.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compile, duplicateKeys, IMPLICIT_END, programToJson, summarize, type CompileOptions, type Problem, type Program } from '../../src/scenario/compile.js';
import { Scenario, type Block } from '../../src/scenario/schema.js';
import { normalize } from '../../src/scenario/fold.js';
// The sandbox's seeded stream (mulberry32), for generated scenarios that are the same on every run.
import { createRng } from '../../src/sandbox/seed.js';

function program(source: unknown, options?: CompileOptions): Program {
  const result = compile(source, options);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.program;
}

const MENU = {
  name: 'menu',
  version: 3,
  start: 'hello',
  blocks: {
    bye: { type: 'end', text: 'Bye', resolve: true },
    hello: { type: 'message', text: 'Hi!', next: 'menu' },
    menu: {
      type: 'choice',
      text: 'What do you need?',
      choices: [
        { label: 'Billing', value: 'billing', next: 'billing' },
        { label: 'Nothing', next: 'bye' },
      ],
      fallback: 'route',
    },
    route: { type: 'match', rules: [{ contains: ['invoice', 'bill'], next: 'billing' }], otherwise: 'human' },
    billing: { type: 'message', text: 'Invoices are under Settings.', next: 'bye' },
    human: { type: 'handoff', text: 'One moment.', reason: 'menu' },
  },
};

/** Every kind of block, field and value the canonical form has to write: URLs zod trims, maps with numeric keys, escapes, unreachable blocks. */
const KITCHEN_SINK = {
  $schema: './scenario.schema.json',
  description: 'every kind of block, field and value the canonical form has to write',
  version: '2.1',
  name: 'kitchen-sink',
  start: 'hello',
  webhook_origins: ['https://booking.example.com'],
  migrations: { old_b: 'book', '10': 'hello', '9': 'bye', a_old: 'menu' },
  blocks: {
    orphan_b: { type: 'end', text: 'never reached' },
    hello: { next: 'menu', text: 'Héllo {{name}} — "quoted" \\ back\tslash\n 😀 \u2028 \u0001', type: 'message', comment: 'greeting' },
    menu: {
      type: 'choice',
      text: 'Pick one',
      display: 'carousel',
      choices: [
        { label: 'Book', value: 'book', next: 'book', description: 'a visit', image: '  https://cdn.example.com/book.png\n' },
        { next: 'card', label: 'Cards' },
        { label: 'Help', next: 'route' },
      ],
      fallback: 'route',
      save: 'pick',
    },
    card: {
      type: 'message',
      text: 'Pick a card',
      cards: [{ url: 'https://example.com/a', title: 'A', button: 'Open A', description: 'first' }, { title: 'B' }],
      next: 'file',
    },
    file: { type: 'message', file: { mime: 'application/pdf', name: 'terms.pdf', url: ' https://example.com/terms.pdf ' }, next: 'links' },
    links: { type: 'message', text: 'Links', buttons: [{ label: 'Docs', url: 'https://example.com/docs' }] },
    route: {
      type: 'match',
      rules: [
        { contains: ['Invoice', ' bill  me '], next: 'email' },
        { exact: 'Yes', next: 'hours' },
        { regex: '^hi\\b', flags: 'm', next: 'bye' },
        { next: 'bye', regex: 'bye' },
      ],
      otherwise: 'human',
      save: 'said',
    },
    email: { type: 'ask', text: 'Your email?', validation: 'email', invalid_text: 'Not an email, {{name}}', save: { people_profile: 'email', var: 'email' }, next: 'code' },
    code: { save: { conversation_data: 'code' }, next: 'hours', validation: { flags: 'i', regex: '^[a-z]{3}$' }, text: 'Code?', type: 'ask' },
    hours: {
      type: 'condition',
      when: [
        { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon', 'tue'], from: '09:00', to: '18:00' }, { to: '24:00', from: '10:00', days: ['sat'] }], closed_dates: ['2026-12-25'] } },
        { var: 'pick', equals: 'book' },
        { exists: true, var: 'email' },
        { var: 'n', gt: 1.5 },
        { operators_available: true },
      ],
      then: 'set',
      else: 'human',
    },
    set: {
      type: 'set',
      vars: { z: 1, a: 'v {{name}}', n: -0.5, t: true, nil: null },
      conversation_data: { '10': 'x', '9': 'y', 'k-1': 'z' },
      people_data: { plan: 'pro', odd: 'lone \ud800 surrogate, pair \ud83d\ude00' },
      segments: { remove: ['old'], add: ['vip'] },
      next: 'book',
    },
    book: {
      type: 'webhook',
      url: ' https://booking.example.com/book ',
      method: 'POST',
      body: { when: '{{date}}', who: '{{name}}', '1': 2 },
      map: { ref: 'data.id', name: 'data.who' },
      next: 'bye',
      on_error: 'human',
      comment: 'the booking system',
    },
    human: { type: 'handoff', text: 'One moment', assign: { email: 'team@example.com' }, note: 'wants {{pick}}', reason: 'asked' },
    bye: { resolve: true, type: 'end', text: 'Bye {{name}}' },
    orphan_a: { type: 'message', text: 'also never reached', next: 'bye' },
  },
};

describe('linearize', () => {
  it('lays blocks out depth-first from start, the first way on right after each block', () => {
    const p = program(MENU);
    expect(p.code.map((i) => `${i.op}:${i.block}`)).toEqual(['say:hello', 'choice:menu', 'say:billing', 'end:bye', 'match:route', 'handoff:human']);
    expect(p.start).toBe(0);
    expect(Object.fromEntries(p.index)).toEqual({ hello: 0, menu: 1, billing: 2, bye: 3, route: 4, human: 5 });
  });

  it('turns every edge into an integer index into the array', () => {
    const [hello, menu, billing, bye, route, human] = program(MENU).code;
    expect(hello).toEqual({ op: 'say', block: 'hello', next: 1, message: { type: 'text', text: 'Hi!' } });
    expect(menu).toMatchObject({
      op: 'choice',
      targets: [2, 3],
      fallback: 4,
      answers: ['billing', 'billing', 'nothing', 'nothing'],
      values: ['billing', 'Nothing'],
      message: { type: 'picker', id: 'menu', text: 'What do you need?', choices: [{ value: 'billing', label: 'Billing' }, { value: 'Nothing', label: 'Nothing' }] },
    });
    expect(billing).toMatchObject({ op: 'say', next: 3 });
    expect(bye).toEqual({ op: 'end', block: 'bye', message: { type: 'text', text: 'Bye' }, resolve: true });
    expect(route).toMatchObject({ op: 'match', rules: [{ kind: 'contains', words: ['invoice', 'bill'], next: 2 }], otherwise: 5 });
    expect(human).toMatchObject({ op: 'handoff', reason: 'menu', assign: null, unassign: false });
  });

  it('adds one shared $end instruction for messages without next', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi {{who}}', next: 'b' }, b: { type: 'message', text: 'Bye' } } });
    expect(p.code.map((i) => i.block)).toEqual(['a', 'b', IMPLICIT_END]);
    expect(p.code[1]).toMatchObject({ op: 'say', next: 2 });
    expect(p.code[2]).toEqual({ op: 'end', block: IMPLICIT_END, message: null, resolve: false });
    expect(p.code[0]).toMatchObject({ message: { type: 'text', text: 'Hi {{who}}' } });
    expect(p.blocks).toBe(2);
  });

  it('lays out unreachable blocks after the rest, and resolves their edges too', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { z: { type: 'message', text: 'orphan', next: 'a' }, a: { type: 'end' } } });
    expect(p.code.map((i) => i.block)).toEqual(['a', 'z']);
    expect(p.code[1]).toMatchObject({ next: 0 });
  });

  it('compiles a 100 000-block chain without recursion', () => {
    const blocks: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) blocks[`b${i}`] = i % 2 ? { type: 'message', text: `m${i}`, next: `b${i + 1}` } : { type: 'match', rules: [{ exact: 'back', next: 'b0' }], otherwise: `b${i + 1}` };
    blocks.b100000 = { type: 'end' };
    const p = program({ name: 'big', version: 1, start: 'b0', blocks });
    expect(p.code).toHaveLength(100_001);
    expect(p.code[99_999]).toMatchObject({ block: 'b99999', next: 100_000 });
  });
});

describe('hash', () => {
  const hash = (source: unknown) => program(source).hash;

  it('is a sha-256, stable across compiles', () => {
    expect(hash(MENU)).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(MENU)).toBe(hash(structuredClone(MENU)));
  });

  it('ignores key order, block order, comments, description and $schema', () => {
    const shuffled = {
      $schema: './scenario.schema.json',
      description: 'changed words',
      blocks: Object.fromEntries(
        Object.entries(MENU.blocks)
          .reverse()
          .map(([id, b]) => [id, Object.fromEntries(Object.entries({ comment: `note on ${id}`, ...b }).reverse())]),
      ),
      start: MENU.start,
      version: MENU.version,
      name: MENU.name,
    };
    expect(hash(shuffled)).toBe(hash(MENU));
  });

  it('keeps the values it had when the canonical JSON was built whole (pinned)', () => {
    expect(hash(MENU)).toBe('e854155db83578a8f9e14141b9113b25e7f04a166d740284e5858dba3f9f14a0');
    expect(hash(KITCHEN_SINK)).toBe('ef278552be2c5e94240a01e17047df7879bad07c9dfdab8c36736392febe56c4');
  });

  it('is the sha-256 of the reference canonical JSON, for random scenarios', () => {
    let compiled = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const source = randomScenario(seed);
      const result = compile(source);
      if (!result.ok) continue;
      compiled++;
      expect(result.program.hash, `seed ${seed}`).toBe(referenceHash(source, result.program, result.warnings));
    }
    expect(compiled).toBeGreaterThan(300);
  });

  it('streams a big canonical form in chunks to the same hash', () => {
    const blocks: Record<string, unknown> = {};
    for (let i = 0; i < 3_000; i++) blocks[`b${i}`] = { type: 'message', text: `${i} é😀"\\\n\ud800 `.repeat(1 + (i % 700)), next: `b${i + 1}` };
    blocks.b3000 = { type: 'set', vars: { long: 'x😀é'.repeat(20_000), short: 1 }, next: 'end' };
    blocks.end = { type: 'end' };
    const source = { name: 'big', version: 1, start: 'b0', blocks };
    const result = compile(source);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.program.hash).toBe(referenceHash(source, result.program, result.warnings));
  });

  it('changes with anything the runner sees', () => {
    const base = hash(MENU);
    const edit = (f: (s: typeof MENU) => void) => {
      const copy = structuredClone(MENU);
      f(copy);
      return hash(copy);
    };
    expect(edit((s) => (s.blocks.hello.text = 'Hello!'))).not.toBe(base);
    expect(edit((s) => (s.blocks.menu.choices[1]!.next = 'human'))).not.toBe(base);
    expect(edit((s) => (s.version = 4))).not.toBe(base);
    expect(edit((s) => (s.blocks.route.rules[0]!.contains = ['invoice']))).not.toBe(base);
  });
});

describe('summary and JSON form', () => {
  it('summarizes a program for display', () => {
    const p = program(MENU);
    expect(summarize(p)).toEqual({
      scenario: 'menu',
      version: 3,
      hash: p.hash,
      start: 'hello',
      blocks: 6,
      instructions: 6,
      waiting_points: ['menu', 'route'],
      webhooks: [],
      handoffs: 1,
      ends: 1,
    });
  });

  it('prints as JSON with regexes as /source/flags and the index as an object', () => {
    const p = program({ name: 'x', version: 1, start: 'a', blocks: { a: { type: 'match', rules: [{ regex: '^hi\\b', next: 'b' }], otherwise: 'b' }, b: { type: 'end' } } });
    const json = JSON.parse(programToJson(p)) as { code: Array<{ rules?: Array<{ re: string }> }>; index: Record<string, number> };
    expect(json.code[0]?.rules?.[0]?.re).toBe('/^hi\\b/i');
    expect(json.index).toEqual({ a: 0, b: 1 });
  });
});

const FAST = { compiledParsersFromBlocks: 0 };

describe('the fast path (zod\'s compiled parsers, which read files of COMPILED_PARSERS_FROM_BLOCKS blocks and more)', () => {
  it("reads the caller's objects as zod outputs them: same program, warnings and hash", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const source = randomScenario(seed);
      const result = compile(source, FAST);
      const parsed = Scenario.safeParse(source);
      if (!parsed.success) continue;
      const reference = compile(parsed.data);
      expect(result.ok, `seed ${seed}`).toBe(reference.ok);
      if (!result.ok || !reference.ok) {
        expect(result).toEqual(reference);
        continue;
      }
      expect(programToJson(result.program, 0), `seed ${seed}`).toBe(programToJson(reference.program, 0));
      expect(result.warnings).toEqual(reference.warnings);
    }
  });

  it('takes URLs as zod trims them', () => {
    const p = program(KITCHEN_SINK, FAST);
    const at = (id: string) => p.code[p.index.get(id)!]!;
    expect(at('book')).toMatchObject({ op: 'webhook', url: 'https://booking.example.com/book' });
    expect(at('file')).toMatchObject({ message: { file: { url: 'https://example.com/terms.pdf', name: 'terms.pdf', mime: 'application/pdf' } } });
    expect(at('menu')).toMatchObject({ message: { cards: [{ title: 'Book', image: 'https://cdn.example.com/book.png' }, { title: 'Cards' }, { title: 'Help' }] } });
  });

  it('shares no object with the source: editing it afterwards changes nothing', () => {
    const source = structuredClone(KITCHEN_SINK);
    const p = program(source, FAST);
    const before = programToJson(p);
    source.blocks.card.cards[0]!.title = 'changed';
    source.blocks.email.save.var = 'changed';
    source.blocks.set.vars.z = 2;
    source.blocks.set.segments.add.push('changed');
    source.blocks.hours.when[0]!.business_hours!.closed_dates.push('2027-01-01');
    source.migrations.old_b = 'bye';
    expect(programToJson(p)).toBe(before);
  });

  it('leaves a "__proto__" block id, which zod drops, to the full parser', () => {
    const result = compile(JSON.parse('{"name":"p","version":1,"start":"__proto__","blocks":{"__proto__":{"type":"end"},"a":{"type":"end"}}}'), FAST);
    expect(result.ok ? [] : result.problems).toEqual([{ level: 'error', path: 'start', message: 'start block "__proto__" does not exist (the blocks are a)' }]);
  });
});

describe('normalize', () => {
  it('trims, collapses white space and folds case and accents, whatever the text: the ASCII fast path agrees with the full fold', () => {
    // Written independently of src/scenario/fold.ts: case folded by upper then lower case, Latin accents dropped.
    const reference = (text: string) =>
      text
        .normalize('NFKD')
        .toUpperCase()
        .toLowerCase()
        .replace(/([\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}])\p{Mn}+/gu, '$1')
        .replace(/[\p{Emoji_Modifier}\p{Variation_Selector}]/gu, '')
        .normalize('NFC')
        .trim()
        .replace(/\s+/g, ' ');
    const pieces = ['a', 'B', 'Yes', ' ', '  ', '\t', '\n', '\u00a0', '\u2003', '\ufeff', 'É', 'İ', 'ß', '😀', '👍🏽', '❤️', '-', '{{x}}'];
    const next = createRng(7);
    for (let i = 0; i < 5_000; i++) {
      const text = Array.from({ length: Math.floor(next() * 8) }, () => pieces[Math.floor(next() * pieces.length)]).join('');
      expect(normalize(text), JSON.stringify(text)).toBe(reference(text));
    }
  });
});

describe('duplicateKeys', () => {
  it('finds a duplicate in a big object and behind an escape, with its path', () => {
    const keys = Array.from({ length: 20 }, (_, i) => `"k${i}": ${i}`).join(', ');
    expect(duplicateKeys(`{"x": [1, {${keys}, "k3": 0}], "y": {"a\\u0062": 1, "ab": 2}}`)).toEqual([
      { level: 'error', path: 'x.1.k3', message: 'duplicate key "k3"' },
      { level: 'error', path: 'y.ab', message: 'duplicate key "ab"' },
    ]);
  });
});

/** The hash as compile.ts first computed it: zod's parsed scenario, canonicalized, through one JSON.stringify. */
function referenceHash(source: unknown, p: Program, warnings: Problem[]): string {
  const { $schema: _schema, description: _description, blocks, migrations, ...rest } = Scenario.parse(source);
  const unreachable = new Set(warnings.filter((w) => w.message === 'unreachable from start').map((w) => w.path.slice('blocks.'.length)));
  const laidOut = p.code.map((i) => i.block).filter((id) => id !== IMPLICIT_END);
  const ids = [...laidOut.filter((id) => !unreachable.has(id)), ...laidOut.filter((id) => unreachable.has(id)).sort()];
  const sortKeys = (record: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) out[key] = record[key];
    return out;
  };
  const canonical = (block: Block): unknown => {
    if (block.comment === undefined && block.type !== 'set' && block.type !== 'webhook') return block;
    const copy: Record<string, unknown> = { ...block, comment: undefined };
    for (const key of ['vars', 'conversation_data', 'people_data', 'body', 'map']) if (copy[key] !== undefined) copy[key] = sortKeys(copy[key] as Record<string, unknown>);
    return copy;
  };
  const json = JSON.stringify([rest, migrations === undefined ? null : sortKeys(migrations), ids, ids.map((id) => canonical(blocks[id]!))]);
  return createHash('sha256').update(json).digest('hex');
}

/** A mostly valid scenario of every block type, fields in random order, odd texts and URLs zod trims. */
function randomScenario(seed: number): Record<string, unknown> {
  const next = createRng(seed);
  const pick = <T,>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const maybe = (p: number) => next() < p;
  const shuffle = (o: Record<string, unknown>) => (maybe(0.5) ? Object.fromEntries(Object.entries(o).reverse()) : o);
  const texts = ['Yes', 'No', 'Tell me', '  Spaced   out ', 'Ça va ?', 'ÉCOLE', 'a"b\\c', 'tab\there', 'new\nline', '😀', 'lone \ud800', 'Hi {{name}}', '{{ who }} and {{unset}}'];
  const urls = ['https://example.com/a', ' https://example.com/b ', 'https://example.com/c\n', 'https://example.com/é'];
  const n = 1 + Math.floor(next() * 12);
  const ids = Array.from({ length: n }, (_, i) => (maybe(0.1) ? pick(['10', '2', 'a.b', 'x-y', '_u']) : 'b') + i);
  const blocks: Record<string, unknown> = {};
  ids.forEach((id, i) => {
    // Edges go forward, so that every loop passes a block that waits; the waiting ones (choice, ask, match) may also go back.
    const to = () => ids[i + 1 + Math.floor(next() * (n - i - 1))]!;
    const back = () => (maybe(0.2) ? pick(ids) : to());
    const kinds: Array<() => Record<string, unknown>> = [
      () => ({ type: 'message', text: pick(texts), ...(maybe(0.7) ? { next: to() } : {}) }),
      () => ({ type: 'message', text: pick(texts), buttons: [{ label: pick(texts), url: pick(urls) }], ...(maybe(0.7) ? { next: to() } : {}) }),
      () => ({ type: 'message', text: pick(texts), cards: [shuffle({ title: pick(texts), ...(maybe(0.5) ? { image: pick(urls) } : {}), ...(maybe(0.5) ? { description: 'd' } : {}) })], next: to() }),
      () => ({ type: 'message', file: shuffle({ url: pick(urls), name: 'f.pdf', mime: 'application/pdf' }), next: to() }),
      () => ({
        type: 'choice',
        text: pick(texts),
        ...(maybe(0.3) ? { display: 'carousel' } : {}),
        choices: ['A', 'B', 'C'].slice(0, 1 + Math.floor(next() * 3)).map((label) => shuffle({ label, next: back(), ...(maybe(0.5) ? { value: label.toLowerCase() + seed } : {}), ...(maybe(0.3) ? { image: pick(urls) } : {}) })),
        ...(maybe(0.3) ? { fallback: to() } : {}),
        ...(maybe(0.5) ? { save: 'name' } : {}),
      }),
      () => ({ type: 'ask', text: pick(texts), ...(maybe(0.5) ? { validation: pick(['email', 'phone', { regex: '^[0-9]+$' }, { flags: 'i', regex: 'x' }]) } : {}), save: shuffle({ var: 'who', ...(maybe(0.5) ? { people_profile: 'email' } : {}) }), next: back() }),
      () => ({ type: 'match', rules: [{ contains: pick(['invoice', ['Bill', ' Pay  Me ']]), next: back() }, { regex: '^hi', next: to() }], otherwise: back(), ...(maybe(0.5) ? { save: 'said' } : {}) }),
      () => ({ type: 'condition', when: pick([{ var: 'name', equals: 'x' }, [{ exists: true, var: 'who' }, { operators_available: false }], { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon'], from: '09:00', to: '17:00' }] } }]), then: to(), else: to() }),
      () => ({ type: 'set', vars: shuffle({ z: 1, a: 'v {{name}}', n: null }), ...(maybe(0.5) ? { conversation_data: { '10': 'x', '9': true, k: -1.5 } } : {}), ...(maybe(0.3) ? { segments: { add: ['vip'] } } : {}), next: to() }),
      () => ({ type: 'webhook', url: pick(['https://booking.example.com/x', ' https://booking.example.com/y ']), ...(maybe(0.5) ? { body: { b: 1, a: '{{name}}', '0': false } } : {}), ...(maybe(0.5) ? { map: { y: 'data.id', b: 'x' } } : {}), next: to(), ...(maybe(0.5) ? { on_error: to() } : {}) }),
      () => ({ type: 'handoff', ...(maybe(0.5) ? { text: pick(texts) } : {}), ...(maybe(0.5) ? { assign: pick([{ email: 'a@b.example' }, { user_id: 'u1' }]) } : {}), ...(maybe(0.5) ? { note: pick(texts) } : {}) }),
      () => ({ type: 'end', ...(maybe(0.5) ? { text: pick(texts) } : {}), ...(maybe(0.5) ? { resolve: maybe(0.5) } : {}) }),
    ];
    const block = i === n - 1 ? { type: 'end', ...(maybe(0.5) ? { text: pick(texts) } : {}) } : pick(kinds)();
    if (maybe(0.2)) block.comment = 'a note';
    blocks[id] = shuffle(block);
  });
  return shuffle({
    name: 'random',
    version: pick([1, '2.0']),
    start: ids[0]!,
    ...(maybe(0.2) ? { description: 'd', $schema: './s.json' } : {}),
    webhook_origins: ['https://booking.example.com'],
    ...(maybe(0.3) ? { migrations: { zz: ids[0]!, '10': pick(ids), aa: pick(ids) } } : {}),
    blocks,
  });
}
