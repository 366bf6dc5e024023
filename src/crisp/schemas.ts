// Crisp REST wire objects. Response schemas are lenient: an unknown
// field never fails a parse (it is dropped from the typed projection — zod's strip mode, 3× faster
// than passthrough), opaque sub-objects such as `device` pass through whole, and the fields we rely
// on are typed and required. Request-body schemas are shared with the sandbox, which validates with them.
import { z } from 'zod';
import { ConversationState, Sender, type MessageType } from './vocabulary.js';

export * from './vocabulary.js';

/** The `{error, reason, data}` envelope every JSON answer of Crisp's REST API comes in. */
export const Envelope = z.looseObject({
  error: z.boolean(),
  reason: z.string(),
  data: z.unknown().optional(),
});
export type Envelope = z.infer<typeof Envelope>;

/**
 * A sub-object we forward but never read (`meta.device`, `compose`…): checked to be an object and
 * passed by reference, where `looseObject({})` would copy it key by key on every parse.
 */
const Opaque = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'should be an object');

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const CustomData = z.record(z.string(), Scalar);
export type CustomData = z.infer<typeof CustomData>;

// ---------------------------------------------------------------- conversations

/**
 * Conversation meta as read back: the contact fields, segments, custom data and the device
 * (geolocation, locales), which tools show. Fields nothing reads (ip, avatar, connection…) are left
 * out of the projection: each validated field costs on every list call (bench/crisp-client).
 */
export const ConversationMeta = z.object({
  nickname: z.string().optional(),
  email: z.string().optional(),
  phone: z.string().optional(),
  address: z.string().optional(),
  subject: z.string().optional(),
  origin: z.string().optional(),
  segments: z.array(z.string()).optional(),
  data: CustomData.optional(),
  device: Opaque.optional(),
});
export type ConversationMeta = z.infer<typeof ConversationMeta>;

/** A conversation as listed or read: what the product relies on, validated; the rest dropped. */
export const Conversation = z.object({
  session_id: z.string(),
  website_id: z.string(),
  inbox_id: z.string().nullish(),
  people_id: z.string().nullish(),
  state: ConversationState,
  is_blocked: z.boolean().optional(),
  availability: z.string().optional(),
  last_message: z.string().optional(),
  preview_message: z
    .object({ type: z.string().optional(), from: z.string().optional(), excerpt: z.string().optional(), fingerprint: z.number().optional() })
    .optional(),
  mentions: z.array(z.string()).optional(),
  compose: Opaque.optional(),
  unread: z.object({ operator: z.number().optional(), visitor: z.number().optional() }).optional(),
  assigned: z.object({ user_id: z.string().nullish() }).nullish(),
  meta: ConversationMeta.optional(),
  created_at: z.number(),
  updated_at: z.number(),
  waiting_since: z.number().nullish(),
});
export type Conversation = z.infer<typeof Conversation>;

/** The whole wire object, as the sandbox stores and serves it: the projection plus Crisp's other fields. */
export type ConversationWire = Omit<Conversation, 'meta'> & {
  status: number;
  meta?: ConversationMeta & Record<string, unknown>;
} & Record<string, unknown>;

export const ConversationCreated = z.object({ session_id: z.string() });

/** PATCH .../meta: any subset. `segments` replaces the array; `data` is merged (sandbox choice, docs/sandbox.md). */
export const ConversationMetaUpdate = z.object({
  nickname: z.string().max(200).optional(),
  email: z.email().optional(),
  phone: z.string().max(100).optional(),
  address: z.string().max(500).optional(),
  subject: z.string().max(500).optional(),
  ip: z.string().optional(),
  avatar: z.string().optional(),
  origin: z.string().optional(),
  segments: z.array(z.string().min(1).max(100)).max(100).optional(),
  data: CustomData.optional(),
  device: Opaque.optional(),
});
export type ConversationMetaUpdate = z.infer<typeof ConversationMetaUpdate>;

// ---------------------------------------------------------------- messages

