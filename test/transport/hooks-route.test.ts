// `crisp-mcp serve --http --sandbox --bot-scenario gdpr` as a child process: the autopilot runs on
// the MCP server's own `/hooks/crisp` (the embedded sandbox's hooks point there), a visitor message
// gets the scenario's reply exactly once, a badly signed hook is refused, and /mcp keeps its token.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { visitorWrites } from '../helpers/events.js';
import { connect, spawnHttpCli, type HttpCli } from '../helpers/http.js';
import type { Sandbox } from '../../src/sandbox/server.js';

const TOKEN = 'hooks-route-token-0123456789abcdef';
const SCENARIOS = fileURLToPath(new URL('../../scenarios', import.meta.url));
const GDPR_ANSWER = 'Our help center has the answer (our Data Processing Agreement, the DPA, is signed from there too):';
const GDPR_CHOICE = 'Did that answer your question?';
const GDPR_HANDOFF = 'Let me get someone from the team for you.';

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('serve --http --sandbox --bot-scenario (child process)', () => {
  let cli: HttpCli;
  beforeAll(async () => {
    expect(existsSync(CLI), 'run `npm run build` first (npm test does it)').toBe(true);
    cli = await spawnHttpCli(['--port', '0', '--sandbox', '--scenarios', SCENARIOS, '--bot-scenario', 'gdpr'], { CRISP_MCP_HTTP_TOKEN: TOKEN, CRISP_MCP_LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  });

  const hooksUrl = () => cli.url.replace(/\/mcp$/, '/hooks/crisp');

  it('logs the autopilot on the same server before serving', () => {
    expect(cli.logs().find((l) => l.msg === 'autopilot running')).toMatchObject({ scenario: 'gdpr', events: 'hooks', url: hooksUrl() });
  });

  it('refuses an unsigned or badly signed hook with 403, without the bearer token being asked', async () => {
    const body = JSON.stringify({ website_id: 'x', event: 'message:send', data: {}, timestamp: Date.now() });
    expect((await fetch(hooksUrl(), { method: 'POST', body })).status).toBe(403);
    const forged = await fetch(hooksUrl(), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-crisp-request-timestamp': String(Date.now()), 'x-crisp-signature': 'ab'.repeat(32) },
    });
    expect(forged.status).toBe(403);
    expect((await fetch(hooksUrl(), { method: 'GET' })).status).toBe(405);
  });

  it('keeps /mcp behind the bearer token', async () => {
    const refused = await fetch(cli.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(refused.status).toBe(401);
    await expect(connect(cli.url, { era: 'modern' })).rejects.toThrow(/401|Unauthorized/);
  });

  it("answers a visitor's message with the scenario's reply, exactly once", async () => {
    const sandbox = cli.logs().find((l) => l.msg === 'embedded Crisp sandbox started')!;
    const started = await fetch(`${sandbox.url as string}/_sandbox/websites/${sandbox.website_id as string}/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Where is your GDPR documentation?' }),
    });
    expect(started.status).toBe(200);
    const session = ((await started.json()) as { data: { session_id: string } }).data.session_id;

    const client = await connect(cli.url, { era: 'modern', token: TOKEN });
    try {
      // What the bot said to the visitor (a message with buttons or a choice is read back as one line holding its text).
      const texts = async () => {
        const read = await client.callTool({ name: 'list_messages', arguments: { session_id: session } });
        return (read.structuredContent as { messages: { from: string; private: boolean; text: string }[] }).messages.filter((m) => m.from === 'operator' && !m.private).map((m) => m.text);
      };
      await eventually(async () => ((await texts()).some((t) => t.includes(GDPR_CHOICE)) ? true : undefined), 10_000, 'the bot reply');
      await eventually(() => cli.logs().find((l) => l.msg === 'turn saved' && String(l.conversation).endsWith(session)), 5_000, 'the turn');
      // conversation's turns in order, so a duplicate answer to the first (a retried hook, a catch-up)
      // would be in the thread by then.
      await visitorWrites({ url: sandbox.url, websiteId: sandbox.website_id } as Sandbox, session, 'not sure');
      await eventually(async () => ((await texts()).some((t) => t.includes(GDPR_HANDOFF)) ? true : undefined), 10_000, 'the reply to the later message');
      const all = await texts();
      expect(all).toHaveLength(3);
      expect(all[0]).toContain(GDPR_ANSWER);
      expect(all[1]).toContain(GDPR_CHOICE);
      expect(all[2]).toBe(GDPR_HANDOFF);
    } finally {
      await client.close();
    }
  });

  it('stops the autopilot on SIGTERM', async () => {
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.logs().find((l) => l.msg === 'autopilot stopped')).toMatchObject({ turns: 2 });
  });
});

describe('serve --bot-scenario: one-line config errors', () => {
  it.each([
    [['serve', '--bot-scenario', 'gdpr', '--sandbox'], {}, /--bot-scenario only applies to the HTTP server: add --http/],
    [['serve', '--http', '--bot-scenario', 'gdpr', '--scenarios', SCENARIOS], { CRISP_IDENTIFIER: 'id', CRISP_KEY: 'key', CRISP_WEBSITE_ID: '8c842203-7ed8-4e29-a608-7cf78a7d2fcc' }, /--bot-scenario needs CRISP_HOOK_SECRET/],
    [['serve', '--http', '--port', '0', '--sandbox', '--bot-scenario', 'nope', '--scenarios', SCENARIOS], {}, /--bot-scenario names no loaded scenario: "nope" is not one of /],
    [['serve', '--http', '--port', '0', '--sandbox'], { CRISP_MCP_BOT_SCENARIO: 'nope', CRISP_MCP_SCENARIOS: SCENARIOS }, /--bot-scenario names no loaded scenario: "nope" is not one of /],
  ])('%j', async (args, env, message) => {
    const run = await runCli(args, { env });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    // One line of error (start-up logs, JSON lines, may come before it).
    expect(run.stderr.trim().split('\n').filter((line) => !line.startsWith('{'))).toHaveLength(1);
  });
});
