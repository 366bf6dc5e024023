// A typed Crisp REST client: one method per endpoint the product needs, each
// validating the answer with the wire schemas. It knows nothing of MCP, scenarios or bots.
import type { z } from 'zod';
import { CrispError } from './errors.js';
import { HelpdeskApi } from './helpdesk.js';
import { checkPage, CrispHttp, type CrispCredentials, type HttpOptions, type QueryValue, type RequestSpec } from './http.js';
import type * as WireSchemas from './schemas.js';
import type {
  ComposeBody,
  ConnectEndpoints,
  Conversation,
  ConversationMeta,
  ConversationMetaUpdate,
  ConversationState,
  CustomData,
  MarkReadBody,
  Message,
  MessageSummary,
  Operator,
  OperatorAvailability,
  PeopleEvent,
  PeopleEventBody,
  PeopleProfile,
  PeopleProfileCard,
  SendMessageBody,
} from './schemas.js';
import type { Tier } from './vocabulary.js';
import { USER_AGENT } from '../version.js';

export interface CrispClientOptions extends Omit<HttpOptions, 'userAgent' | 'baseUrl'> {
  /** Default `https://api.crisp.chat`. */
  baseUrl?: string;
  /** Where links to the Crisp app point (`url` of a conversation). Default `https://app.crisp.chat`. */
  appUrl?: string;
  userAgent?: string;
  /** The clock of what the client keeps for a while (the helpdesk search's index). Default `Date.now`. */
  now?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal;
  deadlineMs?: number;
  /** A write's check before each re-send (RequestSpec.beforeResend): a caller that must look again before it writes again. */
  beforeResend?: RequestSpec['beforeResend'];
}

/** Every filter of `GET /v1/website/{w}/conversations/{page}`. */
export interface ListConversationsQuery {
  per_page?: number;
  search_query?: string | readonly unknown[];
  search_type?: 'text' | 'segment' | 'filter';
  search_operator?: 'and' | 'or';
  include_empty?: boolean;
  filter_inbox_id?: string;
  filter_unread?: boolean;
  filter_resolved?: boolean;
  filter_not_resolved?: boolean;
  filter_mention?: boolean;
  /** An operator's user_id (node-crisp-api's reading; the sandbox also accepts 1 for "any"). */
  filter_assigned?: string;
  filter_unassigned?: boolean;
  filter_date_start?: string;
  filter_date_end?: string;
  order_date_created?: boolean;
  order_date_updated?: boolean;
  order_date_waiting?: boolean;
}

export interface ListPeopleQuery {
  search_text?: string;
  search_filter?: readonly unknown[];
  search_operator?: 'and' | 'or';
  sort_field?: string;
  sort_order?: 'ascending' | 'descending';
}

export interface PeopleConversationsQuery {
  filter_unread?: boolean;
  filter_resolved?: boolean;
  filter_not_resolved?: boolean;
}

export interface MessagePage<M = Message> {
  /** Oldest first: a batch Crisp sends in another order is put in time order here (a stable sort). */
  messages: M[];
  /** Crisp answers 206 while older messages remain, 200 once history is exhausted. */
  hasMore: boolean;
}

export const DEFAULT_API_URL = 'https://api.crisp.chat';
export const DEFAULT_APP_URL = 'https://app.crisp.chat';
export const PER_PAGE_MIN = 20;
export const PER_PAGE_MAX = 50;

export class CrispClient {
  readonly http: CrispHttp;
  readonly conversations: ConversationsApi;
  readonly messages: MessagesApi;
  readonly operators: OperatorsApi;
  readonly people: PeopleApi;
  readonly connect: ConnectApi;
  readonly helpdesk: HelpdeskApi;
  readonly #appUrl: string;