const FileContent = z.looseObject({ name: z.string().min(1), url: z.url(), type: z.string().min(1) });
const AnimationContent = z.looseObject({ url: z.url(), type: z.string().min(1) });
const AudioContent = z.looseObject({ url: z.url(), type: z.string().min(1), duration: z.number().int().nonnegative() });
const PickerChoice = z.looseObject({
  value: z.string().min(1),
  label: z.string().min(1),
  selected: z.boolean(),
  icon: z.string().optional(),
  action: z.looseObject({ type: z.string(), target: z.string() }).optional(),
});
const PickerContent = z.looseObject({ id: z.string().min(1), text: z.string(), choices: z.array(PickerChoice).min(1), required: z.boolean().optional() });
const FieldContent = z.looseObject({ id: z.string().min(1), text: z.string(), explain: z.string(), value: z.string().optional(), required: z.boolean().optional() });
const CarouselContent = z.looseObject({
  text: z.string(),
  targets: z
    .array(
      z.looseObject({
        title: z.string(),
        description: z.string(),
        image: z.string().optional(),
        actions: z.array(z.looseObject({ label: z.string(), url: z.string() })),
      }),
    )
    .min(1),
});
const EventContent = z.looseObject({ namespace: z.string().min(1), text: z.string().optional() });

/** Content schema per message type. */
export const MESSAGE_CONTENT = {
  text: z.string().min(1),
  note: z.string().min(1),
  file: FileContent,
  animation: AnimationContent,
  audio: AudioContent,
  picker: PickerContent,
  field: FieldContent,
  carousel: CarouselContent,
  event: EventContent,
} as const satisfies Record<MessageType, z.ZodType>;

export type MessageContent = {
  [K in MessageType]: z.infer<(typeof MESSAGE_CONTENT)[K]>;
};

const SendUser = z.looseObject({ type: z.string().optional(), nickname: z.string().optional(), avatar: z.string().optional() });

const sendBase = {
  from: Sender,
  origin: z.string().min(1),
  fingerprint: z.number().int().positive().optional(),
  user: SendUser.optional(),
  mentions: z.array(z.string()).optional(),
  references: z.array(z.looseObject({ type: z.string(), name: z.string(), target: z.string() })).optional(),
  original: z.looseObject({}).optional(),
  properties: z.record(z.string(), Scalar).optional(),
  timestamp: z.number().int().positive().optional(),
  stealth: z.boolean().optional(),
  translated: z.boolean().optional(),
  automated: z.boolean().optional(),
};

/** POST .../message body: a union discriminated on `type`, content shaped by the type. */
export const SendMessageBody = z.discriminatedUnion('type', [
  z.object({ ...sendBase, type: z.literal('text'), content: MESSAGE_CONTENT.text }),
  z.object({ ...sendBase, type: z.literal('note'), content: MESSAGE_CONTENT.note }),
  z.object({ ...sendBase, type: z.literal('file'), content: MESSAGE_CONTENT.file }),
  z.object({ ...sendBase, type: z.literal('animation'), content: MESSAGE_CONTENT.animation }),
  z.object({ ...sendBase, type: z.literal('audio'), content: MESSAGE_CONTENT.audio }),
  z.object({ ...sendBase, type: z.literal('picker'), content: MESSAGE_CONTENT.picker }),
  z.object({ ...sendBase, type: z.literal('field'), content: MESSAGE_CONTENT.field }),
  z.object({ ...sendBase, type: z.literal('carousel'), content: MESSAGE_CONTENT.carousel }),
  z.object({ ...sendBase, type: z.literal('event'), content: MESSAGE_CONTENT.event }),
]);
export type SendMessageBody = z.infer<typeof SendMessageBody>;

export const MessageDispatched = z.object({ fingerprint: z.number() });

export const MessageUser = z.object({
  type: z.string().optional(),
  user_id: z.string().optional(),
  nickname: z.string().optional(),
  avatar: z.string().optional(),
});

export const Message = z.object({
  session_id: z.string(),
  website_id: z.string(),
  type: z.string(),
  from: Sender,
  origin: z.string(),
  content: z.unknown(),
  fingerprint: z.number(),
  timestamp: z.number(),
  user: MessageUser.optional(),
  read: z.string().optional(),
  delivered: z.string().optional(),
  automated: z.boolean().optional(),
  edited: z.boolean().optional(),
  stamped: z.boolean().optional(),
  translated: z.boolean().optional(),
  mentions: z.array(z.string()).optional(),
  preview: z.array(Opaque).optional(),
  references: z.array(Opaque).optional(),
  original: Opaque.optional(),
  properties: z.record(z.string(), Scalar).optional(),
});
export type Message = z.infer<typeof Message>;

/**
 * What a reader of the thread's order and text relies on (a bot following a conversation): each
 * message's kind, sender, content, fingerprint, time and author, validated; its other fields are
 * neither checked nor kept, which makes a page of them several times cheaper to read than `Message`.
 */
export const MessageSummary = Message.pick({ type: true, from: true, content: true, fingerprint: true, timestamp: true, user: true, automated: true });
export type MessageSummary = z.infer<typeof MessageSummary>;

