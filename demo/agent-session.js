// `npm run demo`: what an agent does with crisp-mcp, as a script. An SDK client launches
// `crisp-mcp serve --sandbox` over stdio (as Claude Desktop or Cursor would) and works one chat:
// list pending → read → mark read → show typing → reply → assign → resolve → update the person.
// Every call and the server's answer (the text twin the model reads) is printed.
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const color = process.stdout.isTTY ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text;

const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'serve', '--sandbox'], stderr: 'ignore' });
const client = new Client({ name: 'crisp-mcp-demo', version: '1.0.0' });
await client.connect(transport);

let step = 0;
async function call(why, name, args) {
  step += 1;
  console.log(color('1', `\n${step}. ${why}`));
  console.log(color('36', `   → ${name} ${JSON.stringify(args)}`));
  const result = await client.callTool({ name, arguments: args });
  const text = result.content.map((c) => c.text).join('\n');
  const body = text.split('\n').slice(0, 12).map((line) => `   ${line}`).join('\n');
  console.log(result.isError ? color('31', body) : body);
  if (result.isError) throw new Error(`${name} failed: ${text}`);
  return result.structuredContent;
}

try {
  const { tools } = await client.listTools();
  console.log(color('1', `crisp-mcp over stdio, embedded sandbox: ${tools.length} tools`));
  console.log(`   ${tools.map((t) => t.name).join(', ')}`);

  const { conversations } = await call('Which chats wait for an answer?', 'list_conversations', { state: 'pending' });
  const session = conversations[0].session_id;
  const { conversation } = await call('Read the first one: details and latest messages in one call', 'get_conversation', { session_id: session, messages: 5 });
  await call("Mark the visitor's messages read", 'mark_messages_read', { session_id: session });
  await call('Show the visitor that someone is typing', 'set_compose', { session_id: session, typing: true, excerpt: 'Looking into it…' });
  const name = conversation.visitor_name.split(' ')[0] || 'there';
  await call('Reply (a fingerprint makes a retry safe)', 'send_message', {
    session_id: session,
    content: `Hi ${name}, thanks for your patience — I'm checking this now and will come back to you shortly.`,
    fingerprint: 424242,
  });
  const { operators } = await call('Who can take it over?', 'list_operators', {});
  await call(`Assign it to ${operators[0].email}`, 'assign_conversation', { session_id: session, operator: operators[0].email });
  await call('Mark it resolved', 'set_conversation_state', { session_id: session, state: 'resolved' });
  if (conversation.people_id) {
    await call("Keep the visitor's profile current", 'update_person', { people_id: conversation.people_id, segments_add: ['contacted'], data: { last_contact: 'demo' } });
  } else {
    await call('Tag the conversation (this visitor has no profile)', 'update_conversation_meta', { session_id: session, segments_add: ['contacted'] });
  }
  await call('Check: the conversation now', 'get_conversation', { session_id: session, messages: 2 });
  console.log(color('32', '\nDone. Nothing left the machine: every call went to the embedded Crisp sandbox.'));
} finally {
  await client.close();
}
