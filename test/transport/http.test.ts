// serve --http in process: both protocol eras over real HTTP, checked by their effect in the sandbox.
import { Client, SSEClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpHarness } from '../helpers/mcp.js';
import { eventually } from '../helpers/events.js';
import { connect, ERAS, INITIALIZE, startHttpHarness, type Era, type HttpHarness } from '../helpers/http.js';

async function pendingSession(client: Client): Promise<string> {
  const listed = await client.callTool({ name: 'list_conversations', arguments: { state: 'pending' } });
  return (listed.structuredContent as { conversations: { session_id: string }[] }).conversations[0]!.session_id;
}

function lastMessage(h: HttpHarness, session: string) {
  return h.sandbox.state.websites.get(h.sandbox.websiteId)!.messages.get(session)!.at(-1);
}

describe('serve --http: both protocol eras', () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers /healthz, and 404 off /mcp', async () => {
    const base = h.url.replace(/\/mcp$/, '');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(404);
  });

  it('refuses an initialize inside a JSON-RPC batch by saying so, and opens no session', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const body = `[${INITIALIZE},{"jsonrpc":"2.0","method":"notifications/initialized"}]`;
    const answer = await fetch(h.url, { method: 'POST', headers, body });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('mcp-session-id')).toBeNull();
    // It had said "a 2025-era client must send initialize first" to a client that had.
    expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/initialize must be sent alone, not in a JSON-RPC batch/);
  });

  it.each(ERAS)('%s era: lists the same tools as stdio (schemas from the per-process cache), and a send lands in the sandbox', async (era: Era) => {
    const client = await connect(h.url, { era });
    const reference = await McpHarness.start({ seed: 42 });
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(era === 'modern' ? '2026-07-28' : '2025-11-25');
      const { tools } = await client.listTools();
      const { tools: expected } = await reference.client.listTools();
      expect(tools).toEqual(expected);

      const session = await pendingSession(client);
      const sent = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: `hello over ${era} HTTP` } });
      expect(sent.isError).toBeFalsy();
      expect(lastMessage(h, session)).toMatchObject({ from: 'operator', content: `hello over ${era} HTTP` });
    } finally {
      await client.close();
      await reference.close();
    }
  });

  it.each(ERAS)('%s era: 32 clients at once all get their answers', async (era: Era) => {
    const clients = await Promise.all(Array.from({ length: 32 }, () => connect(h.url, { era })));
    try {
      const results = await Promise.all(clients.flatMap((c) => [c.callTool({ name: 'list_operators', arguments: {} }), c.callTool({ name: 'list_conversations', arguments: {} })]));
      expect(results.filter((r) => r.isError)).toEqual([]);
      expect(results.filter((_, i) => i % 2 === 0).every((r) => (r.structuredContent as { operators: unknown[] }).operators.length === 4)).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

describe('serve --http --send-mode confirm', () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness(['--send-mode', 'confirm']);
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(ERAS)('%s era: asks the user (elicitation on the session / input-required) and sends once confirmed', async (era: Era) => {
    const asked: string[] = [];
    const client = await connect(h.url, {
      era,
      elicit: (request) => {
        asked.push((request as { message: string }).message);
        return { action: 'accept', content: { send: true } };
      },
    });
    try {
      const session = await pendingSession(client);
      const sent = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: `confirmed over ${era} HTTP` } });
      expect(sent.isError).toBeFalsy();
      expect(sent.structuredContent).toMatchObject({ confirmed_by_user: true });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain(`confirmed over ${era} HTTP`);
      expect(lastMessage(h, session)).toMatchObject({ content: `confirmed over ${era} HTTP` });
    } finally {
      await client.close();
    }
  });

  it.each(ERAS)('%s era: a client that cannot be asked is refused, saying why, and nothing is sent', async (era: Era) => {
    const client = await connect(h.url, { era });
    try {
      const session = await pendingSession(client);
      const before = lastMessage(h, session);
      const refused = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: 'must not go out' } });
      expect(refused.isError).toBe(true);
      expect((refused.content as { text: string }[])[0]!.text).toMatch(/cannot ask the user/);
      expect(lastMessage(h, session)).toEqual(before);
    } finally {
      await client.close();
    }
  });
});

describe('serve --http shutdown', () => {
  it.each(ERAS)('%s era: close() lets a call in flight finish, then stops', async (era: Era) => {
    const h = await startHttpHarness();
    const client = await connect(h.url, { era });
    try {
      const session = await pendingSession(client);
      h.sandbox.faults.configure('latency:400ms');
      const call = client.callTool({ name: 'send_message', arguments: { session_id: session, content: `sent while stopping (${era})` } });
      await eventually(() => h.server.inFlight === 1, 5_000, 'the call in flight');
      const closed = h.server.close();
      const result = await call;
      expect(result.isError).toBeFalsy();
      await closed;
      expect(lastMessage(h, session)).toMatchObject({ content: `sent while stopping (${era})` });
      await expect(fetch(h.url.replace(/\/mcp$/, '/healthz'))).rejects.toThrow();
    } finally {
      await client.close().catch(() => undefined);
      await h.close();
    }
  });
});