export const ComposeBody = z.object({
  type: z.enum(['start', 'stop']),
  from: Sender,
  excerpt: z.string().max(1000).optional(),
  stealth: z.boolean().optional(),
  automated: z.boolean().optional(),
});
export type ComposeBody = z.infer<typeof ComposeBody>;

export const MarkReadBody = z.object({
  from: Sender,
  origin: z.string().min(1),
  fingerprints: z.array(z.number().int()).optional(),
});
export type MarkReadBody = z.infer<typeof MarkReadBody>;

// ---------------------------------------------------------------- state, routing

export const StateView = z.object({ state: ConversationState });
export const StateUpdateBody = z.object({
  state: ConversationState,
  user: SendUser.optional(),
  origin: z.string().optional(),
});
export type StateUpdateBody = z.infer<typeof StateUpdateBody>;

export const RoutingView = z.object({ assigned: z.object({ user_id: z.string().nullish() }).nullish() });
export const RoutingUpdateBody = z.object({
  assigned: z.object({ user_id: z.string().min(1) }).nullable(),
  silent: z.boolean().optional(),
});
export type RoutingUpdateBody = z.infer<typeof RoutingUpdateBody>;

// ---------------------------------------------------------------- operators, availability

export const Operator = z.object({
  type: z.string().optional(),
  details: z.object({
    user_id: z.string(),
    email: z.string().optional(),
    avatar: z.string().nullish(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    role: z.string().optional(),
    title: z.string().nullish(),
    availability: z.string().optional(),
    has_token: z.boolean().optional(),
  }),
});
export type Operator = z.infer<typeof Operator>;

export const AvailabilityStatus = z.object({ status: z.string(), since: z.number().optional() });
export const OperatorAvailability = z.object({
  user_id: z.string(),
  type: z.string(),
  time: z.object({ for: z.number().optional(), since: z.number().optional() }).optional(),
});
export type OperatorAvailability = z.infer<typeof OperatorAvailability>;

// ---------------------------------------------------------------- people

const Geolocation = z.object({
  country: z.string().optional(),
  region: z.string().optional(),
  city: z.string().optional(),
  coordinates: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
});

export const Person = z.object({
  nickname: z.string().optional(),
  avatar: z.string().optional(),
  gender: z.string().optional(),
  phone: z.string().optional(),
  address: z.string().optional(),
  description: z.string().optional(),
  website: z.string().optional(),
  timezone: z.number().optional(),
  profiles: z.array(z.object({ type: z.string(), handle: z.string(), url: z.string() })).optional(),
  employment: Opaque.optional(),
  geolocation: Geolocation.optional(),
  locales: z.array(z.string()).optional(),
});

export const Company = z.object({
  name: z.string().optional(),
  legal_name: z.string().optional(),
  domain: z.string().optional(),
  url: z.string().optional(),
  description: z.string().optional(),
  timezone: z.number().optional(),
  phones: z.array(z.string()).optional(),
  emails: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
  geolocation: Geolocation.optional(),
  metrics: Opaque.optional(),
});

export const PeopleProfile = z.object({
  people_id: z.string(),
  email: z.string().optional(),
  person: Person.optional(),
  company: Company.optional(),
  segments: z.array(z.string()).optional(),
  notepad: z.string().optional(),
  active: z.object({ now: z.boolean().optional(), last: z.number().optional() }).optional(),
  score: z.number().optional(),
  created_at: z.number().optional(),
  updated_at: z.number().optional(),
});
export type PeopleProfile = z.infer<typeof PeopleProfile>;

/** The card sent to POST/PUT/PATCH .../people/profile. */
export const PeopleProfileCard = z.object({
  email: z.email().optional(),
  person: Person.optional(),
  company: Company.optional(),
  segments: z.array(z.string().min(1).max(100)).max(100).optional(),
  notepad: z.string().max(10_000).optional(),
  active: z.number().int().nonnegative().optional(),
});
export type PeopleProfileCard = z.infer<typeof PeopleProfileCard>;

export const PeopleCreated = z.object({ people_id: z.string() });
export const PeopleData = z.object({ data: CustomData });
export const PeopleDataBody = z.object({ data: CustomData });

export const PeopleEventBody = z.object({
  text: z.string().min(1).max(1000),
  data: CustomData.optional(),
  color: z.string().optional(),
});
export type PeopleEventBody = z.infer<typeof PeopleEventBody>;

export const PeopleEvent = z.object({
  text: z.string(),
  data: CustomData.optional(),
  color: z.string().optional(),
  timestamp: z.number(),
});
export type PeopleEvent = z.infer<typeof PeopleEvent>;

// ---------------------------------------------------------------- connect

export const ConnectEndpoints = z.object({
  socket: z.object({ app: z.string() }),
  rescue: z.object({ socket: z.object({ app: z.string() }) }).optional(),
});
export type ConnectEndpoints = z.infer<typeof ConnectEndpoints>;

/**
 * Turns zod issues into the JSON-schema-like wording Crisp uses in `data.message` (node #29, #50).
 * Parse with `{ reportInput: true }`: JSON has no `undefined`, so an undefined input is a missing property.
 */
export function describeIssues(error: z.ZodError, root = 'data'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path.length ? `${root}.${issue.path.join('.')}` : root;
      const parent = issue.path.length > 1 ? `${root}.${issue.path.slice(0, -1).join('.')}` : root;
      if (issue.path.length > 0 && issue.input === undefined) return `${parent} should have required property '.${String(issue.path.at(-1))}'`;
      const allowed = 'values' in issue ? issue.values : 'options' in issue ? issue.options : undefined;
      if (Array.isArray(allowed)) return `${path} should be equal to one of the allowed values (${allowed.map(String).join(', ')})`;
      if (issue.code === 'invalid_type') return `${path} should be ${issue.expected}`;
      if (issue.code === 'too_small' || issue.code === 'too_big') {
        const bound = issue.code === 'too_small' ? 'at least' : 'at most';
        const unit = issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' items' : '';
        return `${path} should be ${bound} ${String(issue.code === 'too_small' ? issue.minimum : issue.maximum)}${unit}`;
      }
      return `${path} is invalid: ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------- helpdesk (node-crisp-api 11.x WebsiteHelpdesk)

export const HelpdeskTreeState = z.object({
  published: z.boolean().optional(),
  hidden: z.boolean().optional(),
  featured: z.boolean().optional(),
});
export type HelpdeskTreeState = z.infer<typeof HelpdeskTreeState>;

export const HelpdeskLocale = z.object({
  locale_id: z.string().optional(),
  locale: z.string(),
  url: z.string().optional(),
  statistics: z.record(z.string(), z.object({ entries: z.number().optional(), groups: z.number().optional() })).optional(),
});
export type HelpdeskLocale = z.infer<typeof HelpdeskLocale>;

/** A node of the helpdesk tree: a group (with `children`) or an entry. The `type` values are not documented. */
export interface HelpdeskTreeEntry {
  type?: string;
  slug?: string;
  title?: string;
  state?: HelpdeskTreeState;
  children?: HelpdeskTreeEntry[];
}
export const HelpdeskTreeEntry: z.ZodType<HelpdeskTreeEntry> = z.lazy(() =>
  z.object({
    type: z.string().optional(),
    slug: z.string().optional(),
    title: z.string().optional(),
    state: HelpdeskTreeState.optional(),
    children: z.array(HelpdeskTreeEntry).optional(),
  }),
);

export const HelpdeskTreeContent = z.object({ content: z.string() });

export const HelpdeskTreeMetadata = z.object({
  format: z.string().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  state: HelpdeskTreeState.optional(),
  author: z.object({ user_id: z.string().optional() }).optional(),
  color: z.string().optional(),
  image: z.string().optional(),
});
export type HelpdeskTreeMetadata = z.infer<typeof HelpdeskTreeMetadata>;

export const HelpdeskTreePage = z.object({ title: z.string().optional(), url: z.string() });
export type HelpdeskTreePage = z.infer<typeof HelpdeskTreePage>;

export const HelpdeskPage = z.object({
  entity_id: z.string().optional(),
  title: z.string().optional(),
  tree_path: z.string().optional(),
  url: z.string().optional(),
});
export type HelpdeskPage = z.infer<typeof HelpdeskPage>;

// ---------------------------------------------------------------- answers that are lists

export const ConversationList = Conversation.array();
export const MessageList = Message.array();
export const MessageSummaryList = MessageSummary.array();
export const OperatorList = Operator.array();
export const OperatorAvailabilityList = OperatorAvailability.array();
export const PeopleList = PeopleProfile.array();
export const PeopleEventList = PeopleEvent.array();
export const SessionIdList = z.array(z.string());
export const HelpdeskLocaleList = HelpdeskLocale.array();
export const HelpdeskTreeList = z.array(HelpdeskTreeEntry);
export const HelpdeskPageList = HelpdeskPage.array();
