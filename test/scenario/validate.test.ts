// Bad scenarios in, problems out: each kind of problem is reported with the path of the block
// field at fault (what `crisp-mcp scenario validate` prints).
import { describe, expect, it } from 'vitest';
import { compile, compileText, type Problem } from '../../src/scenario/compile.js';
import { scenarioJsonSchema } from '../../src/scenario/schema.js';

const scenario = (blocks: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ name: 'test', version: 1, start: 'a', blocks, ...extra });

function problems(source: unknown): Problem[] {
  const result = compile(source);
  if (result.ok) throw new Error(`expected problems, compiled fine (warnings: ${JSON.stringify(result.warnings)})`);
  return result.problems;
}

const errors = (source: unknown) => problems(source).filter((p) => p.level === 'error').map((p) => [p.path, p.message]);

describe('format errors (zod) carry the block path', () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a required field', { a: { type: 'ask', text: 'Name?', save: { var: 'name' } } }, 'blocks.a.next', /required/],
    ['an unknown field (a typo)', { a: { type: 'message', text: 'Hi', nxt: 'b' } }, 'blocks.a.nxt', /unknown field "nxt"/],
    ['an unknown block type', { a: { type: 'say', text: 'Hi' } }, 'blocks.a.type', /message.*choice/],
    ['a wrong type', { a: { type: 'end', resolve: 'yes' } }, 'blocks.a.resolve', /^expected true or false; got "yes"$/],
    ['a bad block id', { 'a b': { type: 'end' } }, 'blocks.a b', /block id/],
    ['a match rule with two tests', { a: { type: 'match', rules: [{ contains: 'x', exact: 'y', next: 'a' }], otherwise: 'a' } }, 'blocks.a.rules.0', /exactly one of contains, exact, regex/],
    ['a message with nothing to say', { a: { type: 'message', next: 'a' } }, 'blocks.a.text', /needs text/],
    ['an ask that saves nowhere', { a: { type: 'ask', text: 'Name?', save: {}, next: 'a' } }, 'blocks.a.save', /at least one of var/],
    ['a regex validation of the wrong type', { a: { type: 'ask', text: 'Code?', validation: { regex: 3 }, save: { var: 'c' }, next: 'a' } }, 'blocks.a.validation.regex', /^expected a string; got 3$/],
    ['bad regex flags', { a: { type: 'ask', text: 'Code?', validation: { regex: 'x', flags: 'g' }, save: { var: 'c' }, next: 'a' } }, 'blocks.a.validation.flags', /flags/],
    [
      'business hours with a bad time',
      { a: { type: 'condition', when: { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon'], from: '9am', to: '18:00' }] } }, then: 'a', else: 'a' } },
      'blocks.a.when.business_hours.hours.0.from',
      /HH:MM/,
    ],
    [
      'business hours that end before they start',
      { a: { type: 'condition', when: { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['mon'], from: '18:00', to: '09:00' }] } }, then: 'a', else: 'a' } },
      'blocks.a.when.business_hours.hours.0.to',
      /before/,
    ],
    ['a condition with no test', { a: { type: 'condition', when: { var: 'x' }, then: 'a', else: 'a' } }, 'blocks.a.when', /exactly one of equals/],
    ['a handoff that assigns and unassigns', { a: { type: 'handoff', assign: { user_id: 'u1' }, unassign: true } }, 'blocks.a.unassign', /exclude/],
    ['a webhook URL that is no URL', { a: { type: 'webhook', url: 'booking', next: 'a' } }, 'blocks.a.url', /URL/i],
  ])('%s', (_, blocks, path, message) => {
    const found = errors(scenario(blocks));
    expect(found, JSON.stringify(found)).toContainEqual([path, expect.stringMatching(message)]);
  });

  it('a __proto__ key never reaches the program', () => {
    const result = compile(scenario({ a: { type: 'set', vars: JSON.parse('{"__proto__": {"polluted": true}, "b": 2}') as unknown, next: 'b' }, b: { type: 'end' } }));
    expect(result.ok && result.program.code[0]).toMatchObject({ op: 'set', vars: { b: 2 } });
    expect(result.ok && Object.keys(result.program.code[0]!.op === 'set' ? result.program.code[0]!.vars ?? {} : {})).toEqual(['b']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports every problem, not just the first', () => {
    const found = errors(scenario({ a: { type: 'message', text: 'Hi', next: 7 }, b: { type: 'end', resolve: 1 } }));
    expect(found.map(([path]) => path)).toEqual(['blocks.a.next', 'blocks.b.resolve']);
  });

  it('a missing name, version or blocks is a file-level problem', () => {
    expect(errors({ start: 'a', blocks: {} }).map(([path]) => path)).toEqual(['name', 'version']);
    expect(errors('not an object')[0]).toEqual(['', expect.stringMatching(/object/)]);
  });
});

