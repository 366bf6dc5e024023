// `crisp-mcp scenario …`, called in-process through runScenarioCommand with temp files, a scripted
// stdin and captured output (the CLI entry wires the same function). Webhooks are called against a
// real local HTTP server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenarioCommand } from '../../src/commands/scenario.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-scenario-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

async function run(argv: string[], stdinLines: string[] = [], extra: { now?: () => number } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runScenarioCommand(argv, {
    stdin: Readable.from(stdinLines.map((l) => `${l}\n`)),
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    ...extra,
  });
  return { code, stdout, stderr };
}

describe('scenario validate', () => {
  it('prints a summary line for a good file', async () => {
    const { code, stdout, stderr } = await run(['validate', `${SCENARIOS}booking.json`]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^booking\.json: ok, 8 blocks, 8 instructions, 5 waiting points, 0 warnings, hash [0-9a-f]{12}\n {2}sends conversation data \(what its webhook body names\) to https:\/\/booking\.example\.com\/api\/bookings\n$/);
  });

  it('prints every problem with its block path and exits 1', async () => {
    const path = file('bad.json', `{
  "name": "bad", "version": 1, "start": "hello",
  "blocks": {
    "hello": { "type": "message", "text": "Hi", "next": "ask_email" },
    "ask_email": { "type": "ask", "text": "Email?", "validation": { "regex": "([a-z]+" }, "save": { "var": "email" }, "next": "nowhere" },
    "hello": { "type": "message", "text": "Hi again", "next": "ask_email" }
  }
}`);
    const { code, stdout } = await run(['validate', path]);
    expect(code).toBe(1);
    expect(stdout.split('\n')).toEqual([
      'error   blocks.hello: duplicate block id "hello" (JSON keeps only the last one)',
      expect.stringMatching(/^error {3}blocks\.ask_email\.next: unknown block "nowhere" \(the blocks are hello, ask_email\)$/),
      expect.stringMatching(/^error {3}blocks\.ask_email\.validation\.regex: bad regex: /),
      'bad.json: 3 errors, 0 warnings',
      '',
    ]);
  });

  it('checks several files as one scenarios folder: each one reported, exit 1 if any fails, one name used twice is an error', async () => {
    const good = file('one.json', { name: 'one', version: 1, start: 'a', blocks: { a: { type: 'end' } } });
    const bad = file('two.json', { name: 'two', version: 1, start: 'a', blocks: { a: { type: 'end', resolve: 'yes' } } });
    const again = file('one-again.json', { name: 'one', version: 2, start: 'b', blocks: { b: { type: 'end' } } });
    const both = await run(['validate', good, bad]);
    expect(both.code).toBe(1);
    expect(both.stdout.split('\n')).toEqual([expect.stringMatching(/^one\.json: ok, 1 blocks, /), 'error   blocks.a.resolve: expected true or false; got "yes"', 'two.json: 1 error, 0 warnings', '']);
    expect((await run(['validate', good, `${SCENARIOS}gdpr.json`])).code).toBe(0);
    const twice = await run(['validate', good, again]);
    expect(twice.code).toBe(1);
    expect(twice.stdout).toContain(`error   name: "one" is also the name of ${good}: scenario names must be unique in a folder\none-again.json: 1 error, 0 warnings\n`);
    const json = await run(['validate', '--json', good, bad]);
    expect(JSON.parse(json.stdout)).toEqual([
      { file: good, ok: true, problems: [], summary: expect.objectContaining({ scenario: 'one' }) },
      { file: bad, ok: false, problems: [{ level: 'error', path: 'blocks.a.resolve', message: 'expected true or false; got "yes"' }] },
    ]);
  });

  it('prints warnings but exits 0', async () => {
    const path = file('warn.json', { name: 'warn', version: 1, start: 'a', blocks: { a: { type: 'end' }, b: { type: 'end' } } });
    const { code, stdout } = await run(['validate', path]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^warning blocks\.b: unreachable from start\nwarn\.json: ok, 2 blocks, 2 instructions, 0 waiting points, 1 warning, hash /);
  });

  it('--json prints the problems and the summary as JSON', async () => {
    const { code, stdout } = await run(['validate', '--json', `${SCENARIOS}gdpr.json`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, problems: [], summary: { scenario: 'gdpr', blocks: 5, waiting_points: ['route', 'gdpr_answer', 'more'] } });
  });
});

