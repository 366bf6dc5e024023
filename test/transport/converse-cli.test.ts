// The built CLI as a deployment runs it: `crisp-mcp serve --http` with the converse API on a SQLite
// file, killed (SIGKILL) while a reply hangs at the receiver, then started again on the same file:
// every reply arrives, in order, the redelivered one under its first webhook-id; the configured
// inactivity timeout then ends the session. And the one-line refusals at start-up.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SHIPPED_SCENARIOS_DIR } from '../../src/engine/library.js';
import { CLI, runCli } from '../helpers/cli.js';
import { converseScenario } from '../helpers/converse.js';
import { eventually } from '../helpers/events.js';
import { spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { Receiver, TEST_SECRET } from '../helpers/receiver.js';

const TOKEN = 'converse-cli-token-0123456789abcdef';
let dir: string;
let receiver: Receiver;
const children: HttpCli[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-converse-cli-'));
  const { source } = converseScenario();
  writeFileSync(join(dir, 'converse-test.json'), source);
  receiver = await Receiver.start();
});
afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  CRISP_MCP_HTTP_TOKEN: TOKEN,
  CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url,
  CRISP_MCP_CONVERSE_SECRET: TEST_SECRET,
  CRISP_MCP_CONVERSE_SCENARIO: 'converse-test',
  ...extra,
});

async function serve(extra: Record<string, string> = {}, db = 'state.db'): Promise<HttpCli> {
  const child = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', dir, '--store', `sqlite:${join(dir, db)}`], env(extra));
  children.push(child);
  return child;
}

