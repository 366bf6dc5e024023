// serve --http protections: bearer tokens, sessions bound to their principal, Host and Origin
// checks against DNS rebinding, and the body refusals (size, JSON, media type, method).
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ERAS, INITIALIZE, post, rebindingFetch, startHttpHarness, TOKEN_A, TOKEN_B, type Era, type HttpHarness } from '../helpers/http.js';
import { rawExchange } from '../helpers/net.js';

describe('serve --http with bearer tokens', () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness([], { tokens: [TOKEN_A, TOKEN_B] });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(ERAS)('%s era: no token or a wrong one is a 401 with WWW-Authenticate; the right one works', async (era: Era) => {
    await expect(connect(h.url, { era })).rejects.toThrow(/401|Unauthorized/);
    await expect(connect(h.url, { era, token: 'token-c-not-issued-to-anyone' })).rejects.toThrow(/401|Unauthorized/);
    for (const token of [TOKEN_A, TOKEN_B]) {
      const client = await connect(h.url, { era, token });
      const result = await client.callTool({ name: 'list_operators', arguments: {} });
      expect(result.isError).toBeFalsy();
      await client.close();
    }
  });

  it('says what to send on a 401, and never echoes the token', async () => {
    const missing = await post(h.url, INITIALIZE);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="crisp-mcp"');
    expect(missing.json.error?.message).toMatch(/Authorization: Bearer/);
    const wrong = await post(h.url, INITIALIZE, { authorization: 'Bearer wrong-token-wrong-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(JSON.stringify(wrong.json)).not.toContain('wrong-token');
    expect((await post(h.url, INITIALIZE, { authorization: `Basic ${TOKEN_A}` })).status).toBe(401);
  });

  it('binds a 2025-era session to its principal: the id with another token, or an unknown id, is a 404', async () => {
    const opened = await fetch(h.url, {
      method: 'POST',
      body: INITIALIZE,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${TOKEN_A}` },
    });
    expect(opened.status).toBe(200);
    await opened.text();
    const session = opened.headers.get('mcp-session-id')!;
    expect(session).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const as = (token: string, id = session) => post(h.url, list, { authorization: `Bearer ${token}`, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });

    const stolen = await as(TOKEN_B);
    expect(stolen.status).toBe(404);
    expect(stolen.json.error?.message).toMatch(/Session not found/);
    expect((await as(TOKEN_A, 'x'.repeat(32))).status).toBe(404);
    const own = await fetch(h.url, {
      method: 'POST',
      body: list,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${TOKEN_A}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
    });
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('list_operators');
  });

  it('a 2025-era request with neither a session nor initialize is a 400 that says what to do', async () => {
    const res = await post(h.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { authorization: `Bearer ${TOKEN_A}` });
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toMatch(/initialize first/);
  });
});

describe('serve --http against DNS rebinding and bad bodies', () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness([], { maxBodyBytes: 64 * 1024, allowedHosts: ['mcp.example.test', 'crisp_mcp'] });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(ERAS)('%s era: a foreign Host is a 403 before anything else runs', async (era: Era) => {
    // The page's URL names the attacker's host, which now resolves to this machine.
    const rebound = h.url.replace('127.0.0.1', 'attacker.example');
    await expect(connect(rebound, { era, fetch: rebindingFetch() })).rejects.toThrow(/403|Invalid Host/);
    const allowed = await connect(h.url.replace('127.0.0.1', 'mcp.example.test'), { era, fetch: rebindingFetch() });
    expect((await allowed.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
    await allowed.close();
    const res = await post(h.url, INITIALIZE, { host: 'attacker.example:80' });
    expect(res.status).toBe(403);
    expect(res.json.error?.message).toMatch(/Invalid Host/);
    expect((await post(h.url, INITIALIZE, { host: 'mcp.example.test' })).status).toBe(200);
    expect((await post(h.url, INITIALIZE, { host: 'crisp_mcp:8787' })).status).toBe(200); // a Docker Compose service name
    expect((await post(h.url, INITIALIZE, { host: `localhost:${new URL(h.url).port}` })).status).toBe(200);
  });

  it('a 403 for a name it does not know says how to accept it (the public name behind a reverse proxy)', async () => {
    const host = await post(h.url, INITIALIZE, { host: 'mcp.public.example' });
    expect(host.status).toBe(403);
    expect(host.json.error?.message).toBe('Forbidden: Invalid Host: mcp.public.example (to serve this name, e.g. behind a reverse proxy, add it to --allowed-hosts or CRISP_MCP_ALLOWED_HOSTS)');
    const origin = await post(h.url, INITIALIZE, { origin: 'https://app.public.example' });
    expect(origin.status).toBe(403);
    expect(origin.json.error?.message).toMatch(/^Forbidden: Invalid Origin: app\.public\.example \(.*--allowed-hosts/);
  });

  it('a Host with user info is a 403 naming the header, not a request left hanging, and the secret in it is not echoed', async () => {
    // The SDK's host check reads `user:pw@127.0.0.1` as 127.0.0.1; a web Request refuses such a URL.
    const res = await post(h.url, INITIALIZE, { host: `user:s3cret-pw@127.0.0.1:${new URL(h.url).port}` });
    expect(res.status).toBe(403);
    expect(res.json.error?.message).toBe('Forbidden: Invalid Host header: it must be a host name and an optional port, without user@');
    expect(JSON.stringify(res)).not.toContain('s3cret');
    expect((await post(h.url, INITIALIZE)).status).toBe(200);
  });

  it('two Host or two Authorization lines are a 400 and a closed connection: this side would judge the first, a proxy may have acted on the last', async () => {
    const { port } = new URL(h.url);
    const raw = (headers: string) =>
      rawExchange(Number(port), `POST /mcp HTTP/1.1\r\n${headers}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${INITIALIZE.length}\r\n\r\n${INITIALIZE}`);
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const token = `Authorization: Bearer ${TOKEN_A}\r\n`;
    const twoHosts = await raw(`${host}Host: attacker.example\r\n${token}`);
    expect(twoHosts).toMatch(/^HTTP\/1\.1 400 /);
    expect(twoHosts).toMatch(/connection: close/i);
    expect(twoHosts).toContain('more than one Host header');
    const twoTokens = await raw(`${host}${token}Authorization: Bearer token-c-not-issued-to-anyone\r\n`);
    expect(twoTokens).toMatch(/^HTTP\/1\.1 400 /);
    expect(twoTokens).toContain('more than one Authorization header');
    expect(twoTokens).not.toContain(TOKEN_A);
    // The same request with each header once is served.
    expect((await post(h.url, INITIALIZE, { authorization: `Bearer ${TOKEN_A}` })).status).toBe(200);
  });

  it.each(ERAS)('%s era: a page on another origin is a 403; localhost origins and no Origin pass', async (era: Era) => {
    await expect(connect(h.url, { era, headers: { origin: 'https://attacker.example' } })).rejects.toThrow(/403|Invalid Origin/);
    for (const origin of ['https://attacker.example', 'null', 'http://127.0.0.1.attacker.example']) {
      const res = await post(h.url, INITIALIZE, { origin });
      expect(res.status, origin).toBe(403);
    }
    const local = await connect(h.url, { era, headers: { origin: 'http://localhost:6274' } });
    expect((await local.listTools()).tools.length).toBeGreaterThan(0);
    await local.close();
  });

  it('refuses an oversized body with 413, declared or streamed, and keeps serving', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(100 * 1024) } });
    const declared = await post(h.url, big);
    expect(declared.status).toBe(413);
    expect(declared.json.error?.message).toMatch(/over 65536 bytes/);
    const streamed = await post(h.url, Buffer.from(big), { 'transfer-encoding': 'chunked' });
    expect(streamed.status).toBe(413);
    expect((await post(h.url, INITIALIZE)).status).toBe(200);
  });

  it('says so when the body is not JSON (400), not JSON-typed (415), or the method is wrong (405)', async () => {
    const broken = await post(h.url, '{"jsonrpc": "2.0", "id": 1, "method": "initialize",');
    expect(broken.status).toBe(400);
    expect(broken.json.error).toEqual({ code: -32700, message: 'Parse error: the request body is not valid JSON' });
    const text = await post(h.url, INITIALIZE, { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    // A compressed body is refused for what it is, not parsed and called broken JSON.
    const gzipped = await post(h.url, gzipSync(INITIALIZE), { 'content-encoding': 'gzip' });
    expect(gzipped.status).toBe(415);
    expect(gzipped.json.error?.message).toBe('Unsupported Media Type: Content-Encoding gzip is not accepted; send the body uncompressed');
    expect((await post(h.url, INITIALIZE, { 'content-encoding': 'identity' })).status).toBe(200);
    // JSON is UTF-8: another charset is refused by name, bytes that are no UTF-8 are a parse error (never read with U+FFFD).
    const latin1 = await post(h.url, Buffer.from(INITIALIZE, 'latin1'), { 'content-type': 'application/json; charset=windows-1252' });
    expect(latin1.status).toBe(415);
    expect(latin1.json.error?.message).toBe('Unsupported Media Type: charset windows-1252 is not accepted; send the JSON body in UTF-8');
    expect((await post(h.url, INITIALIZE, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    const [before, after] = INITIALIZE.split('"raw"');
    expect((await post(h.url, Buffer.concat([Buffer.from(`${before}"r`), Buffer.from([0xe9]), Buffer.from(`"${after}`)]))).status).toBe(400); // "ré" in Latin-1
    expect((await post(h.url, `${before}"ré 👩🏽‍💻"${after}`)).status).toBe(200);
    const put = await post(h.url, INITIALIZE, {}, 'PUT');
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST, DELETE');
  });

  it('a 2026-07-28 GET is refused (405); sessions are 2025-era only', async () => {
    const res = await fetch(h.url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' } });
    expect(res.status).toBe(405);
  });
});

describe('serve --http against slow clients', () => {
  it('answers 408 and closes the socket when the headers or the body do not arrive in time', async () => {
    const h = await startHttpHarness([], { timeouts: { headersMs: 300, requestMs: 600 } });
    try {
      const { port } = new URL(h.url);
      // Node's own defaults would answer 408 only after 60 s, past the test's timeout: an answer at all is ours.
      const headers = await rawExchange(Number(port), 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      expect(headers).toMatch(/^HTTP\/1\.1 408/);
      const body = await rawExchange(Number(port), 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"');
      expect(body).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await h.close();
    }
  });
});

describe('serve --http behind a reverse proxy', () => {
  it('keeps an idle keep-alive connection open longer than a proxy does (65 s), so the proxy never reuses one this side just closed', async () => {
    const h = await startHttpHarness();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const health = () =>
        new Promise<{ keepAlive: string | undefined; reused: boolean }>((resolve, reject) => {
          const req = request(h.url.replace(/\/mcp$/, '/healthz'), { agent }, (res) => {
            res.resume().on('end', () => resolve({ keepAlive: res.headers['keep-alive'] as string | undefined, reused: req.reusedSocket }));
          });
          req.on('error', reject).end();
        });
      expect(await health()).toEqual({ keepAlive: 'timeout=65', reused: false });
      // Past Node's own default of 5 s, the connection is still there to be reused.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(await health()).toEqual({ keepAlive: 'timeout=65', reused: true });
    } finally {
      agent.destroy();
      await h.close();
    }
  }, 20_000);
});

describe('serve --http 2025-era session limits', () => {
  const open = async (url: string) => {
    const res = await post(url, INITIALIZE);
    expect(res.status).toBe(200);
    return res.headers['mcp-session-id'] as string;
  };
  const list = (url: string, session: string) =>
    post(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' });

  it('at the cap, the least recently used idle session makes room; when every one is busy, a 503', async () => {
    const h = await startHttpHarness([], { sessions: { max: 2 } });
    const streams: AbortController[] = [];
    try {
      const first = await open(h.url);
      const second = await open(h.url);
      expect((await list(h.url, first)).status).toBe(200);
      const third = await open(h.url);
      expect((await list(h.url, second)).status).toBe(404);
      expect((await list(h.url, first)).status).toBe(200);
      // An open GET stream keeps a session busy: it is never evicted.
      for (const session of [first, third]) {
        const abort = new AbortController();
        streams.push(abort);
        const stream = await fetch(h.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, signal: abort.signal });
        expect(stream.status).toBe(200);
      }
      const refused = await post(h.url, INITIALIZE);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
    } finally {
      for (const abort of streams) abort.abort();
      await h.close();
    }
  });

  it('closes a session left idle; its id then answers 404 so the client initializes again', async () => {
    let clock = 1_000_000;
    const h = await startHttpHarness([], { sessions: { idleMs: 200, now: () => clock } });
    try {
      const session = await open(h.url);
      clock += 150;
      expect((await list(h.url, session)).status).toBe(200);
      clock += 199; // idle for less than idleMs since that request: still open
      expect((await list(h.url, session)).status).toBe(200);
      clock += 201;
      const gone = await list(h.url, session);
      expect(gone.status).toBe(404);
      expect(gone.json.error?.message).toMatch(/initialize a new session/);
    } finally {
      await h.close();
    }
  });
});
