// The Redis store's erasure: finding a conversation's keys across the keyspace and
// erasing them in one script, and finding the conversations whose positions are all older than a
// time. Both SCAN the whole keyspace, as nothing indexes positions by conversation.
import type { RedisConnection } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { FORGET } from './redis-scripts.js';
import type { Forgotten } from './types.js';

/** Erases a conversation's pos, outbox, draft and once keys, and its members of the shared indexes. */
export async function forgetConversation(connection: RedisConnection, keys: RedisKeys, conversation: string): Promise<Forgotten> {
  const positions = keys.positionsOf(conversation);
  const positionKeys = await connection.scanAll(positions.pattern);
  const onceKeys = await connection.scanAll(keys.onceKeysOf(conversation));
  const idleMembers = positionKeys.map(positions.idleMemberOf);
  const [removed, drafts, outboxItems, onces] = await connection.run(FORGET,
    [...keys.queue(conversation), keys.allDrafts, keys.drafts(conversation), keys.idle, ...positionKeys, ...onceKeys],
    [conversation, String(positionKeys.length), keys.draftHead, ...idleMembers]) as number[];
  return { positions: Number(removed), drafts: Number(drafts), outboxItems: Number(outboxItems), onceKeys: Number(onces) };
}

/** The conversations whose every position was last saved before `before`. */
export async function conversationsSavedBefore(connection: RedisConnection, keys: RedisKeys, before: number): Promise<string[]> {
  const found = await connection.scanAll(keys.allPositions);
  const latest = new Map<string, number>();
  for (let i = 0; i < found.length; i += 1000) {
    const batch = found.slice(i, i + 1000);
    const times = await Promise.all(batch.map((key) => connection.commands.hGet(key, 't')));
    batch.forEach((key, j) => {
      if (times[j] == null) return; // expired since the scan
      const conversation = keys.conversationOf(key);
      latest.set(conversation, Math.max(latest.get(conversation) ?? -Infinity, Number(times[j])));
    });
  }
  return [...latest].filter(([, at]) => at < before).map(([conversation]) => conversation);
}
