// The example scenarios of scenarios/: each one compiles cleanly, each is driven through its use
// case as a visitor would, and a walk over every path shows every turn ends waiting, handed off
// or ended, with no error.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileText, WAITING_OPS, type Program } from '../../src/scenario/compile.js';
import { initialPosition, step, type Action, type ScenarioEvent, type StepContext } from '../../src/scenario/run.js';
import type { Position } from '../../src/scenario/schema.js';

const DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

function load(name: string): Program {
  const result = compileText(readFileSync(`${DIR}${name}.json`, 'utf8'));
  if (!result.ok) throw new Error(`${name}: ${JSON.stringify(result.problems)}`);
  expect(result.warnings).toEqual([]);
  return result.program;
}

/** Plays a conversation: each entry is the visitor's line (or an event) and what must come back. */
function converse(p: Program, script: Array<[ScenarioEvent | string, Action[]]>, context: StepContext = {}): Position {
  let position = initialPosition(p);
  for (const [input, expected] of script) {
    const event: ScenarioEvent = typeof input === 'string' ? { type: 'visitor_text', text: input } : input;
    const result = step(p, position, event, context);
    expect(result.actions, `after ${JSON.stringify(event)}`).toEqual(expected);
    position = result.position;
  }
  return position;
}

const say = (text: string): Action => ({ type: 'send_message', message: { type: 'text', text } });
const SATURDAY_NOON_PARIS = { now: Date.parse('2025-06-14T10:00:00Z') };
const MONDAY_10_PARIS = { now: Date.parse('2025-06-16T08:00:00Z') };

describe('scenarios/', () => {
  it('holds the six example scenarios, each named after its file', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['booking.json', 'cancel-account.json', 'gdpr.json', 'handoff.json', 'newsletter.json', 'weekend-support.json']);
    for (const f of files) expect(load(f.replace(/\.json$/, '')).scenario).toBe(f.replace(/\.json$/, ''));
  });
});

describe('weekend-support: support closed on weekends (business hours in a time zone)', () => {
  const p = load('weekend-support');

  it('on a weekend, says when support is back and collects an email into the profile', () => {
    const end = converse(
      p,
      [
        [{ type: 'start', text: 'Hello, my invoice is wrong' }, [say('Our support team is off for the weekend and back on Monday at 9:00 (Paris time).'), say('Leave your email and we will get back to you on Monday.')]],
        ['tomorrow', [say('That does not look like an email address. Could you type it again?')]],
        [
          'sam@example.com',
          [
            { type: 'set_people_profile', profile: { email: 'sam@example.com' } },
            { type: 'set_conversation_data', data: { callback: 'monday' } },
            { type: 'set_segments', add: ['weekend'], remove: [] },
            say('Thanks! We will write to sam@example.com on Monday.'),
          ],
        ],
      ],
      SATURDAY_NOON_PARIS,
    );
    expect(end.ended).toBe(true);
  });

  it('on a weekday, hands the conversation to an operator', () => {
    const end = converse(p, [[{ type: 'start', text: 'Hello' }, [say('Thanks for your message! An operator will answer you shortly.'), { type: 'handoff', reason: 'weekday' }]]], MONDAY_10_PARIS);
    expect(end.handed_off).toBe(true);
  });

  it('the weekend is Paris time: Sunday 23:30 UTC is already Monday in Paris', () => {
    expect(step(p, initialPosition(p), { type: 'start' }, { now: Date.parse('2025-06-15T23:30:00Z') }).position.handed_off).toBe(true);
    expect(step(p, initialPosition(p), { type: 'start' }, { now: Date.parse('2025-06-15T21:30:00Z') }).position.block).toBe('ask_email');
  });
});

