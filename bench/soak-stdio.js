// bench/soak-stdio: one long `crisp-mcp serve --sandbox` session over stdio (SQLite store), as a
// desktop host keeps it for weeks: rounds of calls — every list paged through with its cursors, a
// draft and a post_draft (with a second post of the same draft, refused) in a new conversation each
// time, reset_scenario, resources read, bad input, and calls the host cancels mid-way. After each
// round: the server's RSS, heap used after a forced GC, open fds, active handles
// (bench/soak-probe.js), and the store's row counts. Not part of `npm run bench` (minutes).
//   node bench/soak-stdio.js [rounds=5] [calls per round≈1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { HEADER, measure, probeInto, row } from './soak-probe.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('../scenarios/', import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 5);
const PER_ROUND = Number(process.argv[3] ?? 1000);

/** The in-process sandbox's URL and website, from its stderr banner. */
function sandboxOf(stderr) {
  return new Promise((resolve) => {
    let text = '';
    stderr.on('data', function read(chunk) {
      text += chunk;
      const url = /Embedded Crisp sandbox on (http:\/\/\S+)/.exec(text)?.[1];
      const website = /website_id\s+([0-9a-f-]{36})/.exec(text)?.[1];
      if (url && website) {
        stderr.off('data', read);
        stderr.resume();
        resolve({ url, website });
      }
    });
  });
}

async function newConversation(sandbox, text) {
  const res = await fetch(`${sandbox.url}/_sandbox/websites/${sandbox.website}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
  return (await res.json()).data.session_id;
}

async function round(client, sandbox) {
  let calls = 0;
  const call = async (name, args) => {
    calls++;
    return client.callTool({ name, arguments: args }).catch(() => undefined);
  };
  while (calls < PER_ROUND) {
    // Every page of the inbox, by its cursors.
    let cursor;
    do {
      const page = await call('list_conversations', { per_page: 5, ...(cursor ? { cursor } : {}) });
      cursor = page?.structuredContent?.next_cursor ?? undefined;
    } while (cursor && calls < PER_ROUND);
    // A new visitor: draft, post, post again (refused), reset.
    const session = await newConversation(sandbox, 'I want to cancel my account');
    const draft = await call('draft_scenario_reply', { session_id: session, scenario: 'cancel-account' });
    const id = draft?.structuredContent?.draft_id;
    if (id) {
      await call('post_draft', { draft_id: id });
      await call('post_draft', { draft_id: id });
      await client.readResource({ uri: `crisp://drafts/${id}` }).catch(() => undefined);
    }
    await call('reset_scenario', { session_id: session, scenario: 'cancel-account' });
    await client.readResource({ uri: `crisp://conversations/${sandbox.website}/${session}` }).catch(() => undefined);
    // Bad input, and a call the host gives up on.
    await call('get_conversation', { session_id: 'session_00000000-0000-0000-0000-000000000000' });
    await call('post_draft', { draft_id: 'nope' });
    await call('list_messages', { session_id: 42 });
    const abort = new AbortController();
    const cancelled = client.callTool({ name: 'get_conversation', arguments: { session_id: session } }, undefined, { signal: abort.signal }).catch(() => undefined);
    abort.abort();
    await cancelled;
    calls++;
  }
  return calls;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-soak-stdio-'));
  const probe = probeInto(dir);
  const db = join(dir, 'state.db');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...probe.args, CLI, 'serve', '--sandbox', '--scenarios', SCENARIOS, '--store', `sqlite:${db}`],
    env: { PATH: process.env.PATH, CRISP_MCP_LOG_LEVEL: 'warn', ...probe.env },
    stderr: 'pipe',
  });
  const sandboxFound = sandboxOf(transport.stderr);
  const client = new Client({ name: 'soak', version: '1' });
  const rows = [];
  try {
    await client.connect(transport);
    const sandbox = await sandboxFound;
    const pid = transport.pid;
    rows.push(['start', 0, await measure(pid, probe.out, db)]);
    let total = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      total += await round(client, sandbox);
      const m = await measure(pid, probe.out, db);
      rows.push([`round ${r}`, total, m]);
      console.error(`round ${r}: ${total} calls rss ${m.rss.toFixed(1)} MB heap ${m.heap.toFixed(1)} MB fds ${m.fds} rows ${JSON.stringify(m.rows)} handles ${JSON.stringify(m.handleKinds)}`);
    }
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('serve over stdio, one session');
  console.log(HEADER);
  for (const [label, total, m] of rows) console.log(row(label, `${total} calls`, m));
}

await main();
