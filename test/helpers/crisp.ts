import { CrispClient, type CrispClientOptions } from '../../src/crisp/index.js';
import type { Sandbox } from '../../src/sandbox/server.js';

/** Our client pointed at a sandbox, with short backoffs so retry tests stay fast. */
export function clientFor(sandbox: Sandbox, options: Partial<CrispClientOptions> = {}): CrispClient {
  const { identifier, key, tier } = sandbox.credentials[0]!;
  return new CrispClient({
    baseUrl: sandbox.url,
    appUrl: sandbox.url,
    credentials: { identifier, key, tier },
    retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
}
