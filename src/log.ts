import pino, { type Logger } from 'pino';
import { scrub } from './credentials/redact.js';

export type { Logger };

/** pino's levels, quietest last. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The process logger: JSON lines on stderr, because in stdio mode stdout is the MCP channel.
 * Anything that could hold a credential is redacted by path as a second line of defence.
 */
export function createLogger(level: string = process.env.CRISP_MCP_LOG_LEVEL?.trim() || 'info', destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  if (!LOG_LEVELS.includes(level)) throw new Error(`CRISP_MCP_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return pino(
    {
      name: 'crisp-mcp',
      level,
      redact: {
        paths: ['key', '*.key', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'credentials', '*.credentials', 'password', '*.password'],
        censor: '[redacted]',
      },
      // Paths catch the fields we know; this catches a registered secret wherever it hides, and an email address.
      hooks: { streamWrite: forStderr },
    },
    destination,
  );
}

/**
 * The one way to write a line to stderr outside the logger (start-up refusals, crashes): it goes
 * through scrub() too, so a message that quotes a setting or an upstream error cannot carry a secret.
 */
export function writeErrorLine(line: string, stream: { write(text: string): unknown } = process.stderr): void {
  stream.write(`${forStderr(line)}\n`);
}

/**
 * An email address, raw or percent-encoded (`%40`) as a URL path carries it: a visitor's, in the
 * path of a failed Crisp call (`/people/profile/{email}`) that a warning names. Log lines are kept
 * and shipped where `crisp-mcp store forget` does not reach, so no line holds one.
 */
const EMAIL = /[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** What leaves on stderr: no registered secret, no email address. */
function forStderr(text: string): string {
  const scrubbed = scrub(text);
  return scrubbed.includes('@') || scrubbed.includes('%40') ? scrubbed.replace(EMAIL, '[email]') : scrubbed;
}

/**
 * A failure that repeats by itself — a sweep on a timer, retries against one endpoint — is one
 * outage, told in two lines however long it lasts: its first failure as a warning, and the first
 * success after it (`info`, with how long it lasted and how many failures it saw). The failures
 * between are counted and written at `debug` only, so an hour's outage is not an hour of warnings;
 * one whose `code` (or, without one, `status`) this outage has not seen yet — Crisp unreachable,
 * then refusing the key — warns again, once.
 */
export class OutageLog {
  readonly #log: Logger;
  readonly #now: () => number;
  /** The outage under way: since when, its failures so far, and the kinds (code or status) already warned of. */
  #outage: { since: number; failures: number; kinds: Set<unknown> } | undefined;

  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  /** Whether the last attempt failed. */
  get down(): boolean {
    return this.#outage !== undefined;
  }

  failed(fields: Record<string, unknown>, message: string): void {
    const outage = this.#outage;
    const kind = fields.code ?? fields.status;
    if (outage) {
      outage.failures++;
      // A kind already told in this outage is no news, even after another: failures of many
      // conversations at once (one outage, autopilot.ts) interleave their kinds.
      if (outage.kinds.has(kind)) return this.#log.debug({ ...fields, failures: outage.failures }, message);
      outage.kinds.add(kind);
      return this.#log.warn({ ...fields, failures: outage.failures }, message);
    }
    this.#outage = { since: this.#now(), failures: 1, kinds: new Set([kind]) };
    this.#log.warn(fields, message);
  }

  succeeded(fields: Record<string, unknown>, message: string): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = undefined;
    this.#log.info({ ...fields, down_ms: this.#now() - outage.since, failures: outage.failures }, message);
  }
}
