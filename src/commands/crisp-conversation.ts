// The Crisp side of the engine's effect port (engine/port.ts): a conversation's actions carried out
// through the Crisp client, one at a time, in order, its thread and its operators read. The
// autopilot's outbox and post_draft use it; the commands hand it to them (`openCrispConversations`), so
// neither channel imports the other and the engine never sees Crisp. Every message gets a fingerprint derived from its
// (turn, step), and an action carried out again (`again`) looks for that fingerprint in the
// conversation before sending, so it never posts twice; the other writes are idempotent by nature
// (set data, set segments, assign, resolve). A routing write whose turn read the routing
// (`ref.seen`) looks first and stands down if a person changed it since (engine/routing.ts).
//
// Failures split two ways. A Crisp error (network, 5xx, 429, unknown conversation) is thrown: the
// caller stops, saves nothing, and the same actions can simply be carried out again. An action
// that cannot apply here (no operator with that email, no contact profile yet) is `skipped` with
// the reason, and the turn goes on.
import type { CallOptions, CrispClient } from '../crisp/client.js';
import { CrispError } from '../crisp/errors.js';
import type { ConversationMetaUpdate, Operator, PeopleProfileCard, SendMessageBody } from '../crisp/schemas.js';
import { callWebhook, derivedFingerprint } from '../engine/actions.js';
import { messageText } from '../engine/describe.js';
import type { ActionOutcome, ActionRef, ConversationPort, EffectAction, OpenConversation, PlainAction, ThreadMessage } from '../engine/port.js';
import { routingDecision, stoodDown, type RoutingSeen, type RoutingWrite } from '../engine/routing.js';
import type { OutMessage } from '../scenario/index.js';

interface CrispPortOptions {
  /** --send-mode note: customer-visible messages become private notes for an operator to approve. */
  hold?: boolean | undefined;
  /** For the scenario's webhooks (tests). */
  fetch?: typeof fetch | undefined;
}

/** Whether an operator of the website is online: what a step reads for `operators` conditions. */
async function operatorsOnline(crisp: CrispClient, website: string): Promise<boolean> {
  return (await crisp.operators.availability(website)).some((a) => a.type === 'online');
}

/** The autopilot's and the MCP scenario tools' way to open a Crisp conversation as the engine's port. */
export function openCrispConversations(crisp: CrispClient, options: { fetch?: typeof fetch | undefined } = {}): OpenConversation {
  return (website, session, open = {}) => new CrispConversation(crisp, website, session, { hold: open.hold, fetch: options.fetch });
}

/** What a routing write's re-send reports when it is no longer to be made (already so, or a person routed it since). */
const NOTHING_WRITTEN = { status: 200, reason: 'not_written', data: null };

const isCrisp = (error: unknown, code: CrispError['code']) => error instanceof CrispError && error.code === code;

/** One Crisp conversation as the engine's port. Holds per-turn memory (the contact, the operators): make one per turn. */
class CrispConversation implements ConversationPort {
  #peopleId: string | null | undefined;
  #operators: Operator[] | undefined;

  constructor(
    private readonly crisp: CrispClient,
    private readonly website: string,
    private readonly session: string,
    private readonly options: CrispPortOptions = {},
  ) {}

  async thread(): Promise<ThreadMessage[]> {
    return (await this.crisp.messages.list(this.website, this.session)).messages;
  }

  operatorsOnline(): Promise<boolean> {
    return operatorsOnline(this.crisp, this.website);
  }

  async routing(signal?: AbortSignal): Promise<RoutingSeen> {
    const conversation = await this.crisp.conversations.get(this.website, this.session, signal ? { signal } : undefined);
    return { assigned: conversation.assigned?.user_id ?? null, state: conversation.state };
  }

  callWebhook(action: Extract<EffectAction, { type: 'webhook' }>, idempotencyKey: string) {
    return callWebhook(action, idempotencyKey, this.options.fetch);
  }

  searchHelpdesk(question: string, options: { locale?: string; limit?: number }) {
    return this.crisp.helpdesk.search(this.website, question, options);
  }

