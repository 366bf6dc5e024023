// The runner as tables of (program, position, event) → (actions, position): nothing running, no
// timers, no clock; time and operator availability are passed in.
import { describe, expect, it } from 'vitest';
import { compile, type Program } from '../../src/scenario/compile.js';
import { initialPosition, step, type Action, type ScenarioEvent, type StepContext } from '../../src/scenario/run.js';
import type { Position } from '../../src/scenario/schema.js';

function program(blocks: Record<string, unknown>, extra: Record<string, unknown> = {}): Program {
  const result = compile({ name: 'test', version: 1, start: Object.keys(blocks)[0], blocks, ...extra });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.program;
}

/** Runs events one after another from the start position; returns every turn's actions and the last position. */
function play(p: Program, events: ScenarioEvent[], context: StepContext = {}, from: Position = initialPosition(p)) {
  let position = from;
  const turns: Action[][] = [];
  for (const event of events) {
    const result = step(p, position, event, context);
    turns.push(result.actions);
    position = result.position;
  }
  return { turns, position };
}

const text = (t: string): ScenarioEvent => ({ type: 'visitor_text', text: t });
const said = (actions: Action[]) => actions.flatMap((a) => (a.type === 'send_message' ? [a.message.text ?? ''] : []));
const deepFreeze = <T>(o: T): T => {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
};

const BUTTONS = {
  ask: {
    type: 'choice',
    text: 'Sure?',
    choices: [
      { label: 'Yes please', value: 'yes', next: 'yes' },
      { label: 'No', next: 'no' },
    ],
    save: 'answer',
  },
  yes: { type: 'end', text: 'Yes it is ({{answer}})' },
  no: { type: 'end', text: 'No then ({{answer}})' },
};

describe('start and positions', () => {
  it('initialPosition points at the start instruction with nothing saved', () => {
    const p = program({ a: { type: 'end' } });
    expect(initialPosition(p)).toEqual({ scenario: 'test', program_hash: p.hash, pc: 0, block: 'a', vars: {}, waiting: false, handed_off: false, ended: false, last_fingerprint: null });
  });

  it('a position is small JSON that survives a round trip through a store', () => {
    const p = program(BUTTONS);
    const { position } = play(p, [{ type: 'start' }]);
    const restored = JSON.parse(JSON.stringify(position)) as Position;
    expect(step(p, restored, { type: 'choice', value: 'yes' }).actions).toEqual(step(p, position, { type: 'choice', value: 'yes' }).actions);
    expect(JSON.stringify(position).length).toBeLessThan(256);
  });

  it('is pure: same input, same output, and the saved position is never mutated', () => {
    const p = program(BUTTONS);
    const position = deepFreeze(play(p, [{ type: 'start' }]).position);
    const a = step(p, position, { type: 'choice', value: 'No' });
    const b = step(p, position, { type: 'choice', value: 'No' });
    expect(a).toEqual(b);
    expect(position).toMatchObject({ waiting: true, vars: {} });
  });
});

describe('message', () => {
  it('sends text, link buttons, cards and files, filling {{vars}}, then goes on', () => {
    const p = program({
      set: { type: 'set', vars: { name: 'Ann' }, next: 'text' },
      text: { type: 'message', text: 'Hi {{name}}{{ missing }}!', next: 'links' },
      links: { type: 'message', text: 'Docs:', buttons: [{ label: 'Guide', url: 'https://example.com/guide' }], next: 'cards' },
      cards: { type: 'message', text: 'Plans', cards: [{ title: 'Pro', description: 'For teams', url: 'https://example.com/pro' }], next: 'file' },
      file: { type: 'message', file: { url: 'https://example.com/a.pdf', name: 'a.pdf', mime: 'application/pdf' } },
    });
    const { actions, position } = step(p, initialPosition(p), { type: 'start' });
    expect(actions).toEqual([
      { type: 'send_message', message: { type: 'text', text: 'Hi Ann!' } },
      { type: 'send_message', message: { type: 'picker', id: 'links', text: 'Docs:', choices: [{ value: 'Guide', label: 'Guide', url: 'https://example.com/guide' }] } },
      { type: 'send_message', message: { type: 'carousel', text: 'Plans', cards: [{ title: 'Pro', description: 'For teams', url: 'https://example.com/pro' }] } },
      { type: 'send_message', message: { type: 'file', file: { url: 'https://example.com/a.pdf', name: 'a.pdf', mime: 'application/pdf' } } },
    ]);
    expect(position).toMatchObject({ ended: true, waiting: false, block: '$end', vars: { name: 'Ann' } });
  });
});

