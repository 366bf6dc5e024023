// `npm run demo`: what an agent does with crisp-mcp, as a script. An SDK client launches
// `crisp-mcp serve --sandbox` over stdio (as Claude Desktop or Cursor would) and works one chat on
// the short path: list pending with their latest messages → look the answer up in the helpdesk →
// reply and resolve in one call; then it finds the visitor's other conversations by email.
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

  const { conversations } = await call('Which chats wait for an answer? (with their latest messages)', 'list_conversations', { state: 'pending', order: 'waiting', include_messages: 2 });
  // The chat the helpdesk can answer; an agent would judge that from the messages.
  const chat = conversations.find((c) => /refund/i.test(c.subject)) ?? conversations[0];
  const question = chat.messages.filter((m) => m.from === 'visitor').at(-1)?.text ?? chat.last_message;
  const { articles } = await call('Look the answer up in the helpdesk', 'search_helpdesk', { query: question });
  const name = chat.visitor_name.split(' ')[0] || 'there';
  const link = articles[0] ? ` This article explains it: ${articles[0].url}` : '';
  await call('Reply and resolve in one call (a fingerprint makes a retry safe)', 'send_message', {
    session_id: chat.session_id,
    content: `Hi ${name}, thanks for your patience.${link} Tell me if anything is unclear.`,
    fingerprint: 424242,
    then_state: 'resolved',
  });
  if (chat.visitor_email) await call("The visitor's other conversations, each with a link for a human", 'find_conversations', { email: chat.visitor_email });
  console.log(color('32', '\nDone. Nothing left the machine: every call went to the embedded Crisp sandbox.'));
} finally {
  await client.close();
}