  constructor(options: CrispClientOptions & { credentials: CrispCredentials }) {
    this.http = new CrispHttp({ ...options, baseUrl: options.baseUrl ?? DEFAULT_API_URL, userAgent: options.userAgent ?? USER_AGENT });
    const call = new Caller(this.http);
    this.conversations = new ConversationsApi(call);
    this.messages = new MessagesApi(call);
    this.operators = new OperatorsApi(call);
    this.people = new PeopleApi(call);
    this.connect = new ConnectApi(call, this.http.tier);
    this.helpdesk = new HelpdeskApi(call, options.now);
    this.#appUrl = (options.appUrl ?? DEFAULT_APP_URL).replace(/\/+$/, '');
  }

  /** The link that opens a conversation in the Crisp app (the inbox view of that session). */
  conversationUrl(website: string, session: string): string {
    return `${this.#appUrl}/website/${encodeURIComponent(website)}/inbox/${encodeURIComponent(session)}/`;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** The wire schemas (schemas.ts), each answer validated by one of them, named. */
export type Wire = typeof WireSchemas;
export type WireSchemaName = { [K in keyof Wire]: Wire[K] extends z.ZodType ? K : never }[keyof Wire];

let wire: Wire | undefined;
let wireLoading: Promise<Wire> | undefined;

/**
 * The wire schemas, imported with the first Crisp call instead of at start: building their zod
 * schemas was part of every `serve` start-up (bench/startup), before any call needed one. The
 * first call's import runs while its request is out.
 */
function loadWire(): Promise<Wire> {
  if (wireLoading) return wireLoading;
  // A plain object: looked up by a name on every call, where a module namespace is a slower lookup.
  wireLoading = import('./schemas.js').then((module) => (wire = { ...module }));
  // Awaited after the request: a request that fails first must not leave this rejection unheard.
  wireLoading.catch(() => undefined);
  return wireLoading;
}

/** Sends a request and validates `data` against a wire schema; shared by every API group. */
class Caller {
  constructor(private readonly http: CrispHttp) {}

  async data<K extends WireSchemaName>(schema: K, spec: RequestSpec, options?: CallOptions): Promise<z.infer<Wire[K]>> {
    const schemas = wire ?? loadWire();
    const res = await this.http.request(withOptions(spec, options));
    return parse((wire ?? (await schemas))[schema], res.data, spec);
  }

  async withStatus<K extends WireSchemaName>(schema: K, spec: RequestSpec, options?: CallOptions): Promise<{ status: number; data: z.infer<Wire[K]> }> {
    const schemas = wire ?? loadWire();
    const res = await this.http.request(withOptions(spec, options));
    return { status: res.status, data: parse((wire ?? (await schemas))[schema], res.data, spec) };
  }

  async send(spec: RequestSpec, options?: CallOptions): Promise<void> {
    await this.http.request(withOptions(spec, options));
  }
}

/** The call's spec with the caller's signal and deadline; the spec itself when there are none (most calls: no copy). */
function withOptions(spec: RequestSpec, options: CallOptions | undefined): RequestSpec {
  if (options === undefined || (options.signal === undefined && options.deadlineMs === undefined && options.beforeResend === undefined)) return spec;
  return { ...spec, signal: options.signal, deadlineMs: options.deadlineMs, beforeResend: options.beforeResend ?? spec.beforeResend };
}

// `schema` as the wire schema the caller named (WireSchemaName): its parse's type is the caller's.
function parse<T>(schema: unknown, data: unknown, spec: RequestSpec): T {
  const result = (schema as z.ZodType<T>).safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? `${issue.path.join('.') || 'data'}: ${issue.message}` : 'unknown shape';
  throw new CrispError({
    code: 'crisp_bad_response',
    message: `Crisp's answer to ${spec.method} /v1/${spec.segments.slice(0, 1).join('/')}/… did not have the expected shape (${where})`,
    method: spec.method,
  });
}

function conversationPath(website: string, session: string, ...rest: string[]): string[] {
  return ['website', website, 'conversation', session, ...rest];
}

class ConversationsApi {
  constructor(private readonly call: Caller) {}

  /** A page (1-based) of conversations; a page shorter than `per_page` is the last. */
  list(website: string, page = 1, query: ListConversationsQuery = {}, options?: CallOptions): Promise<Conversation[]> {
    if (query.per_page !== undefined && (query.per_page < PER_PAGE_MIN || query.per_page > PER_PAGE_MAX)) {
      throw new RangeError(`per_page must be between ${PER_PAGE_MIN} and ${PER_PAGE_MAX}, got ${query.per_page}`);
    }
    return this.call.data('ConversationList', { method: 'GET', segments: ['website', website, 'conversations', checkPage(page)], query: query as Record<string, QueryValue> }, options);
  }

  get(website: string, session: string, options?: CallOptions): Promise<Conversation> {
    return this.call.data('Conversation', { method: 'GET', segments: conversationPath(website, session) }, options);
  }

  async create(website: string, options?: CallOptions): Promise<string> {
    const created = await this.call.data('ConversationCreated', { method: 'POST', segments: ['website', website, 'conversation'] }, options);
    return created.session_id;
  }

  remove(website: string, session: string, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'DELETE', segments: conversationPath(website, session) }, options);
  }