describe('scenario compile and schema', () => {
  it('compile prints the linear program as JSON', async () => {
    const { code, stdout } = await run(['compile', `${SCENARIOS}cancel-account.json`]);
    expect(code).toBe(0);
    const program = JSON.parse(stdout) as { scenario: string; start: number; code: Array<{ op: string; block: string }>; index: Record<string, number> };
    expect(program.scenario).toBe('cancel-account');
    expect(program.code.map((i) => `${i.op}:${i.block}`)).toEqual(['match:route', 'choice:confirm', 'set:record', 'handoff:to_billing', 'end:kept', 'handoff:human']);
    expect(program.index).toEqual({ route: 0, confirm: 1, record: 2, to_billing: 3, kept: 4, human: 5 });
    expect(stdout).toContain('"re": "/\\\\b(cancel|close|delete|terminate)\\\\b.*\\\\b(account|subscription|plan)\\\\b/i"');
  });

  it('compile --summary prints the compact summary', async () => {
    const { stdout } = await run(['compile', '--summary', `${SCENARIOS}newsletter.json`]);
    expect(JSON.parse(stdout)).toMatchObject({ scenario: 'newsletter', blocks: 5, instructions: 5, waiting_points: ['route', 'ask_email'] });
  });

  it('compile refuses a bad file: problems and one line on stderr, exit 1', async () => {
    const path = file('broken.json', { name: 'broken', version: 1, start: 'x', blocks: { a: { type: 'end' } } });
    const { code, stdout, stderr } = await run(['compile', path]);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toBe(`error   start: start block "x" does not exist (the blocks are a)\ncrisp-mcp scenario: broken.json has 1 error; run \`crisp-mcp scenario validate ${path}\`\n`);
  });

  it('schema prints the JSON Schema', async () => {
    const { code, stdout } = await run(['schema']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'crisp-mcp scenario', required: ['name', 'version', 'start', 'blocks'] });
  });

  it.each<[string[], number, RegExp]>([
    [[], 2, /^crisp-mcp scenario: usage: crisp-mcp scenario validate FILE… \| compile\|chat FILE \| graph FILE \[--format html\|mermaid\] \| schema\n$/],
    [['lint', 'x.json'], 2, /^crisp-mcp scenario: unknown subcommand "lint" \(files are checked with validate\); usage: /],
    [['validate'], 2, /^crisp-mcp scenario: validate needs a FILE; usage: /],
    [['compile', 'a.json', 'b.json'], 2, /^crisp-mcp scenario: compile takes one FILE at a time \(got 2; validate takes several\); usage: /],
    [['validate', '/nonexistent/x.json'], 1, /^crisp-mcp scenario: no such file: \/nonexistent\/x\.json\n$/],
    [['validate', '--frobnicate', 'x.json'], 2, /^crisp-mcp scenario: unknown flag --frobnicate; the flags are --json, --summary, --now, --operators-available, --call-webhooks, --helpdesk, --format \(crisp-mcp scenario --help says which subcommand takes which\)\n$/],
    [['validate', mkdtempSync(join(tmpdir(), 'crisp-mcp-empty-'))], 2, /^crisp-mcp scenario: .+ holds no \*\.json file: serve and bot read scenarios from \*\.json files only\n$/],
    [['chat', `${SCENARIOS}gdpr.json`, '--now', 'someday'], 2, /^crisp-mcp scenario: --now must be a date/],
  ])('%j → exit %d with one line on stderr', async (argv, exit, message) => {
    const { code, stdout, stderr } = await run(argv);
    expect(code).toBe(exit);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('scenario chat', () => {
  it('answers a GDPR question from a local helpdesk file (--helpdesk), and hands off when nothing matches', async () => {
    const helpdesk = file('helpdesk.json', [
      { title: 'GDPR and our Data Processing Agreement', url: 'https://help.example.com/en/article/gdpr/', content: 'How we process personal data under the GDPR, and how to sign the DPA.', locale: 'en' },
      { title: 'Refund policy', url: 'https://help.example.com/en/article/refunds/', content: 'Money back within 30 days.', locale: 'en' },
      { title: 'RGPD', url: 'https://help.example.com/fr/article/rgpd/', content: 'Le RGPD et le DPA.', locale: 'fr' },
    ]);
    const found = await run(['chat', `${SCENARIOS}gdpr.json`, '--helpdesk', helpdesk], ['Where do I sign the GDPR DPA?', '1']);
    expect(found.stdout).toContain(
      [
        '  · helpdesk search "Where do I sign the GDPR DPA?"',
        '  · 1 article found',
        'bot: Our help center has the answer (our Data Processing Agreement, the DPA, is signed from there too):',
        '  [GDPR and our Data Processing Agreement] https://help.example.com/en/article/gdpr/',
        'bot: Did that answer your question?',
      ].join('\n'),
    );
    expect(found.stdout).toContain('bot: Glad to help!');
    const none = await run(['chat', `${SCENARIOS}gdpr.json`, '--helpdesk', helpdesk], ['is my privacy respected on Mars?']);
    expect(none.stdout).toContain('  · 0 articles found\nbot: Let me get someone from the team for you.');
    const without = await run(['chat', `${SCENARIOS}gdpr.json`], ['GDPR?']);
    expect(without.stdout).toContain('  · 0 articles found (no --helpdesk FILE given)');
    // As the Crisp helpdesk search does: with no locale on the block, the articles of the visitor's language.
    const french = await run(['chat', `${SCENARIOS}gdpr.json`, '--helpdesk', helpdesk], ['Question RGPD : où signer le DPA ?']);
    expect(french.stdout).toContain('  [RGPD] https://help.example.com/fr/article/rgpd/');
  });

  it('refuses a helpdesk file that is not a list of articles, naming the field', async () => {
    const bad = file('bad-helpdesk.json', [{ title: 'No url' }]);
    const { code, stderr } = await run(['chat', `${SCENARIOS}gdpr.json`, '--helpdesk', bad], []);
    expect(code).toBe(1);
    expect(stderr).toMatch(/--helpdesk .*bad-helpdesk\.json: 0\.url: /);
  });

  it('plays the visitor: buttons by number, bot messages and actions printed', async () => {
    const { code, stdout } = await run(['chat', `${SCENARIOS}cancel-account.json`], ['I want to cancel my account', '3', '1']);
    expect(code).toBe(0);
    expect(stdout.split('\n').slice(1)).toEqual([
      '(the bot waits for your message)',
      'you: I want to cancel my account',
      'bot: Are you sure you want to cancel your account? Your data will be deleted at the end of the billing period.',
      '  1) Yes',
      '  2) No',
      'you: 3',
      'bot: Are you sure you want to cancel your account? Your data will be deleted at the end of the billing period.',
      '  1) Yes',
      '  2) No',
      'you: 1',
      '  · conversation data {"cancellation":"requested"}',
      '  · segments +cancellation -upsell',
      'bot: Understood. Our billing team will confirm the cancellation by email shortly.',
      '  · assign to billing@example.com',
      '  · handoff (cancellation), note for operators: The visitor confirmed they want to cancel their account.',
      '(handed off to a human: the bot stays silent in this conversation now)',
      '',
    ]);
  });

  it('uses --now for business hours', async () => {
    const weekend = await run(['chat', `${SCENARIOS}weekend-support.json`, '--now', '2025-06-14T10:00:00Z'], ['/quit']);
    expect(weekend.stdout).toContain('bot: Our support team is off for the weekend');
    const weekday = await run(['chat', `${SCENARIOS}weekend-support.json`], [], { now: () => Date.parse('2025-06-16T10:00:00Z') });
    expect(weekday.stdout).toContain('bot: Thanks for your message! An operator will answer you shortly.');
  });

  it('/state shows the saved position, /restart starts over', async () => {
    const { stdout } = await run(['chat', `${SCENARIOS}newsletter.json`], ['subscribe me', '/state', '/restart', '/quit']);
    const state = stdout.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(state!)).toMatchObject({ scenario: 'newsletter', block: 'ask_email', pc: 1, waiting: true });
    expect(stdout).toMatch(/you: \/restart\n\(the bot waits for your message\)\n$/);
  });

  it('reads a webhook answer from the next line unless told to call it', async () => {
    const { code, stdout } = await run(['chat', `${SCENARIOS}booking.json`], ['book a table', 'Ann', '2025-06-20', 'ann@example.com', '{"booking":{"id":"BK-1","slot":"Friday"}}']);
    expect(code).toBe(0);
    expect(stdout).toContain('  · webhook POST https://booking.example.com/api/bookings {"name":"Ann","date":"2025-06-20","email":"ann@example.com","source":"crisp-chat"}\nwebhook answer? JSON for the body (Enter = {}), or "fail"\n');
    expect(stdout).toContain('\nwebhook answer: {"booking":{"id":"BK-1","slot":"Friday"}}\n'); // not "you:": the visitor did not write it
    expect(stdout).toContain('bot: You are booked for Friday, Ann. Your reference is BK-1;');
    expect(stdout).toMatch(/\(scenario ended\)\n$/);
  });

  it('stops a webhook chain at the engine limit, as every channel does: five answers, then a handoff', async () => {
    const blocks: Record<string, unknown> = { start: { type: 'message', text: 'Hi', next: 'w1' } };
    for (let i = 1; i <= 7; i++) {
      blocks[`w${i}`] = { type: 'webhook', url: 'https://hooks.example.com/step', body: { n: String(i) }, map: { n: 'n' }, next: `m${i}`, on_error: 'human' };
      blocks[`m${i}`] = { type: 'message', text: `Call {{n}} done`, next: i < 7 ? `w${i + 1}` : 'done' };
    }
    blocks.human = { type: 'handoff', reason: 'failed' };
    blocks.done = { type: 'end' };
    const path = file('chain.json', { name: 'chain', version: 1, start: 'start', webhook_origins: ['https://hooks.example.com'], blocks });
    const answers = [1, 2, 3, 4, 5, 6, 7].map((n) => JSON.stringify({ n: `#${n}` }));
    const { code, stdout } = await run(['chat', path], answers);
    expect(code).toBe(0);
    expect(stdout.match(/· webhook POST/g)).toHaveLength(5);
    expect(stdout).toContain('bot: Call #5 done\n  · handoff (webhook_chain)');
    expect(stdout).not.toContain('Call #6 done');
    expect(stdout).toMatch(/\(handed off to a human: the bot stays silent in this conversation now\)\n$/);
  });

  describe('--call-webhooks', () => {
    let server: Server;
    let origin: string;
    const received: unknown[] = [];
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received.push({ method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) as unknown });
          if (req.url === '/moved') {
            res.writeHead(302, { location: '/book?src=redirect' }).end();
          } else if (req.url === '/endless') {
            // An answer that never ends (no content-length): only a reader that stops at its bound gets past it.
            res.writeHead(200, { 'content-type': 'application/json' });
            const chunk = Buffer.alloc(64 * 1024, 0x20);
            const more = () => {
              while (!res.destroyed && res.write(chunk));
            };
            res.on('drain', more);
            more();
          } else {
            res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'R-9' }));
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('really calls the allow-listed URL and feeds the answer back', async () => {
      const path = file('hook.json', {
        name: 'hook',
        version: 1,
        start: 'q',
        webhook_origins: [origin],
        blocks: {
          q: { type: 'ask', text: 'Your name?', save: { var: 'name' }, next: 'call' },
          call: { type: 'webhook', url: `${origin}/book?src=chat`, body: { who: '{{name}}' }, map: { ref: 'id' }, next: 'done', on_error: 'done' },
          done: { type: 'end', text: 'Reference {{ref}}' },
        },
      });
      const { code, stdout } = await run(['chat', path, '--call-webhooks'], ['Zoe']);
      expect(code).toBe(0);
      expect(received).toEqual([{ method: 'POST', url: '/book?src=chat', type: 'application/json', body: { who: 'Zoe' } }]);
      expect(stdout).toContain('  · webhook answered 201\nbot: Reference R-9\n(scenario ended)\n');
    });

    const hookTo = (name: string, url: string) =>
      file(`${name}.json`, {
        name,
        version: 1,
        start: 'call',
        webhook_origins: [origin],
        blocks: {
          call: { type: 'webhook', url, body: { who: 'Zoe' }, map: { ref: 'id' }, next: 'done', on_error: 'failed' },
          done: { type: 'end', text: 'Reference {{ref}}' },
          failed: { type: 'end', text: 'No reference' },
        },
      });

    it('stops reading an answer at 1 MiB and ignores it', async () => {
      received.length = 0;
      const { code, stdout } = await run(['chat', hookTo('endless', `${origin}/endless`), '--call-webhooks']);
      expect(code).toBe(0);
      expect(stdout).toContain('  · webhook answered 200 (answer over 1048576 bytes, ignored)\nbot: Reference \n(scenario ended)\n');
      expect(received).toHaveLength(1);
    });

    it('does not follow a redirect', async () => {
      received.length = 0;
      const { code, stdout } = await run(['chat', hookTo('moved', `${origin}/moved`), '--call-webhooks']);
      expect(code).toBe(0);
      expect(stdout).toContain('  · webhook failed: could not be reached\nbot: No reference\n(scenario ended)\n');
      expect(received).toEqual([{ method: 'POST', url: '/moved', type: 'application/json', body: { who: 'Zoe' } }]);
    });
  });
});

