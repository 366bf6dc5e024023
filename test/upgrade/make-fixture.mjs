// Writes the state an earlier release leaves on disk: `node make-fixture.mjs CLI DB` runs that
// release's built CLI (serve --http --sandbox) on the SQLite file DB with the converse API on and its
// reply receiver down, and through it: a converse session mid-scenario (cancel-account, waiting at
// its confirm question) whose reply was never delivered, and an agent's draft waiting to be posted
// (draft_scenario_reply, scenario handoff). The process is then killed (SIGKILL). make-fixture.sh
// builds the release and calls this.
import { spawn } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [cli, db] = process.argv.slice(2);
const TOKEN = 'upgrade-fixture-token-0123456789abcdef';
const child = spawn(process.execPath, [cli, 'serve', '--http', '--port', '0', '--sandbox', '--store', `sqlite:${db}`], {
  env: {
    PATH: process.env.PATH,
    CRISP_MCP_HTTP_TOKEN: TOKEN,
    CRISP_MCP_CONVERSE_WEBHOOK_URL: 'http://127.0.0.1:9/replies', // nothing listens: the reply stays in the outbox
    CRISP_MCP_CONVERSE_SECRET: `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`,
    CRISP_MCP_CONVERSE_SCENARIO: 'cancel-account',
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
const url = await new Promise((resolve, reject) => {
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
    const m = /"url":"(http:\/\/[^"]+\/mcp)"[^\n]*serving over Streamable HTTP/.exec(stderr);
    if (m) resolve(m[1]);
  });
  child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
});
const converse = (body) => fetch(url.replace(/\/mcp$/, '/converse'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) }).then((r) => r.json());
console.log(await converse({ conversationId: 'upgrade-1', eventType: 'startSession', messageId: 'evt-0' }));
console.log(await converse({ conversationId: 'upgrade-1', eventType: 'message', text: 'I want to cancel my account', messageId: 'evt-1' }));

const client = new Client({ name: 'make-fixture', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
const listed = await client.callTool({ name: 'list_conversations', arguments: {} });
const conversations = listed.structuredContent.conversations;
const session = conversations.find((c) => c.last_message?.from === 'user' || c.last_message_from === 'user')?.session_id ?? conversations[0].session_id;
const draft = await client.callTool({ name: 'draft_scenario_reply', arguments: { session_id: session, scenario: 'handoff' } });
console.log(JSON.stringify(draft.structuredContent));
// The reply's first delivery attempt fails (nothing listens), so it waits in the outbox for a retry.
await new Promise((resolve) => setTimeout(resolve, 1500));
child.kill('SIGKILL');
await new Promise((resolve) => child.once('exit', resolve));