  getMeta(website: string, session: string, options?: CallOptions): Promise<ConversationMeta> {
    return this.call.data('ConversationMeta', { method: 'GET', segments: conversationPath(website, session, 'meta') }, options);
  }

  /** `segments` replaces the whole array; read, edit and send it back to add or remove one. */
  updateMeta(website: string, session: string, meta: ConversationMetaUpdate, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: conversationPath(website, session, 'meta'), body: meta }, options);
  }

  async getState(website: string, session: string, options?: CallOptions): Promise<ConversationState> {
    return (await this.call.data('StateView', { method: 'GET', segments: conversationPath(website, session, 'state') }, options)).state;
  }

  setState(website: string, session: string, state: ConversationState, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: conversationPath(website, session, 'state'), body: { state } }, options);
  }

  async getRouting(website: string, session: string, options?: CallOptions): Promise<string | null> {
    const routing = await this.call.data('RoutingView', { method: 'GET', segments: conversationPath(website, session, 'routing') }, options);
    return routing.assigned?.user_id ?? null;
  }

  /** Assigns to an operator's user_id, or unassigns with `null`. */
  assign(website: string, session: string, userId: string | null, options?: CallOptions & { silent?: boolean }): Promise<void> {
    const body = { assigned: userId === null ? null : { user_id: userId }, ...(options?.silent !== undefined ? { silent: options.silent } : {}) };
    return this.call.send({ method: 'PATCH', segments: conversationPath(website, session, 'routing'), body }, options);
  }
}

class MessagesApi {
  constructor(private readonly call: Caller) {}

  /** The latest batch, or the batch before `timestampBefore` (ms). */
  list(website: string, session: string, timestampBefore?: number, options?: CallOptions): Promise<MessagePage> {
    return this.#page('MessageList', website, session, timestampBefore, options);
  }

  /** The same batch as `list`, each message read as a MessageSummary (for following a thread, not showing it). */
  summaries(website: string, session: string, timestampBefore?: number, options?: CallOptions): Promise<MessagePage<MessageSummary>> {
    return this.#page('MessageSummaryList', website, session, timestampBefore, options);
  }

  /**
   * The messages newer than `timestampAfter` (ms), as summaries: what a follower of the thread
   * has not read yet, without the latest batch's older messages. `hasMore` (206): more newer
   * messages remain than this batch holds.
   */
  summariesAfter(website: string, session: string, timestampAfter: number, options?: CallOptions): Promise<MessagePage<MessageSummary>> {
    return this.#page('MessageSummaryList', website, session, { timestamp_after: timestampAfter }, options);
  }

