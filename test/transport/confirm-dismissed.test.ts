// --send-mode confirm when the user closes the question without answering (MCP's elicitation
// action "cancel"), as a host sees it: an SDK client of each era over stdio to the built CLI. It
// read "the user declined this message … ask them what to change", telling the model the user had
// refused the content when they had only dismissed the dialog.
import type { Client } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { connectStdio } from '../helpers/stdio.js';

async function dismissing(era: 'legacy' | 'modern'): Promise<{ client: Client; asked: () => number }> {
  let asked = 0;
  const { client } = await connectStdio(['serve', '--sandbox', '--send-mode', 'confirm'], {
    env: { CRISP_MCP_LOG_LEVEL: 'silent' },
    client: { capabilities: { elicitation: { form: {} } }, ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) },
    beforeConnect: (client) =>
      client.setRequestHandler('elicitation/create', () => {
        asked++;
        return { action: 'cancel' };
      }),
  });
  return { client, asked: () => asked };
}

describe('a confirmation the user closes without answering', () => {
  for (const era of ['legacy', 'modern'] as const) {
    it(`${era}: nothing is sent, and the model is told the question went unanswered, not refused`, async () => {
      const { client, asked } = await dismissing(era);
      try {
        const listed = await client.callTool({ name: 'list_conversations', arguments: { state: 'pending' } });
        const session = (listed.structuredContent as { conversations: { session_id: string }[] }).conversations[0]!.session_id;
        const before = await client.callTool({ name: 'list_messages', arguments: { session_id: session } });
        const result = await client.callTool({ name: 'send_message', arguments: { session_id: session, content: 'Dismissed reply' } });
        expect(asked()).toBe(1);
        expect(result.isError).toBe(true);
        const text = (result.content as { text: string }[])[0]!.text;
        expect(text).toBe('Not sent: the user closed the confirmation without answering; nothing went out. Ask them whether to send it before calling again.');
        const after = await client.callTool({ name: 'list_messages', arguments: { session_id: session } });
        expect(after.structuredContent).toEqual(before.structuredContent);
      } finally {
        await client.close();
      }
    });
  }
});
