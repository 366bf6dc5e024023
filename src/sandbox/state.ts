// The sandbox's in-memory inbox: its websites, their reset to the seed's demo data, and the event
// fan-out every change goes through (RTM names, which the RTM and Web Hook emitters relay). The
// changes themselves, and the rules Crisp applies to them, are the inbox-*.ts modules'; this class
// is the face the routes call.
import { EventEmitter } from 'node:events';
import type {
  ComposeBody,
  ConversationMetaUpdate,
  ConversationState,
  ConversationWire,
  CustomData,
  MarkReadBody,
  Message,
  Operator,
  OperatorAvailability,
  PeopleEvent,
  PeopleProfile,
  PeopleProfileCard,
  SendMessageBody,
} from '../crisp/schemas.js';
import { generateDemoData } from './data.js';
import { DEMO_WEBSITES } from './demo-tables.js';
import { SEED_HELPDESK } from './helpdesk-data.js';
import * as conversations from './inbox-conversations.js';
import * as messages from './inbox-messages.js';
import * as people from './inbox-people.js';
import type { SandboxHelpdesk } from './routes/helpdesk.js';
import { createRng, demoWebsiteId } from './seed.js';

export interface WebsiteState {
  website_id: string;
  name: string;
  domain: string;
  conversations: Map<string, ConversationWire>;
  messages: Map<string, Message[]>;
  people: Map<string, PeopleProfile>;
  peopleData: Map<string, CustomData>;
  peopleEvents: Map<string, PeopleEvent[]>;
  operators: Operator[];
  availability: OperatorAvailability[];
  /** Knowledge base articles by locale (the seed's copy; no route writes it, a test or demo may). */
  helpdesk: SandboxHelpdesk;
}

export interface SandboxEvent {
  event: string;
  website_id: string;
  data: Record<string, unknown>;
  timestamp: number;
}

/** What the inbox-*.ts changes need of the inbox: its clock, its random stream, and the fan-out. */
export interface Inbox {
  readonly now: () => number;
  readonly rng: () => number;
  /** Announces a change of `site` as the Crisp event `event`. */
  announce(site: WebsiteState, event: string, data: Record<string, unknown>): void;
}

export interface StateOptions {
  seed: number;
  /** The clock; demo timestamps are laid out backwards from its reading at construction (and at each reset). */
  now?: () => number;
  websiteId?: string;
  /** How many demo websites (1 to DEMO_WEBSITES.length): an agency's token reaches several. Default 1. */
  websites?: number;
}

/**
 * `event`: what Crisp would announce (RTM, Web Hooks, the console); `reset`: the inbox went back to
 * its demo data, which Crisp has no event for: only the console hears it, to read everything again.
 */
export class SandboxState extends EventEmitter<{ event: [SandboxEvent]; reset: [] }> {
  /** The websites and their inboxes. */
  readonly websites = new Map<string, WebsiteState>();
  readonly now: () => number;
  readonly #inbox: Inbox;
  readonly #options: StateOptions;

  constructor(options: StateOptions) {
    super();
    this.#options = options;
    this.now = options.now ?? Date.now;
    const rng = createRng(options.seed ^ 0x5eed);
    this.#inbox = { now: () => this.now(), rng, announce: (site, event, data) => this.#announce(site, event, data) };
    this.reset();
  }