  async #page<K extends 'MessageList' | 'MessageSummaryList'>(schema: K, website: string, session: string, at: number | { timestamp_after: number } | undefined, options: CallOptions | undefined): Promise<MessagePage<z.infer<Wire[K]>[number]>> {
    const query = at === undefined ? undefined : typeof at === 'number' ? { timestamp_before: at } : at;
    const res = await this.call.withStatus(schema, { method: 'GET', segments: conversationPath(website, session, 'messages'), query }, options);
    return { messages: inTimeOrder(res.data), hasMore: res.status === 206 };
  }

  get(website: string, session: string, fingerprint: number, options?: CallOptions): Promise<Message> {
    return this.call.data('Message', { method: 'GET', segments: conversationPath(website, session, 'message', String(fingerprint)) }, options);
  }

  /**
   * Sends a message. With a `fingerprint`, a send that failed after it may have reached Crisp is
   * re-sent only once the conversation's latest messages show that fingerprint is not there (Crisp
   * does not document dropping a repeated one); with `mayHaveBeenSent` — an earlier call with the
   * same fingerprint may have reached Crisp — they are looked at before the first attempt too.
   * Without a fingerprint the message is sent once, and a failure after sending is reported, not repeated.
   */
  async send(website: string, session: string, message: SendMessageBody, options?: CallOptions & { mayHaveBeenSent?: boolean }): Promise<number> {
    const { mayHaveBeenSent, ...call } = options ?? {};
    const fingerprint = message.fingerprint;
    if (fingerprint === undefined) return (await this.call.data('MessageDispatched', { method: 'POST', segments: conversationPath(website, session, 'message'), body: message }, call)).fingerprint;
    const found = (signal?: AbortSignal) => this.#holds(website, session, fingerprint, signal);
    if (mayHaveBeenSent && (await found(call.signal))) return fingerprint;
    const spec: RequestSpec = {
      method: 'POST',
      segments: conversationPath(website, session, 'message'),
      body: message,
      idempotentPost: true,
      beforeResend: async (signal, mayHaveLanded) => (mayHaveLanded && (await found(signal)) ? { status: 201, reason: 'dispatched', data: { fingerprint } } : undefined),
    };
    return (await this.call.data('MessageDispatched', spec, call)).fingerprint;
  }

  /** Whether the conversation's latest messages include one with this fingerprint. */
  async #holds(website: string, session: string, fingerprint: number, signal?: AbortSignal): Promise<boolean> {
    const { messages } = await this.summaries(website, session, undefined, { signal });
    return messages.some((m) => m.fingerprint === fingerprint);
  }

  compose(website: string, session: string, compose: ComposeBody, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: conversationPath(website, session, 'compose'), body: compose }, options);
  }

  /** Marks messages read; without fingerprints, all of them. */
  markRead(website: string, session: string, read: MarkReadBody, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: conversationPath(website, session, 'read'), body: read }, options);
  }
}

class OperatorsApi {
  constructor(private readonly call: Caller) {}

  list(website: string, options?: CallOptions): Promise<Operator[]> {
    return this.call.data('OperatorList', { method: 'GET', segments: ['website', website, 'operators', 'list'] }, options);
  }

  availability(website: string, options?: CallOptions): Promise<OperatorAvailability[]> {
    return this.call.data('OperatorAvailabilityList', { method: 'GET', segments: ['website', website, 'availability', 'operators'] }, options);
  }

  websiteAvailability(website: string, options?: CallOptions): Promise<z.infer<Wire['AvailabilityStatus']>> {
    return this.call.data('AvailabilityStatus', { method: 'GET', segments: ['website', website, 'availability', 'status'] }, options);
  }
}

class PeopleApi {
  constructor(private readonly call: Caller) {}

  /** A page (1-based) of profiles, optionally searched and filtered. */
  list(website: string, page = 1, query: ListPeopleQuery = {}, options?: CallOptions): Promise<PeopleProfile[]> {
    return this.call.data('PeopleList', { method: 'GET', segments: ['website', website, 'people', 'profiles', checkPage(page)], query: query as Record<string, QueryValue> }, options);
  }

  get(website: string, peopleId: string, options?: CallOptions): Promise<PeopleProfile> {
    return this.call.data('PeopleProfile', { method: 'GET', segments: ['website', website, 'people', 'profile', peopleId] }, options);
  }

