// --webhook-networks on the built CLI (`node dist/cli.js serve`, stdio): a scenario's webhook block
// is called through the connection policy, whatever the scenario's own webhook_origins say. A
// scenario naming this host is refused under `public` (the booking system never sees the call, the
// draft says which setting refused it and takes the scenario's error path), and called under the
// default, `private`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';
import { visitor } from './scenario-fixtures.js';

let sandbox: Sandbox;
let dir: string;
let booking: { server: Server; origin: string; calls: string[] };
const clients: Client[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 12 });
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-webhook-networks-'));
  const calls: string[] = [];
  const server = createServer((req, res) => {
    calls.push(req.url ?? '');
    req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ref: 'R-7' })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  booking = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
  const scenario = {
    name: 'lookup',
    version: 1,
    start: 'call',
    webhook_origins: [booking.origin],
    blocks: {
      call: { type: 'webhook', url: `${booking.origin}/lookup`, map: { ref: 'ref' }, next: 'found', on_error: 'failed' },
      found: { type: 'end', text: 'Found: {{ref}}' },
      failed: { type: 'end', text: 'The lookup failed.' },
    },
  };
  writeFileSync(join(dir, 'lookup.json'), JSON.stringify(scenario));
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  booking.server.closeAllConnections();
  await new Promise((resolve) => booking.server.close(resolve));
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

async function launch(env: Record<string, string>): Promise<StdioHost> {
  const credential = sandbox.credentials[0]!;
  const host = await connectStdio(['serve', '--scenarios', dir, '--store', 'memory'], {
    env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key, CRISP_TIER: credential.tier, CRISP_WEBSITE_ID: sandbox.websiteId, ...env },
  });
  clients.push(host.client);
  return host;
}

/** A draft for a new conversation, then post_draft: what the visitor was sent. */
async function draftAndPost(client: Client): Promise<string[]> {
  const v = visitor(sandbox);
  const session = v.open('where is my order?');
  const drafted = await client.callTool({ name: 'draft_scenario_reply', arguments: { session_id: session, scenario: 'lookup' } });
  expect(drafted.isError, JSON.stringify(drafted.content)).not.toBe(true);
  const posted = await client.callTool({ name: 'post_draft', arguments: { draft_id: (drafted.structuredContent as { draft_id: string }).draft_id } });
  expect(posted.isError, JSON.stringify(posted.content)).not.toBe(true);
  return v.botMessages(session).map((m) => String(m.content));
}

describe('serve (stdio) --webhook-networks: where a scenario webhook may connect', () => {
  it('public: a webhook on this host is not called, the scenario takes its error path, and the log says which setting refused it', async () => {
    const { client, stderr } = await launch({ CRISP_MCP_WEBHOOK_NETWORKS: 'public' });
    expect(await draftAndPost(client)).toEqual(['The lookup failed.']);
    expect(booking.calls).toEqual([]);
    const logged = () => stderr().split('\n').find((l) => l.includes("the scenario's webhook failed"));
    await expect.poll(logged).toBeDefined();
    const line = logged();
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      level: 40,
      url: `${booking.origin}/lookup`,
      error: '127.0.0.1 is a loopback address: webhooks may not connect there (CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is public; private lets private networks, any every address)',
    });
  });

  it('private (the default): the same webhook is called', async () => {
    const { client } = await launch({});
    expect(await draftAndPost(client)).toEqual(['Found: R-7']);
    expect(booking.calls).toEqual(['/lookup']);
  });
});