  async carryOut(action: PlainAction, ref: ActionRef): Promise<ActionOutcome> {
    const { crisp, website, session } = this;
    const step = ref.step;
    const out = (status: ActionOutcome['status'], detail: string, fingerprint?: number): ActionOutcome => ({ step, type: action.type, status, detail, ...(fingerprint ? { fingerprint } : {}) });
    switch (action.type) {
      case 'send_message':
        return this.#send(action.message, ref);
      case 'set_conversation_data':
        await crisp.conversations.updateMeta(website, session, { data: action.data });
        return out('done', `conversation data ${JSON.stringify(action.data)}`);
      case 'set_segments': {
        // Crisp replaces the whole array: read it, edit it, write it back.
        const current = (await crisp.conversations.getMeta(website, session)).segments ?? [];
        const removed = new Set(action.remove);
        const segments = [...new Set([...current, ...action.add])].filter((s) => !removed.has(s));
        await crisp.conversations.updateMeta(website, session, { segments });
        return out('done', `segments now ${segments.join(', ') || '(none)'}`);
      }
      case 'set_people_profile':
        return this.#profile(action.profile, out);
      case 'set_people_data': {
        const id = await this.#person();
        if (!id) return out('skipped', 'no contact profile: the visitor has given no email yet');
        await crisp.people.updateData(website, id, action.data);
        return out('done', `contact ${id} data ${JSON.stringify(action.data)}`);
      }
      case 'assign': {
        const operators = (this.#operators ??= await crisp.operators.list(website));
        const wanted = action.email?.toLowerCase();
        const match = operators.find((op) => (action.user_id !== undefined ? op.details.user_id === action.user_id : op.details.email?.toLowerCase() === wanted));
        if (!match) return out('skipped', `no operator ${action.user_id ?? action.email} on this website; assignment left as it was`);
        const standDown = await this.#route(action, ref, match.details.user_id);
        return standDown ?? out('done', `assigned to ${match.details.email ?? ''} (${match.details.user_id})`);
      }
      case 'unassign': {
        return (await this.#route(action, ref)) ?? out('done', 'unassigned');
      }
      case 'handoff': {
        const text = `Scenario "${ref.scenario}" handed this conversation to a human (${action.reason}); the bot stays silent here.${action.note ? `\n${action.note}` : ''}`;
        const fingerprint = await this.#post({ type: 'note', content: text }, ref);
        return out('done', `private note for operators (${action.reason})`, fingerprint);
      }
      case 'resolve': {
        return (await this.#route(action, ref)) ?? out('done', 'resolved');
      }
      case 'error': {
        const fingerprint = await this.#post({ type: 'note', content: `Scenario "${ref.scenario}" stopped at block ${action.block}: ${action.message}` }, ref);
        return out('done', `${action.code}: private note for operators`, fingerprint);
      }
    }
  }

  /**
   * Writes a routing action; with `ref.seen`, only while the conversation is routed as its turn
   * found it (engine/routing.ts): the routing is read before the write and again before each of the
   * client's re-sends (after a 429, a 5xx, a dropped connection), so a person who routed it while
   * the bot waited is not undone. Undefined when written (or already so), else the outcome of
   * standing down.
   */
  async #route(action: RoutingWrite, ref: ActionRef, assignTo?: string): Promise<ActionOutcome | undefined> {
    const { crisp, website, session } = this;
    const write = (options?: CallOptions) => (action.type === 'resolve' ? crisp.conversations.setState(website, session, 'resolved', options) : crisp.conversations.assign(website, session, assignTo ?? null, options));
    const seen = ref.seen;
    if (!seen) return void (await write());
    let stoodAt: RoutingSeen | undefined;
    /** Whether the write is still to be made, the routing as it is now says. */
    const wanted = async (signal?: AbortSignal): Promise<boolean> => {
      const now = await this.routing(signal);
      const decision = routingDecision(action, seen, now, assignTo);
      if (decision === 'stand_down') stoodAt = now;
      return decision === 'write';
    };
    if (await wanted()) await write({ beforeResend: async (signal) => ((await wanted(signal)) ? undefined : NOTHING_WRITTEN) });
    return stoodAt ? { step: ref.step, type: action.type, status: 'skipped', detail: stoodDown(action, seen, stoodAt), stoodDown: true } : undefined;
  }

  async #send(message: OutMessage, ref: ActionRef): Promise<ActionOutcome> {
    const base = { step: ref.step, type: 'send_message' as const };
    if (this.options.hold) {
      const fingerprint = await this.#post({ type: 'note', content: `[Reply held for operator approval — ${message.type}]\n${messageText(message)}` }, ref);
      return { ...base, status: 'held', detail: 'posted as a private note for an operator to approve', fingerprint };
    }
    // Crisp's file message has no caption: the caption goes first, as its own text message.
    if (message.type === 'file' && message.text) await this.#post({ type: 'text', content: message.text }, { ...ref, step: `${ref.step}.caption` });
    const fingerprint = await this.#post(bodyOf(message), ref);
    return { ...base, status: 'done', detail: `sent ${message.type}`, fingerprint };
  }

  async #post(body: DistributiveOmit<SendMessageBody, 'from' | 'origin' | 'fingerprint'>, ref: ActionRef): Promise<number> {
    const fingerprint = derivedFingerprint(ref.turn, ref.step);
    const message = { ...body, from: 'operator', origin: 'chat', automated: true, fingerprint } as SendMessageBody;
    return this.crisp.messages.send(this.website, this.session, message, { mayHaveBeenSent: ref.again });
  }