describe('graph errors carry the block path', () => {
  it('an unknown target', () => {
    expect(errors(scenario({ a: { type: 'choice', text: 'Go?', choices: [{ label: 'Yes', next: 'b' }, { label: 'No', next: 'nowhere' }] }, b: { type: 'end' } }))).toEqual([
      ['blocks.a.choices.1.next', 'unknown block "nowhere" (the blocks are a, b)'],
    ]);
  });

  it('a missing start', () => {
    expect(errors({ ...scenario({ b: { type: 'end' } }), start: 'a' })).toEqual([['start', 'start block "a" does not exist (the blocks are b)']]);
  });

  it('a cycle that never waits for the visitor', () => {
    const found = errors(
      scenario({
        a: { type: 'message', text: 'One', next: 'b' },
        b: { type: 'set', vars: { n: 1 }, next: 'c' },
        c: { type: 'condition', when: { var: 'n', equals: 1 }, then: 'a', else: 'd' },
        d: { type: 'end' },
      }),
    );
    expect(found).toEqual([['blocks.a', expect.stringMatching(/the loop a → b → c → a never waits for the visitor/)]]);
  });

  it('a webhook loop also never waits for the visitor', () => {
    const found = errors(scenario({ a: { type: 'webhook', url: 'https://hooks.example.com/x', next: 'a' } }, { webhook_origins: ['https://hooks.example.com'] }));
    expect(found).toEqual([['blocks.a', expect.stringMatching(/loop a → a/)]]);
  });

  it('an articles block: its targets, its limit and its locale, each at its path; a loop through it alone never waits', () => {
    const found = errors(
      scenario({
        a: { type: 'match', rules: [{ contains: 'x', next: 'docs' }], otherwise: 'loop' },
        docs: { type: 'articles', limit: 9, locale: 'English', next: 'a', none: 'nowhere' },
        loop: { type: 'articles', next: 'loop', none: 'a' },
      }),
    );
    expect(found).toEqual([
      ['blocks.docs.limit', 'must be at most 5; got 9'],
      ['blocks.docs.locale', 'a helpdesk locale like "en" or "pt-br"; got "English"'],
    ]);
    expect(errors(scenario({ a: { type: 'match', rules: [{ contains: 'x', next: 'docs' }], otherwise: 'loop' }, docs: { type: 'articles', next: 'a', none: 'nowhere' }, loop: { type: 'articles', next: 'loop', none: 'a' } }))).toEqual([
      ['blocks.docs.none', 'unknown block "nowhere" (the blocks are a, docs, loop)'],
      ['blocks.loop', expect.stringMatching(/loop loop → loop/)],
    ]);
    expect(errors(scenario({ a: { type: 'articles', none: 'a' } }))).toEqual([['blocks.a.next', expect.stringMatching(/^required/)]]);
  });

  it('an articles query reading a variable nobody sets is a warning', () => {
    const result = compile(scenario({ a: { type: 'articles', query: '{{topic}}', next: 'b', none: 'b' }, b: { type: 'end' } }));
    expect(result.ok && result.warnings.map((w) => [w.path, w.message])).toEqual([['blocks.a.query', '{{topic}} is never set by this scenario (it shows as "")']]);
  });

  it('a loop through a choice, ask or match is fine', () => {
    const result = compile(
      scenario({
        a: { type: 'message', text: 'Menu', next: 'b' },
        b: { type: 'choice', text: 'Again?', choices: [{ label: 'Yes', next: 'a' }, { label: 'No', next: 'c' }] },
        c: { type: 'match', rules: [{ contains: 'again', next: 'a' }], otherwise: 'd' },
        d: { type: 'end' },
      }),
    );
    expect(result.ok).toBe(true);
  });

  it('a bad regex, wherever it is', () => {
    const found = errors(
      scenario({
        a: { type: 'ask', text: 'Code?', validation: { regex: '([a-z]+' }, save: { var: 'code' }, next: 'b' },
        b: { type: 'match', rules: [{ regex: '*x', next: 'c' }], otherwise: 'c' },
        c: { type: 'condition', when: [{ var: 'code', matches: '[z-a]' }], then: 'd', else: 'd' },
        d: { type: 'end' },
      }),
    );
    expect(found).toEqual([
      ['blocks.a.validation.regex', expect.stringMatching(/^bad regex: .*Unterminated group/)],
      ['blocks.b.rules.0.regex', expect.stringMatching(/^bad regex: .*Nothing to repeat/)],
      ['blocks.c.when.0.matches', expect.stringMatching(/^bad regex: .*out of order/)],
    ]);
  });

  it('a regex whose repeated group holds a repeat (exponential on text that almost matches), wherever it is; a separated group passes', () => {
    const found = errors(
      scenario({
        a: { type: 'ask', text: 'Name?', validation: { regex: '^(\\w+\\s?)*$' }, save: { var: 'name' }, next: 'b' },
        b: { type: 'match', rules: [{ regex: '(a+)+b', next: 'c' }, { regex: '^\\w+(\\s\\w+)*$', next: 'c' }, { regex: '^[\\w.+-]+@([a-z0-9-]+\\.)+[a-z]{2,}$', next: 'c' }], otherwise: 'c' },
        c: { type: 'condition', when: [{ var: 'name', matches: '^(?:[a-z]{1,3})+$' }, { var: 'name', matches: '^(,\\d+)*$' }], then: 'd', else: 'd' },
        d: { type: 'end' },
      }),
    );
    expect(found).toEqual([
      ['blocks.a.validation.regex', expect.stringMatching(/^regex \(\\w\+\\s\?\) repeats a group that holds a repeat: .*exponential time/)],
      ['blocks.b.rules.0.regex', expect.stringMatching(/^regex \(a\+\) repeats a group/)],
      ['blocks.c.when.0.matches', expect.stringMatching(/^regex \(\?:\[a-z\]\{1,3\}\) repeats a group/)],
    ]);
  });

  it('a bad time zone', () => {
    const found = errors(
      scenario({ a: { type: 'condition', when: { business_hours: { timezone: 'Europe/Pariss', hours: [{ days: ['mon'], from: '09:00', to: '18:00' }] } }, then: 'b', else: 'b' }, b: { type: 'end' } }),
    );
    expect(found).toEqual([['blocks.a.when.business_hours.timezone', 'unknown time zone "Europe/Pariss" (use an IANA name like Europe/Paris)']]);
  });

  it('a webhook URL with a {{variable}} in it, which would be called with the braces themselves', () => {
    const blocks = { a: { type: 'webhook', method: 'GET', url: 'https://shop.example.com/orders/{{order}}', next: 'b' }, b: { type: 'end' } };
    expect(errors(scenario(blocks, { webhook_origins: ['https://shop.example.com'] }))).toEqual([
      ['blocks.a.url', 'a webhook URL is called exactly as written: {{name}} is not filled in there; send the variable in "body" (a GET sends the body as the query string)'],
    ]);
  });

  it('a webhook whose origin is not allowed', () => {
    const blocks = { a: { type: 'webhook', url: 'https://evil.example.net/x', next: 'b' }, b: { type: 'end' } };
    expect(errors(scenario(blocks))).toEqual([['blocks.a.url', 'https://evil.example.net is not listed in webhook_origins: add "webhook_origins": ["https://evil.example.net"] to the scenario']]);
    expect(errors(scenario(blocks, { webhook_origins: ['https://booking.example.com/path'] }))).toEqual([
      ['webhook_origins.0', expect.stringMatching(/not an origin/)],
      ['blocks.a.url', 'https://evil.example.net is not listed in webhook_origins: it lists "https://booking.example.com/path"'],
    ]);
    const allowed = scenario({ a: { ...blocks.a, url: 'https://booking.example.com/x' }, b: blocks.b }, { webhook_origins: ['https://booking.example.com'] });
    expect(compile(allowed).ok).toBe(true);
    const byServer = compile(allowed, { webhookOrigins: ['https://other.example.com'] });
    expect(byServer.ok ? [] : byServer.problems.map((p) => p.path)).toEqual(['webhook_origins.0']);
  });

  it('choices that a visitor could not tell apart', () => {
    const found = errors(scenario({ a: { type: 'choice', text: 'Sure?', choices: [{ label: 'Yes', next: 'b' }, { label: 'No', value: 'YES', next: 'b' }] }, b: { type: 'end' } }));
    expect(found).toEqual([['blocks.a.choices.1.value', expect.stringMatching(/also choice 0/)]]);
  });

  it('a migration to a block that does not exist', () => {
    expect(errors(scenario({ a: { type: 'end' } }, { migrations: { old: 'gone' } }))).toEqual([['migrations.old', 'migration target "gone" does not exist (the blocks are a)']]);
  });
});

