// What `serve` and `bot` both set up before their own work: the embedded sandbox standing in for
// Crisp (with --sandbox), the Crisp client the tools and the autopilot call, and the one-line
// answer when the address they were told to listen on cannot be had.
import type { Config } from '../config.js';
import { registerSecret } from '../credentials/redact.js';
import { CrispClient } from '../crisp/client.js';
import type { Logger } from '../log.js';
import type { Sandbox, SandboxOptions } from '../sandbox/server.js';

/** Starts the seeded sandbox and returns the config pointed at it: its URL, its token, its website. */
export async function startEmbeddedSandbox(config: Config, log: Logger, options: Pick<SandboxOptions, 'hooks'> = {}): Promise<{ sandbox: Sandbox; config: Config }> {
  // Imported here: the simulator (its REST routes, socket.io, the demo data) is only loaded with --sandbox.
  const [{ startSandbox }, { describeSandbox, fixedKeyCredentials, sandboxInfo }] = await Promise.all([import('../sandbox/server.js'), import('../sandbox/guide.js')]);
  const sandbox = await startSandbox({ seed: 42, credentials: fixedKeyCredentials(process.env.CRISP_SANDBOX_KEY), ...options });
  const credential = sandbox.credentials[0]!;
  registerSecret(credential.key, credential.identifier);
  const info = sandboxInfo(sandbox);
  log.info({ url: info.url, console: info.console, website_id: info.website_id }, 'embedded Crisp sandbox started');
  // The guide goes to stderr as `crisp-mcp sandbox` prints it, key included: it opens only this
  // in-memory simulator, and a newcomer needs it to point a second client here (the logger
  // would redact it). stdout stays the MCP channel.
  process.stderr.write(`${describeSandbox(info, 'Embedded Crisp sandbox on').join('\n')}\n`);
  return { sandbox, config: { ...config, apiUrl: sandbox.url, credentials: { ...credential, source: 'sandbox' }, websites: [sandbox.websiteId] } };
}

/** The Crisp client for a resolved config (credentials are present once the sandbox, if any, runs). */
export function crispClientFor(config: Config, log: Logger): CrispClient {
  const { identifier, key, tier } = config.credentials!;
  // The sandbox also answers the app's conversation links, so the `url` tools give out opens there.
  const appUrl = config.credentials!.source === 'sandbox' ? config.apiUrl : undefined;
  return new CrispClient({ baseUrl: config.apiUrl, appUrl, credentials: { identifier, key, tier }, onRetry: (e) => log.debug({ retry: e }, 'retrying Crisp call') });
}

/** The one line for a listen failure the operator can fix (address taken or not allowed); undefined for anything else. */
export function listenProblem(error: unknown, host: string, port: number): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return undefined;
  return `cannot listen on ${host}:${port} (${code}): choose another --port or --host`;
}
