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
      // Paths catch the fields we know; this catches a registered secret wherever it hides.
      hooks: { streamWrite: scrub },
    },
    destination,
  );
}

/**
 * The one way to write a line to stderr outside the logger (start-up refusals, crashes): it goes
 * through scrub() too, so a message that quotes a setting or an upstream error cannot carry a secret.
 */
export function writeErrorLine(line: string, stream: { write(text: string): unknown } = process.stderr): void {
  stream.write(`${scrub(line)}\n`);
}