describe('choice', () => {
  it.each<[string, ScenarioEvent, string]>([
    ['by value', { type: 'choice', value: 'yes' }, 'Yes it is (yes)'],
    ['by label', { type: 'choice', value: 'Yes please' }, 'Yes it is (yes)'],
    ['by label, any case and spacing', { type: 'choice', value: '  YES   PLEASE ' }, 'Yes it is (yes)'],
    ['typed as text', text('no'), 'No then (No)'],
    ['by card index', { type: 'card', index: 1 }, 'No then (No)'],
  ])('picks %s', (_, event, reply) => {
    const p = program(BUTTONS);
    const { turns, position } = play(p, [{ type: 'start' }, event]);
    expect(turns[0]).toEqual([{ type: 'send_message', message: { type: 'picker', id: 'ask', text: 'Sure?', choices: [{ value: 'yes', label: 'Yes please' }, { value: 'No', label: 'No' }] } }]);
    expect(said(turns[1]!)).toEqual([reply]);
    expect(position.ended).toBe(true);
  });

  it('shows the buttons again for an answer that is no choice, when there is no fallback', () => {
    const p = program(BUTTONS);
    const { turns, position } = play(p, [{ type: 'start' }, text('maybe'), { type: 'card', index: 7 }]);
    expect(turns[1]).toEqual(turns[0]);
    expect(turns[2]).toEqual(turns[0]);
    expect(position).toMatchObject({ block: 'ask', waiting: true, vars: {} });
  });

  it('sends an unknown answer to the fallback, where a match can route the same text', () => {
    const p = program({
      ask: { ...BUTTONS.ask, fallback: 'route' },
      yes: BUTTONS.yes,
      no: BUTTONS.no,
      route: { type: 'match', rules: [{ contains: 'price', next: 'price' }], otherwise: 'no' },
      price: { type: 'end', text: 'It is free.' },
    });
    const { turns } = play(p, [{ type: 'start' }, text('what is the price?')]);
    expect(said(turns[1]!)).toEqual(['It is free.']);
  });

  it('shows cards for display: carousel and answers a card index', () => {
    const p = program({
      pick: {
        type: 'choice',
        text: 'Which plan?',
        display: 'carousel',
        choices: [
          { label: 'Basic', next: 'done', description: 'For one' },
          { label: 'Pro', value: 'pro', next: 'done', image: 'https://example.com/pro.png' },
        ],
        save: 'plan',
      },
      done: { type: 'end', text: 'You chose {{plan}}' },
    });
    const { turns } = play(p, [{ type: 'start' }, { type: 'card', index: 1 }]);
    expect(turns[0]).toEqual([
      {
        type: 'send_message',
        message: { type: 'carousel', text: 'Which plan?', cards: [{ title: 'Basic', value: 'Basic', description: 'For one' }, { title: 'Pro', value: 'pro', image: 'https://example.com/pro.png' }] },
      },
    ]);
    expect(said(turns[1]!)).toEqual(['You chose pro']);
  });
});

