// The autopilot's catch-up: the threads of the allowed websites that may hold a visitor message no
// live event brought (the bot was down, RTM reconnected, a replica died after answering a Web Hook),
// or that were resolved meanwhile, are listed from Crisp and queued as if an event had named them.
import type { CrispClient } from '../crisp/client.js';
import type { Conversation } from '../crisp/schemas.js';
import { OutageLog, type Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { LoadedScenario } from '../engine/library.js';
import { conversationKey } from '../engine/turn.js';
import type { Guardrails } from './guardrails.js';
import { describeFailure } from './outbox.js';
import type { Work } from './queue.js';

export interface CatchUpOptions {
  crisp: CrispClient;
  store: Store;
  scenario: LoadedScenario;
  guardrails: Guardrails;
  log: Logger;
  now: () => number;
}

/** What the catch-up asks of the autopilot running it. */
export interface CatchUpHost {
  schedule(website: string, session: string, work: Work): void;
  /** Whether the visitor's last message in `c` may need the bot (see ConversationTurns.unread). */
  unread(website: string, c: Conversation): Promise<boolean>;
  /** When the bot first ran: older conversations are answered live only, never swept up. */
  since(): number;
  closed(): boolean;
}

export class CatchUp {
  readonly #o: CatchUpOptions;
  readonly #host: CatchUpHost;
  /** The catch-up running, and whether it was asked for again meanwhile. */
  #catchingUp: Promise<number> | undefined;
  #catchUpAgain = false;
  #lookingForUnread: Promise<number> | undefined;
  /** The catch-up runs on timers: a Crisp outage is told once each way per website, not once a run. */
  readonly #catchUpOutages = new Map<string, OutageLog>();

  constructor(options: CatchUpOptions, host: CatchUpHost) {
    this.#o = options;
    this.#host = host;
  }

  /**
   * Queues every conversation of the allowed websites updated within the catch-up window whose last
   * message is the visitor's, or that the bot worked before; and every one the bot worked that was
   * resolved meanwhile, so that it starts again at the visitor's next message as after a live
   * `session:set_state` (which RTM does not replay, and a hook the bot missed may never be retried).
   * Returns how many. Asked again while one runs (an RTM socket that keeps reconnecting asks at each
   * authentication), it runs once more after that one, however often it was asked: the catch-ups of
   * a flapping socket never pile up, and what changed during the one running is still read.
   */
  run(): Promise<number> {
    if (this.#catchingUp) {
      this.#catchUpAgain = true;
      return this.#catchingUp;
    }
    const rounds = async () => {
      let queued = 0;
      do {
        this.#catchUpAgain = false;
        queued += await this.#catchUpOnce();
      } while (this.#catchUpAgain && !this.#host.closed());
      return queued;
    };
    this.#catchingUp = rounds().finally(() => (this.#catchingUp = undefined));
    return this.#catchingUp;
  }

  /**
   * `unreadOnly` (the periodic catch-up of a running bot): only the conversations whose last message
   * is a visitor's that the saved record has not read (see ConversationTurns.unread) — not the resolved ones, which a
   * running bot is told of live.
   */
  async #catchUpOnce({ unreadOnly = false } = {}): Promise<number> {
    const { guardrails, log, store, scenario } = this.#o;
    const floor = this.#o.now() - guardrails.catchUpWindowMs;
    let queued = 0;
    for (const website of guardrails.websites) {
      try {
        for await (const c of this.#updatedSince(website, floor, { filter_not_resolved: true })) {
          if (unreadOnly) {
            if (c.preview_message?.from !== 'user' || this.#host.closed() || !(await this.#host.unread(website, c))) continue;
          } else if (c.preview_message?.from !== 'user' && !(await store.getPosition(conversationKey(website, c.session_id), scenario.name))) {
            // The last message is the visitor's, or the bot worked this conversation before: its own
            // replies may be the last messages with a visitor message before them that it only held in
            // memory when it stopped (killed mid-turn). An operator's last word elsewhere needs no read.
            continue;
          }
          // Conversations older than the bot's first run are answered live only, never swept up.
          this.#host.schedule(website, c.session_id, { reconcile: true, firstContact: c.created_at >= this.#host.since(), hints: [], resolvedAt: undefined });
          queued++;
        }
        if (!unreadOnly) {
          for await (const c of this.#updatedSince(website, floor, { filter_resolved: true })) {
            if (!(await store.getPosition(conversationKey(website, c.session_id), scenario.name))) continue;
            // Resolved at the latest when it was last updated: a visitor writing since would have reopened it.
            this.#host.schedule(website, c.session_id, { reconcile: false, firstContact: false, hints: [], resolvedAt: c.updated_at });
            queued++;
          }
        }
        this.#catchUpOutage(website).succeeded({ website_id: website }, 'catch-up lists conversations again');
      } catch (error) {
        this.#catchUpOutage(website).failed({ website_id: website, ...describeFailure(error) }, 'catch-up could not list conversations');
      }
    }
    if (queued && unreadOnly) log.info({ conversations: queued }, 'catch-up: reading threads whose last visitor message no event brought here (or not yet)');
    else if (queued) log.info({ conversations: queued }, 'catch-up: reading threads that may hold unanswered messages or were resolved');
    return queued;
  }

  /** The periodic look of a running bot: only the threads whose last visitor message its record has not read (skipped while a catch-up runs). */
  lookForUnread(): void {
    // A catch-up still running (at start, an RTM reconnect, the last of these) reads what this one would.
    if (this.#catchingUp || this.#lookingForUnread) return;
    this.#lookingForUnread = this.#catchUpOnce({ unreadOnly: true }).finally(() => (this.#lookingForUnread = undefined));
  }

  /** The website's conversations in scope updated since `floor`, newest first (at most 20 pages of 50). */
  async *#updatedSince(website: string, floor: number, filter: { filter_resolved?: true; filter_not_resolved?: true }): AsyncGenerator<Conversation> {
    const { crisp, guardrails } = this.#o;
    for (let page = 1; page <= 20; page++) {
      const list = await crisp.conversations.list(website, page, { per_page: 50, ...filter, order_date_updated: true });
      for (const c of list) {
        if (c.updated_at < floor) return;
        if (guardrails.inboxes && !guardrails.inboxes.has(c.inbox_id ?? 'default')) continue;
        yield c;
      }
      if (list.length < 50) return;
    }
  }

  #catchUpOutage(website: string): OutageLog {
    let outage = this.#catchUpOutages.get(website);
    if (!outage) this.#catchUpOutages.set(website, (outage = new OutageLog(this.#o.log, this.#o.now)));
    return outage;
  }
}
