// --toolsets and --tools bound what a host reaches through resources and prompts too, as a host sees
// it: an SDK client over stdio to the built CLI. A server narrowed to routing served every
// conversation's transcript (crisp://conversations/…, summarize_conversation) and the scenario
// drafts all the same.
import { describe, expect, it } from 'vitest';
import { connectStdio } from '../helpers/stdio.js';

async function surface(argv: string[]) {
  const { client } = await connectStdio(['serve', '--sandbox', ...argv], { env: { CRISP_MCP_LOG_LEVEL: 'silent' } });
  try {
    const capabilities = client.getServerCapabilities() ?? {};
    const templates = capabilities.resources ? (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate) : [];
    const resources = capabilities.resources ? (await client.listResources()).resources.map((r) => r.uri) : [];
    const prompts = capabilities.prompts ? (await client.listPrompts()).prompts.map((p) => p.name).sort() : [];
    const transcript = await client.listTools().then(async ({ tools }) => (tools.some((t) => t.name === 'list_conversations') ? undefined : await client.readResource({ uri: `crisp://conversations/any/session_x` }).then(() => 'read', (error: Error) => error.message)));
    return { templates, resources, prompts, transcript, capabilities };
  } finally {
    await client.close();
  }
}

describe('resources and prompts follow the tool selection', () => {
  it('--toolsets routing: no transcript, no scenario resource, no prompt', async () => {
    const { templates, prompts, transcript, capabilities } = await surface(['--toolsets', 'routing']);
    expect(templates).toEqual([]);
    expect(capabilities.resources).toBeUndefined();
    expect(capabilities.prompts).toBeUndefined();
    expect(prompts).toEqual([]);
    expect(transcript).toMatch(/Method not found/);
  });

  it('--toolsets conversations: the transcript and summarize_conversation, no scenario resource', async () => {
    const { templates, resources, prompts } = await surface(['--toolsets', 'conversations']);
    expect(templates).toEqual(['crisp://conversations/{website_id}/{session_id}']);
    expect(resources.every((uri) => uri.startsWith('crisp://conversations/'))).toBe(true);
    expect(prompts).toEqual(['reply_to_pending_chats', 'summarize_conversation', 'triage_inbox']);
  });

  it('--tools list_scenarios: the scenario resources, no transcript', async () => {
    const { templates, resources } = await surface(['--tools', 'list_scenarios']);
    expect(templates.sort()).toEqual(['crisp://conversations/{website_id}/{session_id}/scenario', 'crisp://drafts/{id}', 'crisp://scenarios/{name}']);
    expect(resources).toContain('crisp://scenarios');
    expect(resources.some((uri) => /^crisp:\/\/conversations\/[^/]+\/[^/]+$/.test(uri))).toBe(false);
  });
});
