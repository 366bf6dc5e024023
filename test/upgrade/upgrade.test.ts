// Upgrading with state on disk, as a user does: the built CLI started on the SQLite file an earlier
// release left (fixtures/sqlite-0300263.db, written by that release's own build: make-fixture.sh)
// and on a Redis a later release marked. Nothing lost, nothing doubled, the migration said once; a
// store a later release wrote refused in one line rather than misread.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BetterSqlite3 } from '../../src/store/sqlite-binding.js';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_SCENARIOS_DIR } from '../../src/engine/library.js';
import { CLI, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';
import { connect, spawnHttpCli, type HttpCli } from '../helpers/http.js';
import { Receiver, TEST_SECRET } from '../helpers/receiver.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

const FIXTURE = new URL('fixtures/sqlite-0300263.db', import.meta.url);
const TOKEN = 'upgrade-test-token-0123456789abcdef';
const MIGRATED = 'the SQLite store file an earlier release wrote was migrated';

let dir: string;
let receiver: Receiver;
const children: HttpCli[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-upgrade-'));
  receiver = await Receiver.start();
});
afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The fixture as if its release had stopped a moment ago: every stored time moved by the fixture's
 * age (its draft's 1 h and its messageIds' 24 h would have run out), on the file itself, as a copy.
 */
let copies = 0;
function freshCopy(): { path: string; draftId: string; replyId: string } {
  const path = join(dir, `state-${++copies}.db`);
  copyFileSync(FIXTURE, path);
  const db = new BetterSqlite3(path);
  const { base } = db.prepare('SELECT max(created_at) AS base FROM drafts').get() as { base: number };
  const shift = Date.now() - base;
  db.prepare('UPDATE drafts SET created_at = created_at + ?, expires_at = expires_at + ?').run(shift, shift);
  db.prepare('UPDATE positions SET updated_at = updated_at + ?').run(shift);
  db.prepare('UPDATE outbox SET created_at = created_at + ?, next_attempt_at = next_attempt_at + ?').run(shift, shift);
  db.prepare('UPDATE outbox_once SET expires_at = expires_at + ?').run(shift);
  const { id } = db.prepare('SELECT id FROM drafts').get() as { id: string };
  const { payload } = db.prepare('SELECT payload FROM outbox').get() as { payload: string };
  db.close();
  return { path, draftId: id, replyId: (JSON.parse(payload) as { messageId: string }).messageId };
}

async function serve(path: string): Promise<HttpCli> {
  const child = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', SHIPPED_SCENARIOS_DIR, '--store', `sqlite:${path}`], {
    CRISP_MCP_HTTP_TOKEN: TOKEN,
    CRISP_MCP_CONVERSE_WEBHOOK_URL: receiver.url,
    CRISP_MCP_CONVERSE_SECRET: TEST_SECRET,
    CRISP_MCP_CONVERSE_SCENARIO: 'cancel-account',
  });
  children.push(child);
  return child;
}

