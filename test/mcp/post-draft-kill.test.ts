// post_draft through the built CLI (`node dist/cli.js serve`, stdio, SQLite file), killed at the
// worst moment — Crisp has posted the first message of the draft, and our process has not had the
// answer — then started again on the same file, the host retrying the same call: the visitor sees
// each message once and the position is saved once. A `latency-after` fault burst of the sandbox
// carries out the first message POST and holds its answer, so the kill falls exactly between
// "Crisp has it" and "we know it". The sandbox keeps repeated fingerprints
// (`dedupe:off`), so only our own look-before-resend keeps the message single.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { conversationKey } from '../../src/engine/turn.js';
import { ECHO_SCENARIO, echoOf } from '../helpers/autopilot.js';
import { eventually } from '../helpers/events.js';
import { connectStdio, type StdioHost } from '../helpers/stdio.js';
import { visitor } from './scenario-fixtures.js';

let sandbox: Sandbox;
let dir: string;
/** A webhook receiver that keeps its first call unanswered (the server is killed meanwhile), then answers. */
let hook: { server: Server; origin: string; keys: string[] };
const hosts: StdioHost[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11, faults: 'dedupe:off' });
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-post-kill-'));
  writeFileSync(join(dir, 'echo.json'), ECHO_SCENARIO);
  const keys: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume().on('end', () => {
      keys.push(String(req.headers['idempotency-key']));
      if (keys.length > 1) res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ref: 'R-1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys };
  const scenario = {
    name: 'lookup',
    version: 1,
    description: 'Says it is looking, calls a webhook, gives its answer.',
    start: 'listen',
    webhook_origins: [hook.origin],
    blocks: {
      listen: { type: 'match', rules: [{ contains: ['human'], next: 'human' }], otherwise: 'looking', save: 'said' },
      human: { type: 'handoff', text: 'A human will help.', reason: 'asked' },
      looking: { type: 'message', text: 'Looking up {{said}}', next: 'call' },
      call: { type: 'webhook', url: `${hook.origin}/lookup`, body: { q: '{{said}}' }, map: { ref: 'ref' }, next: 'found', on_error: 'listen' },
      found: { type: 'message', text: 'Found: {{ref}}', next: 'listen' },
    },
  };
  writeFileSync(join(dir, 'lookup.json'), JSON.stringify(scenario));
});
afterAll(async () => {
  for (const host of hosts) await host.client.close().catch(() => undefined);
  hook.server.closeAllConnections();
  await new Promise((resolve) => hook.server.close(resolve));
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `crisp-mcp serve` over stdio as a host launches it, on the sandbox and the SQLite file. */
async function launch(): Promise<StdioHost> {
  const credential = sandbox.credentials[0]!;
  const host = await connectStdio(['serve', '--scenarios', dir, '--store', `sqlite:${join(dir, 'state.db')}`], {
    env: { CRISP_API_URL: sandbox.url, CRISP_IDENTIFIER: credential.identifier, CRISP_KEY: credential.key, CRISP_TIER: credential.tier, CRISP_WEBSITE_ID: sandbox.websiteId },
  });
  hosts.push(host);
  return host;
}

/**
 * Has Crisp carry out the next message POST of `session` and hold its answer for longer than any
 * test; returns a check that it is held (the burst taken) and carried out (`posted` messages there).
 */
function holdAnswerToNextPost(session: string, posted: () => boolean): () => boolean {
  const before = sandbox.stats().faults['latency-after'] ?? 0;
  sandbox.faults.burst({ fault: { kind: 'latency-after', delayMs: 600_000 }, count: 1, method: 'POST', pathIncludes: `${session}/message` });
  return () => sandbox.stats().faults['latency-after'] === before + 1 && posted();
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const call = async (client: Client, name: string, args: Record<string, unknown>) => {
  const result = await client.callTool({ name, arguments: args });
  return { out: result.structuredContent as Record<string, unknown>, text: (result.content as { text: string }[])[0]!.text, isError: result.isError === true };
};

describe('post_draft on the built CLI, stopped after Crisp took its first message but before the answer came back', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('%s, then posted again after the restart: each message once, the position saved once', async (signal) => {
    const v = visitor(sandbox);
    const session = v.open('refund please');
    const first = await launch();
    const draft = await call(first.client, 'draft_scenario_reply', { session_id: session, scenario: 'echo' });
    expect(draft.isError, draft.text).toBe(false);
    const draftId = draft.out.draft_id as string;

    const held = holdAnswerToNextPost(session, () => v.botMessages(session).length === 1);
    const pid = first.transport.pid!;
    void first.client.callTool({ name: 'post_draft', arguments: { draft_id: draftId } }).catch(() => undefined);
    await eventually(held, 10_000, 'the first message posted and its answer held');
    process.kill(pid, signal);
    await first.client.close().catch(() => undefined);

    if (signal === 'SIGTERM') await eventually(() => first.transport.pid === null || !isAlive(pid), 15_000, 'the stopped server gone');
    const second = await launch();
    const again = await call(second.client, 'post_draft', { draft_id: draftId });
    expect(again.isError, again.text).toBe(false);
    expect(v.botMessages(session).map((m) => m.content)).toEqual(echoOf('refund please'));

    const store = new SqliteStore(join(dir, 'state.db'));
    try {
      expect(await store.getPosition(conversationKey(sandbox.websiteId, session), 'echo')).toMatchObject({ version: 1, value: { scenario: { block: 'listen' } } });
    } finally {
      await store.close();
    }
  });
});

describe('send_message on the built CLI, SIGKILLed after Crisp took the message but before the answer came back', () => {
  it('with a fingerprint, the host retrying the call after the restart: the message is in the conversation once', async () => {
    const v = visitor(sandbox);
    const session = v.open('hello?');
    const held = holdAnswerToNextPost(session, () => v.botMessages(session).length === 1);
    const first = await launch();
    const pid = first.transport.pid!;
    const args = { session_id: session, content: 'We are on it.', fingerprint: 424242 };
    void first.client.callTool({ name: 'send_message', arguments: args }).catch(() => undefined);
    await eventually(held, 10_000, 'the message posted and its answer held');
    process.kill(pid, 'SIGKILL');
    await first.client.close().catch(() => undefined);

    const second = await launch();
    const again = await call(second.client, 'send_message', args);
    expect(again.isError, again.text).toBe(false);
    expect(again.out).toMatchObject({ fingerprint: 424242 });
    expect(v.botMessages(session).map((m) => m.content)).toEqual(['We are on it.']);
  });
});

describe('post_draft on the built CLI, SIGKILLed while its scenario webhook is called and not yet answered', () => {
  it('posted again after the restart: the webhook called again under the same Idempotency-Key, each message once, the position saved once', async () => {
    const v = visitor(sandbox);
    const session = v.open('order 77');
    const first = await launch();
    const draft = await call(first.client, 'draft_scenario_reply', { session_id: session, scenario: 'lookup' });
    expect(draft.isError, draft.text).toBe(false);
    const pid = first.transport.pid!;
    void first.client.callTool({ name: 'post_draft', arguments: { draft_id: draft.out.draft_id } }).catch(() => undefined);
    await eventually(() => hook.keys.length === 1, 10_000, 'the webhook called');
    expect(v.botMessages(session).map((m) => m.content)).toEqual(['Looking up order 77']);
    process.kill(pid, 'SIGKILL');
    await first.client.close().catch(() => undefined);

    const second = await launch();
    const again = await call(second.client, 'post_draft', { draft_id: draft.out.draft_id });
    expect(again.isError, again.text).toBe(false);
    expect(hook.keys).toHaveLength(2);
    expect(hook.keys[1]).toBe(hook.keys[0]);
    expect(v.botMessages(session).map((m) => m.content)).toEqual(['Looking up order 77', 'Found: R-1']);
    const store = new SqliteStore(join(dir, 'state.db'));
    try {
      expect(await store.getPosition(conversationKey(sandbox.websiteId, session), 'lookup')).toMatchObject({ version: 1, value: { scenario: { block: 'listen' } } });
    } finally {
      await store.close();
    }
  });
});