describe('warnings', () => {
  it('an unreachable block and a variable nobody sets are warnings, not errors', () => {
    const result = compile(
      scenario({
        a: { type: 'message', text: 'Hello {{nickname}}', next: 'b' },
        b: { type: 'condition', when: { var: 'plan', equals: 'pro' }, then: 'c', else: 'c' },
        c: { type: 'end' },
        orphan: { type: 'end', text: 'never said' },
      }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings.map((w) => [w.level, w.path, w.message])).toEqual([
      ['warning', 'blocks.a.text', '{{nickname}} is never set by this scenario (it shows as "")'],
      ['warning', 'blocks.b.when.var', 'variable "plan" is never set by this scenario'],
      ['warning', 'blocks.orphan', 'unreachable from start'],
    ]);
  });

  it('braces around something that is no variable name warn: the visitor would see them as written', () => {
    const result = compile(scenario({ a: { type: 'ask', text: 'Name?', save: { var: 'name' }, next: 'b' }, b: { type: 'message', text: 'Hi {{ name }}, {{user.name}} {{prénom}} {{}}' } }));
    expect(result.ok && result.warnings.map((w) => [w.path, w.message])).toEqual([
      ['blocks.b.text', '{{user.name}} is not a variable name (ASCII letters, digits and "_"), so it shows as written'],
      ['blocks.b.text', '{{prénom}} is not a variable name (ASCII letters, digits and "_"), so it shows as written'],
      ['blocks.b.text', '{{}} is not a variable name (ASCII letters, digits and "_"), so it shows as written'],
    ]);
  });

  it("a card's button without a url warns: the button is a link, so none would be shown", () => {
    const result = compile(scenario({ a: { type: 'message', text: 'Plans', cards: [{ title: 'Pro', button: 'Buy' }, { title: 'Team', url: 'https://example.com/team', button: 'Buy' }] } }));
    expect(result.ok && result.warnings.map((w) => [w.path, w.message])).toEqual([['blocks.a.cards.0.button', 'a card\'s button is a link to its "url": without one, no button is shown']]);
  });

  it("a choice's description or image without display carousel warns: buttons show neither", () => {
    const choices = [{ label: 'Pro', description: 'For teams', image: 'https://example.com/pro.png', next: 'a' }];
    const result = compile(scenario({ a: { type: 'choice', text: 'Plan?', choices } }));
    expect(result.ok && result.warnings.map((w) => [w.path, w.message])).toEqual([
      ['blocks.a.choices.0.description', 'description is shown on carousel cards only: add "display": "carousel" to the block, or drop it'],
      ['blocks.a.choices.0.image', 'image is shown on carousel cards only: add "display": "carousel" to the block, or drop it'],
    ]);
    const carousel = compile(scenario({ a: { type: 'choice', text: 'Plan?', display: 'carousel', choices } }));
    expect(carousel.ok && carousel.warnings).toEqual([]);
  });

  it('warnings ride along with errors', () => {
    const found = problems(scenario({ a: { type: 'message', text: 'Hi', next: 'zzz' }, orphan: { type: 'end' } }));
    expect(found.map((p) => p.level)).toEqual(['error']); // graph errors stop before linearization
    expect(found[0]?.path).toBe('blocks.a.next');
  });
});

describe("a newcomer's mistakes: each says what was expected and what the file holds", () => {
  it.each<[string, unknown, Array<[string, string]>]>([
    ['an empty scenario object', {}, [
      ['name', 'required: a name like "order-status" (1-64 lowercase letters, digits, "_" or "-")'],
      ['version', 'required: a version, e.g. 1 or "2025-06-01"'],
      ['start', 'required: the id of the first block, like "start": "greet"'],
      ['blocks', expect.stringMatching(/^required: blocks is an object keyed by block id, like /) as string],
    ]],
    ['wrong types at the top', { name: 'Order Bot', version: 1.5, start: 3, blocks: { a: { type: 'end' } } }, [
      ['name', 'a scenario name is 1-64 lowercase letters, digits, "_" or "-"; got "Order Bot"'],
      ['version', 'a version is a string or a whole number; got 1.5'],
      ['start', 'expected a string; got 3'],
    ]],
    ['values out of their set or range', scenario({
      a: { type: 'choice', text: '', display: 'grid', choices: [] },
      b: { type: 'ask', text: 'Email?', validation: 'mail', save: { people_profile: 'name' }, next: 'a' },
      c: { type: 'webhook', url: 'api.example.com/x', method: 'PUT', next: 'a' },
      d: { type: 'articles', limit: 10, next: 'a', none: 'a' },
      e: { type: 'handoff', assign: { email: 'nope' } },
      f: { type: 'message', text: 42 },
    }), [
      ['blocks.a.text', 'must not be empty'],
      ['blocks.a.display', 'expected one of "buttons", "carousel"; got "grid"'],
      ['blocks.a.choices', 'needs at least 1 item; got an empty list'],
      ['blocks.b.validation', 'expected one of "email", "phone"; got "mail"'],
      ['blocks.b.save.people_profile', 'expected one of "email", "phone", "nickname"; got "name"'],
      ['blocks.c.url', 'expected a URL like https://example.com/page; got "api.example.com/x"'],
      ['blocks.c.method', 'expected one of "POST", "GET"; got "PUT"'],
      ['blocks.d.limit', 'must be at most 5; got 10'],
      ['blocks.e.assign.email', 'expected an email address; got "nope"'],
      ['blocks.f.text', 'expected a string; got 42'],
    ]],
    ['a bad variable name and a bad block id', scenario({ a: { type: 'set', vars: { '1x': 'y' }, next: 'a b' }, 'a b': { type: 'end' } }), [
      ['blocks.a.vars.1x', 'a variable name is ASCII letters (A-Z, a-z), digits and "_", not starting with a digit; got "1x"'],
      ['blocks.a b', 'a block id is 1-100 ASCII letters, digits, "_", "." or "-" (not starting with "." or "-"); got "a b"'],
    ]],
    // Each kind of condition is a shape of its own: the mistakes are reported in the one the block means.
    ['business hours written loosely', scenario({ a: { type: 'condition', when: { business_hours: { timezone: 'Europe/Paris', hours: [{ days: ['monday'], from: '9:00', to: '18:00' }] } }, then: 'a', else: 'a' } }), [
      ['blocks.a.when.business_hours.hours.0.days.0', 'expected one of "mon", "tue", "wed", "thu", "fri", "sat", "sun"; got "monday"'],
      ['blocks.a.when.business_hours.hours.0.from', 'a time like "09:00" (HH:MM, 24-hour; "24:00" ends the day); got "9:00"'],
    ]],
  ])('%s', (_, source, expected) => {
    expect(errors(source)).toEqual(expected);
  });

  it('a target that is a typo of a block id names that block; in a small scenario, an unknown one lists the blocks', () => {
    const blocks = { ask_email: { type: 'ask', text: 'Email?', save: { var: 'email' }, next: 'thank_you' }, thanks: { type: 'end' }, other: { type: 'end' } };
    expect(errors({ ...scenario(blocks), start: 'Ask_Email' })).toEqual([
      ['start', 'start block "Ask_Email" does not exist; did you mean "ask_email"?'],
      ['blocks.ask_email.next', 'unknown block "thank_you" (the blocks are ask_email, thanks, other)'],
    ]);
    expect(errors(scenario({ a: { type: 'message', text: 'Hi', next: 'ask_emial' }, ask_email: blocks.ask_email, thank_you: { type: 'end' } }))).toEqual([
      ['blocks.a.next', 'unknown block "ask_emial"; did you mean "ask_email"?'],
    ]);
    expect(errors({ ...scenario({}), start: 'a' })).toEqual([['start', 'start block "a" does not exist (blocks is empty)']]);
  });
});

describe('compileText', () => {
  it('reports duplicate block ids, which JSON.parse would silently drop', () => {
    const json = `{
      "name": "dup", "version": 1, "start": "a",
      "blocks": {
        "a": { "type": "message", "text": "first", "next": "b" },
        "b": { "type": "end" },
        "a": { "type": "message", "text": "second", "next": "b" }
      }
    }`;
    const result = compileText(json);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([{ level: 'error', path: 'blocks.a', message: 'duplicate block id "a" (JSON keeps only the last one)' }]);
  });

  it('reports other duplicate keys with their path, escapes and nesting included', () => {
    const json = '{"name":"d","version":1,"start":"a","blocks":{"a":{"type":"choice","text":"x","choices":[{"label":"A","next":"b"},{"label":"B","next":"b","next":"b"}]},"b":{"type":"end","text":"\\"q\\"","te\\u0078t":"y"}}}';
    const result = compileText(json);
    expect(result.ok ? [] : result.problems.map((p) => [p.path, p.message])).toEqual([
      ['blocks.a.choices.1.next', 'duplicate key "next"'],
      ['blocks.b.text', 'duplicate key "text"'],
    ]);
  });

  it('reports a JSON syntax error with its line and column', () => {
    const result = compileText('{\n  "name": "x",\n  "version": 1,,\n}');
    expect(result.ok ? [] : result.problems).toEqual([{ level: 'error', path: '', message: expect.stringMatching(/^not valid JSON at line 3, column 16/) }]);
  });

  it('reads a file that starts with a byte order mark as the same scenario', () => {
    const json = JSON.stringify(scenario({ a: { type: 'end', text: 'Bye' } }));
    const withBom = compileText(`\uFEFF${json}`);
    const without = compileText(json);
    expect(withBom.ok && without.ok && withBom.program.hash === without.program.hash).toBe(true);
  });

  it.each([
    ['an empty file', '', /^the file is empty: a scenario is one JSON object like \{"name": "hello"/],
    ['a blank file', ' \n\t\n', /^the file is empty/],
    ['a YAML file', 'name: hello\nversion: 1\n', /^not JSON: a scenario file is one JSON object, starting with "\{", but this one starts with "n" at line 1 \(YAML and JavaScript are not read/],
    ['a JavaScript module', '\n\nexport default { name: "x" }', /^not JSON: .* starts with "e" at line 3 /],
    ['single quotes', '{\n  "name": \'x\'\n}', /^not valid JSON at line 2, column 11: unexpected "'" \(JSON strings take double quotes\)$/],
    ['a misspelt literal', '{"name": "x",\n "blocks": {"a": {"resolve": tru}}}', /^not valid JSON at line 2, column 33: unexpected "\}"$/],
  ])('says what is wrong with %s, where it can', (_, text, message) => {
    const result = compileText(text);
    expect(result.ok ? [] : result.problems).toEqual([{ level: 'error', path: '', message: expect.stringMatching(message) }]);
  });

  it('compiles a valid file like compile does', () => {
    const source = scenario({ a: { type: 'end', text: 'Bye' } });
    const fromText = compileText(JSON.stringify(source, null, 2));
    const fromObject = compile(source);
    expect(fromText.ok && fromObject.ok && fromText.program.hash === fromObject.program.hash).toBe(true);
  });
});

describe('JSON Schema', () => {
  it('describes the format for editors', () => {
    const schema = scenarioJsonSchema() as { $schema: string; required: string[]; properties: Record<string, { additionalProperties?: { oneOf?: Array<{ properties: { type: { const: string } } }> } }> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(['name', 'version', 'start', 'blocks']);
    const types = schema.properties.blocks?.additionalProperties?.oneOf?.map((b) => b.properties.type.const);
    expect(types).toEqual(['message', 'choice', 'ask', 'match', 'condition', 'set', 'webhook', 'articles', 'handoff', 'end']);
  });
});