  /** Back to the demo data of the seed. */
  reset(): void {
    this.websites.clear();
    // Website i is seeded with seed + i, so the first is the same inbox whatever the count.
    DEMO_WEBSITES.slice(0, this.#options.websites ?? 1).forEach((names, i) => {
      const demo = generateDemoData({ seed: this.#options.seed + i, now: this.now(), websiteId: i === 0 ? this.#options.websiteId : undefined, site: names });
      this.websites.set(demo.website.website_id, {
        ...demo.website,
        conversations: new Map(demo.conversations.map((c) => [c.session_id, c])),
        messages: demo.messages,
        people: new Map(demo.people.map((p) => [p.people_id, p])),
        peopleData: demo.peopleData,
        peopleEvents: demo.peopleEvents,
        operators: demo.operators,
        availability: demo.availability,
        // A copy: an article edited while the sandbox runs stays edited in this sandbox alone.
        helpdesk: structuredClone(SEED_HELPDESK),
      });
    });
    this.emit('reset');
  }

  /** The demo website's id. */
  get defaultWebsiteId(): string {
    return this.#options.websiteId ?? demoWebsiteId(this.#options.seed);
  }

  // ------------------------------------------------------------------ conversations (inbox-conversations.ts)

  conversation(site: WebsiteState, sessionId: string): ConversationWire {
    return conversations.conversation(site, sessionId);
  }

  createConversation(site: WebsiteState, visitor: { nickname?: string; email?: string } = {}): ConversationWire {
    return conversations.createConversation(this.#inbox, site, visitor);
  }

  removeConversation(site: WebsiteState, sessionId: string): void {
    conversations.removeConversation(this.#inbox, site, sessionId);
  }

  updateMeta(site: WebsiteState, sessionId: string, update: ConversationMetaUpdate): void {
    conversations.updateMeta(this.#inbox, site, sessionId, update);
  }

  setState(site: WebsiteState, sessionId: string, state: ConversationState): void {
    conversations.setState(this.#inbox, site, sessionId, state);
  }

  assign(site: WebsiteState, sessionId: string, userId: string | null): void {
    conversations.assign(this.#inbox, site, sessionId, userId);
  }

  // ------------------------------------------------------------------ messages and typing (inbox-messages.ts)

  compose(site: WebsiteState, sessionId: string, compose: ComposeBody, operator?: Message['user']): void {
    messages.compose(this.#inbox, site, sessionId, compose, operator);
  }

  addMessage(site: WebsiteState, sessionId: string, body: SendMessageBody, user?: Message['user'], options: { dedupe?: boolean } = {}): { message: Message; duplicate: boolean } {
    return messages.addMessage(this.#inbox, site, sessionId, body, user, options);
  }

  message(site: WebsiteState, sessionId: string, fingerprint: number): Message {
    return messages.message(site, sessionId, fingerprint);
  }

  editMessage(site: WebsiteState, sessionId: string, fingerprint: number, content: Message['content']): void {
    messages.editMessage(this.#inbox, site, sessionId, fingerprint, content);
  }

  removeMessage(site: WebsiteState, sessionId: string, fingerprint: number): void {
    messages.removeMessage(this.#inbox, site, sessionId, fingerprint);
  }

  choose(site: WebsiteState, sessionId: string, fingerprint: number, value: string, user: Message['user']): Message {
    return messages.choose(this.#inbox, site, sessionId, fingerprint, value, user);
  }

  markRead(site: WebsiteState, sessionId: string, read: MarkReadBody): void {
    messages.markRead(this.#inbox, site, sessionId, read);
  }

  // ------------------------------------------------------------------ people (inbox-people.ts)

  person(site: WebsiteState, peopleId: string): PeopleProfile {
    return people.person(site, peopleId);
  }

  addPerson(site: WebsiteState, card: PeopleProfileCard): PeopleProfile {
    return people.addPerson(this.#inbox, site, card);
  }

  updatePerson(site: WebsiteState, peopleId: string, card: PeopleProfileCard, mode: 'patch' | 'put'): void {
    people.updatePerson(this.#inbox, site, peopleId, card, mode);
  }

  removePerson(site: WebsiteState, peopleId: string): void {
    people.removePerson(this.#inbox, site, peopleId);
  }

  writePeopleData(site: WebsiteState, peopleId: string, data: CustomData, mode: 'patch' | 'put'): void {
    people.writePeopleData(this.#inbox, site, peopleId, data, mode);
  }

  addPeopleEvent(site: WebsiteState, peopleId: string, event: { text: string; data?: CustomData; color?: string }): PeopleEvent {
    return people.addPeopleEvent(this.#inbox, site, peopleId, event);
  }

  #announce(site: WebsiteState, event: string, data: Record<string, unknown>): void {
    // Session-scoped events carry the inbox (none in the sandbox); website-scoped ones (people:*) do not.
    const payload = 'session_id' in data ? { website_id: site.website_id, inbox_id: null, ...data } : { website_id: site.website_id, ...data };
    this.emit('event', { event, website_id: site.website_id, data: payload, timestamp: this.now() });
  }
}
