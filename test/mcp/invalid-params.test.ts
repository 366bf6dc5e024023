// Requests whose params break the method's schema, sent raw as a host with a bug would send them:
// over stdio to the built CLI, and over HTTP in a 2025-era session and as 2026-07-28 requests. Each
// is the client's fault: Invalid params (-32602) naming the field, never an Internal error carrying
// zod's issue list as JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { INITIALIZE, post, startHttpHarness, type HttpHarness } from '../helpers/http.js';

const MALFORMED: { method: string; params?: Record<string, unknown>; says: RegExp }[] = [
  { method: 'prompts/get', params: { name: 'summarize_conversation', arguments: { session_id: 5 } }, says: /^Invalid params for prompts\/get: arguments\.session_id: expected string, received number$/ },
  { method: 'prompts/get', params: { name: 'triage_inbox', arguments: 5 }, says: /^Invalid params for prompts\/get: arguments: expected object, received number$/ },
  { method: 'resources/read', params: { uri: 5 }, says: /^Invalid params for resources\/read: uri: expected string, received number$/ },
  { method: 'resources/read', says: /^Invalid params for resources\/read: params: expected object, received undefined$/ },
  { method: 'tools/list', params: { cursor: 5 }, says: /^Invalid params for tools\/list: cursor: expected string, received number$/ },
  { method: 'tools/call', params: { name: 'list_operators', arguments: [1] }, says: /^Invalid params for tools\/call: arguments: expected object, received array$/ },
  // This server never gives out a cursor (every list is one page): any cursor is one it did not give.
  { method: 'tools/list', params: { cursor: 'eyJwYWdlIjoyfQ' }, says: /^Invalid params for tools\/list: cursor: not one this server gave out; it answers tools\/list in one page, with no nextCursor: call it without a cursor$/ },
  { method: 'prompts/list', params: { cursor: 'stale' }, says: /^Invalid params for prompts\/list: cursor: not one this server gave out/ },
];

function expectInvalidParams(answer: { error?: { code: number; message: string } } | undefined, says: RegExp): void {
  expect(answer?.error?.message).toMatch(says);
  expect(answer?.error?.code).toBe(-32602);
}

describe('malformed request params', () => {
  it('an initialize without a protocolVersion, over stdio', async () => {
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const run = await runCli(['serve', '--sandbox'], { input: `${initialize}\n`, env: { CRISP_MCP_LOG_LEVEL: 'silent' } });
    expectInvalidParams(JSON.parse(run.stdout) as { error?: { code: number; message: string } }, /^Invalid params for initialize: protocolVersion: expected string, received undefined$/);
  });

  it('over stdio: each is answered Invalid params naming the field, and the connection goes on', async () => {
    const lines = [
      INITIALIZE,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      ...MALFORMED.map((m, i) => JSON.stringify({ jsonrpc: '2.0', id: 10 + i, method: m.method, ...(m.params ? { params: m.params } : {}) })),
      JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
    ];
    const run = await runCli(['serve', '--sandbox'], { input: `${lines.join('\n')}\n`, env: { CRISP_MCP_LOG_LEVEL: 'silent' } });
    const answers = new Map(
      run.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: number; error?: { code: number; message: string } })
        .map((a) => [a.id, a]),
    );
    MALFORMED.forEach((m, i) => expectInvalidParams(answers.get(10 + i), m.says));
    expect(answers.get(99)).toMatchObject({ result: {} });
  });

  it('a tool of ours this server leaves out (--read-only, --toolsets) is still an unknown tool, saying why, over stdio', async () => {
    const call = (id: number, name: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { session_id: 'session_x', content: 'hi' } } });
    const input = (name: string) => `${[INITIALIZE, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), call(2, name)].join('\n')}\n`;
    const answer = async (args: string[], name: string) => {
      const run = await runCli(['serve', '--sandbox', ...args], { input: input(name), env: { CRISP_MCP_LOG_LEVEL: 'silent' } });
      return run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: number; error?: { code: number; message: string } }).find((a) => a.id === 2);
    };
    expectInvalidParams(await answer(['--read-only'], 'send_message'), /^Tool send_message is not served: it changes Crisp and this server is read-only \(--read-only\); tools\/list shows the tools it serves\.$/);
    expectInvalidParams(await answer(['--toolsets', 'routing'], 'send_message'), /^Tool send_message is not served by this server: its tool selection \(--toolsets, --tools, --exclude-tools\) leaves it out/);
    // A name that is no tool of ours keeps the SDK's answer.
    expectInvalidParams(await answer([], 'send_fax'), /^Tool send_fax not found$/);
  });

  describe('over HTTP', () => {
    let h: HttpHarness;
    beforeAll(async () => {
      h = await startHttpHarness();
    });
    afterAll(() => h.close());

    it('in a 2025-era session', async () => {
      const opened = await post(h.url, INITIALIZE);
      const session = { 'mcp-session-id': String(opened.headers['mcp-session-id']), 'mcp-protocol-version': '2025-06-18' };
      for (const [i, m] of MALFORMED.entries()) {
        const reply = await post(h.url, JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: m.method, ...(m.params ? { params: m.params } : {}) }), session);
        expectInvalidParams(reply.json, m.says);
      }
    });

    it('as 2026-07-28 requests', async () => {
      const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
      // Without params at all there is no envelope to carry the revision: that one is a 2025-era request.
      for (const [i, m] of MALFORMED.filter((m) => m.params).entries()) {
        const name = m.method === 'tools/call' ? 'list_operators' : m.method === 'prompts/get' ? String(m.params!.name) : undefined;
        const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': m.method, ...(name ? { 'mcp-name': name } : {}) };
        const reply = await post(h.url, JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: m.method, params: { ...m.params, _meta: envelope } }), headers);
        expectInvalidParams(reply.json, m.says);
      }
    });
  });
});
