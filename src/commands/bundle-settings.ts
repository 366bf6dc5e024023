// Started from the Claude Desktop bundle, a user sets crisp-mcp through the extension's settings
// form, never with a variable or a flag, so a start-up refusal or a tool's answer that names
// CRISP_KEY or --sandbox leaves them guessing. `npm run mcpb` puts the bundle's manifest.json at the
// package root (a checkout keeps it in mcpb/, the npm package has none): when it is there, such a
// message also names each setting it mentions by the title the form shows, taken from that manifest.
import { readFileSync } from 'node:fs';

const BUNDLE_MANIFEST = new URL('../../manifest.json', import.meta.url);

/** The flag a message may name instead of the variable a setting of the form sets: the same setting. */
const FLAG_OF: Record<string, string> = { CRISP_MCP_SANDBOX: '--sandbox', CRISP_MCP_SEND_MODE: '--send-mode', CRISP_IDENTIFIER: '--identifier', CRISP_TIER: '--tier' };

interface BundleManifest {
  display_name?: string;
  name: string;
  server: { mcp_config: { env?: Record<string, string> } };
  user_config?: Record<string, { title: string }>;
}

/** `message`, plus — when this copy runs from the bundle — which of the form's settings it is about. */
export function inBundleTerms(message: string, manifestUrl: URL = BUNDLE_MANIFEST): string {
  return bundleSettingsTerms(manifestUrl)?.(message) ?? message;
}

/** When this copy runs from the bundle, what restates a message in the terms of its settings form; else undefined. */
export function bundleSettingsTerms(manifestUrl: URL = BUNDLE_MANIFEST): ((message: string) => string) | undefined {
  const manifest = readManifest(manifestUrl);
  const form = manifest?.user_config;
  if (!manifest || !form) return undefined;
  return (message) => restate(message, manifest, form);
}

function restate(message: string, manifest: BundleManifest, form: Record<string, { title: string }>): string {
  const named: Array<{ at: number; text: string }> = [];
  for (const [variable, value] of Object.entries(manifest.server.mcp_config.env ?? {})) {
    const option = /^\$\{user_config\.([\w-]+)\}$/.exec(value)?.[1];
    const title = option === undefined ? undefined : form[option]?.title;
    if (title === undefined) continue;
    const flag = FLAG_OF[variable];
    const spellings = flag ? [variable, flag] : [variable];
    const found = spellings.map((spelling) => ({ spelling, at: message.search(new RegExp(`(?<![\\w-])${spelling}(?![\\w-])`)) })).filter(({ at }) => at >= 0);
    if (found.length > 0) named.push({ at: Math.min(...found.map(({ at }) => at)), text: `"${title}" (${found.map(({ spelling }) => spelling).join(', ')})` });
  }
  if (named.length === 0) return message;
  const texts = named.sort((a, b) => a.at - b.at).map(({ text }) => text);
  const last = texts.pop()!;
  const extension = `the ${manifest.display_name ?? manifest.name} extension's`;
  const where = texts.length === 0 ? `that is ${extension} setting ${last}` : `those are ${extension} settings ${texts.join(', ')} and ${last}`;
  return `${message.replace(/\.$/, '')}. In Claude Desktop, ${where}`;
}

function readManifest(url: URL): BundleManifest | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as BundleManifest;
  } catch {
    return undefined; // not the bundle: a checkout or the npm package
  }
}
