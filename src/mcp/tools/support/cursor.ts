// Opaque list cursors: the model passes back what it was given, and cannot guess Crisp's paging.
import { ToolInputError } from '../define.js';

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ v: 1, ...value })).toString('base64url');
}

export function decodeCursor<K extends string>(cursor: string, kind: string, fields: readonly K[]): Record<K, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = parsed as Record<string, unknown> | undefined;
  if (!record || record.v !== 1 || record.k !== kind || !fields.every((f) => Number.isSafeInteger(record[f]))) {
    throw new ToolInputError(`cursor is not one this tool gave out; pass next_cursor from the previous ${kind} result unchanged, or omit it for the first page`);
  }
  return Object.fromEntries(fields.map((f) => [f, record[f] as number])) as Record<K, number>;
}
