// stdio `serve`'s store, opened on first use instead of before the server answers, and the warm-up
// that compiles the scenario library (loadScenarioLibrary's `onFirstUse`) and opens the store off
// the start-up path: an MCP host waits on that start-up, compiling the scenarios and opening SQLite
// took about 40 ms of it (bench/startup), and a session that never touches a scenario needs neither.
// The folder is still read at start-up (a missing or unreadable one stops it, as before); once the
// host has had its tools/list, serve warms up anyway, so a scenario that does not compile is in the
// start-up log without waiting for a tool call.
import { hideUserinfo } from '../credentials/redact.js';
import type { ScenarioLibrary } from '../engine/library.js';
import type { Logger } from '../log.js';
import { logScenarioWarnings } from './runtime.js';
import { openStore, StoreError, type AppendOptions, type AppendResult, type ListPositionsOptions, type OutboxInput, type PositionPage, type Draft, type DraftInput, type Forgotten, type IdlePosition, type OutboxItem, type OutboxPendingOptions, type PendingConversation, type SavedPosition, type SaveOptions, type SaveResult, type Store, type StoreKind, type StoreOpenOptions, type StoreSpec } from '../store/index.js';

/**
 * A Store that opens the one `spec` names on its first call. An open that fails is tried again at
 * the next call (Redis may be back); each failed call rejects with the open's StoreError.
 */
export class StoreOpenedOnFirstUse implements Store {
  readonly kind: StoreKind;
  readonly #spec: StoreSpec;
  readonly #options: StoreOpenOptions;
  #opening: Promise<Store> | undefined;
  #opened: Store | undefined;
  #closed = false;

  constructor(spec: StoreSpec, options: StoreOpenOptions = {}) {
    this.#spec = spec;
    this.#options = options;
    this.kind = spec.kind;
  }

  /** The opened store's `where`; until then, what the spec names (the default SQLite file's path is known once it is open). */
  get where(): string {
    if (this.#opened) return this.#opened.where;
    const s = this.#spec;
    return s.kind === 'redis' ? hideUserinfo(s.url) : s.kind === 'sqlite' ? (s.path ?? 'sqlite (the default file)') : 'memory';
  }

  open(): Promise<Store> {
    if (this.#closed) return Promise.reject(new StoreError('store_unavailable', 'the store is closed'));
    this.#opening ??= openStore(this.#spec, this.#options).then(
      (store) => (this.#opened = store),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  async getPosition<T = unknown>(conversation: string, scenario: string): Promise<SavedPosition<T> | undefined> {
    return (await this.open()).getPosition<T>(conversation, scenario);
  }

  async savePosition(conversation: string, scenario: string, value: unknown, opts: SaveOptions): Promise<SaveResult> {
    return (await this.open()).savePosition(conversation, scenario, value, opts);
  }

  async listIdle(before: number, limit?: number): Promise<IdlePosition[]> {
    return (await this.open()).listIdle(before, limit);
  }

  async listPositions<T = unknown>(scenario: string, opts?: ListPositionsOptions): Promise<PositionPage<T>> {
    return (await this.open()).listPositions<T>(scenario, opts);
  }

  async outboxAppend(conversation: string, item: OutboxInput, opts?: AppendOptions): Promise<AppendResult> {
    return (await this.open()).outboxAppend(conversation, item, opts);
  }

  async putDraft<T>(draft: DraftInput<T>): Promise<Draft<T>> {
    return (await this.open()).putDraft(draft);
  }

  async getDraft<T = unknown>(id: string): Promise<Draft<T> | undefined> {
    return (await this.open()).getDraft<T>(id);
  }

  async listDrafts(conversation?: string, limit?: number): Promise<Draft[]> {
    return (await this.open()).listDrafts(conversation, limit);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    return (await this.open()).acquireLock(key, ttlMs);
  }

  async extendLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.open()).extendLock(key, token, ttlMs);
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    return (await this.open()).releaseLock(key, token);
  }

  async outboxHead<P = unknown>(conversation: string): Promise<OutboxItem<P> | undefined> {
    return (await this.open()).outboxHead<P>(conversation);
  }

  async outboxPending(opts?: OutboxPendingOptions): Promise<PendingConversation[]> {
    return (await this.open()).outboxPending(opts);
  }

  async outboxAck(conversation: string, seq: number): Promise<boolean> {
    return (await this.open()).outboxAck(conversation, seq);
  }

  async outboxRetry(conversation: string, seq: number, retry: { nextAttemptAt: number; error?: string }): Promise<boolean> {
    return (await this.open()).outboxRetry(conversation, seq, retry);
  }

  async forget(conversation: string): Promise<Forgotten> {
    return (await this.open()).forget(conversation);
  }

  async conversationsSavedBefore(before: number): Promise<string[]> {
    return (await this.open()).conversationsSavedBefore(before);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = undefined;
    const store = await opening?.catch(() => undefined);
    await store?.close();
  }
}

/**
 * Compiles the scenarios and opens the store now, off the start-up path, and logs the outcome: the
 * names and where the store is, or what does not compile or open (the tools say the same when called).
 */
export async function warmUp(scenarios: ScenarioLibrary, store: Store, log: Logger): Promise<void> {
  let names: string[] | undefined;
  try {
    const library = await scenarios.compiled();
    names = library.names();
    logScenarioWarnings(log, library.list());
  } catch (error) {
    log.error({ scenarios_dir: scenarios.dir }, `scenario tools cannot run: ${(error as Error).message}`);
  }
  try {
    if (store instanceof StoreOpenedOnFirstUse) await store.open();
  } catch (error) {
    log.error({ store: store.where }, `scenario tools cannot run: ${(error as Error).message}`);
    return;
  }
  if (names) log.info({ scenarios: names, store: store.where }, `scenarios compiled, store open at ${store.where}`);
}
