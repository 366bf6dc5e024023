// POST /converse on the HTTP server: 202 at once and the replies at a real receiver; the refusals
// (401, 400 naming the field, 409 for a messageId reused, 413, 415, 405, 403, 503 while stopping); and the route is absent
// unless a converse handler is configured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERSE_TOKEN, startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { post as rawPost, startHttpHarness } from '../helpers/http.js';

let h: ConverseHarness;
beforeAll(async () => {
  h = await startConverseHarness({ http: { maxBodyBytes: 4_096 } });
});
afterAll(async () => {
  await h.close();
});

describe('POST /converse', () => {
  it('answers 202, then the replies reach the webhook, signed', async () => {
    const accepted = await h.post({ platformConversationId: 'http-1', eventType: 'startSession', messageId: 'x1', metadata: [{ key: 'user_name', value: 'Gil' }] });
    expect(accepted).toMatchObject({ status: 202, json: { status: 'accepted', conversationId: 'http-1', messageId: 'x1' } });
    expect(accepted.headers.get('content-type')).toBe('application/json');
    expect((await h.post({ conversationId: 'http-1', eventType: 'message', text: 'Maybe', messageId: 'x2' })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('http-1').length === 3);
    expect(h.receiver.of('http-1').map((r) => [r.type, r.text, r.replyTo])).toEqual([
      ['text', 'Hello Gil!', 'x1'],
      ['choice', 'What do you need?', 'x1'],
      ['choice', 'What do you need?', 'x2'], // not a choice: the buttons again
    ]);
    expect(h.receiver.accepted.every((a) => a.verified)).toBe(true);
  });

  it('a retried request (same messageId) is answered 202 and does nothing', async () => {
    const body = { conversationId: 'http-2', eventType: 'startSession', messageId: 'once' };
    const answers = await Promise.all(Array.from({ length: 4 }, () => h.post(body)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(answers.filter((a) => a.json.duplicate === true)).toHaveLength(3);
    // At debug, each accepted request is one line an on-call engineer finds by conversation and messageId.
    const accepted = h.logs.filter((l) => l.msg === 'converse event accepted' && l.conversation === 'converse:http-2');
    expect(accepted.map((l) => [l.level, l.messageId, l.duplicate ?? false]).sort()).toEqual([[20, 'once', false], [20, 'once', true], [20, 'once', true], [20, 'once', true]]);
    // A later event's reply comes after any the retries could have caused: wait for it, not for a time.
    expect((await h.post({ conversationId: 'http-2', eventType: 'message', text: 'Maybe', messageId: 'after' })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('http-2').some((r) => r.replyTo === 'after'));
    expect(h.receiver.of('http-2').map((r) => r.replyTo)).toEqual(['once', 'once', 'after']);
  });

  it('a messageId sent again with another event is a 409 naming messageId, and the first event stands; the same event spelt otherwise is a retry', async () => {
    const first = { conversationId: 'http-3', eventType: 'startSession', messageId: 'reused', metadata: [{ key: 'user_name', value: 'Ana' }, { key: 'plan', value: 'pro' }] };
    expect((await h.post(first)).status).toBe(202);
    // The same event: the other spelling of the conversation id and metadata field, the pairs in another order.
    const respelt = { platformConversationId: 'http-3', eventType: 'startSession', messageId: 'reused', metaData: [{ key: 'plan', value: 'pro' }, { key: 'user_name', value: 'Ana' }] };
    expect(await h.post(respelt)).toMatchObject({ status: 202, json: { duplicate: true } });
    const other = await h.post({ conversationId: 'http-3', eventType: 'message', text: 'Maybe', messageId: 'reused' });
    expect(other.status).toBe(409);
    expect(other.json).toEqual({ error: 'message_id_reused', field: 'messageId', message: expect.stringMatching(/^messageId "reused" was accepted in this conversation within the last 24 h for a different event .*give a new event a new messageId$/) });
    expect((await h.post({ ...first, metadata: [{ key: 'user_name', value: 'Bo' }] })).status).toBe(409);
    // The same messageId in another conversation is another event's id.
    expect((await h.post({ conversationId: 'http-3b', eventType: 'message', text: 'Maybe', messageId: 'reused' })).status).toBe(202);
    expect((await h.post({ conversationId: 'http-3', eventType: 'message', text: 'basic', messageId: 'next' })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('http-3').some((r) => r.replyTo === 'next'));
    // Only the first event under "reused" ran (the greeting with its name), then "next".
    expect(h.receiver.of('http-3').map((r) => [r.replyTo, r.text])).toEqual([['reused', 'Hello Ana!'], ['reused', 'What do you need?'], ['next', expect.any(String)], ...h.receiver.of('http-3').slice(3).map((r) => [r.replyTo, r.text])]);
    expect(h.receiver.of('http-3').every((r) => r.replyTo !== 'reused' || r.text !== 'Maybe')).toBe(true);
  });

  it('takes null as a field left out (.NET and Jackson write unset fields as null); eventType null is still a 400 naming it', async () => {
    const nulls = { platformConversationId: null, cardIndex: null, messageId: null, userId: null, metadata: null, metaData: null };
    expect(await h.post({ conversationId: 'http-5', eventType: 'startSession', ...nulls })).toMatchObject({ status: 202, json: { status: 'accepted', conversationId: 'http-5' } });
    expect((await h.post({ conversationId: 'http-5', eventType: 'message', text: 'Maybe', ...nulls })).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('http-5').length === 3);
    expect(h.receiver.of('http-5').map((r) => r.text)).toEqual(['Hello !', 'What do you need?', 'What do you need?']); // no user_name given
    expect(await h.post({ conversationId: 'http-5', eventType: null })).toMatchObject({ status: 400, json: { error: 'invalid_request', field: 'eventType' } });
    expect(await h.post({ conversationId: null, eventType: 'startSession' })).toMatchObject({ status: 400, json: { field: 'conversationId' } });
  });

  it.each([
    ['no token', {}, /send Authorization: Bearer <token>/],
    ['a wrong token', { authorization: 'Bearer not-the-token-0123456789' }, /the bearer token is not valid/],
  ])('401 with %s, and WWW-Authenticate', async (_label, headers, message) => {
    const response = await fetch(h.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ conversationId: 'c', eventType: 'startSession' }) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="crisp-mcp"/);
    expect(await response.json()).toMatchObject({ error: 'unauthorized', message: expect.stringMatching(message) });
  });

  it.each([
    [{ eventType: 'startSession' }, 'conversationId'],
    [{ conversationId: 'c', eventType: 'hello' }, 'eventType'],
    [{ conversationId: 'c', eventType: 'message', cardIndex: 'one', text: 'x' }, 'cardIndex'],
    [{ conversationId: 'c', eventType: 'metadata', metadata: [{ key: 'ok', value: 'v' }, { value: 'no key' }] }, 'metadata[1].key'],
  ])('400 names the field: %j → %s', async (body, field) => {
    const answer = await h.post(body);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: 'invalid_request', field, message: expect.stringMatching(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: expected`)) });
  });

  it('400 for a body that is not JSON; 415 without a JSON Content-Type; 413 over the body limit (the rest of the upload is drained, the connection kept); 405 for GET', async () => {
    expect(await h.post('{"conversationId": ')).toMatchObject({ status: 400, json: { error: 'invalid_json' } });
    expect(await h.post('{}', { 'content-type': 'text/plain' })).toMatchObject({ status: 415, json: { error: 'unsupported_media_type' } });
    expect(await h.post('{}', { 'content-encoding': 'gzip' })).toMatchObject({ status: 415, json: { error: 'unsupported_media_type', message: expect.stringContaining('Content-Encoding gzip') } });
    const big = await rawPost(h.url, JSON.stringify({ conversationId: 'c', eventType: 'message', text: 'x'.repeat(5_000) }), { authorization: `Bearer ${CONVERSE_TOKEN}` });
    expect(big.status).toBe(413);
    expect(big.headers.connection).toBe('keep-alive');
    expect(big.json).toMatchObject({ error: 'payload_too_large', message: expect.stringContaining('over 4096 bytes') });
    const get = await fetch(h.url, { headers: { authorization: `Bearer ${CONVERSE_TOKEN}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('takes any script in UTF-8 whole; refuses a body in another charset (415 naming it) or bytes that are no UTF-8 (400), never turning letters into U+FFFD', async () => {
    const name = 'Zoë Işık 👩🏽‍💻 مرحبا';
    const body = (id: string) => JSON.stringify({ conversationId: id, eventType: 'startSession', metadata: [{ key: 'user_name', value: name }] });
    const send = (bytes: Uint8Array | string, contentType: string) =>
      fetch(h.url, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${CONVERSE_TOKEN}` }, body: bytes }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));
    expect((await send(Buffer.from(body('http-utf8'), 'utf8'), 'application/json; charset=UTF-8')).status).toBe(202);
    await h.receiver.waitFor(() => h.receiver.of('http-utf8').length > 0);
    expect(h.receiver.of('http-utf8')[0]!.text).toBe(`Hello ${name}!`);
    const latin1 = Buffer.from(JSON.stringify({ conversationId: 'http-latin1', eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Zoë' }] }), 'latin1');
    expect(await send(latin1, 'application/json; charset=ISO-8859-1')).toMatchObject({ status: 415, json: { error: 'unsupported_media_type', message: expect.stringContaining('charset ISO-8859-1 is not accepted; send the JSON body in UTF-8') } });
    expect(await send(latin1, 'application/json')).toMatchObject({ status: 400, json: { error: 'invalid_json', message: expect.stringContaining('not UTF-8') } });
    expect(h.receiver.of('http-latin1')).toEqual([]);
  });

  it('403 for a foreign Host (DNS rebinding), as on /mcp', async () => {
    const answer = await rawPost(h.url, JSON.stringify({ conversationId: 'c', eventType: 'startSession' }), { authorization: `Bearer ${CONVERSE_TOKEN}`, host: 'evil.example' });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ error: 'forbidden' });
  });

  it('a 404 names the endpoints this server has, /converse among them, and the one a trailing slash missed', async () => {
    const headers = { authorization: `Bearer ${CONVERSE_TOKEN}` };
    const body = JSON.stringify({ conversationId: 'c', eventType: 'startSession' });
    expect(await rawPost(`${h.url}/`, body, headers)).toMatchObject({ status: 404, json: { error: 'not_found', message: 'Not found: /converse/ has a trailing slash; the endpoint is /converse' } });
    expect(await rawPost(h.url.replace(/\/converse$/, '/conversations'), body, headers)).toMatchObject({ status: 404, json: { error: 'not_found', message: "Not found: this server's endpoints are /mcp, /converse" } });
  });
});

describe('/converse off or locked', () => {
  it('is a 404 when no converse handler is configured', async () => {
    const plain = await startHttpHarness();
    try {
      const answer = await fetch(plain.url.replace(/\/mcp$/, '/converse'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(answer.status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('a handler that throws once the body is read answers 500 and logs the failure, instead of leaving the request hanging', async () => {
    // node:http destroys a request once its body is read: that must not pass for the client having left.
    const failing = await startHttpHarness([], {
      converse: {
        accept: () => {
          throw new Error('the handler broke');
        },
      },
    });
    try {
      const answer = await rawPost(failing.url.replace(/\/mcp$/, '/converse'), JSON.stringify({ conversationId: 'c', eventType: 'startSession' }));
      expect(answer).toMatchObject({ status: 500, json: { error: 'internal', message: 'Internal server error' } });
      expect(failing.logs).toContainEqual(expect.objectContaining({ level: 50, msg: 'converse request failed', err: expect.objectContaining({ message: 'the handler broke' }) }));
    } finally {
      await failing.close();
    }
  });

  it("refuses everyone when only Crisp's agent signatures are accepted (no bearer token)", async () => {
    const agentOnly = await startConverseHarness({ http: { tokens: [], crispAgent: { secret: 'mcp_sec_test' } } });
    try {
      const answer = await agentOnly.post({ conversationId: 'c', eventType: 'startSession' }, { authorization: '' });
      expect(answer.status).toBe(401);
      expect(answer.json.message).toMatch(/set CRISP_MCP_HTTP_TOKEN/);
    } finally {
      await agentOnly.close();
    }
  });

  it('answers 503 with Retry-After once stopping, and close() saves every event accepted before', async () => {
    const stopping = await startConverseHarness({ http: {} });
    try {
      for (let i = 0; i < 50; i++) expect((await stopping.post({ conversationId: `s-${i % 5}`, eventType: 'startSession', messageId: `m${i}` })).status).toBe(202);
      const url = stopping.url;
      const closed = stopping.service.close();
      const late = await stopping.service.accept({ conversationId: 's-late', eventType: 'startSession' });
      expect(late).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
      await closed;
      expect(stopping.service.queued).toBe(0);
      // 5 conversations × 10 restarts × 2 replies: all saved (the deliverer is still running).
      await stopping.receiver.waitFor(() => stopping.receiver.accepted.length === 100);
      await stopping.server!.close();
      await expect(fetch(url, { method: 'POST' })).rejects.toThrow();
    } finally {
      await stopping.close();
    }
  });
});