describe('gdpr: a GDPR question gets the helpdesk articles that answer it', () => {
  const p = load('gdpr');
  const found = [
    { title: 'GDPR and our Data Processing Agreement', url: 'https://help.example.com/en/article/gdpr-data-processing/' },
    { title: 'Cancel your subscription', url: 'https://help.example.com/en/article/cancel-subscription/' },
  ];
  const search = (query: string): Action => ({ type: 'search_articles', block: 'gdpr_answer', query, locale: null, limit: 2 });
  const answer: Action[] = [
    {
      type: 'send_message',
      message: {
        type: 'picker',
        id: 'gdpr_answer',
        text: 'Our help center has the answer (our Data Processing Agreement, the DPA, is signed from there too):',
        choices: found.map((a) => ({ value: a.url, label: a.title, url: a.url })),
      },
    },
    {
      type: 'send_message',
      message: {
        type: 'picker',
        id: 'more',
        text: 'Did that answer your question?',
        choices: [
          { value: 'yes', label: 'Yes, thanks' },
          { value: 'no', label: 'No, I need a human' },
        ],
      },
    },
  ];

  it('searches the helpdesk with the question, offers what it found, and resolves when the visitor is satisfied', () => {
    converse(p, [
      [{ type: 'start', text: 'Are you GDPR compliant?' }, [search('Are you GDPR compliant?')]],
      [{ type: 'articles_result', articles: [...found, { title: 'A third one', url: 'https://help.example.com/en/article/third/' }] }, answer],
      [{ type: 'choice', value: 'Yes, thanks' }, [say('Glad to help!'), { type: 'resolve' }]],
    ]);
  });

  it('hands off with the question when it was not enough', () => {
    converse(p, [
      [{ type: 'start', text: 'Where do I sign the DPA?' }, [search('Where do I sign the DPA?')]],
      [{ type: 'articles_result', articles: found }, answer],
      [{ type: 'choice', value: 'no' }, [say('Let me get someone from the team for you.'), { type: 'handoff', reason: 'gdpr_followup', note: 'The bot could not answer: Where do I sign the DPA?' }]],
    ]);
  });

  it('hands off when the helpdesk has no article for the question', () => {
    const end = converse(p, [
      [{ type: 'start', text: 'Is my privacy safe on the moon?' }, [search('Is my privacy safe on the moon?')]],
      [{ type: 'articles_result', articles: [] }, [say('Let me get someone from the team for you.'), { type: 'handoff', reason: 'gdpr_followup', note: 'The bot could not answer: Is my privacy safe on the moon?' }]],
    ]);
    expect(end.handed_off).toBe(true);
  });

  it('anything else goes to a human', () => {
    const end = converse(p, [[{ type: 'start', text: 'My widget is broken' }, [say('Let me get someone from the team for you.'), { type: 'handoff', reason: 'gdpr_followup', note: 'The bot could not answer: My widget is broken' }]]]);
    expect(end.handed_off).toBe(true);
  });
});

describe('cancel-account: "cancel my account" → confirm with Yes/No buttons', () => {
  const p = load('cancel-account');
  const confirm: Action = {
    type: 'send_message',
    message: {
      type: 'picker',
      id: 'confirm',
      text: 'Are you sure you want to cancel your account? Your data will be deleted at the end of the billing period.',
      choices: [
        { value: 'yes', label: 'Yes' },
        { value: 'no', label: 'No' },
      ],
    },
  };

  it('Yes records the request and hands it to billing', () => {
    const end = converse(p, [
      [{ type: 'start', text: 'Please cancel my account' }, [confirm]],
      [
        { type: 'choice', value: 'Yes' },
        [
          { type: 'set_conversation_data', data: { cancellation: 'requested' } },
          { type: 'set_segments', add: ['cancellation'], remove: ['upsell'] },
          say('Understood. Our billing team will confirm the cancellation by email shortly.'),
          { type: 'assign', email: 'billing@example.com' },
          { type: 'handoff', reason: 'cancellation', note: 'The visitor confirmed they want to cancel their account.' },
        ],
      ],
    ]);
    expect(end).toMatchObject({ handed_off: true, vars: { confirmed: 'yes' } });
  });

  it('No keeps the account and resolves', () => {
    converse(p, [
      [{ type: 'start', text: 'how do I close my subscription' }, [confirm]],
      ['no', [say('Great, your account stays as it is. Anything else, just ask!'), { type: 'resolve' }]],
    ]);
  });

  it('asks again for an answer that is neither', () => {
    converse(p, [
      [{ type: 'start', text: 'cancel' }, [confirm]],
      ['hmm', [confirm]],
      [{ type: 'card', index: 1 }, [say('Great, your account stays as it is. Anything else, just ask!'), { type: 'resolve' }]],
    ]);
  });

  it('anything else goes to a human', () => {
    converse(p, [[{ type: 'start', text: 'I love your product' }, [say('Let me get someone from the team for you.'), { type: 'handoff', reason: 'unmatched' }]]]);
  });
});

