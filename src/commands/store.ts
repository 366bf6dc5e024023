// `crisp-mcp store forget CONVERSATION…`: erases what the store keeps of one visitor's conversations
// (a request under the GDPR's right to erasure), named as the log lines name them.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, readEnv } from '../config.js';
import { CONVERSE_PREFIX, inboxKey } from '../converse/keys.js';
import { writeErrorLine } from '../log.js';
import { asStoreError, openStore, parseStoreSpec, type Forgotten, type Store } from '../store/index.js';
import { defaultSqlitePath } from '../store/sqlite.js';

/** `crisp-mcp store --help`. */
export const STORE_HELP = `Usage:
  crisp-mcp store forget CONVERSATION… | --idle-for DAYSd  [--store sqlite:PATH|redis://HOST:PORT]
      Erase what the store keeps of each conversation, whatever its time to live: the scenario
      positions (the visitor's answers), drafts, replies and actions not yet delivered, and
      delivery keys. CONVERSATION is written as the log lines name it: WEBSITE_ID/SESSION_ID (MCP
      tools and the autopilot) or converse:CONVERSATION_ID (the converse API, its pending events
      too). The store is --store, else CRISP_MCP_STORE, else the default SQLite file. A process
      working the conversation meanwhile starts it afresh at its next save.
      --idle-for 180d forgets every conversation no scenario has saved for that many days: a
      retention period, run on a schedule (records of conversations never resolved are kept until then).
      What Crisp itself keeps (messages, the contact profile) is erased in Crisp.
`;

/** What forget prints, one line per conversation. */
export async function runStoreCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  try {
    const { conversations: named, idleForMs, spec } = parseForget(argv, env);
    const store = await openStore(spec);
    try {
      const conversations = idleForMs === undefined ? named : await store.conversationsSavedBefore(Date.now() - idleForMs);
      if (idleForMs !== undefined && conversations.length === 0) out(`no conversation idle for ${idleForMs / DAY_MS} days`);
      for (const conversation of conversations) out(`forgot ${conversation}: ${describe(await forgetConversation(store, conversation))}`);
    } finally {
      await store.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      writeErrorLine(`crisp-mcp store: ${error.message}`);
      return 2;
    }
    const failed = asStoreError(error);
    if (!failed) throw error;
    writeErrorLine(`crisp-mcp store: ${failed.message}`);
    return failed.code === 'store_bad_spec' ? 2 : 1;
  }
}

const DAY_MS = 24 * 60 * 60_000;

function parseForget(argv: string[], env: NodeJS.ProcessEnv): { conversations: string[]; idleForMs: number | undefined; spec: ReturnType<typeof parseStoreSpec> } {
  const [sub, ...rest] = argv;
  if (sub !== 'forget') throw new ConfigError(sub === undefined ? `a subcommand is required: forget\n\n${STORE_HELP}` : `unknown subcommand "${sub}"; use forget`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { store: { type: 'string' }, 'idle-for': { type: 'string' } }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ConfigError((error as Error).message.split('\n')[0]!);
  }
  const conversations = parsed.positionals;
  const idleFor = parsed.values['idle-for'];
  let idleForMs: number | undefined;
  if (idleFor !== undefined) {
    const days = /^(\d+)d$/.exec(idleFor.trim());
    if (!days || Number(days[1]) < 1) throw new ConfigError(`--idle-for must be a whole number of days, at least 1, like 180d; got "${idleFor}"`);
    if (conversations.length > 0) throw new ConfigError('give either CONVERSATION… or --idle-for, not both');
    idleForMs = Number(days[1]) * DAY_MS;
  } else if (conversations.length === 0) throw new ConfigError('forget needs at least one CONVERSATION (WEBSITE_ID/SESSION_ID or converse:CONVERSATION_ID), or --idle-for DAYSd');
  for (const conversation of conversations) {
    const converse = conversation.startsWith(CONVERSE_PREFIX) && conversation.length > CONVERSE_PREFIX.length;
    const crisp = /^[^/\s]+\/[^/\s]+$/.test(conversation);
    if (!converse && !crisp) throw new ConfigError(`CONVERSATION must be WEBSITE_ID/SESSION_ID or converse:CONVERSATION_ID (as the log lines name it), got "${conversation}"`);
  }
  const spec = parseStoreSpec(parsed.values.store ?? readEnv(env, 'CRISP_MCP_STORE'));
  if (spec.kind === 'memory') throw new ConfigError('--store memory keeps nothing once its process ends: name the store the server or bot runs with (sqlite:PATH or redis://HOST:PORT)');
  // Opening a path with no file makes an empty store there: a mistyped path would "forget" in it and report success.
  const file = spec.kind === 'sqlite' ? (spec.path ?? defaultSqlitePath()) : undefined;
  if (file !== undefined && !existsSync(file)) throw new ConfigError(`no SQLite store at ${file}: name the file the server or bot runs with (--store sqlite:PATH)`);
  return { conversations, idleForMs, spec };
}

/** A converse conversation's pending events live under their own key: they go with it. */
async function forgetConversation(store: Pick<Store, 'forget'>, conversation: string): Promise<Forgotten> {
  const erased = await store.forget(conversation);
  if (!conversation.startsWith(CONVERSE_PREFIX)) return erased;
  const inbox = await store.forget(inboxKey(conversation.slice(CONVERSE_PREFIX.length)));
  return {
    positions: erased.positions + inbox.positions,
    drafts: erased.drafts + inbox.drafts,
    outboxItems: erased.outboxItems + inbox.outboxItems,
    onceKeys: erased.onceKeys + inbox.onceKeys,
  };
}

function describe(f: Forgotten): string {
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  return [
    count(f.positions, 'scenario position', 'scenario positions'),
    count(f.drafts, 'draft', 'drafts'),
    count(f.outboxItems, 'undelivered item', 'undelivered items'),
    count(f.onceKeys, 'delivery key', 'delivery keys'),
  ].join(', ');
}
