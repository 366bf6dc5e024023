// The Lua scripts that make the Redis store's multi-key steps atomic. Each runs alone on the server,
// so a crash between two steps cannot leave a position saved without its outbox items, or an item
// delivered without the due index moving on. Key layout: see redis.ts.
import { createHash } from 'node:crypto';

export interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * The outbox steps SAVE, APPEND and ACK share, as Lua functions each of them starts with. A queue is
 * a zset of seqs, its items a hash ({seq} JSON, {seq}:a attempts, {seq}:n next attempt, {seq}:e
 * last error), the due index a zset of conversations scored by their head's next attempt.
 */
const OUTBOX_LUA = `
local function enqueue(counter, queue, items, json, nextAttemptAt)
  local seq = redis.call('INCR', counter)
  redis.call('ZADD', queue, seq, seq)
  redis.call('HSET', items, seq, json, seq .. ':a', 0, seq .. ':n', nextAttemptAt)
  return seq
end
local function removeItem(queue, items, seq)
  if redis.call('ZREM', queue, seq) == 0 then return 0 end
  redis.call('HDEL', items, seq, seq .. ':a', seq .. ':n', seq .. ':e')
  return 1
end
local function dueFromHead(queue, items, due, conversation)
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if head then redis.call('ZADD', due, redis.call('HGET', items, head .. ':n'), conversation) else redis.call('ZREM', due, conversation) end
end
`;

/**
 * Compare-and-set a position, remove delivered outbox items and append new ones.
 * KEYS: position hash, idle zset, outbox seq counter, conversation queue zset, conversation items hash, due zset.
 * ARGV: expected version, position JSON, now, idle member, trackIdle ('1'|'0'), conversation, item count,
 *       then per item: item JSON ({id, payload, createdAt}), next attempt time; then the count of seqs
 *       delivered since (absent = 0) and those seqs; then the position's time to live in ms (absent or
 *       0 = none: a position saved with one before keeps no expiry).
 * Returns {0, current} on conflict, {1, version, seq…} on success.
 */
export const SAVE = script(`${OUTBOX_LUA}
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return {0, current} end
local version = current + 1
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2], 't', ARGV[3])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
local out = {1, version}
local n = tonumber(ARGV[7])
local at = 8 + 2 * n
local acks = tonumber(ARGV[at] or '0')
local ttl = tonumber(ARGV[at + acks + 1] or '0')
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) elseif current > 0 then redis.call('PERSIST', KEYS[1]) end
for i = 1, acks do removeItem(KEYS[4], KEYS[5], ARGV[at + i]) end
local wasEmpty = n > 0 and redis.call('EXISTS', KEYS[4]) == 0
for i = 0, n - 1 do out[#out + 1] = enqueue(KEYS[3], KEYS[4], KEYS[5], ARGV[8 + 2 * i], ARGV[9 + 2 * i]) end
if acks > 0 then
  dueFromHead(KEYS[4], KEYS[5], KEYS[6], ARGV[6])
elseif wasEmpty then
  redis.call('ZADD', KEYS[6], ARGV[9], ARGV[6])
end
return out
`);

/**
 * Appends one item to a conversation's outbox, unless its once-key is set (then nothing is written).
 * KEYS: once-key, outbox seq counter, conversation queue zset, conversation items hash, due zset.
 * ARGV: use the once-key ('1'|'0'), its ttl ms, item JSON ({id, payload, createdAt}), next attempt
 * time, conversation, the key's value: 'd:' + its digest, or '1' (none; what earlier releases set).
 * Returns {0, the key's value} for a duplicate, {1, seq} once appended.
 */
export const APPEND = script(`${OUTBOX_LUA}
if ARGV[1] == '1' and not redis.call('SET', KEYS[1], ARGV[6], 'NX', 'PX', ARGV[2]) then return {0, redis.call('GET', KEYS[1])} end
local wasEmpty = redis.call('EXISTS', KEYS[3]) == 0
local seq = enqueue(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4])
if wasEmpty then redis.call('ZADD', KEYS[5], ARGV[4], ARGV[5]) end
return {1, seq}
`);

/**
 * The head item of a conversation's outbox. KEYS: queue zset, items hash.
 * Returns nil, or {seq, item JSON, attempts, next attempt time, last error or nil}.
 */
export const HEAD = script(`
local seq = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not seq then return false end
local f = redis.call('HMGET', KEYS[2], seq, seq .. ':a', seq .. ':n', seq .. ':e')
return {seq, f[1], f[2], f[3], f[4]}
`);

/** Removes a delivered item and moves the due index to the next head. KEYS: queue, items, due. ARGV: seq, conversation. */
export const ACK = script(`${OUTBOX_LUA}
if removeItem(KEYS[1], KEYS[2], ARGV[1]) == 0 then return 0 end
dueFromHead(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
return 1
`);

/**
 * Counts a failed attempt and reschedules an item. KEYS: queue, items, due.
 * ARGV: seq, next attempt time, has error ('1'|'0'), error, conversation.
 */
export const RETRY = script(`
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':a', 1)
redis.call('HSET', KEYS[2], ARGV[1] .. ':n', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], ARGV[1] .. ':e', ARGV[4]) else redis.call('HDEL', KEYS[2], ARGV[1] .. ':e') end
if redis.call('ZRANGE', KEYS[1], 0, 0)[1] == ARGV[1] then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5]) end
return 1
`);

/**
 * Writes a draft and its ids in the draft indexes (all, and the conversation's when it has one),
 * dropping the ids that have expired. An index expires with the last draft it lists (its expiry is
 * only ever pushed later), so the index of a conversation that gets no more drafts goes too.
 * KEYS: draft, then the index zsets. ARGV: draft JSON, ttl ms, expires at, now, id.
 */
export const PUT_DRAFT = script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[4])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
`);

/**
 * Erases one conversation (Store.forget). KEYS: queue, items, due, drafts, drafts:{c}, pos-idle,
 * then its position keys, then its once-keys (both found by SCAN, the scenarios and keys being
 * unknown). ARGV: conversation, how many position keys, the draft key prefix, then the pos-idle
 * member of each position key. Returns {positions, drafts, outbox items, once-keys} erased.
 */
export const FORGET = script(`
local positions = tonumber(ARGV[2])
local erased = {0, 0, redis.call('ZCARD', KEYS[1]), 0}
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
  erased[2] = erased[2] + redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[4], id)
end
redis.call('DEL', KEYS[5])
for i = 1, positions do
  erased[1] = erased[1] + redis.call('DEL', KEYS[6 + i])
  redis.call('ZREM', KEYS[6], ARGV[3 + i])
end
for i = 7 + positions, #KEYS do erased[4] = erased[4] + redis.call('DEL', KEYS[i]) end
return erased
`);

/** Pushes a lock's expiry if the token still owns it. KEYS: lock. ARGV: token, ttl ms. */
export const EXTEND_LOCK = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`);

/** Deletes a lock if the token still owns it. KEYS: lock. ARGV: token. */
export const RELEASE_LOCK = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

/**
 * KEYS: format. ARGV: the format this release writes. Raises the key to it (never lowers it) and
 * returns what was there (0: none), so two releases connecting at once cannot both think the other absent.
 */
export const CLAIM_FORMAT = script(`
local found = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if found < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return found
`);