describe('booking: collect details, then a webhook to the booking system', () => {
  const p = load('booking');
  const details: Array<[ScenarioEvent | string, Action[]]> = [
    [{ type: 'start', text: 'Can I book an appointment?' }, [say('Happy to book that for you. What name should the booking be under?')]],
    ['Ann Lee', [{ type: 'set_people_profile', profile: { nickname: 'Ann Lee' } }, say('Which day and time, Ann Lee? For example 2025-06-14 15:00.')]],
    ['next friday', [say('Please write the date as YYYY-MM-DD, optionally followed by a time like 15:00.')]],
    ['2025-06-20 10:30', [{ type: 'set_conversation_data', data: { booking_date: '2025-06-20 10:30' } }, say('And your email, for the confirmation?')]],
    [
      'ann@example.com',
      [
        { type: 'set_people_profile', profile: { email: 'ann@example.com' } },
        { type: 'webhook', block: 'book', url: 'https://booking.example.com/api/bookings', method: 'POST', body: { name: 'Ann Lee', date: '2025-06-20 10:30', email: 'ann@example.com', source: 'crisp-chat' } },
      ],
    ],
  ];

  it('books and confirms with the reference from the answer', () => {
    const end = converse(p, [
      ...details,
      [
        { type: 'webhook_result', ok: true, status: 201, data: { booking: { id: 'BK-42', slot: 'Friday 20 June, 10:30' } } },
        [say('You are booked for Friday 20 June, 10:30, Ann Lee. Your reference is BK-42; a confirmation is on its way to ann@example.com.'), { type: 'resolve' }],
      ],
    ]);
    expect(end.vars).toMatchObject({ booking_id: 'BK-42', name: 'Ann Lee' });
  });

  it('hands off when the booking system fails', () => {
    converse(p, [
      ...details,
      [
        { type: 'webhook_result', ok: false, status: 502 },
        [
          say('Sorry, I could not reach our booking system. Someone from the team will finish your booking.'),
          { type: 'handoff', reason: 'booking_failed', note: 'Booking failed for Ann Lee on 2025-06-20 10:30 (ann@example.com).' },
        ],
      ],
    ]);
  });
});

describe('newsletter: collect the email into the people profile', () => {
  const p = load('newsletter');

  it('subscribes the visitor', () => {
    converse(p, [
      [{ type: 'start', text: 'I would like to subscribe to your newsletter' }, [say('Sure! What email should we send the newsletter to?')]],
      ['my email is bob at example dot com', [say('That does not look like an email address. Could you type it again?')]],
      [
        'bob@example.com',
        [
          { type: 'set_people_profile', profile: { email: 'bob@example.com' } },
          { type: 'set_people_data', data: { newsletter: true, newsletter_email: 'bob@example.com' } },
          { type: 'set_segments', add: ['newsletter'], remove: [] },
          say('Done: bob@example.com is subscribed. You can unsubscribe from any issue.'),
          { type: 'resolve' },
        ],
      ],
    ]);
  });
});