// What a stranger has to go on is docs/scenarios.md (the README's scenarios paragraph links it): its
// minimal scenario and its sample of validator messages are checked against what the command
// prints, so neither drifts from the code.
describe('docs/scenarios.md reads true', () => {
  const page = readFileSync(fileURLToPath(new URL('../../docs/scenarios.md', import.meta.url)), 'utf8');
  const fenced = (after: string, lang: string) => {
    const from = page.indexOf(after);
    expect(from, `docs/scenarios.md has "${after}"`).toBeGreaterThan(-1);
    const start = page.indexOf(`\`\`\`${lang}\n`, from) + lang.length + 4;
    return page.slice(start, page.indexOf('```', start));
  };

  it('the minimal example validates and chats as docs/scenarios.md says', async () => {
    const path = file('hello.json', fenced('A minimal one', 'json'));
    expect((await run(['validate', path])).stdout).toMatch(/^hello\.json: ok, 4 blocks, /);
    const { code, stdout } = await run(['chat', path], ['1']);
    expect(code).toBe(0);
    expect(stdout.split('\n').slice(1)).toEqual(['bot: Hi! What do you need?', '  1) Pricing', '  2) A human', 'you: 1', 'bot: Plans start at $10 a month: https://example.com/pricing', '(scenario ended)', '']);
  });

  it('every sample validator message is what validate prints for such a mistake', async () => {
    const mistakes = {
      'shape.json': { name: 'x', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'Hi', nxt: 'b' }, b: { type: 'ask', text: 'Email?', next: 'c' }, c: { type: 'choice', text: 'Pick', display: 'grid', choices: [{ label: 'A', next: 'a' }] } } },
      'graph.json': { name: 'x', version: 1, start: 'd', blocks: { d: { type: 'message', text: 'Hi', next: 'ask_emial' }, ask_email: { type: 'end' }, e: { type: 'webhook', url: 'https://api.example.com/x', next: 'd' } } },
      'syntax.json': `{\n  "name": "x",\n  "version": 1,\n  "start": 'a',\n}`,
      'warning.json': { name: 'x', version: 1, start: 'f', blocks: { f: { type: 'message', text: 'Hi {{nme}}' } } },
      'early.json': { name: 'x', version: 1, start: 'g', blocks: { g: { type: 'message', text: 'Order {{order}}?', next: 'ask_order' }, ask_order: { type: 'ask', text: 'Your order?', save: { var: 'order' }, next: 'bye' }, bye: { type: 'end' } } },
    };
    let printed = '';
    for (const [name, content] of Object.entries(mistakes)) printed += (await run(['validate', file(name, content)])).stdout;
    const samples = fenced('The validator says what it wants', '').trim().split('\n');
    expect(samples.length).toBeGreaterThanOrEqual(5);
    for (const line of samples) expect(printed.split('\n'), line).toContain(line);
  });
});