describe('serve --http shutdown past its grace period', () => {
  it('cuts the calls still in flight and logs how many, so the operator knows', async () => {
    const h = await startHttpHarness([], { shutdownGraceMs: 200 });
    const client = await connect(h.url, { era: 'modern' });
    try {
      h.sandbox.faults.configure('latency:3000ms');
      const call = client.callTool({ name: 'list_operators', arguments: {} }).then(
        (result) => result,
        (error: unknown) => error,
      );
      await eventually(() => h.server.inFlight === 1, 5_000, 'the call in flight');
      await h.server.close();
      expect(await call).toBeInstanceOf(Error);
      expect(h.logs).toContainEqual(expect.objectContaining({ level: 40, in_flight: 1, grace_ms: 200, msg: '1 call still in flight after the 0.2 s grace period cut off' }));
    } finally {
      await client.close().catch(() => undefined);
      await h.close();
    }
  });
});

describe('serve --http: a client that hangs up mid-call', () => {
  it('does not cancel a send: it lands once, whole, and nothing is left in flight', async () => {
    const h = await startHttpHarness();
    const client = await connect(h.url, { era: 'modern' });
    try {
      const session = await pendingSession(client);
      const messages = () => h.sandbox.state.websites.get(h.sandbox.websiteId)!.messages.get(session)!;
      const before = messages().length;
      h.sandbox.faults.configure('latency:300ms');
      const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'leaver', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
      const hangUp = new AbortController();
      const sent = fetch(h.url, {
        method: 'POST',
        signal: hangUp.signal,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'send_message' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send_message', arguments: { session_id: session, content: 'sent to a client that left' }, _meta: envelope } }),
      });
      await eventually(() => h.server.inFlight === 1, 5_000, 'the call in flight');
      hangUp.abort();
      await expect(sent).rejects.toThrow();
      // A send cut off half-way would leave Crisp in a state nobody knows: it finishes, and its answer is dropped.
      await eventually(() => messages().length === before + 1, 5_000, 'the message sent');
      expect(messages().at(-1)).toMatchObject({ from: 'operator', content: 'sent to a client that left' });
      await eventually(() => h.server.inFlight === 0, 5_000, 'nothing in flight');
      h.sandbox.faults.configure('');
      expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
      expect(messages()).toHaveLength(before + 1);
    } finally {
      await client.close();
      await h.close();
    }
  });
});

describe('serve --http: a client of the older HTTP+SSE transport (2024-11-05)', () => {
  it('is refused with a message that says to set it up for Streamable HTTP', async () => {
    const h = await startHttpHarness();
    const client = new Client({ name: 'sse-only', version: '1.0.0' });
    try {
      await expect(client.connect(new SSEClientTransport(new URL(h.url)))).rejects.toThrow(/400/);
      const reply = await fetch(h.url, { headers: { accept: 'text/event-stream' } });
      expect(reply.status).toBe(400);
      expect(((await reply.json()) as { error: { message: string } }).error.message).toMatch(/must be set up for Streamable HTTP instead/);
    } finally {
      await client.close();
      await h.close();
    }
  });
});

describe('serve --http: a 2025-era client that cancels a call', () => {
  it('gets no answer, and the call is no longer held open: its stream ends, the session is free again', async () => {
    const h = await startHttpHarness();
    const client = await connect(h.url, { era: 'legacy' });
    try {
      h.sandbox.faults.configure('latency:300ms');
      const cancel = new AbortController();
      const call = client.callTool({ name: 'list_operators', arguments: {} }, { signal: cancel.signal });
      await eventually(() => h.server.inFlight === 1, 5_000, 'the call in flight');
      cancel.abort('the user pressed stop');
      await expect(call).rejects.toThrow(/stop/);
      // The SDK server answers nothing after a cancel; before, the POST's event stream stayed open until shutdown.
      await eventually(() => h.server.inFlight === 0, 5_000, 'the cancelled call no longer in flight');
      h.sandbox.faults.configure('');
      expect((await client.callTool({ name: 'list_operators', arguments: {} })).isError).toBeFalsy();
    } finally {
      await client.close();
      await h.close();
    }
  });

  it('still answers the other requests of a batch when one of them is cancelled', async () => {
    const h = await startHttpHarness();
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const opened = await fetch(h.url, { method: 'POST', headers, body: INITIALIZE });
      await opened.text();
      const session = { ...headers, 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
      await fetch(h.url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
      h.sandbox.faults.configure('latency:300ms');
      const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'list_operators', arguments: {} } });
      const batch = await fetch(h.url, { method: 'POST', headers: session, body: JSON.stringify([call(10), call(11)]) });
      const cancelled = await fetch(h.url, { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 10 } }) });
      expect(cancelled.status).toBe(202);
      // The batch's stream carries call 11's answer: it must not be ended with call 10's cancel.
      const reader = batch.body!.getReader();
      let events = '';
      while (!events.includes('"id":11')) {
        const { value, done } = await reader.read();
        if (done) break;
        events += new TextDecoder().decode(value);
      }
      expect(events).toContain('"id":11');
      expect(events).not.toContain('"id":10');
      await reader.cancel();
    } finally {
      h.sandbox.faults.configure('');
      await h.close();
    }
  });
});
