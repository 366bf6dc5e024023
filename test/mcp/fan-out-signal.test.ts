// One tool call that makes many Crisp calls at once (list_conversations with include_messages: one
// messages read per conversation listed), each following the call's abort signal so a host's
// cancel stops them all: seen from the host's seat, over stdio to the built CLI, the server's stderr
// must not carry Node's MaxListenersExceededWarning ("possible memory leak"), which it printed at
// each such call once the reads followed the call's signal.
import { expect, it } from 'vitest';
import { connectStdio } from '../helpers/stdio.js';

it('a call that fans out to 21 Crisp reads answers them all and warns of no listener leak on stderr', async () => {
  const { client, stderr } = await connectStdio(['serve', '--sandbox'], { env: { CRISP_MCP_STORE: 'memory' } });
  try {
    const result = await client.callTool({ name: 'list_conversations', arguments: { include_messages: 1, per_page: 20 } });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { conversations: unknown[] }).conversations).toHaveLength(20);
  } finally {
    await client.close();
  }
  expect(stderr()).not.toMatch(/MaxListenersExceededWarning|memory leak/);
});
