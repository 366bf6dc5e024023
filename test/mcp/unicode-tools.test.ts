// A support team that does not write in ASCII, through the built CLI over stdio (`serve --sandbox`),
// as an MCP host runs it: visitors write through the sandbox's visitor routes, the agent through tools.
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';

let host: StdioHost;
let client: Client;
let sandboxUrl: string;
let website: string;
const FAMILY = '👨‍👩‍👧';

async function call<T = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<{ out: T; text: string; isError: boolean }> {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as { text: string }[]).map((c) => c.text).join('\n');
  return { out: result.structuredContent as T, text, isError: result.isError === true };
}

/** A conversation a visitor starts from the chatbox, with its first message. */
async function visitorWrites(body: { nickname?: string; email?: string; text: string }): Promise<string> {
  const res = await fetch(`${sandboxUrl}/_sandbox/websites/${website}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { session_id: string } }).data.session_id;
}

/** The thread as the sandbox holds it (what Crisp would have stored), oldest first. */
async function thread(session: string): Promise<{ type: string; content: unknown }[]> {
  return ((await (await fetch(`${sandboxUrl}/_sandbox/websites/${website}/conversations/${session}/messages`)).json()) as { data: { type: string; content: unknown }[] }).data;
}

beforeAll(async () => {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
  host = await connectStdio(['serve', '--sandbox', '--store', 'memory']);
  client = host.client;
  sandboxUrl = /"url":"(http:[^"]+)","console"/.exec(host.stderr())![1]!;
  website = ((await (await fetch(`${sandboxUrl}/_sandbox/info`)).json()) as { data: { website_id: string } }).data.website_id;
});
afterAll(() => host?.client.close());

describe('write tools refuse what is no text, naming the field, and send nothing', () => {
  it('send_message: half of a surrogate pair, a control character, only invisible or combining characters', async () => {
    const session = await visitorWrites({ text: 'مرحبا، أريد استرداد أموالي' });
    const before = (await thread(session)).length;
    const refused = [
      // The SDK client writes "\ud800" as JSON's \ud800 escape, as a host that cut an emoji in half would.
      ['refund 🇫\ud800', 'content: holds half of a surrogate pair (U+D800)'],
      ['\udc4d thanks', 'content: holds half of a surrogate pair (U+DC4D)'],
      ['refunded\u0000', 'content: holds the control character U+0000'],
      ['ok\u001b[31m', 'content: holds the control character U+001B'],
      ['\u200b\u200d', 'content is blank (only spaces, line breaks or invisible characters): nothing sent'],
      ['\u0301\u0301', 'content is blank (only spaces, line breaks or invisible characters): nothing sent'],
      ['\u202e \u2060', 'content is blank (only spaces, line breaks or invisible characters): nothing sent'],
    ] as const;
    for (const [content, message] of refused) {
      const sent = await call('send_message', { session_id: session, content });
      expect(sent.isError, JSON.stringify(content)).toBe(true);
      expect(sent.text).toContain(message);
    }
    expect((await thread(session)).length).toBe(before);

    // What is writing goes through unchanged: RTL text, a Persian ZWNJ, a ZWJ family, a flag, an NFD
    // accent, Devanagari, a tab and line breaks.
    const writing = 'شكرًا! می‌خواهم 👨‍👩‍👧 🇯🇵 Cafe\u0301\tनमस्ते\r\nok';
    const ok = await call<{ fingerprint: number }>('send_message', { session_id: session, content: writing });
    expect(ok.isError, ok.text).toBe(false);
    expect((await thread(session)).at(-1)).toMatchObject({ type: 'text', content: writing });
  });

  it('picker choices, a nickname, an event and custom data get the same checks', async () => {
    const session = await visitorWrites({ email: 'yuki@example.jp', text: 'こんにちは' });
    const picker = await call('send_message', { session_id: session, type: 'picker', content: 'どちら？', choices: [{ value: 'a', label: '\u200b' }] });
    expect(picker.isError).toBe(true);
    expect(picker.text).toContain('choices.0.label: is only whitespace, invisible or combining characters');

    const nobody = await call('update_conversation_meta', { session_id: session, nickname: '\u200b\u2063' });
    expect(nobody.isError).toBe(true);
    expect(nobody.text).toContain('nickname: is only whitespace, invisible or combining characters');
    const data = await call('update_conversation_meta', { session_id: session, data: { note: 'a\u0007b' } });
    expect(data.isError).toBe(true);
    expect(data.text).toContain('data.note: holds the control character U+0007');

    const event = await call('add_person_event', { people_id: 'yuki@example.jp', text: '\u00ad\u200b' });
    expect(event.isError).toBe(true);
    expect(event.text).toContain('text: is only whitespace, invisible or combining characters');
    expect((await call('add_person_event', { people_id: 'yuki@example.jp', text: '返金済み 💴' })).isError).toBe(false);

    // A nickname of only emoji is a name.
    for (const nickname of ['🦄', '👩🏽‍💻', '🏴󠁧󠁢󠁳󠁣󠁴󠁿']) {
      const named = await call('update_conversation_meta', { session_id: session, nickname });
      expect(named.isError, named.text).toBe(false);
      const read = await call<{ conversation: { visitor_name: string } }>('get_conversation', { session_id: session, messages: 0 });
      expect(read.out.conversation.visitor_name).toBe(nickname);
    }
  });
});

describe('list_conversations and search_people find a word however it was typed (the sandbox as Crisp)', () => {
  it('matches across Unicode forms, full case folding, full-width forms and Latin accents', async () => {
    // Decomposed é (e + U+0301, as macOS and some keyboards write it), ß, dotless-i languages, full-width.
    const session = await visitorWrites({ nickname: 'Zoë Kaya', text: 'Le Cafe\u0301 de la Straße à Istanbul: ＲＥＦＵＮＤ ｐｌｅａｓｅ, नमस्ते' });
    const found = async (search: string) => (await call<{ conversations: { session_id: string }[] }>('list_conversations', { search })).out.conversations.map((c) => c.session_id);
    for (const search of ['café', 'CAFÉ', 'cafe', 'Cafe\u0301', 'strasse', 'STRASSE', 'straße', 'İSTANBUL', 'istanbul', 'refund please', 'ＲＥＦＵＮＤ', 'नमस्ते', 'zoe', 'ZOË']) {
      expect(await found(search), search).toContain(session);
    }
    // Marks that are vowels in Devanagari still count: नमस्ते is not नमस्त.
    expect(await found('नमसत')).not.toContain(session);
    expect(await found('café au lait')).not.toContain(session);
  });

  it('search_people finds a contact by a name typed in another form or case', async () => {
    await visitorWrites({ nickname: 'Jose\u0301 Müller', email: 'jose.muller@example.de', text: 'Hola' });
    for (const search of ['josé', 'JOSE', 'MÜLLER', 'mu\u0308ller']) {
      const people = await call<{ people: { email: string }[] }>('search_people', { search });
      expect(people.out.people.map((p) => p.email), search).toContain('jose.muller@example.de');
    }
  });
});

describe('an email outside ASCII is refused with what to write instead', () => {
  it('update_conversation_meta and update_person give a non-ASCII domain its ASCII (IDNA) form', async () => {
    const session = await visitorWrites({ email: 'kunde@example.de', text: 'Hallo' });
    const idn = await call('update_conversation_meta', { session_id: session, email: 'info@bücher.de' });
    expect(idn.isError).toBe(true);
    expect(idn.text).toContain('email: expected an email address such as name@example.com; a domain in another script is written in its ASCII form: info@xn--bcher-kva.de');
    const ascii = await call('update_conversation_meta', { session_id: session, email: 'info@xn--bcher-kva.de' });
    expect(ascii.isError, ascii.text).toBe(false);

    const japanese = await call('update_person', { people_id: 'kunde@example.de', email: 'ユーザー@例え.jp' });
    expect(japanese.isError).toBe(true);
    expect(japanese.text).toContain('email: expected an email address such as name@example.com, its part before @ in ASCII');
    const plain = await call('update_person', { people_id: 'kunde@example.de', email: 'not an email' });
    expect(plain.text).toContain('email: expected an email address such as name@example.com');
  });
});

describe('a long message is cut with a marker that counts characters as a reader does', () => {
  it('get_conversation: 100 emoji left out are 100 characters, not 200 UTF-16 units', async () => {
    // 1,999 letters, then 100 thumbs (2 units each) and 10 ZWJ families (8 units each): the 2,000-unit cut falls before the first thumb.
    const session = await visitorWrites({ text: `${'a'.repeat(1_999)}${'👍'.repeat(100)}${FAMILY.repeat(10)}` });
    const read = await call<{ messages: { text: string }[] }>('get_conversation', { session_id: session, messages: 1 });
    expect(read.out.messages[0]!.text).toBe(`${'a'.repeat(1_999)}… [cut: 110 more characters]`);
  });
});
