// The start-up log's warnings about settings: given where they do nothing, readable by other users of
// the machine, or misspelt. Each is one line; the command still starts.
import { distance } from 'fastest-levenshtein';
import { statSync } from 'node:fs';
import { readEnv, type ServeFlags } from '../config.js';

/**
 * Settings given where they do nothing: `serve` without --http has no port, no converse API and no
 * autopilot. One line each, for the start-up log; the server still starts.
 */
export function ignoredSettings(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flags.http) return [];
  const flagged = (['port', 'host'] as const).filter((name) => flags[name] !== undefined).map((name) => `--${name} does nothing without --http (over stdio nothing listens); add --http, or drop it`);
  const converse = ['CRISP_MCP_CONVERSE_WEBHOOK_URL', 'CRISP_MCP_CONVERSE_SECRET', 'CRISP_MCP_CONVERSE_SCENARIO', 'CRISP_MCP_CONVERSE_IDLE_MINUTES', 'CRISP_MCP_BOT_SCENARIO'].filter(
    (name) => readEnv(env, name) !== undefined,
  );
  return converse.length ? [...flagged, `${converse.join(', ')} ${converse.length === 1 ? 'does' : 'do'} nothing without --http (the converse API and the autopilot on /hooks/crisp are HTTP routes)`] : flagged;
}

/**
 * Secrets other users of the machine can read. A flag: `ps` (and /proc/PID/cmdline) shows every
 * process's arguments to every user; only the Redis URL's password can be one (the Crisp key comes
 * from a file or the environment). A key or token file others may read (like ssh, which refuses a
 * private key they can). One line each, for the start-up log; the command still starts.
 */
export function secretsInArguments(flags: { store?: string | undefined; 'key-file'?: string | undefined; 'token-file'?: string | undefined }): string[] {
  const lines: string[] = [];
  const store = flags.store?.trim() ?? '';
  if (/^rediss?:\/\//.test(store)) {
    let password = '';
    try {
      password = new URL(store).password;
    } catch {
      // parseStore reported it already
    }
    if (password) lines.push('--store holds the Redis password, which `ps` shows to every user of this machine: give the URL in CRISP_MCP_STORE instead');
  }
  for (const flag of ['key-file', 'token-file'] as const) {
    const file = flags[flag];
    if (file === undefined || process.platform === 'win32') continue;
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      continue; // reading it failed with its own error already
    }
    if (mode & 0o077) lines.push(`--${flag} ${file} can be read by other users of this machine (mode ${(mode & 0o777).toString(8)}): \`chmod 600 ${file}\``);
  }
  return lines;
}

/** Every environment variable crisp-mcp reads (CRISP_MCP_TEST_FAULT is the tests' own). */
export const SETTINGS = [
  'CRISP_API_URL', 'CRISP_IDENTIFIER', 'CRISP_KEY', 'CRISP_TIER', 'CRISP_WEBSITE_ID', 'CRISP_SANDBOX_KEY', 'CRISP_SANDBOX_WEBSITES', 'CRISP_HOOK_SECRET',
  'CRISP_MCP_LOG_LEVEL', 'CRISP_MCP_SANDBOX', 'CRISP_MCP_SEND_MODE', 'CRISP_MCP_HTTP_TOKEN', 'CRISP_MCP_ALLOWED_HOSTS', 'CRISP_MCP_AGENT_SECRET',
  'CRISP_MCP_STATE_SECRET', 'CRISP_MCP_STORE', 'CRISP_MCP_SCENARIOS', 'CRISP_MCP_BOT_SCENARIO', 'CRISP_MCP_CONVERSE_WEBHOOK_URL',
  'CRISP_MCP_CONVERSE_SECRET', 'CRISP_MCP_CONVERSE_SCENARIO', 'CRISP_MCP_CONVERSE_IDLE_MINUTES', 'CRISP_MCP_WEBHOOK_NETWORKS', 'CRISP_MCP_TEST_FAULT',
];

/**
 * Variables that look like a misspelt setting and so do nothing: any unknown CRISP_MCP_ name, and a
 * CRISP_ name within two letters of a known one (other Crisp tools have CRISP_ names of their own).
 * A misspelt CRISP_MCP_SEND_MODE would otherwise send without the confirmation asked for. One line
 * each, for the start-up log; the command still starts.
 */
export function misspeltSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('CRISP_') || SETTINGS.includes(name)) continue;
    const nearest = SETTINGS.map((known) => ({ known, distance: distance(name, known) })).sort((a, b) => a.distance - b.distance)[0]!;
    const close = nearest.distance <= 2;
    if (!close && !name.startsWith('CRISP_MCP_')) continue;
    lines.push(`${name} is not a crisp-mcp setting and does nothing${close ? `; did you mean ${nearest.known}?` : ' (the README lists the settings)'}`);
  }
  return lines;
}
