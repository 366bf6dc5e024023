// Carrying out a scenario's actions through Crisp, one at a time, in order. Every message gets a
// fingerprint derived from (draft, step), and doing the same actions again (`again`) looks for
// each one in the conversation before sending it, so it never posts twice; the other writes are
// idempotent by nature (set data, set segments, assign, resolve).
//
// Failures split two ways. A Crisp error (network, 5xx, 429, unknown conversation) is thrown: the
// caller stops, saves nothing, and the same actions can simply be carried out again. An action
// that cannot apply here (no operator with that email, no contact profile yet) is `skipped` with
// the reason, and the turn goes on.
import { createHash } from 'node:crypto';
import { CrispError, type CrispClient } from '../crisp/index.js';
import type { ConversationMetaUpdate, Operator, PeopleProfileCard, SendMessageBody } from '../crisp/schemas.js';
import type { Action, OutMessage } from '../scenario/index.js';
import { USER_AGENT } from '../version.js';
import { messageText } from './describe.js';

export interface ActionOutcome {
  /** Which action: `a3` is the draft's 4th action, `w1.0` the 1st action that followed the 1st webhook's answer. */
  step: string;
  type: Action['type'];
  /** done; held: posted as a private note for approval (--send-mode note); skipped: could not apply here. */
  status: 'done' | 'held' | 'skipped';
  detail: string;
  fingerprint?: number;
}

/** A positive 48-bit integer from sha-256(`draft:step`): stable across retries, unique in practice. */
export function derivedFingerprint(draftId: string, step: string): number {
  const n = createHash('sha256').update(`${draftId}:${step}`).digest().readUIntBE(0, 6);
  return n === 0 ? 1 : n;
}

/** The Idempotency-Key a webhook call carries: the receiver can drop a retried call. */
export function webhookIdempotencyKey(draftId: string, step: string): string {
  return createHash('sha256').update(`webhook:${draftId}:${step}`).digest('base64url').slice(0, 32);
}

export interface ExecutorOptions {
  crisp: CrispClient;
  website: string;
  session: string;
  scenario: string;
  draftId: string;
  /** --send-mode note: customer-visible messages become private notes for an operator to approve. */
  hold: boolean;
  /** These actions were carried out before, and may have reached Crisp: each message is looked for before it is sent. */
  again?: boolean;
}

const isCrisp = (error: unknown, code: CrispError['code']) => error instanceof CrispError && error.code === code;

export class ActionExecutor {
  #peopleId: string | null | undefined;
  #operators: Operator[] | undefined;

  constructor(private readonly o: ExecutorOptions) {}