function converse(cli: HttpCli, body: unknown): Promise<Response> {
  return fetch(cli.url.replace(/\/mcp$/, '/converse'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
}

describe('crisp-mcp serve --http with the converse API (child processes, SQLite file)', () => {
  it('SIGKILL with a reply in flight: the next process delivers everything, in order, no reply lost; the idle session then times out', async () => {
    const first = await serve({ CRISP_MCP_CONVERSE_IDLE_MINUTES: '0.05' });
    expect(first.logs()).toContainEqual(expect.objectContaining({ msg: 'converse API on', scenario: 'converse-test', idle_minutes: 0.05, url: first.url.replace(/\/mcp$/, '/converse') }));
    // The receiver holds the very first reply: the process is killed while it is in flight.
    receiver.behaviour = (_a, seen) => (seen === 0 && receiver.attempts.length === 0 ? 'hang' : 200);
    expect((await converse(first, { conversationId: 'cli-1', eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Hal' }] })).status).toBe(202);
    expect((await converse(first, { conversationId: 'cli-1', eventType: 'message', text: 'plans' })).status).toBe(202);
    await receiver.waitFor(() => receiver.attempts.length === 1, 5_000, 'the first reply in flight');
    const peek = new SqliteStore(join(dir, 'state.db'));
    try {
      // Both events saved (their 3 replies queued) before the kill.
      const version = async () => (await peek.getPosition('converse:cli-1', 'converse-test'))?.version;
      for (let i = 0; i < 200 && (await version()) !== 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await version()).toBe(2);
    } finally {
      await peek.close();
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const hung = receiver.attempts[0]!;
    expect(hung).toMatchObject({ answer: 'hang', verified: true, json: { text: 'Hello Hal!' } });

    const second = await serve({ CRISP_MCP_CONVERSE_IDLE_MINUTES: '0.05' });
    // The killed process's delivery lock expires (5 s), then everything goes, and the idle session ends.
    await receiver.waitFor(() => receiver.of('cli-1').length === 4, 12_000, 'delivered after the restart');
    const replies = receiver.of('cli-1');
    expect(replies.map((r) => [r.type, r.text])).toEqual([
      ['text', 'Hello Hal!'],
      ['choice', 'What do you need?'],
      ['carousel', 'Pick a plan'],
      ['end', ''],
    ]);
    expect(replies[3]).toMatchObject({ reason: 'inactivity', replyTo: null });
    expect(replies[0]!.messageId).toBe(hung.id); // redelivered under the same webhook-id
    expect(receiver.accepted.every((a) => a.verified)).toBe(true);
    expect(new Set(receiver.accepted.map((a) => a.id)).size).toBe(receiver.accepted.length);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.logs().at(-1)).toMatchObject({ msg: 'stopped' });
  }, 25_000);
});

describe("crisp-mcp serve --http converse: an articles block searches the helpdesk through the serve process's Crisp client", () => {
  it('the gdpr example offers the sandbox helpdesk article on GDPR as a link button', async () => {
    receiver.behaviour = () => 200;
    const child = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', SHIPPED_SCENARIOS_DIR, '--store', 'memory'], env({ CRISP_MCP_CONVERSE_SCENARIO: 'gdpr' }));
    children.push(child);
    // What a restart loses with this store, all of it: the warning once said only the undelivered replies.
    expect(child.stderr()).toMatch(/the store is memory, so a restart loses every session, the events accepted but not yet run, the replies not yet delivered and the messageIds already seen/);
    expect((await converse(child, { conversationId: 'gdpr-1', eventType: 'message', text: 'Are you GDPR compliant?' })).status).toBe(202);
    await receiver.waitFor(() => receiver.of('gdpr-1').length === 2, 10_000, 'the gdpr replies');
    const [articles, question] = receiver.of('gdpr-1');
    expect(articles).toMatchObject({ type: 'choice', text: 'Our help center has the answer (our Data Processing Agreement, the DPA, is signed from there too):' });
    expect((articles!.buttons as unknown[])[0]).toMatchObject({ type: 'link', text: 'GDPR and our Data Processing Agreement', url: expect.stringMatching(/\/en\/article\/gdpr-data-processing\/$/) });
    expect(question).toMatchObject({ type: 'choice', text: 'Did that answer your question?' });
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  }, 20_000);
});

describe('crisp-mcp serve --http converse: an accepted event survives SIGKILL (child processes, SQLite file)', () => {
  it('SIGKILL right after the 202s: the next process runs every accepted event once, in order; a retried messageId stays a no-op', async () => {
    const first = await serve({}, 'inbox.db');
    const ids = Array.from({ length: 20 }, (_, i) => `kill-${i}`);
    const events = (id: string) => [
      { conversationId: id, eventType: 'startSession', messageId: `${id}-a`, metadata: [{ key: 'user_name', value: id }] },
      { conversationId: id, eventType: 'message', text: 'plans', messageId: `${id}-b` },
    ];
    // Half the conversations are locked (as by a turn in another process) while the first process
    // runs: their events are accepted but cannot run before the kill.
    const locker = new SqliteStore(join(dir, 'inbox.db'));
    const held = ids.filter((_, i) => i % 2 === 0);
    for (const id of held) expect(await locker.acquireLock(`converse:lock:${id}`, 4_000)).toBeDefined();
    await locker.close();
    // Conversations posted at once, each one's events one after the other (arrival order = their order).
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const got: number[] = [];
        for (const event of events(id)) got.push((await converse(first, event)).status);
        return got;
      }),
    );
    first.child.kill('SIGKILL'); // right after the last 202: most events are not run yet
    await first.exited;
    expect(statuses.flat()).toEqual(Array(ids.length * 2).fill(202));
    const killed = new SqliteStore(join(dir, 'inbox.db'));
    try {
      const left = (await killed.outboxPending()).map((p) => p.conversation).filter((c) => c.startsWith('converse-in:'));
      expect(left).toEqual(expect.arrayContaining(held.map((id) => `converse-in:${id}`))); // accepted, not run
      expect((await killed.outboxHead(`converse-in:${held[0]}`))?.payload).toMatchObject({ event: { messageId: `${held[0]}-a` } });
    } finally {
      await killed.close();
    }

    const second = await serve({}, 'inbox.db');
    // A client that missed a 202 sends again: the same messageId is not run twice.
    expect((await converse(second, events(ids[0]!)[1])).status).toBe(202);
    await receiver.waitFor(() => ids.every((id) => new Set(receiver.accepted.filter((a) => a.json.conversationId === id).map((a) => a.id)).size >= 3), 15_000, 'every accepted event run after the restart');
    // Inboxes and reply queues all empty: every accepted event has run and every reply is acked, so
    // no reply can come after this (a redelivery may first wait for the killed process's delivery lock).
    const peek = new SqliteStore(join(dir, 'inbox.db'));
    try {
      await eventually(async () => (await peek.outboxPending()).length === 0, 15_000, 'the inboxes and reply queues emptying');
      expect(await peek.outboxPending()).toEqual([]);
    } finally {
      await peek.close();
    }
    for (const id of ids) {
      // Delivery is at least once (a reply whose 2xx the killed process never acked comes again, under
      // its webhook-id, as receivers dedupe on): per webhook-id, the replies are each there once, in order.
      const once = [...new Map(receiver.accepted.filter((a) => a.json.conversationId === id).map((a) => [a.id, a.json] as const)).values()];
      expect(once.map((r) => [r.type, r.text])).toEqual([
        ['text', `Hello ${id}!`],
        ['choice', 'What do you need?'],
        ['carousel', 'Pick a plan'],
      ]);
    }
    // No reply made twice: a webhook-id always carries the same reply.
    const mine = receiver.accepted.filter((a) => ids.includes(a.json.conversationId));
    for (const a of mine) expect(a.json).toEqual(mine.find((b) => b.id === a.id)!.json);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 40_000);
});

describe('crisp-mcp serve --http converse with CRISP_MCP_WEBHOOK_NETWORKS=public', () => {
  it('refuses a webhook URL on this host at start by its address, and by its name when a reply is delivered: nothing reaches it, and the log says which setting refused it', async () => {
    const byAddress = await runCli(['serve', '--http', '--port', '0', '--sandbox', '--scenarios', dir], { env: env({ CRISP_MCP_WEBHOOK_NETWORKS: 'public' }) });
    expect(byAddress.status).toBe(2);
    expect(byAddress.stderr).toMatch(/^crisp-mcp: CRISP_MCP_CONVERSE_WEBHOOK_URL: 127\.0\.0\.1 is a loopback address: webhooks may not connect there/m);

    // A name is resolved when a reply goes: the address it resolves to is refused there.
    const cli = await serve({ CRISP_MCP_WEBHOOK_NETWORKS: 'public', CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url.replace('127.0.0.1', 'localhost') }, 'public.db');
    expect((await converse(cli, { conversationId: 'net-1', eventType: 'startSession' })).status).toBe(202);
    const refused = () => cli.logs().find((l) => l.msg === 'converse delivery: will retry');
    await expect.poll(refused).toBeDefined();
    expect(refused()).toMatchObject({ level: 40, error: expect.stringMatching(/^localhost: (127\.0\.0\.1|::1) is a loopback address: webhooks may not connect there \(CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is public;/) });
    expect(receiver.of('net-1')).toEqual([]);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

describe('crisp-mcp serve --http converse start-up refusals (one line, exit 2)', () => {
  it.each([
    [{ CRISP_MCP_CONVERSE_SECRET: 'not-a-whsec' }, /^crisp-mcp: CRISP_MCP_CONVERSE_SECRET must be whsec_ followed by the base64 of 24-64 random bytes/],
    [{ CRISP_MCP_CONVERSE_SCENARIO: 'nope' }, /^crisp-mcp: CRISP_MCP_CONVERSE_SCENARIO names no loaded scenario: "nope" is not one of converse-test/],
    [
      { CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://169.254.169.254/latest/replies' },
      /^crisp-mcp: CRISP_MCP_CONVERSE_WEBHOOK_URL: 169\.254\.169\.254 is a link-local address \(where cloud metadata services answer\): webhooks may not connect there \(CRISP_MCP_WEBHOOK_NETWORKS or --webhook-networks is private; any lets it\)$/,
    ],
    [{ CRISP_MCP_WEBHOOK_NETWORKS: 'intranet' }, /^crisp-mcp: CRISP_MCP_WEBHOOK_NETWORKS must be private \(the default: .*\), public or any, got "intranet"$/],
  ])('%j', async (extra, message) => {
    const run = await runCli(['serve', '--http', '--port', '0', '--sandbox', '--scenarios', dir], { env: env(extra) });
    expect(run.status).toBe(2);
    const said = run.stderr.split('\n').filter((line) => !line.startsWith('{') && line !== '');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(message);
  });

  it('without its scenario among the shipped examples', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'crisp-mcp-empty-'));
    try {
      // No ./scenarios in the working directory, no --scenarios: the shipped examples are loaded, and converse-test is not one of them.
      const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '--sandbox'], { cwd: empty, env: { PATH: process.env.PATH ?? '', ...env() } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(status).toBe(2);
      expect(stderr).toContain(`"msg":"scenarios loaded from ${SHIPPED_SCENARIOS_DIR}"`);
      expect(stderr).toMatch(/^crisp-mcp: CRISP_MCP_CONVERSE_SCENARIO names no loaded scenario: "converse-test" is not one of booking, cancel-account, gdpr/m);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