describe('ask', () => {
  const ask = (validation: unknown, save: unknown = { var: 'v' }) =>
    program({ q: { type: 'ask', text: 'Tell me', ...(validation ? { validation } : {}), invalid_text: 'Try again', save, next: 'done' }, done: { type: 'end', text: 'Got {{v}}' } });

  it.each<[string, unknown, string, string | null]>([
    ['free text, trimmed', undefined, '  hello  ', 'hello'],
    ['a valid email', 'email', 'ann@example.com', 'ann@example.com'],
    ['an invalid email', 'email', 'ann@example', null],
    ['a phone, normalized', 'phone', '+33 6 12-34-56-78', '+33612345678'],
    ['an invalid phone', 'phone', 'call me', null],
    ['a regex match', { regex: '^[A-Z]{3}-\\d+$' }, 'ABC-12', 'ABC-12'],
    ['a regex mismatch (case-sensitive without flags)', { regex: '^[A-Z]{3}-\\d+$' }, 'abc-12', null],
    ['a regex with flags', { regex: '^[A-Z]{3}-\\d+$', flags: 'i' }, 'abc-12', 'abc-12'],
    ['an empty answer', undefined, '   ', null],
    ['an email with a domain in another script, saved in its ASCII (IDNA) form', 'email', 'info@bücher.de', 'info@xn--bcher-kva.de'],
    ['an email with a non-ASCII local part (no ASCII form to save)', 'email', 'josé@exämple.de', null],
    ['an email typed on a full-width keyboard, saved as ASCII', 'email', 'ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'ann@example.com'],
    ['an email pasted with a zero-width space and a direction mark, saved without them', 'email', '\u200Eann@exa\u200Bmple.com', 'ann@example.com'],
    ['a phone in Arabic-Indic digits, saved in ASCII digits', 'phone', '+٩٧١ ٥٠ ١٢٣ ٤٥٦٧', '+971501234567'],
    ['a phone in Devanagari digits with an en dash', 'phone', '+९१ ९८७६५–४३२१०', '+919876543210'],
    ['a phone in full-width digits', 'phone', '＋８１　９０－１２３４－５６７８', '+819012345678'],
    ['a regex answered in full-width letters', { regex: '^[A-Z]{3}-\\d+$' }, 'ＡＢＣ－１２', 'ABC-12'],
  ])('%s', (_, validation, answer, saved) => {
    const p = ask(validation);
    const { turns, position } = play(p, [{ type: 'start' }, text(answer)]);
    expect(said(turns[0]!)).toEqual(['Tell me']);
    if (saved === null) {
      expect(turns[1]).toEqual([{ type: 'send_message', message: { type: 'text', text: 'Try again' } }]);
      expect(position).toMatchObject({ block: 'q', waiting: true, vars: {} });
    } else {
      expect(said(turns[1]!)).toEqual([`Got ${saved}`]);
      expect(position.vars).toEqual({ v: saved });
    }
  });

  it('asks the question again when it has no invalid_text', () => {
    const p = program({ q: { type: 'ask', text: 'Email?', validation: 'email', save: { var: 'v' }, next: 'done' }, done: { type: 'end' } });
    expect(play(p, [{ type: 'start' }, text('nope')]).turns[1]).toEqual([{ type: 'send_message', message: { type: 'text', text: 'Email?' } }]);
  });

  it('saves to a variable, conversation data, people data and the people profile', () => {
    const p = ask('email', { var: 'v', conversation_data: 'contact', people_data: 'newsletter_email', people_profile: 'email' });
    const { turns } = play(p, [{ type: 'start' }, text('ann@example.com')]);
    expect(turns[1]).toEqual([
      { type: 'set_conversation_data', data: { contact: 'ann@example.com' } },
      { type: 'set_people_data', data: { newsletter_email: 'ann@example.com' } },
      { type: 'set_people_profile', profile: { email: 'ann@example.com' } },
      { type: 'send_message', message: { type: 'text', text: 'Got ann@example.com' } },
    ]);
  });

  it('takes a button press as text, but ignores a card or a webhook answer', () => {
    const p = ask(undefined);
    expect(said(play(p, [{ type: 'start' }, { type: 'choice', value: 'Blue' }]).turns[1]!)).toEqual(['Got Blue']);
    const waiting = play(p, [{ type: 'start' }]).position;
    expect(step(p, waiting, { type: 'card', index: 0 })).toMatchObject({ actions: [], ignored: 'unexpected_input', position: { block: 'q', waiting: true } });
    expect(step(p, waiting, { type: 'webhook_result', ok: true })).toMatchObject({ actions: [], ignored: 'unexpected_input' });
  });
});

describe('match', () => {
  const p = program({
    route: {
      type: 'match',
      rules: [
        { exact: ['hi', 'hello'], next: 'greet' },
        { contains: ['refund', 'money back'], next: 'refund' },
        { regex: '\\border\\s+#?\\d+', next: 'order' },
        { contains: 'order', next: 'refund' },
      ],
      otherwise: 'other',
      save: 'said',
    },
    greet: { type: 'end', text: 'greet' },
    refund: { type: 'end', text: 'refund' },
    order: { type: 'end', text: 'order' },
    other: { type: 'end', text: 'other: {{said}}' },
  });

  it.each<[string, string]>([
    ['  Hello ', 'greet'],
    ['hello there', 'other: hello there'],
    ['I want my MONEY   back', 'refund'],
    ['Where is ORDER #1234?', 'order'],
    ['my order is late', 'refund'],
    ['🤷', 'other: 🤷'],
  ])('%j → %s (first rule wins)', (message, reply) => {
    expect(said(play(p, [{ type: 'start' }, text(message)]).turns[1]!)).toEqual([reply]);
  });

  it('waits for a message when the turn has none, and routes the first message given with start', () => {
    const waiting = step(p, initialPosition(p), { type: 'start' });
    expect(waiting).toMatchObject({ actions: [], position: { block: 'route', waiting: true } });
    expect(said(step(p, initialPosition(p), { type: 'start', text: 'hi' }).actions)).toEqual(['greet']);
  });

  it('routes on the message of this turn only: after an ask took it, the next match waits', () => {
    const q = program({
      name: { type: 'ask', text: 'Name?', save: { var: 'n' }, next: 'route' },
      route: { type: 'match', rules: [{ contains: 'help', next: 'help' }], otherwise: 'other' },
      help: { type: 'end', text: 'help' },
      other: { type: 'end', text: 'other' },
    });
    const { turns, position } = play(q, [{ type: 'start' }, text('help')]);
    expect(turns[1]).toEqual([]);
    expect(position).toMatchObject({ block: 'route', waiting: true, vars: { n: 'help' } });
  });
});

describe('match, in other languages and scripts', () => {
  const p = program({
    route: {
      type: 'match',
      rules: [
        { contains: 'café', next: 'cafe' },
        { exact: 'istanbul', next: 'istanbul' },
        { contains: 'straße', next: 'strasse' },
        { contains: 'οδός', next: 'odos' },
        { exact: 'yes', next: 'yes' },
        { contains: '退款', next: 'refund_zh' },
        { contains: 'काम', next: 'kaam' },
        { regex: '^größe \\d+$', next: 'size' },
        { exact: ['👍', '❤'], next: 'thumbs' },
      ],
      otherwise: 'other',
      save: 'said',
    },
    ...Object.fromEntries(['cafe', 'istanbul', 'strasse', 'odos', 'yes', 'refund_zh', 'kaam', 'size', 'thumbs'].map((id) => [id, { type: 'end', text: id }])),
    other: { type: 'end', text: 'other: {{said}}' },
  });

  it.each<[string, string]>([
    ['un cafe, svp', 'cafe'],
    ['UN CAFÉ', 'cafe'],
    ['cafe\u0301 au lait', 'cafe'], // NFD: e + combining acute
    ['İstanbul', 'istanbul'],
    ['ISTANBUL', 'istanbul'],
    ['ıstanbul', 'istanbul'],
    ['STRASSE 5', 'strasse'],
    ['Strasse', 'strasse'],
    ['ΟΔΟΣ Αθηνάς', 'odos'],
    ['οδος', 'odos'],
    ['ｙｅｓ', 'yes'],
    ['YES\u3000', 'yes'], // an ideographic space, trimmed
    ['我想要退款', 'refund_zh'],
    ['मुझे काम है', 'kaam'],
    ['मुझे कम है', 'other: मुझे कम है'], // another word: Hindi vowel signs are not accents
    ['gro\u0308\u00DFe 42', 'size'], // a regex written in NFC meets NFD text
    ['👍🏽', 'thumbs'], // a message that is only an emoji, with a skin tone
    ['👍', 'thumbs'],
    ['❤️', 'thumbs'], // with the emoji presentation selector
    ['👎🏽', 'other: 👎🏽'],
  ])('%j → %s', (message, reply) => {
    expect(said(play(p, [{ type: 'start' }, text(message)]).turns[1]!)).toEqual([reply]);
  });

  it('contains finds a word inside another (as scripts without spaces need); docs/scenarios.md\'s whole-word regex does not', () => {
    const q = program({
      route: {
        type: 'match',
        rules: [{ regex: '(?<![\\p{L}\\p{N}])(no|non|nein)(?![\\p{L}\\p{N}])', flags: 'iu', next: 'word' }, { contains: 'no', next: 'inside' }],
        otherwise: 'other',
      },
      word: { type: 'end', text: 'word' },
      inside: { type: 'end', text: 'inside' },
      other: { type: 'end', text: 'other' },
    });
    for (const [message, reply] of [['No.', 'word'], ['NON merci', 'word'], ['nein, danke', 'word'], ["I don't know", 'inside'], ['Nobel', 'inside'], ['yes', 'other']] as const) {
      expect(said(play(q, [{ type: 'start' }, text(message)]).turns[1]!), message).toEqual([reply]);
    }
  });

  it('picks a choice typed back as text in another form of its label', () => {
    const q = program({
      ask: { type: 'choice', text: 'Où ?', choices: [{ label: 'Café', next: 'a' }, { label: 'Thé', value: 'ＴＥＡ', next: 'b' }], save: 'pick' },
      a: { type: 'end', text: 'got {{pick}}' },
      b: { type: 'end', text: 'got {{pick}}' },
    });
    for (const [typed, reply] of [['cafe', 'got Café'], ['CAFE\u0301', 'got Café'], ['the', 'got ＴＥＡ'], ['tea', 'got ＴＥＡ']] as const) {
      expect(said(play(q, [{ type: 'start' }, text(typed)]).turns[1]!), typed).toEqual([reply]);
    }
  });

  it('refuses two choices whose labels differ only by accents or case: answers would be ambiguous', () => {
    const result = compile({ name: 't', version: 1, start: 'ask', blocks: { ask: { type: 'choice', text: '?', choices: [{ label: 'Résumé', next: 'e' }, { label: 'resume', next: 'e' }] }, e: { type: 'end' } } });
    expect(result.ok ? [] : result.problems.map((x) => x.path)).toEqual(['blocks.ask.choices.1.label']);
  });

  it('compares string conditions as match rules do', () => {
    const q = program({
      s: { type: 'set', vars: { city: 'İSTANBUL', street: 'Hauptstraße' }, next: 'c' },
      c: { type: 'condition', when: [{ var: 'city', equals: 'istanbul' }, { var: 'street', contains: 'STRASSE' }], then: 'yes', else: 'no' },
      yes: { type: 'end', text: 'yes' },
      no: { type: 'end', text: 'no' },
    });
    expect(said(play(q, [{ type: 'start' }]).turns[0]!)).toEqual(['yes']);
  });

  it('keeps a long message whole up to its last full character: no half of an emoji is saved', () => {
    const long = `${'a'.repeat(3_999)}😀 and more`;
    const { position } = play(p, [{ type: 'start' }, text(long)]);
    const saved = String(position.vars.said);
    expect(saved).toBe('a'.repeat(3_999));
    expect(saved.isWellFormed()).toBe(true);
  });
});

describe('condition', () => {
  const cond = (when: unknown, vars: Record<string, string | number | boolean | null> = {}) => {
    const p = program({
      set: { type: 'set', vars: Object.keys(vars).length ? vars : { unused: 0 }, next: 'c' },
      c: { type: 'condition', when, then: 'yes', else: 'no' },
      yes: { type: 'end', text: 'yes' },
      no: { type: 'end', text: 'no' },
    });
    return (context: StepContext = {}) => step(p, initialPosition(p), { type: 'start' }, context).actions;
  };

  it.each<[unknown, Record<string, string | number | boolean | null>, string]>([
    [{ var: 'plan', equals: 'pro' }, { plan: 'PRO' }, 'yes'],
    [{ var: 'n', equals: 5 }, { n: '5' }, 'yes'],
    [{ var: 'plan', not_equals: 'pro' }, { plan: 'free' }, 'yes'],
    [{ var: 'plan', exists: true }, { plan: '' }, 'no'],
    [{ var: 'plan', exists: false }, { other: 1 }, 'yes'],
    [{ var: 'email', contains: '@ACME' }, { email: 'bob@acme.com' }, 'yes'],
    [{ var: 'email', matches: '@acme\\.com$' }, { email: 'BOB@ACME.COM' }, 'yes'],
    [{ var: 'age', gt: 17 }, { age: '18' }, 'yes'],
    [{ var: 'age', lt: 18 }, { age: 'eighteen' }, 'no'],
    [[{ var: 'a', equals: 1 }, { var: 'b', equals: 2 }], { a: 1, b: 2 }, 'yes'],
    [[{ var: 'a', equals: 1 }, { var: 'b', equals: 2 }], { a: 1, b: 3 }, 'no'],
  ])('%j with %j → %s', (when, vars, branch) => {
    expect(said(cond(when, vars)())).toEqual([branch]);
  });

  const paris = { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' }], closed_dates: ['2025-12-25'] } };
  it.each<[string, string, string]>([
    ['Monday 09:00 in Paris (07:00 UTC in summer)', '2025-06-16T07:00:00Z', 'yes'],
    ['Monday 08:59 in Paris', '2025-06-16T06:59:00Z', 'no'],
    ['Friday 17:59 in Paris', '2025-06-20T15:59:00Z', 'yes'],
    ['Friday 18:00 in Paris', '2025-06-20T16:00:00Z', 'no'],
    ['Saturday noon in Paris', '2025-06-14T10:00:00Z', 'no'],
    ['Sunday 23:30 UTC, already Monday 00:30 in Paris but before opening', '2025-06-15T23:30:00Z', 'no'],
    ['a winter Monday 09:30 in Paris (08:30 UTC)', '2025-01-13T08:30:00Z', 'yes'],
    ['a closed date', '2025-12-25T10:00:00Z', 'no'],
  ])('business hours: %s → %s', (_, iso, branch) => {
    expect(said(cond(paris)({ now: new Date(iso) }))).toEqual([branch]);
    expect(said(cond(paris)({ now: Date.parse(iso) }))).toEqual([branch]);
  });

  it('business hours without a clock: an error action, and taken as closed', () => {
    expect(cond(paris)()).toEqual([
      { type: 'error', code: 'no_clock', message: expect.stringMatching(/context.now/), block: 'c' },
      { type: 'send_message', message: { type: 'text', text: 'no' } },
    ]);
  });

  it.each<[boolean, boolean | undefined, string]>([
    [true, true, 'yes'],
    [true, false, 'no'],
    [true, undefined, 'no'],
    [false, undefined, 'yes'],
  ])('operators_available %s when availability is %s → %s', (wanted, available, branch) => {
    expect(said(cond({ operators_available: wanted })(available === undefined ? {} : { operatorsAvailable: available }))).toEqual([branch]);
  });
});

describe('set', () => {
  it('sets variables (with templates), conversation data, people data and segments', () => {
    const p = program({
      q: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 's' },
      s: {
        type: 'set',
        vars: { greeting: 'Hi {{name}}', count: 2, vip: true, none: null },
        conversation_data: { lead: '{{name}}', score: 10 },
        people_data: { source: 'chat' },
        segments: { add: ['lead'], remove: ['cold'] },
        next: 'done',
      },
      done: { type: 'end', text: '{{greeting}} ({{count}}, {{vip}}, {{none}})' },
    });
    const { turns, position } = play(p, [{ type: 'start' }, text('Ann')]);
    expect(turns[1]).toEqual([
      { type: 'set_conversation_data', data: { lead: 'Ann', score: 10 } },
      { type: 'set_people_data', data: { source: 'chat' } },
      { type: 'set_segments', add: ['lead'], remove: ['cold'] },
      { type: 'send_message', message: { type: 'text', text: 'Hi Ann (2, true, )' } },
    ]);
    expect(position.vars).toEqual({ name: 'Ann', greeting: 'Hi Ann', count: 2, vip: true, none: null });
  });
});

describe('webhook', () => {
  const p = program(
    {
      q: { type: 'ask', text: 'Date?', save: { var: 'date' }, next: 'call' },
      call: { type: 'webhook', url: 'https://booking.example.com/book', body: { when: '{{date}}', n: 2 }, map: { ref: 'booking.id', slots: 'slots', gone: 'nope.x' }, next: 'ok', on_error: 'failed' },
      ok: { type: 'end', text: 'Booked {{ref}} {{slots}}' },
      failed: { type: 'handoff', text: 'Booking failed', reason: 'booking_failed' },
    },
    { webhook_origins: ['https://booking.example.com'] },
  );

  it('emits the call as an action and waits for its result', () => {
    const { turns, position } = play(p, [{ type: 'start' }, text('monday')]);
    expect(turns[1]).toEqual([{ type: 'webhook', block: 'call', url: 'https://booking.example.com/book', method: 'POST', body: { when: 'monday', n: 2 } }]);
    expect(position).toMatchObject({ block: 'call', waiting: true });
  });

  it('maps the answer into variables and goes on', () => {
    const { turns, position } = play(p, [{ type: 'start' }, text('monday'), { type: 'webhook_result', ok: true, status: 201, data: { booking: { id: 'B-1' }, slots: [1, 2] } }]);
    expect(said(turns[2]!)).toEqual(['Booked B-1 [1,2]']);
    expect(position.vars).toEqual({ date: 'monday', ref: 'B-1', slots: '[1,2]', gone: null });
  });

  it('goes to on_error when the call failed', () => {
    const { turns, position } = play(p, [{ type: 'start' }, text('monday'), { type: 'webhook_result', ok: false, status: 503 }]);
    expect(turns[2]).toEqual([
      { type: 'send_message', message: { type: 'text', text: 'Booking failed' } },
      { type: 'handoff', reason: 'booking_failed' },
    ]);
    expect(position.handed_off).toBe(true);
  });

  it('ignores visitor messages while it waits for the answer', () => {
    const waiting = play(p, [{ type: 'start' }, text('monday')]).position;
    const result = step(p, waiting, { type: 'visitor_text', text: 'hello?', fingerprint: 42 });
    expect(result).toEqual({ actions: [], position: { ...waiting, last_fingerprint: 42 }, ignored: 'unexpected_input' });
  });

  it('ignores a webhook answer nobody waits for (a fresh or an ended conversation)', () => {
    const fresh = initialPosition(p);
    expect(step(p, fresh, { type: 'webhook_result', ok: true, data: {} })).toEqual({ actions: [], position: fresh, ignored: 'unexpected_input' });
    const ended = play(p, [{ type: 'start' }, text('monday'), { type: 'webhook_result', ok: true, data: {} }]).position;
    expect(step(p, ended, { type: 'webhook_result', ok: true })).toMatchObject({ actions: [], ignored: 'unexpected_input' });
  });

  it('sends every variable as the body when none is given', () => {
    const q = program(
      { s: { type: 'set', vars: { a: 1, b: 'x' }, next: 'w' }, w: { type: 'webhook', url: 'https://h.example.com/', method: 'GET', next: 'e' }, e: { type: 'end' } },
      { webhook_origins: ['https://h.example.com'] },
    );
    expect(step(q, initialPosition(q), { type: 'start' }).actions).toEqual([{ type: 'webhook', block: 'w', url: 'https://h.example.com/', method: 'GET', body: { a: 1, b: 'x' } }]);
  });
});

describe('articles', () => {
  const found = [
    { title: 'Refund policy', url: 'https://help.example.com/en/article/refund-policy/' },
    { title: 'Invoices and VAT', url: 'https://help.example.com/en/article/invoices/' },
    { title: 'Cancel your subscription', url: 'https://help.example.com/en/article/cancel/' },
  ];
  const p = program({
    route: { type: 'match', rules: [{ contains: 'money', next: 'docs' }, { contains: 'topic', next: 'topic' }], otherwise: 'cards', save: 'question' },
    docs: { type: 'articles', limit: 2, next: 'more', none: 'human' },
    topic: { type: 'set', vars: { subject: 'invoices' }, next: 'templated' },
    templated: { type: 'articles', query: 'about {{subject}}', locale: 'fr', text: 'Voici :', next: 'more', none: 'human' },
    cards: { type: 'articles', display: 'carousel', next: 'more', none: 'human' },
    more: { type: 'choice', text: 'Better?', choices: [{ label: 'Yes', next: 'bye' }], fallback: 'human' },
    bye: { type: 'end' },
    human: { type: 'handoff', reason: 'no_article' },
  });

  it("searches with the visitor's message, waits, then offers at most `limit` articles as link buttons and goes to next", () => {
    const { turns, position } = play(p, [{ type: 'start', text: 'I want my money back' }, { type: 'articles_result', articles: found }]);
    expect(turns[0]).toEqual([{ type: 'search_articles', block: 'docs', query: 'I want my money back', locale: null, limit: 2 }]);
    expect(turns[1]).toEqual([
      { type: 'send_message', message: { type: 'picker', id: 'docs', text: 'These articles may help:', choices: found.slice(0, 2).map((a) => ({ value: a.url, label: a.title, url: a.url })) } },
      { type: 'send_message', message: { type: 'picker', id: 'more', text: 'Better?', choices: [{ value: 'Yes', label: 'Yes' }] } },
    ]);
    expect(position).toMatchObject({ block: 'more', waiting: true });
  });

  it('goes to none when nothing matched', () => {
    const { turns, position } = play(p, [{ type: 'start', text: 'money?' }, { type: 'articles_result', articles: [] }]);
    expect(turns[1]).toEqual([{ type: 'handoff', reason: 'no_article' }]);
    expect(position.handed_off).toBe(true);
  });

  it('fills a query template from variables, with the locale and caption given', () => {
    const { turns } = play(p, [{ type: 'start', text: 'a topic' }, { type: 'articles_result', articles: found.slice(0, 1) }]);
    expect(turns[0]).toEqual([{ type: 'search_articles', block: 'templated', query: 'about invoices', locale: 'fr', limit: 3 }]);
    expect(turns[1]![0]).toMatchObject({ type: 'send_message', message: { type: 'picker', text: 'Voici :' } });
  });

  it('can offer the articles as a carousel of link cards', () => {
    const { turns } = play(p, [{ type: 'start', text: 'how do I export' }, { type: 'articles_result', articles: found.slice(0, 1) }]);
    expect(turns[1]![0]).toEqual({ type: 'send_message', message: { type: 'carousel', text: 'These articles may help:', cards: [{ title: 'Refund policy', url: found[0]!.url, button: 'Read' }] } });
  });

  it('with nothing to search for (no words this turn), goes to none without a search', () => {
    const q = program({ choose: { type: 'choice', text: 'Go?', choices: [{ label: 'Go', next: 'docs' }] }, docs: { type: 'articles', query: '{{unset}}', next: 'bye', none: 'bye' }, bye: { type: 'end', text: 'Bye' } });
    const { turns } = play(q, [{ type: 'start' }, { type: 'choice', value: 'Go' }]);
    expect(turns[1]).toEqual([{ type: 'send_message', message: { type: 'text', text: 'Bye' } }]);
  });

  it('ignores a search answer nobody waits for, and visitor text while the search is pending', () => {
    const fresh = initialPosition(p);
    expect(step(p, fresh, { type: 'articles_result', articles: found })).toEqual({ actions: [], position: fresh, ignored: 'unexpected_input' });
    const waiting = play(p, [{ type: 'start', text: 'money' }]).position;
    expect(step(p, waiting, { type: 'webhook_result', ok: true, data: {} })).toMatchObject({ actions: [], ignored: 'unexpected_input' });
    expect(step(p, waiting, text('hello?'))).toMatchObject({ actions: [], ignored: 'unexpected_input' });
  });
});

describe('handoff', () => {
  const p = program({
    route: { type: 'match', rules: [{ contains: 'billing', next: 'billing' }], otherwise: 'anyone' },
    billing: { type: 'handoff', text: 'Passing you to billing.', assign: { email: 'billing@example.com' }, note: 'Visitor asked about billing', reason: 'billing' },
    anyone: { type: 'handoff', unassign: true, reason: 'fallback' },
  });

  it('assigns, notes, hands off, and says so', () => {
    const { turns, position } = play(p, [{ type: 'start', text: 'billing question' }]);
    expect(turns[0]).toEqual([
      { type: 'send_message', message: { type: 'text', text: 'Passing you to billing.' } },
      { type: 'assign', email: 'billing@example.com' },
      { type: 'handoff', reason: 'billing', note: 'Visitor asked about billing' },
    ]);
    expect(position).toMatchObject({ handed_off: true, waiting: false, block: 'billing' });
  });

  it('can unassign instead', () => {
    expect(step(p, initialPosition(p), { type: 'start', text: 'hey' }).actions).toEqual([{ type: 'unassign' }, { type: 'handoff', reason: 'fallback' }]);
  });

  it('the bot stays silent afterwards, whatever comes, until an explicit start', () => {
    const handed = play(p, [{ type: 'start', text: 'billing' }]).position;
    for (const event of [text('hello?'), { type: 'choice', value: 'x' } as const, { type: 'webhook_result', ok: true } as const]) {
      expect(step(p, handed, event)).toEqual({ actions: [], position: handed, ignored: 'handed_off' });
    }
    const other = program({ x: { type: 'end', text: 'new version' } });
    expect(step(other, { ...handed, program_hash: 'old' }, text('hi'))).toMatchObject({ actions: [], ignored: 'handed_off' });
    expect(step(p, handed, { type: 'start', text: 'hey' }).position.handed_off).toBe(true); // start resets, and hands off again
    expect(step(p, handed, { type: 'start' }).position).toMatchObject({ handed_off: false, waiting: true, block: 'route' });
  });
});

describe('end', () => {
  const p = program({
    route: { type: 'match', rules: [{ contains: 'bye', next: 'bye' }], otherwise: 'echo', save: 'said' },
    echo: { type: 'end', text: 'You said {{said}}' },
    bye: { type: 'end', text: 'Bye', resolve: true },
  });

  it('optionally resolves the conversation', () => {
    expect(step(p, initialPosition(p), { type: 'start', text: 'bye' }).actions).toEqual([{ type: 'send_message', message: { type: 'text', text: 'Bye' } }, { type: 'resolve' }]);
  });

  it("the visitor's next message starts the scenario again, with fresh variables", () => {
    const { turns, position } = play(p, [{ type: 'start', text: 'one' }, text('two')]);
    expect(said(turns[0]!)).toEqual(['You said one']);
    expect(said(turns[1]!)).toEqual(['You said two']);
    expect(position).toMatchObject({ ended: true, vars: { said: 'two' } });
  });
});

describe('guards', () => {
  it('a redelivered message (same fingerprint) does nothing', () => {
    const p = program(BUTTONS);
    const first = play(p, [{ type: 'start' }]).position;
    const once = step(p, first, { type: 'visitor_text', text: 'maybe', fingerprint: 7 });
    expect(once.actions).toHaveLength(1);
    expect(once.position.last_fingerprint).toBe(7);
    expect(step(p, once.position, { type: 'visitor_text', text: 'maybe', fingerprint: 7 })).toEqual({ actions: [], position: once.position, ignored: 'duplicate' });
  });

  it('a runaway program ends the turn with an error and a handoff, never a hang', () => {
    // compile refuses loops that never wait, so build one by hand: step trusts its program.
    const p = program({ a: { type: 'message', text: 'again', next: 'b' }, b: { type: 'end' } });
    const looped: Program = { ...p, code: p.code.map((ins) => (ins.op === 'say' ? { ...ins, next: 0 } : ins)) };
    const { actions, position } = step(looped, initialPosition(looped), { type: 'start' });
    expect(actions).toHaveLength(1_002);
    expect(actions.slice(-2)).toEqual([
      { type: 'error', code: 'step_budget', message: 'the turn ran 1000 steps without waiting; a human takes over', block: 'a' },
      { type: 'handoff', reason: 'step_budget' },
    ]);
    expect(position.handed_off).toBe(true);
  });

  it('the budget is per turn and can be set by the caller', () => {
    const blocks: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) blocks[`m${i}`] = { type: 'message', text: `${i}`, next: i === 49 ? 'q' : `m${i + 1}` };
    blocks.q = { type: 'ask', text: 'ok?', save: { var: 'x' }, next: 'm0' };
    const p = program(blocks);
    expect(step(p, initialPosition(p), { type: 'start' }, { budget: 51 }).position).toMatchObject({ block: 'q', waiting: true });
    expect(step(p, initialPosition(p), { type: 'start' }, { budget: 50 }).actions.at(-1)).toEqual({ type: 'handoff', reason: 'step_budget' });
  });
});

