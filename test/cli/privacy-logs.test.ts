// A visitor's email address in no log line. get_person takes an email for people_id, and Crisp's
// route carries it in its path (/people/profile/jane%40example.org): a call that failed was logged
// at `warn` — the default level's — with that path twice (the message and `path`), so the on-call
// log, kept and shipped where `crisp-mcp store forget` does not reach, held the visitor's email.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { connectStdio } from '../helpers/stdio.js';

const EMAIL = 'jane.logged@example.org';

describe('serve: a visitor email in no log line', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 63 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it.each(['info', 'trace'])('at %s, a failed people call is logged with the address masked', async (level) => {
    const credential = sandbox.credentials[0]!;
    const host = await connectStdio(['serve', '--store', 'memory'], {
      env: {
        CRISP_API_URL: sandbox.url,
        CRISP_IDENTIFIER: credential.identifier,
        CRISP_KEY: credential.key,
        CRISP_TIER: credential.tier,
        CRISP_WEBSITE_ID: sandbox.websiteId,
        CRISP_MCP_LOG_LEVEL: level,
      },
    });
    try {
      const faults = await fetch(`${sandbox.url}/_sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ burst: { fault: '503', count: 100, path_includes: '/people/' } }),
      });
      expect(faults.status).toBe(200);
      const result = await host.client.callTool({ name: 'get_person', arguments: { people_id: EMAIL } });
      expect(result.isError).toBe(true);
    } finally {
      await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clear: true }) });
      await host.client.close();
    }
    const failed = host.stderr().split('\n').filter((line) => line.includes('"msg":"crisp call failed"'));
    expect(failed).toHaveLength(1);
    expect(JSON.parse(failed[0]!)).toMatchObject({ level: 40, tool: 'get_person', error: { code: 'crisp_unavailable', path: `/v1/website/${sandbox.websiteId}/people/profile/[email]` } });
    for (const form of [EMAIL, encodeURIComponent(EMAIL), 'jane.logged']) expect(host.stderr()).not.toContain(form);
  }, 60_000);
});
