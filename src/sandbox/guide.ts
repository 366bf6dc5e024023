// How to use a running sandbox, in the words `crisp-mcp sandbox` prints and the embedded sandbox
// of `serve --sandbox` / `bot --sandbox` logs: its URL, the console, the credentials it accepts,
// and a curl line for each side of a conversation. One text, so the two never drift apart.
import type { Sandbox } from './server.js';
import { SANDBOX_IDENTIFIER } from './seed.js';
import type { SandboxCredential } from './routes/context.js';

export interface SandboxInfo {
  url: string;
  /** The browser console (the sandbox's root URL). */
  console: string;
  website_id: string;
  /** Every website, the default first: only with `--websites` above 1 (one website prints as before). */
  website_ids?: string[];
  identifier: string;
  key: string;
  tier: string;
  hooks?: { url: string; secret: string };
}

/** What the guide reads of a sandbox: a started one (server.ts) or one still to load (listen-first.ts). */
export type SandboxAddress = Pick<Sandbox, 'url' | 'websiteId' | 'credentials'> & Partial<Pick<Sandbox, 'websiteIds' | 'hooks'>>;

export function sandboxInfo(sandbox: SandboxAddress): SandboxInfo {
  const credential = sandbox.credentials[0]!;
  return {
    url: sandbox.url,
    console: `${onThisMachine(sandbox.url)}/`,
    website_id: sandbox.websiteId,
    ...(sandbox.websiteIds && sandbox.websiteIds.length > 1 ? { website_ids: sandbox.websiteIds } : {}),
    identifier: credential.identifier,
    key: credential.key,
    tier: credential.tier,
    ...(sandbox.hooks ? { hooks: { url: sandbox.hooks.url, secret: sandbox.hooks.secret } } : {}),
  };
}

/**
 * The credentials for a fixed key (CRISP_SANDBOX_KEY, read from the environment because argv shows
 * in `ps`), or undefined for the default: a random key per run.
 */
export function fixedKeyCredentials(key: string | undefined): SandboxCredential[] | undefined {
  return key ? [{ identifier: SANDBOX_IDENTIFIER, key, tier: 'plugin' }] : undefined;
}

/**
 * The URL to open on this machine. A sandbox bound to every address (`--host 0.0.0.0` or `::`)
 * reports that address, but its console and /_sandbox/ routes answer only a loopback host name
 * (console-page.ts), so a browser or curl pointed at `0.0.0.0` is refused: name loopback instead.
 */
function onThisMachine(url: string): string {
  const address = new URL(url);
  if (address.hostname === '0.0.0.0') address.hostname = '127.0.0.1';
  else if (address.hostname === '[::]') address.hostname = '[::1]';
  return address.origin;
}

/** The guide, one line per entry, headed by `title`. */
export function describeSandbox(info: SandboxInfo, title: string): string[] {
  const conversations = `${onThisMachine(info.url)}/_sandbox/websites/${info.website_id}/conversations`;
  const allowList = (info.website_ids ?? [info.website_id]).join(',');
  return [
    `${title} ${info.url}`,
    `  console     ${info.console} (open it in a browser: the inbox live, play the visitor and the operator)`,
    `  website_id  ${info.website_id}`,
    ...(info.website_ids ? [`  websites    ${info.website_ids.join(' ')} (the first is the default)`] : []),
    `  identifier  ${info.identifier}`,
    `  key         ${info.key}`,
    `  tier        ${info.tier}`,
    `  rtm         ${info.url}/rtm (Socket.IO; discovered through /v1/${info.tier}/connect/endpoints)`,
    ...(info.hooks ? [`  hooks       ${info.hooks.url}`, `  hook secret ${info.hooks.secret}`] : []),
    '',
    `Point a client at it: CRISP_API_URL=${info.url} CRISP_IDENTIFIER=${info.identifier} CRISP_KEY=<key above> CRISP_TIER=${info.tier} CRISP_WEBSITE_ID=${allowList}`,
    `Play the visitor: curl -X POST ${conversations} -H 'content-type: application/json' -d '{"text":"Hello!"}'`,
    `  then write again: curl -X POST ${conversations}/SESSION_ID/messages -H 'content-type: application/json' -d '{"content":"what about GDPR?"}'`,
    `  and read the replies: curl ${conversations}/SESSION_ID/messages`,
  ];
}
