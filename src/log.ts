import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stderr, because in stdio mode stdout is the MCP channel.
 * Anything that could hold a credential is redacted by path as a second line of defence.
 */
export function createLogger(level: string = process.env.CRISP_MCP_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: 'crisp-mcp',
      level,
      redact: {
        paths: ['key', '*.key', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'credentials', '*.credentials', 'password', '*.password'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
