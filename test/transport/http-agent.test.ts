// serve --http --crisp-agent: requests signed by Crisp's AI agent (Hugo), each bound to the website
// it signed for.
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ERAS, INITIALIZE, post, signingFetch, startHttpHarness, TOKEN_A, type Era, type HttpHarness } from '../helpers/http.js';

const SECRET = 'mcp_sec_test-signing-secret-0123456789';
const OTHER_SITE = '9f3e5a1c-7b2d-4e8f-a6c4-1d2b3c4d5e6f';
const NOT_ALLOWED = '11111111-2222-4333-8444-555555555555';

function signed(body: string, website: string, timestamp = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${website}.${body}`).digest('hex');
  return { 'x-crisp-website-id': website, 'x-crisp-timestamp': String(timestamp), 'x-crisp-signature': `sha256=${signature}` };
}

// A 2026-07-28 tools/call as the SDK client sends it: the envelope in _meta, the method and name mirrored in headers.
const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'hugo', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
const callList = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'list_operators', arguments: {}, _meta: ENVELOPE } });
const MODERN = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'list_operators' };

describe('serve --http --crisp-agent', () => {
  let h: HttpHarness;
  let site: string;
  beforeAll(async () => {
    h = await startHttpHarness([], { crispAgent: { secret: SECRET } }, [OTHER_SITE]);
    site = h.sandbox.websiteId;
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(ERAS)('%s era: a client signing like Hugo calls tools; the conversation it names is logged as session_<uuid>', async (era: Era) => {
    const conversation = randomUUID();
    const client = await connect(h.url, { era, fetch: signingFetch(SECRET, site, { session: conversation }) });
    try {
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { operators: unknown[] }).operators).toHaveLength(4);
      expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'Crisp agent tool call', website_id: site, crisp_session: `session_${conversation}`, tool: 'list_operators' }));
    } finally {
      await client.close();
    }
  });

  it.each(ERAS)('%s era: the call is bound to the signed website, even when another one is in the allow-list', async (era: Era) => {
    const client = await connect(h.url, { era, fetch: signingFetch(SECRET, site) });
    try {
      const elsewhere = await client.callTool({ name: 'list_operators', arguments: { website_id: OTHER_SITE } });
      expect(elsewhere.isError).toBe(true);
      expect((elsewhere.content as { text: string }[])[0]!.text).toMatch(new RegExp(`website ${OTHER_SITE} is not .*allowed: ${site}`));
    } finally {
      await client.close();
    }
  });

  it('refuses a wrong signature, a tampered body, a wrong secret and missing headers (401)', async () => {
    const body = callList(1);
    const good = signed(body, site);
    const cases: [string, Record<string, string>, string][] = [
      ['flipped digit', { ...good, 'x-crisp-signature': good['x-crisp-signature']!.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, body],
      ['tampered body', good, body.replace('list_operators', 'list_conversations')],
      ['other website', { ...good, 'x-crisp-website-id': OTHER_SITE }, body],
      ['wrong secret', signed(body, site, undefined, 'mcp_sec_someone-else'), body],
      ['no timestamp', { 'x-crisp-signature': good['x-crisp-signature']!, 'x-crisp-website-id': site }, body],
      ['not sha256=', { ...good, 'x-crisp-signature': good['x-crisp-signature']!.slice('sha256='.length) }, body],
    ];
    for (const [name, headers, sent] of cases) {
      const res = await post(h.url, sent, { ...MODERN, ...headers });
      expect(res.status, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toBe('Crisp-Signature');
    }
    const res = await post(h.url, body, { ...MODERN, ...good, 'x-crisp-signature': good['x-crisp-signature']!.replace(/.$/, (c) => (c === '0' ? '1' : '0')) });
    expect(res.json.error?.message).toMatch(/X-Crisp-Signature does not match/);
  });

  it('refuses a stale or future timestamp (outside 300 s)', async () => {
    const now = Math.floor(Date.now() / 1000);
    // 30 s past the window each way: the server reads its own clock a moment later, across a second boundary maybe.
    for (const timestamp of [now - 330, now + 330]) {
      const res = await post(h.url, callList(2), { ...MODERN, ...signed(callList(2), site, timestamp) });
      expect(res.status).toBe(401);
      expect(res.json.error?.message).toMatch(/outside the 300 s window/);
    }
    expect((await post(h.url, callList(3), { ...MODERN, ...signed(callList(3), site, now - 290) })).status).toBe(200);
    const millis = Date.now();
    expect((await post(h.url, callList(4), { ...MODERN, ...signed(callList(4), site, millis) })).status).toBe(200);
  });

  it('refuses a replayed tools/call, but not the protocol chatter every Hugo connection repeats', async () => {
    const body = callList(5);
    const headers = { ...MODERN, ...signed(body, site) };
    const first = await post(h.url, body, headers);
    expect(first.status).toBe(200);
    expect(first.json.result).toMatchObject({ structuredContent: { operators: expect.any(Array) } });
    const again = await post(h.url, body, headers);
    expect(again.status).toBe(401);
    expect(again.json.error?.message).toMatch(/replayed request/);
    const init = signed(INITIALIZE, site);
    expect((await post(h.url, INITIALIZE, init)).status).toBe(200);
    expect((await post(h.url, INITIALIZE, init)).status).toBe(200);
  });

  it('refuses a signed website outside the allow-list (403) and a malformed X-Crisp-Session-Id (400)', async () => {
    const forbidden = await post(h.url, callList(6), { ...MODERN, ...signed(callList(6), NOT_ALLOWED) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error?.message).toMatch(`website ${NOT_ALLOWED} is not in CRISP_WEBSITE_ID`);
    const badSession = await post(h.url, callList(7), { ...MODERN, ...signed(callList(7), site), 'x-crisp-session-id': 'not-a-session' });
    expect(badSession.status).toBe(400);
  });

  it('refuses unsigned requests when no bearer token is configured', async () => {
    const res = await post(h.url, INITIALIZE);
    expect(res.status).toBe(401);
    expect(res.json.error?.message).toMatch(/signed by Crisp's AI agent/);
  });

  it("binds a 2025-era session to the website: another website's signature cannot use it", async () => {
    const opened = await post(h.url, INITIALIZE, signed(INITIALIZE, site));
    const session = opened.headers['mcp-session-id'] as string;
    expect(session).toBeTruthy();
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const other = await post(h.url, list, { ...signed(list, OTHER_SITE), 'mcp-session-id': session });
    expect(other.status).toBe(404);
    const own = await post(h.url, list, { ...signed(list, site), 'mcp-session-id': session });
    expect(own.status).toBe(200);
  });
});

describe('serve --http --crisp-agent with a bearer token too', () => {
  it('lets token holders in unsigned, and still judges a signed request by its signature alone', async () => {
    const h = await startHttpHarness([], { crispAgent: { secret: SECRET }, tokens: [TOKEN_A] });
    try {
      const client = await connect(h.url, { era: 'modern', token: TOKEN_A });
      expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
      await client.close();
      const forged = await post(h.url, callList(1), { ...MODERN, authorization: `Bearer ${TOKEN_A}`, ...signed(callList(1), h.sandbox.websiteId, undefined, 'mcp_sec_wrong') });
      expect(forged.status).toBe(401);
    } finally {
      await h.close();
    }
  });
});