  async #profile(profile: Partial<Record<'email' | 'phone' | 'nickname', string>>, out: (s: ActionOutcome['status'], d: string) => ActionOutcome): Promise<ActionOutcome> {
    const { crisp, website, session } = this;
    const meta: ConversationMetaUpdate = {};
    if (profile.email !== undefined) meta.email = profile.email;
    if (profile.nickname !== undefined) meta.nickname = profile.nickname;
    if (profile.phone !== undefined) meta.phone = profile.phone;
    await crisp.conversations.updateMeta(website, session, meta);
    const id = await this.#person(profile.email);
    if (!id) return out('done', `conversation ${Object.keys(meta).join(', ')} set; no contact profile yet (no email)`);
    const card: PeopleProfileCard = {};
    if (profile.email !== undefined) card.email = profile.email;
    const person: Record<string, string> = {};
    if (profile.nickname !== undefined) person.nickname = profile.nickname;
    if (profile.phone !== undefined) person.phone = profile.phone;
    if (Object.keys(person).length) card.person = person;
    try {
      await crisp.people.update(website, id, card);
    } catch (error) {
      if (!isCrisp(error, 'crisp_conflict')) throw error;
      return out('skipped', `conversation updated, but contact ${id} kept its email: ${profile.email ?? ''} belongs to another contact`);
    }
    return out('done', `conversation and contact ${id}: ${Object.keys(meta).join(', ')}`);
  }

  /**
   * The conversation's contact profile: its people_id, else the profile of its email (or of
   * `email`), created when there is none. Null when there is no email to go by.
   */
  async #person(email?: string): Promise<string | null> {
    if (this.#peopleId) return this.#peopleId;
    const { crisp, website, session } = this;
    const conversation = await crisp.conversations.get(website, session);
    if (conversation.people_id) return (this.#peopleId = conversation.people_id);
    const mail = email ?? conversation.meta?.email;
    if (!mail) return null;
    try {
      return (this.#peopleId = (await crisp.people.get(website, mail)).people_id);
    } catch (error) {
      if (!isCrisp(error, 'crisp_not_found')) throw error;
    }
    try {
      return (this.#peopleId = await crisp.people.add(website, { email: mail, ...(conversation.meta?.nickname ? { person: { nickname: conversation.meta.nickname } } : {}) }));
    } catch (error) {
      // Created meanwhile (a retry, another worker): read it.
      if (!isCrisp(error, 'crisp_conflict')) throw error;
      return (this.#peopleId = (await crisp.people.get(website, mail)).people_id);
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Crisp's message body for a bot message. */
function bodyOf(m: OutMessage): DistributiveOmit<SendMessageBody, 'from' | 'origin' | 'fingerprint'> {
  switch (m.type) {
    case 'text':
      return { type: 'text', content: m.text };
    case 'picker':
      return {
        type: 'picker',
        content: { id: m.id, text: m.text, choices: m.choices.map((c) => ({ value: c.value, label: c.label, selected: false, ...(c.url ? { action: { type: 'link', target: c.url } } : {}) })) },
      };
    case 'carousel':
      return {
        type: 'carousel',
        content: {
          text: m.text,
          targets: m.cards.map((c) => ({
            title: c.title,
            description: c.description ?? '',
            ...(c.image ? { image: c.image } : {}),
            actions: c.url ? [{ label: c.button ?? 'Open', url: c.url }] : [],
          })),
        },
      };
    case 'file':
      return { type: 'file', content: { name: m.file.name, url: m.file.url, type: m.file.mime } };
  }
}

