// Where the converse API keeps things in the store: the keys of its conversations, their inboxes
// and locks, and how long a messageId is remembered.

/** Store keys (positions, outbox, locks) of converse conversations start with this. */
export const CONVERSE_PREFIX = 'converse:';
/** Store keys of converse inboxes (accepted events not yet run) start with this; not with CONVERSE_PREFIX. */
export const INBOX_PREFIX = 'converse-in:';
/** How long a messageId is remembered. */
export const DEDUPE_TTL_MS = 24 * 60 * 60_000;

/** The store key of a conversation. */
export const conversationKey = (conversationId: string): string => `${CONVERSE_PREFIX}${conversationId}`;
/** The store key (outbox queue and position) of a conversation's inbox. */
export const inboxKey = (conversationId: string): string => `${INBOX_PREFIX}${conversationId}`;
/** The store lock a conversation's turns (and its time-out) run under. */
export const lockKey = (conversationId: string): string => `${CONVERSE_PREFIX}lock:${conversationId}`;
