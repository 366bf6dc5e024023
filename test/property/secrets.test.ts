// No secret in any encoding, through real processes: generated Crisp keys and Redis passwords,
// made of characters that JSON, URLs and shells escape, go through start-up, every tool, every
// error path and every log line at level trace; none comes out in any spelling.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli } from '../helpers/cli.js';
import { tourEverything } from '../helpers/secret-tour.js';
import { leakedSpelling, secretArb } from './arbitraries.js';

/** Generated cases; docs/operating.md's Reliability section quotes these numbers. */
export const KEY_TOUR_RUNS = 1;
export const STORE_PASSWORD_RUNS = 3;

const IDENTIFIER = '6f0e1d2c-3b4a-4596-8877-665544332211';
/** Tried first, besides the generated ones: a key shaped like Crisp's, and a wrong one (the 401 path). */
const CANARY: [string, string] = ['redaction-canary-5b0c1a9e8d7f6e5d4c3b2a1908f7e6d5', 'wrong-canary-0a1b2c3d4e5f60718293a4b5c6d7e8f9'];

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, credentials: [] });
});
afterAll(() => sandbox.close());

describe('generated secrets never come out', () => {
  it('a Crisp key: start-up, every tool, every error path, 401, auth status', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(secretArb, secretArb, async (key, wrongKey) => {
        fc.pre(key !== wrongKey);
        sandbox.credentials.splice(0, sandbox.credentials.length, { identifier: IDENTIFIER, key, tier: 'plugin' });
        const everything = await tourEverything(sandbox, IDENTIFIER, key, wrongKey);
        expect(leakedSpelling(everything, key, IDENTIFIER)).toBeUndefined();
        expect(leakedSpelling(everything, wrongKey, IDENTIFIER)).toBeUndefined();
        expect(everything).not.toMatch(/Basic [A-Za-z0-9+/=]{20,}/);
      }),
      { numRuns: KEY_TOUR_RUNS, examples: [CANARY] },
    );
  });

  it('a Redis store password: a malformed --store, an unreachable store, the environment form, the autopilot', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(secretArb, fc.constantFrom('default', 'app', 'u'), async (password, user) => {
        const encoded = encodeURIComponent(password);
        const runs = await Promise.all([
          runCli(['serve', '--sandbox', '--scenarios', 'scenarios', '--store', `redisx://${user}:${password}@h`]),
          runCli(['serve', '--sandbox', '--scenarios', 'scenarios', '--store', `redis://${user}:${password}@127.0.0.1:1`]),
          runCli(['serve', '--sandbox', '--scenarios', 'scenarios'], { env: { CRISP_MCP_STORE: `redis://${user}:${encoded}@127.0.0.1:1`, CRISP_MCP_LOG_LEVEL: 'trace' } }),
          runCli(['bot', '--sandbox', '--scenarios', 'scenarios', '--scenario', 'gdpr', '--store', `rediss://${user}:${encoded}@127.0.0.1:1`], { env: { CRISP_MCP_LOG_LEVEL: 'trace' } }),
        ]);
        for (const run of runs) {
          expect(run.status, run.stderr).not.toBe(0);
          expect(run.stderr).toMatch(/crisp-mcp: .*(store|Redis)/);
          expect(leakedSpelling(run.stdout + run.stderr, password), run.stderr).toBeUndefined();
        }
      }),
      { numRuns: STORE_PASSWORD_RUNS },
    );
  });
});

describe('other settings that are URLs', () => {
  it('a CRISP_API_URL refused for its scheme is echoed without its user name and password', async () => {
    const run = await runCli(['serve'], { env: { CRISP_API_URL: 'ftp://crisp-user:Api-Passw0rd-In-Url@api.example.com', CRISP_IDENTIFIER: 'id', CRISP_KEY: 'key-123456', CRISP_WEBSITE_ID: '00000000-0000-4000-8000-000000000000' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('CRISP_API_URL must use http or https, got "ftp://***@api.example.com"');
    expect(run.stderr).not.toContain('Api-Passw0rd');
  });
});

describe('a Redis URL the client would choke on', () => {
  it('a "%" that starts no escape in the password stops start-up with a line naming --store (it hung, saying only "URI malformed")', async () => {
    const run = await runCli(['serve', '--sandbox', '--scenarios', 'scenarios', '--store', 'redis://u:S3cret%Passw0rd@127.0.0.1:1']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--store (or CRISP_MCP_STORE): the user name or password of the Redis URL holds a "%"');
    expect(run.stderr).not.toContain('S3cret');
  });
});

describe('secrets other users of the machine can read', () => {
  it('--store with a Redis password: serve and bot warn at start, naming CRISP_MCP_STORE, without the password; the same URL in CRISP_MCP_STORE gets no warning', async () => {
    const url = 'redis://u:Fl4g-Passw0rd@127.0.0.1:1';
    const warning = '--store holds the Redis password, which `ps` shows to every user of this machine: give the URL in CRISP_MCP_STORE instead';
    const runs = await Promise.all([
      runCli(['serve', '--sandbox', '--scenarios', 'scenarios', '--store', url]),
      runCli(['bot', '--sandbox', '--scenarios', 'scenarios', '--scenario', 'gdpr', '--store', url]),
      runCli(['serve', '--sandbox', '--scenarios', 'scenarios'], { env: { CRISP_MCP_STORE: url } }),
    ]);
    for (const run of runs.slice(0, 2)) {
      expect(run.stderr).toContain(`"msg":${JSON.stringify(warning)}`);
      expect(run.stderr).not.toContain('Fl4g-Passw0rd');
    }
    expect(runs[2]!.stderr).not.toContain('`ps` shows');
  });

  it('a --key-file or --token-file other users may read: a start-up warning with the chmod that fixes it; none once it is 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-secret-files-'));
    try {
      const token = join(dir, 'tokens');
      const key = join(dir, 'key');
      writeFileSync(token, 'abcdefghijklmnop0123\n');
      writeFileSync(key, 'a-crisp-key-123\n');
      chmodSync(token, 0o640);
      chmodSync(key, 0o644);
      // The unreachable store ends the run once the settings are read.
      const args = ['serve', '--http', '--port', '0', '--sandbox', '--token-file', token, '--identifier', 'an-identifier', '--key-file', key, '--store', 'redis://127.0.0.1:1'];
      const loose = await runCli(args);
      expect(loose.stderr).toContain(`"msg":"--key-file ${key} can be read by other users of this machine (mode 644): \`chmod 600 ${key}\`"`);
      expect(loose.stderr).toContain(`"msg":"--token-file ${token} can be read by other users of this machine (mode 640): \`chmod 600 ${token}\`"`);
      chmodSync(token, 0o600);
      chmodSync(key, 0o600);
      expect((await runCli(args)).stderr).not.toContain('can be read by other users');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
