// Opaque list cursors: the model passes back what it was given, and cannot guess Crisp's paging.
import { ToolInputError } from '../define.js';

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ v: 1, ...value })).toString('base64url');
}

/**
 * The fields of a cursor `kind` gave out. Each is a page number or a timestamp, so at least 1:
 * a hand-made cursor with 0 or a negative number is refused here like any other, not passed on.
 */
export function decodeCursor<K extends string>(cursor: string, kind: string, fields: readonly K[]): Record<K, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = parsed as Record<string, unknown> | undefined;
  if (!record || record.v !== 1 || record.k !== kind || !fields.every((f) => Number.isSafeInteger(record[f]) && (record[f] as number) >= 1)) {
    throw new ToolInputError(`cursor is not one this tool gave out; pass next_cursor from the previous ${kind} result unchanged, or omit it for the first page`);
  }
  return Object.fromEntries(fields.map((f) => [f, record[f] as number])) as Record<K, number>;
}