describe('handoff: anything else goes to a human', () => {
  const p = load('handoff');

  it('hands off at once when an operator is available', () => {
    converse(
      p,
      [[{ type: 'start', text: 'My export fails with error 500' }, [say('I am passing you to a human; they will answer here in a moment.'), { type: 'handoff', reason: 'fallback', note: 'Handed off by the bot. The visitor wrote: My export fails with error 500' }]]],
      { operatorsAvailable: true },
    );
  });

  it('collects an email first when nobody is online', () => {
    converse(
      p,
      [
        [{ type: 'start', text: 'I need a human' }, [say('Nobody from the team is online right now. Leave your email and we will answer you there.')]],
        [
          'kim@example.com',
          [
            { type: 'set_people_profile', profile: { email: 'kim@example.com' } },
            say('Thanks! We will reply to kim@example.com as soon as someone is back.'),
            { type: 'unassign' },
            { type: 'handoff', reason: 'offline', note: 'Offline handoff; reply by email to kim@example.com. The visitor wrote: I need a human' },
          ],
        ],
      ],
      { operatorsAvailable: false },
    );
  });

  it('answers a pricing question itself and keeps listening', () => {
    const after = converse(p, [[{ type: 'start', text: 'How much does it cost?' }, [{ type: 'send_message', message: { type: 'picker', id: 'pricing', text: 'Our plans and prices are all on one page:', choices: [{ value: 'See pricing', label: 'See pricing', url: 'https://crisp.chat/en/pricing/' }] } }]]]);
    expect(after).toMatchObject({ block: 'route', waiting: true });
  });
});

// ---------------------------------------------------------------- every path

/** Inputs worth trying where a program waits: every button, a match for every rule, valid and invalid answers, webhook success and failure. */
function inputsAt(p: Program, position: Position): ScenarioEvent[] {
  const ins = p.code[position.pc]!;
  switch (ins.op) {
    case 'choice':
      return [...ins.values.map((value): ScenarioEvent => ({ type: 'choice', value })), { type: 'visitor_text', text: 'something else' }];
    case 'ask':
      return ['someone@example.com', '+33 6 12 34 56 78', '2025-06-20 10:30', 'Ann', 'not valid'].map((text) => ({ type: 'visitor_text', text }));
    case 'match':
      return [...ins.rules.map((r) => r.words[0] ?? 'please cancel my account'), 'something unrelated'].map((text) => ({ type: 'visitor_text', text }));
    case 'webhook':
      return [
        { type: 'webhook_result', ok: true, data: { booking: { id: 'B1', slot: 'soon' } } },
        { type: 'webhook_result', ok: false },
      ];
    case 'articles':
      return [
        { type: 'articles_result', articles: [{ title: 'An article', url: 'https://help.example.com/en/article/an-article/' }] },
        { type: 'articles_result', articles: [] },
      ];
    default:
      return [];
  }
}

describe.each(['booking', 'cancel-account', 'gdpr', 'handoff', 'newsletter', 'weekend-support'])('every path of %s', (name) => {
  it('ends each turn waiting, handed off or ended, with no error, and reaches every block', () => {
    const p = load(name);
    const visited = new Set<string>();
    const contexts: StepContext[] = [
      { ...SATURDAY_NOON_PARIS, operatorsAvailable: true },
      { ...MONDAY_10_PARIS, operatorsAvailable: false },
    ];
    for (const context of contexts) {
      const seen = new Set<string>();
      const queue: Array<[Position, ScenarioEvent]> = [[initialPosition(p), { type: 'start' }]];
      while (queue.length > 0) {
        const [position, event] = queue.shift()!;
        const result = step(p, position, event, context);
        for (const a of result.actions) if ('block' in a) visited.add(a.block);
        expect(result.actions.filter((a) => a.type === 'error')).toEqual([]);
        const next = result.position;
        visited.add(next.block);
        const rests = next.handed_off || next.ended || (next.waiting && WAITING_OPS.has(p.code[next.pc]!.op));
        expect(rests, `${name}: ${JSON.stringify(event)} left ${JSON.stringify(next)}`).toBe(true);
        const key = `${next.pc}|${next.waiting}|${next.handed_off}|${next.ended}|${Object.keys(next.vars).sort().join(',')}`;
        if (next.handed_off || next.ended || seen.has(key)) continue;
        seen.add(key);
        for (const input of inputsAt(p, next)) queue.push([next, input]);
      }
    }
    // Blocks that neither wait nor end (messages, sets, conditions) are passed through on the way.
    const resting = p.code.filter((i) => WAITING_OPS.has(i.op) || i.op === 'handoff' || i.op === 'end').map((i) => i.block);
    expect(resting.filter((b) => !visited.has(b))).toEqual([]);
  });
});