describe('a changed program never resumes at a stale index', () => {
  const v1 = program({ q1: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'done' }, done: { type: 'end', text: 'Thanks {{name}}' } });
  const saved = play(v1, [{ type: 'start' }, text('Ann')]).position; // waiting at q2, pc 1

  it('restarts at the start, with fresh variables, and says so', () => {
    const v2 = program({ intro: { type: 'message', text: 'New intro', next: 'q1' }, q1: { type: 'ask', text: 'Your name?', save: { var: 'name' }, next: 'done' }, done: { type: 'end', text: 'Thanks {{name}}' } });
    const result = step(v2, saved, text('ann@example.com'));
    expect(result.restarted).toEqual({ reason: 'program_changed', from_hash: v1.hash, from_block: 'q2' });
    expect(said(result.actions)).toEqual(['New intro', 'Your name?']);
    expect(result.position).toMatchObject({ program_hash: v2.hash, block: 'q1', pc: 1, vars: {}, waiting: true });
  });

  it('resumes where a declared migration says, keeping variables', () => {
    const v3 = program(
      {
        ask_name: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'ask_email' },
        ask_email: { type: 'ask', text: 'Email please?', validation: 'email', save: { var: 'email' }, next: 'done' },
        done: { type: 'end', text: 'Thanks {{name}} <{{email}}>' },
      },
      { migrations: { q1: 'ask_name', q2: 'ask_email' } },
    );
    const result = step(v3, saved, text('ann@example.com'));
    expect(result.migrated).toEqual({ from_block: 'q2', to_block: 'ask_email' });
    expect(result.restarted).toBeUndefined();
    expect(said(result.actions)).toEqual(['Thanks Ann <ann@example.com>']);
  });

  it('goes on at the block of the same id after an edit that keeps it (reworded texts, a block added before it, a new version): variables kept, the answer goes to the question shown', () => {
    const reworded = program(
      { intro: { type: 'message', text: 'Hello again', next: 'q1' }, q1: { type: 'ask', text: 'Your name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'ask', text: 'Your email?', save: { var: 'email' }, next: 'done' }, done: { type: 'end', text: 'Thank you {{name}} <{{email}}>' } },
      { version: 2 },
    );
    expect(reworded.index.get('q2')).not.toBe(saved.pc); // the old index points elsewhere now
    const result = step(reworded, saved, text('ann@example.com'));
    expect(result.restarted).toBeUndefined();
    expect(result.migrated).toEqual({ from_block: 'q2', to_block: 'q2' });
    expect(said(result.actions)).toEqual(['Thank you Ann <ann@example.com>']);
    expect(result.position).toMatchObject({ program_hash: reworded.hash, block: 'done', ended: true });
  });

  it('a conversation that slept through two edits follows the chain of their migrations', () => {
    // v2 renamed q2 to ask_email ({q2: ask_email}); v3 renamed that to contact ({ask_email: contact}) and kept the older entry.
    const v3 = program({ q1: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'contact' }, contact: { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'done' }, done: { type: 'end', text: '{{name}} <{{email}}>' } }, { migrations: { q2: 'ask_email', ask_email: 'contact' } });
    const result = step(v3, saved, text('ann@example.com'));
    expect(result.migrated).toEqual({ from_block: 'q2', to_block: 'contact' });
    expect(said(result.actions)).toEqual(['Ann <ann@example.com>']);
  });

  it('an ask turned into a match under the same id routes the answer the visitor gives to it', () => {
    const v2 = program({ q1: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'match', rules: [{ contains: '@', next: 'ok' }], otherwise: 'human', save: 'email' }, ok: { type: 'end', text: 'Mail {{email}}' }, human: { type: 'handoff', text: 'A human comes' } });
    expect(said(step(v2, saved, text('ann@example.com')).actions)).toEqual(['Mail ann@example.com']);
    expect(said(step(v2, saved, text('no thanks')).actions)).toEqual(['A human comes']);
  });

  it('a declared migration wins over the block of the same id', () => {
    const v2 = program({ q1: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'ask', text: 'Phone?', save: { var: 'phone' }, next: 'q3' }, q3: { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'done' }, done: { type: 'end', text: '{{email}}' } }, { migrations: { q2: 'q3' } });
    const result = step(v2, saved, text('ann@example.com'));
    expect(result.migrated).toEqual({ from_block: 'q2', to_block: 'q3' });
    expect(said(result.actions)).toEqual(['ann@example.com']);
  });

  it('a button of the old version that the new one no longer has shows the new buttons again (or goes to its fallback), never the start', () => {
    const menu = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      program({ menu: { type: 'choice', text: 'Pick', choices, ...extra }, a: { type: 'end', text: 'A' }, b: { type: 'end', text: 'B' }, help: { type: 'handoff', text: 'A human comes' } });
    const old = menu([{ label: 'Pricing', next: 'a' }, { label: 'Orders', next: 'b' }]);
    const waiting = step(old, initialPosition(old), { type: 'start' }).position;
    const renamed = step(menu([{ label: 'Prices', value: 'prices', next: 'a' }, { label: 'Orders', next: 'b' }]), waiting, { type: 'choice', value: 'Pricing' });
    expect(renamed.restarted).toBeUndefined();
    expect(renamed.actions).toEqual([{ type: 'send_message', message: expect.objectContaining({ type: 'picker', text: 'Pick' }) }]);
    expect(renamed.position).toMatchObject({ block: 'menu', waiting: true });
    const withFallback = step(menu([{ label: 'Prices', next: 'a' }], { fallback: 'help' }), waiting, { type: 'choice', value: 'Pricing' });
    expect(said(withFallback.actions)).toEqual(['A human comes']);
  });

  it("a webhook's answer that comes back after an edit reaches the webhook block it was called for; a block gone ignores it", () => {
    const hook = (next: string, extra: Record<string, unknown> = {}) =>
      program(
        { q: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'call' }, call: { type: 'webhook', url: 'https://api.example.com/x', map: { id: 'id' }, next }, ok: { type: 'end', text: 'Booked {{id}}' }, yes: { type: 'end', text: 'Done: {{id}}' }, ...extra },
        { webhook_origins: ['https://api.example.com'] },
      );
    const v1 = hook('ok');
    const calling = play(v1, [{ type: 'start' }, text('Ann')]).position;
    expect(calling).toMatchObject({ block: 'call', waiting: true });
    const answer: ScenarioEvent = { type: 'webhook_result', ok: true, status: 200, data: { id: 'B-7' } };
    const edited = step(hook('yes'), calling, answer);
    expect(edited.ignored).toBeUndefined();
    expect(said(edited.actions)).toEqual(['Done: B-7']);
    const gone = program({ q: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'ok' }, ok: { type: 'end', text: 'Bye' } });
    expect(step(gone, calling, answer)).toMatchObject({ ignored: 'unexpected_input', actions: [], position: calling });
  });

  it('a visitor migrated onto a webhook block calls it, instead of waiting for an answer no call will bring', () => {
    const v2 = program(
      { start: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'call' }, call: { type: 'webhook', url: 'https://api.example.com/x', next: 'done' }, done: { type: 'end', text: 'Bye' } },
      { webhook_origins: ['https://api.example.com'], migrations: { q2: 'call' } },
    );
    const result = step(v2, saved, text('ann@example.com'));
    expect(result.migrated).toEqual({ from_block: 'q2', to_block: 'call' });
    expect(result.actions).toEqual([expect.objectContaining({ type: 'webhook', block: 'call' })]);
    expect(result.position).toMatchObject({ block: 'call', waiting: true });
  });

  it('two versions taking turns on one conversation (replicas mid-rollout) go on from block to block, never from the start, while both have the block', () => {
    const a = program({ q1: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'q3' }, q3: { type: 'ask', text: 'Phone?', save: { var: 'phone' }, next: 'done' }, done: { type: 'end', text: '{{name}} {{email}} {{phone}}' } });
    const b = program({ q1: { type: 'ask', text: 'Your name?', save: { var: 'name' }, next: 'q2' }, q2: { type: 'ask', text: 'Your email?', save: { var: 'email' }, next: 'q3' }, q3: { type: 'ask', text: 'Your phone?', save: { var: 'phone' }, next: 'done' }, done: { type: 'end', text: 'Thanks {{name}} {{email}} {{phone}}' } });
    let position = step(a, initialPosition(a), { type: 'start' }).position;
    const turns = [b, a, b].map((p, i) => {
      const result = step(p, position, text(['Ann', 'ann@example.com', '555'][i]!));
      position = result.position;
      return result;
    });
    expect(turns.map((r) => r.restarted)).toEqual([undefined, undefined, undefined]);
    expect(turns.flatMap((r) => said(r.actions))).toEqual(['Your email?', 'Phone?', 'Thanks Ann ann@example.com 555']);
  });

  it('restarts a position whose index does not match its block', () => {
    for (const bad of [{ ...saved, pc: 99 }, { ...saved, pc: 0 }]) {
      const result = step(v1, bad, text('x'));
      expect(result.restarted).toEqual({ reason: 'bad_position', from_hash: v1.hash, from_block: 'q2' });
      expect(said(result.actions)).toEqual(['Name?']);
    }
  });
});
