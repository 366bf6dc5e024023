// Delivering a conversation's outbox, in order: head → carry the action out through Crisp → ack.
// Every message is posted with a fingerprint derived from its outbox item's id, and an item sent
// again — after a Crisp 5xx, a lost answer, or a bot killed between the send and the ack — first
// looks for that fingerprint in the conversation, so it never shows twice. A failure that may pass (5xx, 429, network) is retried with backoff; one that
// will not (400, 403, 404) is logged with its reason and the item dropped. The caller holds the
// conversation's lock, so one worker delivers a conversation at a time.
//
// The items a turn just saved are delivered from memory, and their acks wait for the
// conversation's next save, which removes them in the same write (or for flushAcks: before the
// conversation's lock is released, and before its outbox is next read from the store). A bot
// killed meanwhile leaves them in the outbox: whoever delivers them next did not append them, so
// it looks for each message before sending it, as for any item another process may have sent.
import { CrispError } from '../crisp/index.js';
import type { Logger } from '../log.js';
import { conversationKey, stepContext } from '../engine/turn.js';
import type { Lease, OutboxItem, Store } from '../store/index.js';
import { webhookIdempotencyKey } from '../engine/actions.js';
import { isEffect, performEffect } from '../engine/effects.js';
import type { EffectAction, EffectAnswer, OpenConversation, PlainAction } from '../engine/port.js';
import { isAutopilotItem, ITEM_STEP, readValue, retentionOf, withRoutingSeen, type AutopilotItem } from './state.js';
import { planWebhookAnswer, type Plan } from './plan.js';
import { nextDelay } from '../retry.js';
import { webhookAllowed } from '../engine/limits.js';
import { silencedByOperator, type Guardrails } from './guardrails.js';
import type { LoadedScenario } from '../engine/library.js';
import { RecentSet } from './recent-set.js';

export interface OutboxRetry {
  /** First retry delay; doubles per failed attempt. */
  baseMs: number;
  maxMs: number;
  /** Attempts per item, the first included, before it is dropped (logged as an error). */
  maxAttempts: number;
}

export const DEFAULT_OUTBOX_RETRY: OutboxRetry = { baseMs: 1_000, maxMs: 60_000, maxAttempts: 10 };

export interface DeliveryStats {
  /** Items carried out (acked). */
  done: number;
  /** Bot messages posted (send_message items). */
  sent: number;
  /** Failed attempts that will be retried. */
  retried: number;
  /** Items given up on. */
  dropped: number;
}

export interface DelivererOptions {
  store: Store;
  scenario: LoadedScenario;
  guardrails: Guardrails;
  log: Logger;
  retry: OutboxRetry;
  now: () => number;
  /** Opens a conversation as the engine's port (Crisp's; the command wires it). */
  openConversation: OpenConversation;
  /** Fingerprints a webhook's follow-up items will post with, once saved. */
  onOurs: (fingerprints: readonly number[]) => void;
  /** A webhook's answer was saved to the conversation's record (key). */
  onSaved?: (conversation: string) => void;
  /** What the saved answer decided (the follow-up's pause, its queued messages): for the logs and stats, as a turn's. */
  onPlanned?: (conversation: string, plan: Plan) => void;
  /** A send_message item was carried out. */
  onSent?: (item: OutboxItem<AutopilotItem>) => void;
}

export interface DrainResult {
  /** When the head item is next due, if one is waiting for a retry. */
  retryAt?: number;
  /** The drain carried out every item: the conversation's outbox is empty. */
  empty: boolean;
  /** A webhook or helpdesk search was answered: the thread is read again before its follow-up goes. */
  reread?: true;
}

/**
 * A conversation's whole outbox, in order, as the caller knows it without reading the store: the
 * items its turn just saved behind an outbox it had left empty (only the conversation's lock
 * holder appends, and only with a save). Never webhook calls, whose answers append more items.
 */
export type KnownOutbox = ReadonlyArray<OutboxItem<AutopilotItem>>;

/** The items a save appended, as `drain` takes them; undefined when one is an effect (see KnownOutbox). */
export function knownOutbox(conversation: string, saved: ReadonlyArray<{ seq: number; id: string }>, payloads: readonly AutopilotItem[], now: number): KnownOutbox | undefined {
  if (payloads.some((p) => isEffect(p.action))) return undefined;
  return saved.map(({ seq, id }, i) => ({ conversation, seq, id, payload: payloads[i]!, createdAt: now, attempts: 0, nextAttemptAt: now, lastError: undefined }));
}

/** Why an attempt failed, in loggable terms (a CrispError's code, status and reason; never a body). */
export interface Failure {
  code: string;
  message: string;
  status?: number;
  reason?: string;
  retryable: boolean;
  retryAfterMs?: number;
}

