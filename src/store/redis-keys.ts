// The Redis store's keyspace: the name of every key it writes, and the SCAN patterns that find them
// again. All keys live under one prefix (default "crisp-mcp:"):
//
//   pos:{c}:{s}        hash  v (version), d (position JSON), t (updated at, ms); PX = its expireAfterMs, when saved with one
//   pos-idle           zset  "{c}:{s}" scored by updated at, for positions saved with trackIdle
//   draft:{id}         string draft JSON, PX = its time to live
//   drafts, drafts:{c} zset  draft ids scored by expiry (all, per conversation), PX = its last draft's
//   lock:{key}         string owner token, PX = ttl
//   outbox-seq         counter for item seqs (one sequence for the whole store)
//   outbox:{c}         zset  seqs of a conversation's pending items
//   outbox-items:{c}   hash  {seq} item JSON, {seq}:a attempts, {seq}:n next attempt, {seq}:e last error
//   outbox-due         zset  conversations with pending items, scored by their head's next attempt
//   once:{c}:{k}       string outboxAppend's once-key k of conversation c, PX = its ttl: "d:" + its digest, or "1"
//   format             string the layout of these keys and of the records they hold (REDIS_FORMAT), set when connecting
//
// {c} and {s} are the conversation key and scenario name with "%" and ":" escaped, so an escaped
// part holds no ":" and "pos:{c}:" starts one conversation's keys and no other's.

export const DEFAULT_REDIS_PREFIX = 'crisp-mcp:';

const escape = (part: string): string => part.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
/** Literal text in a SCAN MATCH pattern. */
const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');
const unescape = (part: string): string => part.replace(/%(25|3A)/g, (_m, hex: string) => (hex === '25' ? '%' : ':'));

export class RedisKeys {
  readonly prefix: string;
  readonly idle: string;
  readonly outboxSeq: string;
  readonly due: string;
  readonly allDrafts: string;
  /** The start of every draft key: the FORGET script appends the ids it finds. */
  readonly draftHead: string;
  readonly format: string;
  /** Every position key, the whole keyspace. */
  readonly allPositions: string;
  readonly #posHead: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.idle = `${prefix}pos-idle`;
    this.outboxSeq = `${prefix}outbox-seq`;
    this.due = `${prefix}outbox-due`;
    this.allDrafts = `${prefix}drafts`;
    this.draftHead = `${prefix}draft:`;
    this.format = `${prefix}format`;
    this.#posHead = `${prefix}pos:`;
    this.allPositions = `${globLiteral(this.#posHead)}*`;
  }

  position(conversation: string, scenario: string): string {
    return `${this.#posHead}${escape(conversation)}:${escape(scenario)}`;
  }

  /** The pos-idle member of a conversation's position in a scenario. */
  idleMember(conversation: string, scenario: string): string {
    return `${escape(conversation)}:${escape(scenario)}`;
  }

  /** The conversation and scenario a pos-idle member names. */
  fromIdleMember(member: string): { conversation: string; scenario: string } {
    const [c = '', s = ''] = member.split(':');
    return { conversation: unescape(c), scenario: unescape(s) };
  }

  /** The conversation a position key belongs to. */
  conversationOf(positionKey: string): string {
    return unescape(positionKey.slice(this.#posHead.length).split(':')[0]!);
  }

  /** The pattern of every conversation's position in `scenario`. */
  positionsIn(scenario: string): string {
    return `${globLiteral(this.#posHead)}*:${globLiteral(escape(scenario))}`;
  }

  /** The pattern of one conversation's positions, with the pos-idle member each would have. */
  positionsOf(conversation: string): { pattern: string; idleMemberOf: (positionKey: string) => string } {
    const head = `${this.#posHead}${escape(conversation)}:`;
    return { pattern: `${globLiteral(head)}*`, idleMemberOf: (key) => `${escape(conversation)}:${key.slice(head.length)}` };
  }

  draft(id: string): string {
    return `${this.draftHead}${id}`;
  }

  /** The index of every draft, or of one conversation's. */
  drafts(conversation?: string): string {
    return conversation === undefined ? this.allDrafts : `${this.prefix}drafts:${escape(conversation)}`;
  }

  lock(key: string): string {
    return `${this.prefix}lock:${key}`;
  }

  once(conversation: string, key: string): string {
    return `${this.prefix}once:${escape(conversation)}:${escape(key)}`;
  }

  /** The pattern of one conversation's once-keys. */
  onceKeysOf(conversation: string): string {
    return `${globLiteral(`${this.prefix}once:${escape(conversation)}:`)}*`;
  }

  /** The conversation's queue zset, its items hash, and the due zset. */
  queue(conversation: string): [string, string, string] {
    const c = escape(conversation);
    return [`${this.prefix}outbox:${c}`, `${this.prefix}outbox-items:${c}`, this.due];
  }
}
