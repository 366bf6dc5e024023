// Shared tool parameters, described once (the description is all the model sees of a field).
import { z } from 'zod';

// No UUID pattern: the guard refuses any website off the allow-list before a call is made.
export const WebsiteId = z.string().min(1).max(64).describe('omit: the default website');

export const SessionId = z
  .string()
  .regex(/^session_[0-9a-f-]{36}$/i, 'a session id looks like session_<uuid>')
  .describe('from list_conversations');

/** A custom-data value as tools accept it; null removes the key. */
export const DataValue = z.union([z.string().max(1_000), z.number(), z.boolean(), z.null()]);
export const DataPatch = z.record(z.string().max(100), DataValue);

/** Segment names to add or remove. */
export const SegmentList = z.array(z.string().min(1).max(100)).max(20);

/**
 * Crisp replaces a segments array whole, so adding or removing one means editing the current
 * array: the added ones joined without duplicates, then the removed ones taken out.
 */
export function editSegments(current: readonly string[], add: readonly string[] = [], remove: readonly string[] = []): string[] {
  const removed = new Set(remove);
  return [...new Set([...current, ...add])].filter((s) => !removed.has(s));
}