export function describeFailure(error: unknown): Failure {
  if (error instanceof CrispError) {
    // Everything the outbox sends is safe to repeat (fingerprints, idempotent writes), so any failure
    // that may pass is retried — a garbled answer included; a refusal will not pass.
    const transient = error.retryable || ['crisp_unavailable', 'crisp_rate_limited', 'crisp_timeout', 'crisp_bad_response', 'crisp_aborted'].includes(error.code);
    return { code: error.code, message: error.message, status: error.status, reason: error.reason, retryable: transient, retryAfterMs: error.retryAfterMs };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: (error as { code?: string })?.code ?? 'internal', message, retryable: true };
}

export class OutboxDeliverer {
  readonly stats: DeliveryStats = { done: 0, sent: 0, retried: 0, dropped: 0 };

  /**
   * Seqs of the items this process appended and has not tried yet. Any other item — stored before
   * this process started, or by a replica that died or lost the lock, or tried here already (its
   * send may have reached Crisp while the store could not record the ack or the retry: Redis down,
   * a full disk) — may have been sent by a process that could not ack it.
   */
  readonly #appended = new RecentSet(50_000);
  /** Per conversation: seqs of items delivered from memory whose ack waits (see the top of this file). */
  readonly #unacked = new Map<string, number[]>();

  constructor(private readonly o: DelivererOptions) {}

  /** Items this process's saves appended (see #appended). */
  appended(saved: ReadonlyArray<{ seq: number }>): void {
    for (const { seq } of saved) this.#appended.add(seq);
  }

  /** The conversation's delivered items whose ack waits: for its next save to remove (SaveOptions.ack). */
  unacked(conversation: string): readonly number[] | undefined {
    return this.#unacked.get(conversation);
  }