  /** Creates a profile; Crisp answers 409 (`crisp_conflict`) when the email exists. */
  async add(website: string, card: PeopleProfileCard & { email: string }, options?: CallOptions): Promise<string> {
    return (await this.call.data('PeopleCreated', { method: 'POST', segments: ['website', website, 'people', 'profile'], body: card }, options)).people_id;
  }

  /** PATCH: only the fields given change. */
  update(website: string, peopleId: string, card: PeopleProfileCard, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: ['website', website, 'people', 'profile', peopleId], body: card }, options);
  }

  /** PUT: the profile becomes exactly the card. */
  save(website: string, peopleId: string, card: PeopleProfileCard, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PUT', segments: ['website', website, 'people', 'profile', peopleId], body: card }, options);
  }

  remove(website: string, peopleId: string, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'DELETE', segments: ['website', website, 'people', 'profile', peopleId] }, options);
  }

  async getData(website: string, peopleId: string, options?: CallOptions): Promise<CustomData> {
    return (await this.call.data('PeopleData', { method: 'GET', segments: ['website', website, 'people', 'data', peopleId] }, options)).data;
  }

  /** Merges the keys given into the profile's custom data. */
  updateData(website: string, peopleId: string, data: CustomData, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PATCH', segments: ['website', website, 'people', 'data', peopleId], body: { data } }, options);
  }

  /** Replaces the profile's custom data. */
  saveData(website: string, peopleId: string, data: CustomData, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'PUT', segments: ['website', website, 'people', 'data', peopleId], body: { data } }, options);
  }

  addEvent(website: string, peopleId: string, event: PeopleEventBody, options?: CallOptions): Promise<void> {
    return this.call.send({ method: 'POST', segments: ['website', website, 'people', 'events', peopleId], body: event }, options);
  }

  listEvents(website: string, peopleId: string, page = 1, options?: CallOptions): Promise<PeopleEvent[]> {
    return this.call.data('PeopleEventList', { method: 'GET', segments: ['website', website, 'people', 'events', peopleId, 'list', checkPage(page)] }, options);
  }

  /** The session_ids of a person's conversations. */
  listConversations(website: string, peopleId: string, page = 1, query: PeopleConversationsQuery = {}, options?: CallOptions): Promise<string[]> {
    return this.call.data('SessionIdList',
      { method: 'GET', segments: ['website', website, 'people', 'conversations', peopleId, 'list', checkPage(page)], query: query as Record<string, QueryValue> },
      options,
    );
  }
}

class ConnectApi {
  constructor(
    private readonly call: Caller,
    private readonly tier: Tier,
  ) {}

  /** Where the RTM socket lives for this token's tier (`/v1/{tier}/connect/endpoints`). */
  endpoints(options?: CallOptions): Promise<ConnectEndpoints> {
    return this.call.data('ConnectEndpoints', { method: 'GET', segments: [this.tier, 'connect', 'endpoints'] }, options);
  }
}

/**
 * A batch of messages oldest first. Crisp sends it so, but does not document it, and every reader
 * pages back from a batch's first message and reads a thread in order: one check, and a sort only
 * for a batch out of order.
 */
function inTimeOrder<M extends { timestamp: number }>(messages: M[]): M[] {
  for (let i = 1; i < messages.length; i++) {
    if (messages[i - 1]!.timestamp > messages[i]!.timestamp) return messages.sort((a, b) => a.timestamp - b.timestamp);
  }
  return messages;
}

/**
 * An older batch put before the thread read so far, each message once: whether Crisp's
 * timestamp_before leaves out the message at that very millisecond is not documented, so the
 * batch asked from a thread's oldest message may hold it again.
 */
export function withOlder<M extends { fingerprint: number }>(older: readonly M[], thread: readonly M[]): M[] {
  const have = new Set(thread.map((m) => m.fingerprint));
  return [...older.filter((m) => !have.has(m.fingerprint)), ...thread];
}
