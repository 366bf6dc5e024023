// A scenario webhook's answer is read with its 1 MiB bound: reading stops at the bound while the
// answer streams in, so an endless or huge answer neither fills memory nor holds the turn; the
// deadline covers the body as well as the headers.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { callWebhook } from '../../src/engine/actions.js';
import { webhookFetch } from '../../src/engine/webhook-networks.js';

let server: Server | undefined;
afterEach(async () => {
  if (server) await new Promise<void>((resolve) => (server!.close(() => resolve()), server!.closeAllConnections()));
  server = undefined;
});

/** A webhook that answers through `answer`; gives its URL and how many bytes it wrote until the caller hung up. */
async function webhook(answer: (res: ServerResponse, sent: { bytes: number; closed: boolean }) => void) {
  const sent = { bytes: 0, closed: false };
  server = createServer((req, res) => {
    req.resume();
    res.once('close', () => (sent.closed = true));
    answer(res, sent);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, sent };
}

const action = (url: string) => ({ type: 'webhook' as const, block: 'call', url, method: 'POST' as const, body: { order: '42' } });

describe('callWebhook', () => {
  it('parses a JSON answer within the bound', async () => {
    const { url } = await webhook((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shipped' })));
    expect(await callWebhook(action(url), 'key')).toEqual({ url, status: 200, ok: true, data: { status: 'shipped' } });
  });

  it('stops reading an endless answer at 1 MiB: no data, the reason, and the stream is cancelled', async () => {
    const chunk = `"${'x'.repeat(64 * 1024)}",`;
    const { url, sent } = await webhook((res, sent) => {
      res.writeHead(200, { 'content-type': 'application/json' }).write('[');
      // Writes for as long as the other side reads: only the caller hanging up stops it.
      const pump = () => {
        while (!sent.closed) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    const outcome = await callWebhook(action(url), 'key');
    expect(outcome).toMatchObject({ url, status: 200, ok: true, data: null, error: 'answer over 1048576 bytes, ignored' });
    // It hung up rather than reading on: the server saw the connection close, far short of what it could have sent.
    await expect.poll(() => sent.closed).toBe(true);
    expect(sent.bytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('does not read an answer whose declared length is over the bound', async () => {
    const { url, sent } = await webhook((res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) }).write('{"pad":"'));
    const outcome = await callWebhook(action(url), 'key');
    expect(outcome).toMatchObject({ status: 200, data: null, error: 'answer over 1048576 bytes, ignored' });
    await expect.poll(() => sent.closed).toBe(true);
  });

  it('gives up on an answer whose headers came but whose body only trickles (it held the turn for hours): timed out, and the stream is cancelled', async () => {
    const { url, sent } = await webhook((res, sent) => {
      res.writeHead(200, { 'content-type': 'application/json' }).write('{"slots": [');
      // A byte now and then: never ends, never reaches the size bound.
      const drip = setInterval(() => (sent.closed ? clearInterval(drip) : res.write(' ')), 50);
    });
    const outcome = await callWebhook(action(url), 'key', fetch, 500);
    expect(outcome).toEqual({ url, status: null, ok: false, data: null, error: 'timed out' });
    await expect.poll(() => sent.closed).toBe(true);
  });
});

describe('callWebhook through webhookFetch (--webhook-networks)', () => {
  const calls: string[] = [];
  const receiver = () => webhook((res) => (calls.push('called'), res.writeHead(200, { 'content-type': 'application/json' }).end('{"slot":"9:00"}')));
  afterEach(() => void calls.splice(0));

  it('private (the default) reaches a booking system on this host, and refuses link-local and metadata addresses in every spelling, naming the setting', async () => {
    const { url } = await receiver();
    const viaPrivate = webhookFetch('private');
    expect(await callWebhook(action(url), 'key', viaPrivate)).toMatchObject({ ok: true, data: { slot: '9:00' } });
    // 2852039166 and [::ffff:a9fe:a9fe] are 169.254.169.254 as URL parsing writes it.
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://2852039166/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/', 'http://100.100.100.200/', 'http://[fd00:ec2::254]/', 'http://0.0.0.0/']) {
      const outcome = await callWebhook(action(target), 'key', viaPrivate);
      expect(outcome, target).toMatchObject({ ok: false, status: null, data: null });
      expect(outcome.error, target).toMatch(/is (a link-local address \(where cloud metadata services answer\)|a cloud metadata service address|an unspecified address): webhooks may not connect there \(CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is private; any lets it\)/);
    }
  });

  it('public refuses this host by its address and by a name that resolves to it, and the receiver is never called; any calls it', async () => {
    const { url } = await receiver();
    const viaPublic = webhookFetch('public');
    const byName = url.replace('127.0.0.1', 'localhost');
    for (const target of [url, byName]) {
      const outcome = await callWebhook(action(target), 'key', viaPublic);
      expect(outcome, target).toMatchObject({ ok: false, status: null });
      expect(outcome.error, target).toMatch(/(127\.0\.0\.1|::1) is a loopback address: webhooks may not connect there \(CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is public; private lets private networks, any every address\)/);
    }
    expect(calls).toEqual([]);
    expect(await callWebhook(action(url), 'key', webhookFetch('any'))).toMatchObject({ ok: true });
    expect(calls).toEqual(['called']);
  });
});