  /** A save removed these items. */
  acked(conversation: string, seqs: readonly number[]): void {
    const left = (this.#unacked.get(conversation) ?? []).filter((seq) => !seqs.includes(seq));
    if (left.length) this.#unacked.set(conversation, left);
    else this.#unacked.delete(conversation);
  }

  /** The conversation was erased from the store: the acks that waited have nothing left to remove. */
  forget(conversation: string): void {
    this.#unacked.delete(conversation);
  }

  /** Acks the conversation's delivered items whose ack waits. */
  async flushAcks(conversation: string): Promise<void> {
    const seqs = this.#unacked.get(conversation);
    if (!seqs) return;
    for (const seq of seqs) await this.o.store.outboxAck(conversation, seq);
    this.acked(conversation, seqs);
  }

  /**
   * Delivers the conversation's due items in order; stops at the first that must wait. With
   * `known`, the outbox is taken to hold exactly those items, and the store is not read.
   * `operatorPaused`: the record the caller just saved says an operator has the conversation.
   */
  async drain(website: string, session: string, lease: Lease, known?: KnownOutbox, operatorPaused = false): Promise<DrainResult> {
    const { store, log } = this.o;
    const key = conversationKey(website, session);
    // The store's outbox still holds what was delivered from memory until it is acked.
    if (!known) await this.flushAcks(key);
    let next = 0;
    let operatorHas: Promise<boolean> | undefined = operatorPaused ? Promise.resolve(true) : undefined;
    /** An item is over: acked now, or (delivered from memory) by the conversation's next save. */
    const done = async (seq: number) => {
      if (known) this.#unacked.set(key, [...(this.#unacked.get(key) ?? []), seq]);
      else await store.outboxAck(key, seq);
      this.stats.done++;
    };
    for (;;) {
      if (lease.signal.aborted) throw lease.signal.reason;
      const head = known ? known[next++] : await store.outboxHead<AutopilotItem>(key);
      if (!head) return { empty: true };
      if (!isAutopilotItem(head.payload)) {
        log.warn({ conversation: key, item: head.id }, 'the outbox head is not an autopilot item; left for its owner');
        return { empty: false };
      }
      if (head.nextAttemptAt > this.o.now()) return { retryAt: head.nextAttemptAt, empty: false };
      const action = head.payload.action;
      // An item held back (Crisp failing, a restart, a webhook's follow-up) was planned before
      // whatever happened since: an operator who wrote meanwhile has the conversation, which the
      // caller knows from the turn it just saved, or else only the record says — read once a drain,
      // and it holds for the items behind that one.
      const heldBack = head.attempts > 0 || !this.#appended.has(head.seq);
      if (silencedByOperator(action) && (operatorHas || heldBack) && (await (operatorHas ??= this.#operatorHas(key)))) {
        log.info({ conversation: key, item: head.id, action: action.type }, 'an operator has taken the conversation over: the bot\'s pending action is dropped');
        await done(head.seq);
        continue;
      }
      let failure: Failure | undefined;
      // From here the item may reach Crisp whatever the store later records of it.
      this.#appended.delete(head.seq);
      try {
        if (isEffect(action)) await this.#webhook(head, action);
        else await this.#run(head, action, heldBack);
      } catch (error) {
        failure = describeFailure(error);
      }
      if (!failure) {
        await done(head.seq);
        // The call took its time: what an operator wrote meanwhile is read before the follow-up goes.
        if (isEffect(action)) return { empty: false, reread: true };
        continue;
      }
      const where = { conversation: key, item: head.id, action: action.type, attempt: head.attempts + 1, ...failure };
      if (!failure.retryable || head.attempts + 1 >= this.o.retry.maxAttempts) {
        log.error(where, failure.retryable ? 'a Crisp call kept failing; the action is dropped' : 'Crisp refused the action; it is dropped (not safe or useless to retry)');
        await store.outboxAck(key, head.seq);
        this.stats.dropped++;
        continue;
      }
      const delay = nextDelay(head.attempts + 1, { baseDelayMs: this.o.retry.baseMs, maxDelayMs: this.o.retry.maxMs }, failure.retryAfterMs);
      const retryAt = this.o.now() + delay;
      await store.outboxRetry(key, head.seq, { nextAttemptAt: retryAt, error: `${failure.code}${failure.status ? ` ${failure.status}` : ''}` });
      this.stats.retried++;
      // The first failure is the warning; the retries after it are counted at debug, and the drop above is the error.
      log[head.attempts === 0 ? 'warn' : 'debug']({ ...where, retry_in_ms: delay }, 'a Crisp call failed; it will be retried with the same fingerprint');
      return { retryAt, empty: false };
    }
  }

  /** `again`: the item was tried before (here, or by a process killed mid-send): it may have reached Crisp although no answer came back. */
  async #run(head: OutboxItem<AutopilotItem>, action: PlainAction, again: boolean): Promise<void> {
    const { website, session, scenario, seen } = head.payload;
    const outcome = await this.o.openConversation(website, session).carryOut(action, { scenario, turn: head.id, step: ITEM_STEP, again, seen });
    if (outcome.status === 'skipped') this.o.log.info({ conversation: conversationKey(website, session), item: head.id, action: action.type, detail: outcome.detail }, outcome.stoodDown ? 'a person routed the conversation since the bot decided: the bot stands down' : 'an action did not apply here');
    if (action.type === 'send_message') {
      this.stats.sent++;
      this.o.onSent?.(head);
    }
  }

  /** Whether the conversation's record says an operator wrote there (the bot's pause). */
  async #operatorHas(conversation: string): Promise<boolean> {
    const saved = await this.o.store.getPosition(conversation, this.o.scenario.name);
    return readValue(saved?.value).state?.paused?.reason === 'operator';
  }

  /**
   * Calls the scenario's webhook (with an Idempotency-Key from the item id), then feeds its answer
   * to the scenario and saves the follow-up items — unless the answer was applied already (the bot
   * was stopped between that save and the ack), which the state's `webhook` field tells.
   */
  async #webhook(head: OutboxItem<AutopilotItem>, action: EffectAction): Promise<void> {
    const { store, scenario: loaded, log } = this.o;
    const { website, session } = head.payload;
    const key = conversationKey(website, session);
    let answer: EffectAnswer | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const saved = await store.getPosition(key, loaded.name);
      const read = readValue(saved?.value);
      if (read.state?.webhook !== head.id) return;
      if (!answer) {
        if (action.type === 'webhook' && !webhookAllowed(loaded, action.url)) log.error({ conversation: key, item: head.id, url: action.url }, 'the webhook is not one of the scenario\'s; not called');
        const port = this.o.openConversation(website, session);
        const search = port.searchHelpdesk?.bind(port);
        let busy: CrispError | undefined;
        answer = await performEffect(loaded, action, webhookIdempotencyKey(head.id, 'w'), {
          callWebhook: (call, idempotencyKey) => port.callWebhook(call, idempotencyKey),
          ...(search && {
            searchHelpdesk: (query, options) =>
              search(query, options).catch((error: unknown) => {
                if (error instanceof CrispError && describeFailure(error).retryable) busy = error;
                throw error;
              }),
          }),
        });
        // Crisp busy or unreachable does not mean "no article": the search is tried again like any
        // Crisp call, and only its last failure takes the scenario's none path (the visitor gets an answer).
        if (busy && head.attempts + 1 < this.o.retry.maxAttempts) throw busy;
        if (!answer.ok) log.warn({ conversation: key, item: head.id, url: answer.url, status: answer.status, error: answer.error }, 'the scenario\'s webhook or helpdesk search failed; the scenario takes its error path');
      }
      const now = this.o.now();
      const plan = planWebhookAnswer({
        program: loaded.program,
        website,
        session,
        read,
        itemId: head.id,
        answer,
        guard: this.o.guardrails,
        now,
        context: await stepContext(loaded.program, now, () => this.o.openConversation(website, session).operatorsOnline()),
      });
      if (!plan) return;
      this.o.onOurs(plan.ours);
      const outbox = await withRoutingSeen(plan.outbox, () => this.o.openConversation(website, session).routing());
      const result = await store.savePosition(key, loaded.name, plan.value, { expectedVersion: saved?.version ?? 0, outbox, ...retentionOf(plan.state) });
      this.o.onSaved?.(key);
      if (result.ok) {
        this.o.onPlanned?.(key, plan);
        return this.appended(result.outbox);
      }
    }
    throw new Error('the scenario position kept changing while applying a webhook answer');
  }
}
