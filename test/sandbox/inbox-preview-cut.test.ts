// The inbox preview of a long last message, as the official crisp-api client (listConversations)
// and the console's inbox read it from a real sandbox: cut between whole characters — a flag, a ZWJ
// family or a letter with its mark at the cut is left out whole — where a cut at 200 UTF-16 units
// gave half a flag (🇯 of 🇯🇵), a smaller family or an e without its accent.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { control } from '../helpers/sandbox-http.js';
import { officialClient } from '../helpers/official-rtm.js';

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 8 });
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

const conversations = () => `/_sandbox/websites/${sandbox.websiteId}/conversations`;
type Listed = { session_id: string; preview_message?: { excerpt: string } };

async function open(text: string): Promise<string> {
  const reply = await control<{ session_id: string }>(sandbox, 'POST', conversations(), { text });
  expect(reply.status, reply.text).toBe(200);
  return reply.body!.data.session_id;
}

describe('the inbox preview of a long last message', () => {
  const FAMILY = '👨‍👩‍👧'; // 8 UTF-16 units: three emoji joined by two ZWJ
  it.each([
    // 198 + 🇯🇵 (4 units): a cut at 200 kept 🇯, a regional indicator alone.
    { name: 'a flag across the 200th unit', kept: 'a'.repeat(198), text: `${'a'.repeat(198)}🇯🇵 and more` },
    // 195 + the family: a cut at 200 kept 👨‍👩, another emoji.
    { name: 'a ZWJ family across the 200th unit', kept: 'a'.repeat(195), text: `${'a'.repeat(195)}${FAMILY} and more` },
    // 199 + e + U+0301: a cut at 200 kept the e without its accent.
    { name: 'a letter with its mark across the 200th unit', kept: 'a'.repeat(199), text: `${'a'.repeat(199)}e\u0301 and more` },
  ])('$name: cut before it, whole characters only, as the official client and the console read it', async ({ text, kept }) => {
    const session = await open(text);
    const listed = (await official.website.listConversations(sandbox.websiteId, 1, { per_page: 50 })) as Listed[];
    const mine = listed.find((c) => c.session_id === session);
    expect(mine?.preview_message?.excerpt).toBe(kept);
    const inbox = (await control<Listed[]>(sandbox, 'GET', conversations())).body!.data;
    expect(inbox.find((c) => c.session_id === session)?.preview_message?.excerpt).toBe(kept);
  });

  it('a message that fits is shown whole, emoji and all', async () => {
    const text = `${'a'.repeat(192)}${FAMILY}`;
    const session = await open(text);
    const listed = (await official.website.listConversations(sandbox.websiteId, 1, { per_page: 50 })) as Listed[];
    expect(listed.find((c) => c.session_id === session)?.preview_message?.excerpt).toBe(text);
  });
});