function converse(cli: HttpCli, body: unknown): Promise<Response> {
  return fetch(cli.url.replace(/\/mcp$/, '/converse'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
}

async function stop(cli: HttpCli): Promise<void> {
  cli.child.kill('SIGTERM');
  await cli.exited;
}

describe('serve --http on the SQLite file of the release before 0300263 (built CLI, real file)', () => {
  it('logs the migration once; the undelivered reply arrives once, the session resumes at its question, the draft is there', async () => {
    const { path, draftId, replyId } = freshCopy();
    const first = await serve(path);
    expect(first.logs().filter((line) => line.msg === MIGRATED)).toEqual([
      expect.objectContaining({ from_schema: 2, to_schema: 2, steps: ['positions rewritten as a rowid table (1 rows)', 'outbox_once.digest column added'] }),
    ]);

    // The reply the old process could not deliver (its receiver was down) arrives, under its own messageId.
    await eventually(() => receiver.attempts.some((a) => a.id === replyId), 10_000, 'the undelivered reply');
    expect(receiver.attempts.find((a) => a.id === replyId)!.json.text).toMatch(/^Are you sure you want to cancel/);
    // The gateway resending the event the old process accepted is a duplicate, not a second run.
    expect(await (await converse(first, { conversationId: 'upgrade-1', eventType: 'message', text: 'I want to cancel my account', messageId: 'evt-1' })).json())
      .toMatchObject({ status: 'accepted', duplicate: true });
    // The visitor answers the question the old process asked: the session goes on from there.
    expect((await converse(first, { conversationId: 'upgrade-1', eventType: 'message', text: 'Yes', messageId: 'evt-2' })).status).toBe(202);
    await eventually(() => receiver.attempts.some((a) => a.json.replyTo === 'evt-2' && a.json.type === 'handoff'), 10_000, 'the reply to evt-2');
    expect(receiver.attempts.filter((a) => a.json.replyTo === 'evt-2').map((a) => a.json.text))
      .toEqual(['Understood. Our billing team will confirm the cancellation by email shortly.', '']);

    // The agent's draft the old process stored is read from the migrated file. The embedded sandbox
    // seeds a new inbox at each start (its messages' fingerprints follow the clock), so here its
    // conversation has moved on and post_draft says so; against one Crisp across the restart it posts.
    const client = await connect(first.url, { era: 'modern', token: TOKEN });
    const posted = await client.callTool({ name: 'post_draft', arguments: { draft_id: draftId } });
    expect(posted.content).toEqual([{ type: 'text', text: `draft ${draftId} is stale: the visitor wrote again since. Nothing was posted; call draft_scenario_reply again for a fresh draft.` }]);
    await client.close();
    await stop(first);

    // Started again: nothing left to migrate or to deliver.
    const delivered = receiver.attempts.length;
    const second = await serve(path);
    await converse(second, { conversationId: 'upgrade-1', eventType: 'message', text: 'Yes', messageId: 'evt-2' });
    await stop(second);
    expect(second.logs().filter((line) => line.msg === MIGRATED)).toEqual([]);
    expect(receiver.attempts.length).toBe(delivered);
    expect(new Set(receiver.attempts.map((a) => a.id)).size).toBe(receiver.attempts.length);
  });
});

describe('stdio serve on that file (built CLI, real file): the store opened after tools/list', () => {
  it('logs the migration on stderr, as serve --http does', async () => {
    const { path } = freshCopy();
    const child = spawn(process.execPath, [CLI, 'serve', '--sandbox', '--store', `sqlite:${path}`], { env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'upgrade', version: '1' } } })}\n`);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
      const line = await eventually(() => stderr.split('\n').find((l) => l.includes(MIGRATED)), 10_000, 'the migration log line');
      expect(JSON.parse(line)).toMatchObject({ from_schema: 2, to_schema: 2, steps: ['positions rewritten as a rowid table (1 rows)', 'outbox_once.digest column added'] });
    } finally {
      child.stdin.end();
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describeWithRedis('serve on a Redis a later release marked (built CLI, real redis-server)', () => {
  const redis = useRedis();

  it('marks a Redis with its format, and refuses one marked with a later format in one line, leaving its keys as they are', async () => {
    const url = redis().url;
    const raw = createClient({ url });
    await raw.connect();
    try {
      await raw.flushAll();
      const args = ['serve', '--http', '--port', '0', '--sandbox', '--store', url];
      const env = { CRISP_MCP_HTTP_TOKEN: TOKEN };
      // A Redis no release marked (or an earlier one wrote) is taken and marked.
      const started = spawnHttpCli(args.slice(2), env).then(async (cli) => {
        children.push(cli);
        await stop(cli);
      });
      await started;
      expect(await raw.get('crisp-mcp:format')).toBe('2');

      await raw.set('crisp-mcp:format', '3');
      await raw.hSet('crisp-mcp:pos:converse%3Ax:cancel-account', { v: '1', d: '{"v":3}', t: '1' });
      const refused = await runCli(args, { env });
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('was written by a newer crisp-mcp (format 3, this one knows 2)');
      expect(await raw.get('crisp-mcp:format')).toBe('3');
      expect(await raw.hGetAll('crisp-mcp:pos:converse%3Ax:cancel-account')).toEqual({ v: '1', d: '{"v":3}', t: '1' });
    } finally {
      await raw.close();
    }
  });
});