  /** Carries out one action (never an effect the runner waits on: the turn performs those, effects.ts). */
  async run(action: Exclude<Action, { type: 'webhook' | 'search_articles' }>, step: string): Promise<ActionOutcome> {
    const { crisp, website, session } = this.o;
    const out = (status: ActionOutcome['status'], detail: string, fingerprint?: number): ActionOutcome => ({ step, type: action.type, status, detail, ...(fingerprint ? { fingerprint } : {}) });
    switch (action.type) {
      case 'send_message':
        return this.#send(action.message, step);
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
        await crisp.conversations.assign(website, session, match.details.user_id);
        return out('done', `assigned to ${match.details.email ?? ''} (${match.details.user_id})`);
      }
      case 'unassign':
        await crisp.conversations.assign(website, session, null);
        return out('done', 'unassigned');
      case 'handoff': {
        const text = `Scenario "${this.o.scenario}" handed this conversation to a human (${action.reason}); the bot stays silent here.${action.note ? `\n${action.note}` : ''}`;
        const fingerprint = await this.#post({ type: 'note', content: text }, step);
        return out('done', `private note for operators (${action.reason})`, fingerprint);
      }
      case 'resolve':
        await crisp.conversations.setState(website, session, 'resolved');
        return out('done', 'resolved');
      case 'error': {
        const fingerprint = await this.#post({ type: 'note', content: `Scenario "${this.o.scenario}" stopped at block ${action.block}: ${action.message}` }, step);
        return out('done', `${action.code}: private note for operators`, fingerprint);
      }
    }
  }

  async #send(message: OutMessage, step: string): Promise<ActionOutcome> {
    const base = { step, type: 'send_message' as const };
    if (this.o.hold) {
      const fingerprint = await this.#post({ type: 'note', content: `[Reply held for operator approval — ${message.type}]\n${messageText(message)}` }, step);
      return { ...base, status: 'held', detail: 'posted as a private note for an operator to approve', fingerprint };
    }
    // Crisp's file message has no caption: the caption goes first, as its own text message.
    if (message.type === 'file' && message.text) await this.#post({ type: 'text', content: message.text }, `${step}.caption`);
    const fingerprint = await this.#post(bodyOf(message), step);
    return { ...base, status: 'done', detail: `sent ${message.type}`, fingerprint };
  }

  async #post(body: DistributiveOmit<SendMessageBody, 'from' | 'origin' | 'fingerprint'>, step: string): Promise<number> {
    const fingerprint = derivedFingerprint(this.o.draftId, step);
    const message = { ...body, from: 'operator', origin: 'chat', automated: true, fingerprint } as SendMessageBody;
    return this.o.crisp.messages.send(this.o.website, this.o.session, message, { mayHaveBeenSent: this.o.again === true });
  }

  async #profile(profile: Partial<Record<'email' | 'phone' | 'nickname', string>>, out: (s: ActionOutcome['status'], d: string) => ActionOutcome): Promise<ActionOutcome> {
    const { crisp, website, session } = this.o;
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
    const { crisp, website, session } = this.o;
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

// ---------------------------------------------------------------- webhooks

export interface WebhookOutcome {
  url: string;
  status: number | null;
  ok: boolean;
  /** Parsed JSON answer (null when none or not JSON). */
  data: unknown;
  error?: string;
}

const WEBHOOK_TIMEOUT_MS = 10_000;
const WEBHOOK_MAX_ANSWER = 1024 * 1024;

/**
 * Calls a scenario's webhook once: JSON body (or query string for GET), an Idempotency-Key, no
 * redirects followed (a redirect could lead off the allow-listed origin), a 10 s deadline.
 * A network failure or a non-2xx answer is `ok: false`, which the scenario routes to its on_error.
 */
export async function callWebhook(action: Extract<Action, { type: 'webhook' }>, idempotencyKey: string, fetchImpl: typeof fetch = globalThis.fetch): Promise<WebhookOutcome> {
  const url = new URL(action.url);
  if (action.method === 'GET') for (const [k, v] of Object.entries(action.body)) url.searchParams.set(k, String(v ?? ''));
  try {
    const response = await fetchImpl(url, {
      method: action.method,
      headers: {
        accept: 'application/json',
        'user-agent': USER_AGENT,
        'idempotency-key': idempotencyKey,
        ...(action.method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      body: action.method === 'POST' ? JSON.stringify(action.body) : undefined,
      redirect: 'error',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    const text = await readBounded(response, WEBHOOK_MAX_ANSWER);
    if (text === undefined) return { url: action.url, status: response.status, ok: response.ok, data: null, error: `answer over ${WEBHOOK_MAX_ANSWER} bytes, ignored` };
    let data: unknown = null;
    if (text !== '') {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    return { url: action.url, status: response.status, ok: response.ok, data };
  } catch (error) {
    return { url: action.url, status: null, ok: false, data: null, error: (error as Error).name === 'TimeoutError' ? 'timed out' : 'could not be reached' };
  }
}

/** The answer's body as text, or undefined once it passes `limit` bytes: reading stops there, never after the whole body is in memory. */
async function readBounded(response: Response, limit: number): Promise<string | undefined> {
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
