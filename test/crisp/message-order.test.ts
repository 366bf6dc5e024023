// Crisp sends a batch of messages oldest first, and may or may not send again the message at
// `timestamp_before`'s very millisecond: neither is documented. A Crisp that does neither, faked at
// the network edge (a real HTTP server answering the messages route): the client hands every
// reader its batches oldest first, and the transcript pages back through them without a gap or a
// message twice.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrispClient } from '../../src/crisp/index.js';
import { transcript } from '../../src/mcp/resources.js';
import type { ToolDeps } from '../../src/mcp/tools/deps.js';

const WEBSITE = '00000000-0000-4000-8000-000000000001';
const SESSION = 'session_00000000-0000-4000-8000-000000000002';

/** The thread, 8 messages a second apart; a batch is the 3 latest before `timestamp_before`, newest first. */
const THREAD = Array.from({ length: 8 }, (_, i) => ({
  session_id: SESSION, website_id: WEBSITE, type: 'text', from: i % 2 ? 'operator' : 'user', origin: 'chat',
  content: `message ${i}`, fingerprint: 1000 + i, timestamp: 1_765_000_000_000 + i * 1000,
}));

let server: Server;
let crisp: CrispClient;
const asked: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    asked.push(url.search);
    const answer = (status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: false, reason: 'resolved', data }));
    if (url.pathname === `/v1/website/${WEBSITE}/conversation/${SESSION}`) {
      return answer(200, { session_id: SESSION, website_id: WEBSITE, state: 'pending', meta: { nickname: 'Ada', email: 'ada@example.com' }, created_at: THREAD[0]!.timestamp, updated_at: THREAD.at(-1)!.timestamp });
    }
    if (url.pathname === `/v1/website/${WEBSITE}/conversation/${SESSION}/messages`) {
      const before = url.searchParams.get('timestamp_before');
      const after = url.searchParams.get('timestamp_after');
      // timestamp_before inclusive: the message at that millisecond comes again.
      const older = THREAD.filter((m) => (before === null || m.timestamp <= Number(before)) && (after === null || m.timestamp > Number(after)));
      const batch = older.slice(-3);
      return answer(older.length > batch.length ? 206 : 200, batch.toReversed());
    }
    answer(404, {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  crisp = new CrispClient({ baseUrl: `http://127.0.0.1:${port}`, credentials: { identifier: 'id', key: 'key', tier: 'plugin' } });
});
afterAll(async () => {
  await crisp.close();
  server.close();
});

const timestamps = (messages: Array<{ timestamp: number }>) => messages.map((m) => m.timestamp);

describe('message batches from a Crisp that sends them newest first', () => {
  it('come to every reader oldest first, the full messages and the summaries alike', async () => {
    const latest = THREAD.slice(-3);
    for (const page of [await crisp.messages.list(WEBSITE, SESSION), await crisp.messages.summaries(WEBSITE, SESSION)]) {
      expect(timestamps(page.messages)).toEqual(timestamps(latest));
      expect(page.hasMore).toBe(true);
    }
    const newer = await crisp.messages.summariesAfter(WEBSITE, SESSION, THREAD[5]!.timestamp - 1);
    expect(timestamps(newer.messages)).toEqual(timestamps(THREAD.slice(5)));
  });

  it('the transcript pages back from each batch\'s oldest message: every message once, in order', async () => {
    asked.length = 0;
    const text = await transcript({ crisp } as unknown as ToolDeps, { website: WEBSITE, session: SESSION });
    const lines = text.split('\n').filter((line) => / (visitor|operator) /.test(line) && /message \d$/.test(line));
    expect(lines.map((line) => line.slice(-9))).toEqual(THREAD.slice(-7).map((m) => m.content));
    // Each page asked from the oldest message of the one before.
    expect(asked.filter((q) => q.includes('timestamp_before'))).toEqual([`?timestamp_before=${THREAD[5]!.timestamp}`, `?timestamp_before=${THREAD[3]!.timestamp}`]);
  });
});
