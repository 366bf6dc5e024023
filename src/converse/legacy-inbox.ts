// The previous release kept each converse inbox's messageIds in a position record (scenario
// `converse-inbox`): those still within DEDUPE_TTL_MS are read once, before the first append, and
// an event is deduped on them too.
import type { Store } from '../store/index.js';
import { DEDUPE_TTL_MS, INBOX_PREFIX } from './keys.js';

/** The "scenario" under which the previous release kept each inbox's messageIds, in a position record. */
const LEGACY_INBOX_SCENARIO = 'converse-inbox';

/** The previous release's inbox record: when each recent messageId was accepted. */
interface LegacyInboxRecord {
  kind: 'converse_inbox';
  seen: Record<string, number>;
}

/** messageIds of the previous release's inbox records still within DEDUPE_TTL_MS, by conversation id → when each was accepted. */
export interface LegacySeen {
  ids: Map<string, Map<string, number>>;
  /** When the last of them is forgotten. */
  until: number;
}

/** Reads the previous release's inbox records saved within DEDUPE_TTL_MS (none on a store it never wrote). */
export async function loadLegacySeen(store: Store, now: number): Promise<LegacySeen> {
  const legacy: LegacySeen = { ids: new Map(), until: 0 };
  let cursor: string | undefined;
  do {
    const page = await store.listPositions<Partial<LegacyInboxRecord> | null>(LEGACY_INBOX_SCENARIO, { since: now - DEDUPE_TTL_MS, cursor, limit: 500 });
    for (const { conversation, value } of page.positions) {
      const seen = value?.seen;
      if (!conversation.startsWith(INBOX_PREFIX) || !seen || typeof seen !== 'object') continue;
      const ids = new Map<string, number>();
      for (const [messageId, at] of Object.entries(seen)) {
        if (typeof at !== 'number' || now - at >= DEDUPE_TTL_MS) continue;
        ids.set(messageId, at);
        legacy.until = Math.max(legacy.until, at + DEDUPE_TTL_MS);
      }
      if (ids.size > 0) legacy.ids.set(conversation.slice(INBOX_PREFIX.length), ids);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return legacy;
}

/** Whether the previous release accepted `messageId` in the conversation within DEDUPE_TTL_MS of `now` (forgetting them all once the last is past). */
export function legacyDuplicate(legacy: LegacySeen, conversationId: string, messageId: string | undefined, now: number): boolean {
  if (messageId === undefined || legacy.ids.size === 0) return false;
  if (now >= legacy.until) legacy.ids.clear();
  const at = legacy.ids.get(conversationId)?.get(messageId);
  return at !== undefined && now - at < DEDUPE_TTL_MS;
}
