// Opaque list cursors: the model passes back what it was given, and cannot guess Crisp's paging.
import type { Guard } from '../../guard.js';
import { ToolInputError } from '../define.js';

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ v: 1, ...value })).toString('base64url');
}

/**
 * The fields of a cursor `kind` gave out. Each is a page number or a timestamp, so at least 1:
 * a hand-made cursor with 0 or a negative number is refused here like any other, not passed on.
 * `givenAs` names the result field the cursor comes from, for the refusal.
 */
export function decodeCursor<K extends string>(cursor: string, kind: string, fields: readonly K[], givenAs = `next_cursor from the previous ${kind} result`): Record<K, number> & { w?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = parsed as Record<string, unknown> | undefined;
  if (!record || record.v !== 1 || record.k !== kind || !fields.every((f) => Number.isSafeInteger(record[f]) && (record[f] as number) >= 1)) {
    throw new ToolInputError(`cursor is not one this tool gave out; pass ${givenAs} unchanged, or omit it for the first page`);
  }
  const numbers = Object.fromEntries(fields.map((f) => [f, record[f] as number])) as Record<K, number>;
  return typeof record.w === 'string' ? { ...numbers, w: record.w } : numbers;
}

/**
 * The `w` a page cursor carries: the website it pages, when the server reaches several (with one
 * there is nothing to mix up, and the cursor stays as short as before). A later page then comes
 * from that website even when website_id is left out, never from the default one's.
 */
export function pagedWebsite(guard: Guard, website: string): { w?: string } {
  return guard.websites.length > 1 ? { w: website } : {};
}

/**
 * The website a page call acts on: the cursor's (checked against the allow-list like website_id),
 * else website_id's. A cursor of one website with another's website_id is refused: its page
 * number means nothing there.
 */
export function cursorWebsite(guard: Guard, requested: string | undefined, cursor: { w?: string } | undefined): string {
  if (cursor?.w === undefined) return guard.website(requested);
  const site = guard.website(cursor.w);
  if (requested !== undefined && requested !== '' && guard.website(requested) !== site) {
    throw new ToolInputError(`cursor: it pages website ${site}, not ${requested}; pass it with website_id ${site} (or none), or omit cursor for the first page of ${requested}`);
  }
  return site;
}
