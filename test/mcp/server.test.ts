// The MCP server through a real SDK Client over a linked in-memory pair, against the sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Sandbox } from '../../src/sandbox/server.js';
import { McpHarness } from '../helpers/mcp.js';

let harness: McpHarness;
let sandbox: Sandbox;
let client: Client;

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 42, crisp: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } } });
  ({ sandbox, client } = harness);
});
afterAll(() => harness.close());

describe('list_operators', () => {
  it('is listed with its annotations and schemas', async () => {
    const { tools } = await client.listTools();
    const tool = tools.find((t) => t.name === 'list_operators')!;
    expect(tool.title).toBe('List operators');
    // Hints at MCP's defaults (openWorldHint true; destructive/idempotent on a read-only tool) are left out.
    expect(tool.annotations).toEqual({ readOnlyHint: true });
    const send = tools.find((t) => t.name === 'send_message')!;
    expect(send.annotations).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    expect(tool.inputSchema.properties).toHaveProperty('website_id');
    expect(tool.outputSchema?.properties).toHaveProperty('operators');
  });

  it('returns operators with availability, structured and as text', async () => {
    const result = await client.callTool({ name: 'list_operators', arguments: {} });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as { website_id: string; operators: { user_id: string; email: string; availability: string }[] };
    const site = sandbox.state.websites.get(sandbox.websiteId)!;
    expect(out.website_id).toBe(sandbox.websiteId);
    expect(out.operators.map((o) => o.user_id)).toEqual(site.operators.map((o) => o.details.user_id));
    expect(out.operators.map((o) => o.availability).sort()).toEqual(site.availability.map((a) => a.type).sort());
    const text = (result.content as { type: string; text: string }[])[0]!.text;
    expect(text.split('\n')).toHaveLength(4);
    expect(text).toContain(out.operators[0]!.user_id);
  });

  it('refuses a website off the allow-list', async () => {
    const result = await client.callTool({ name: 'list_operators', arguments: { website_id: '00000000-0000-4000-8000-000000000000' } });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toMatch(/is not in CRISP_WEBSITE_ID; allowed: /);
    expect(result.structuredContent).toBeUndefined();
  });

  it('answers a bad argument with a clear error before the handler runs', async () => {
    const handledBefore = sandbox.stats().handled['GET /v1/website/:website_id/operators/list'] ?? 0;
    const result = await client.callTool({ name: 'list_operators', arguments: { website_id: 42 } });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toMatch(/website_id/);
    expect(sandbox.stats().handled['GET /v1/website/:website_id/operators/list'] ?? 0).toBe(handledBefore);
  });

  it('turns a Crisp rate limit that outlasts the retries into advice', async () => {
    sandbox.faults.burst({ fault: { kind: 'status', status: 429, retryAfterSeconds: 0 }, count: 4 });
    const result = await client.callTool({ name: 'list_operators', arguments: {} });
    sandbox.faults.clear();
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toMatch(/^Rate limited by Crisp; retry in \d+ s\.$/);
  });
});
