// The scenario format, defined once: the zod schema checks scenario files, gives
// their TypeScript types, and prints as the JSON Schema that `crisp-mcp scenario schema` shows to
// editors. Semantic checks that need the whole graph (targets, cycles, reachability) live in
// compile.ts. Pure: no I/O.
import { z } from 'zod';
import { Scalar } from './position.js';

export { Position, Scalar, Vars } from './position.js';

const BLOCK_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const VAR_NAME = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const DATA_KEY = /^(?!__proto__$)[A-Za-z0-9_-]{1,64}$/;
const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = 'a time like "09:00" (HH:MM, 24-hour; "24:00" ends the day)';

export const BlockId = z.string().regex(BLOCK_ID, 'a block id is 1-100 ASCII letters, digits, "_", "." or "-" (not starting with "." or "-")');
export const VarName = z.string().regex(VAR_NAME, 'a variable name is ASCII letters (A-Z, a-z), digits and "_", not starting with a digit');
const DataKey = z.string().regex(DATA_KEY, 'a data key is 1-64 ASCII letters, digits, "_" or "-"');

/** Text shown to the visitor; `{{name}}` is replaced by the variable `name` ("" if unset). */
const Text = z.string().min(1).max(10_000).describe('text; {{name}} inserts the variable name');
const Label = z.string().min(1).max(200);
const HttpUrl = z.url({ protocol: /^https?$/ });
const Comment = z.string().optional().describe('a note for humans; ignored by the runner');
/**
 * A reference to a block. Only block ids (the keys of `blocks`) are checked against the id pattern:
 * a reference to anything else is reported as an unknown block by the compiler, which names it.
 */
const BlockRef = z.string().min(1).max(100);
const Next = BlockRef.describe('id of the block to go to next');

/**
 * A strict object whose own problems say what it wants: an unknown field lists the allowed ones,
 * and a missing or mistyped value shows the expected shape (`example`, as JSON).
 */
function shaped<const S extends z.core.$ZodLooseShape>(example: string, shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed}`;
      if (issue.code === 'invalid_type') return `${issue.input === undefined ? 'required' : `expected an object, got ${kindOf(issue.input)}`}: an object like ${example}`;
      return undefined;
    },
  });
}

/** The `error` option of a required list: missing or mistyped, it shows the expected shape. */
function listLike(example: string) {
  return {
    error: (issue: z.core.$ZodRawIssue) =>
      issue.code === 'invalid_type' ? `${issue.input === undefined ? 'required' : `expected a list, got ${kindOf(issue.input)}`}: a list like ${example}` : undefined,
  };
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const Card = shaped('{"title": "Pro plan", "url": "https://example.com/pro"}', {
  title: Label,
  description: z.string().max(1_000).optional(),
  image: HttpUrl.optional(),
  url: HttpUrl.optional().describe('a link button on the card'),
  button: Label.optional().describe('label of the link button (default "Open")'),
});

export const MessageBlock = shaped('{"type": "message", "text": "Hello!", "next": "ask_email"}', {
    type: z.literal('message'),
    text: Text.optional().describe('the message; the caption of buttons, cards or a file'),
    buttons: z.array(shaped('{"label": "Pricing", "url": "https://example.com/pricing"}', { label: Label, url: HttpUrl })).min(1).max(10).optional().describe('link buttons (a picker)'),
    cards: z.array(Card).min(1).max(10).optional().describe('a carousel'),
    file: shaped('{"url": "https://example.com/guide.pdf", "name": "guide.pdf", "mime": "application/pdf"}', { url: HttpUrl, name: z.string().min(1), mime: z.string().min(1) }).optional(),
    next: Next.optional().describe('the block after this message; none ends the scenario'),
    comment: Comment,
  })
  // Two predicates rather than one superRefine: the same issues, and zod's compiled validator calls
  // a predicate directly (a superRefine costs a context object per block).
  .refine((b) => (b.buttons === undefined ? 0 : 1) + (b.cards === undefined ? 0 : 1) + (b.file === undefined ? 0 : 1) <= 1, 'a message has at most one of buttons, cards, file')
  .refine((b) => b.text !== undefined || b.file !== undefined, { path: ['text'], message: 'a message needs text (or a file)' })
  .describe('Sends one message (text, link buttons, carousel or file), then goes to next.');

export const ChoiceBlock = shaped('{"type": "choice", "text": "Cancel your account?", "choices": [{"label": "Yes", "next": "cancel"}, {"label": "No", "next": "bye"}]}', {
    type: z.literal('choice'),
    text: Text.describe('the question above the buttons'),
    display: z.enum(['buttons', 'carousel']).optional().describe('buttons (default) or carousel cards'),
    choices: z
      .array(
        shaped('{"label": "Yes", "next": "cancel"}', {
          label: Label,
          value: z.string().min(1).max(200).optional().describe('the value saved and matched (default: the label)'),
          next: Next,
          description: z.string().max(1_000).optional().describe('carousel only'),
          image: HttpUrl.optional().describe('carousel only'),
        }),
        listLike('[{"label": "Yes", "next": "cancel"}, {"label": "No", "next": "bye"}]'),
      )
      .min(1)
      .max(20),
    fallback: BlockRef.optional().describe('where an answer that is no choice goes (with the answer); none asks again'),
    save: VarName.optional().describe('variable that receives the chosen value'),
    comment: Comment,
  })
  .describe('Shows buttons and waits; the visitor picks one by button, label, value or card index.');

export const Validation = z.union([
  z.enum(['email', 'phone']),
  shaped('{"regex": "^[A-Z]{3}-[0-9]+$", "flags": "i"}', { regex: z.string().min(1).max(1_000), flags: z.string().regex(/^[imsu]*$/, 'flags are among i, m, s, u').optional() }),
]);
export type Validation = z.infer<typeof Validation>;

export const SaveTarget = shaped('{"var": "email"} (one or more of var, conversation_data, people_data, people_profile)', {
    var: VarName.optional(),
    conversation_data: DataKey.optional().describe('a custom data key of the conversation'),
    people_data: DataKey.optional().describe('a custom data key of the contact (people profile)'),
    people_profile: z.enum(['email', 'phone', 'nickname']).optional().describe('a field of the contact profile'),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), 'save needs at least one of var, conversation_data, people_data, people_profile');
export type SaveTarget = z.infer<typeof SaveTarget>;

export const AskBlock = shaped('{"type": "ask", "text": "Your email?", "validation": "email", "save": {"var": "email"}, "next": "thanks"}', {
    type: z.literal('ask'),
    text: Text.describe('the question'),
    validation: Validation.optional(),
    invalid_text: Text.optional().describe('said when the answer fails validation (then the question waits again)'),
    save: SaveTarget,
    next: Next,
    comment: Comment,
  })
  .describe('Asks a question and waits for free text; validates it, saves it, goes to next.');

const Words = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
export const MatchRule = shaped('{"contains": ["refund", "money back"], "next": "refunds"}', {
    contains: Words.optional().describe('matches if the message contains one of these (case-insensitive)'),
    exact: Words.optional().describe('matches if the message is one of these (case-insensitive, trimmed)'),
    regex: z.string().min(1).max(1_000).optional(),
    flags: z.string().regex(/^[imsu]*$/, 'flags are among i, m, s, u').optional().describe('regex flags (default "i")'),
    next: Next,
  })
  .superRefine((r, ctx) => {
    const n = [r.contains, r.exact, r.regex].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'a rule has exactly one of contains, exact, regex' });
    if (r.flags !== undefined && r.regex === undefined) ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags go with regex' });
  });
export type MatchRule = z.infer<typeof MatchRule>;

export const MatchBlock = shaped('{"type": "match", "rules": [{"contains": "price", "next": "pricing"}], "otherwise": "handoff"}', {
    type: z.literal('match'),
    rules: z.array(MatchRule, listLike('[{"contains": "price", "next": "pricing"}]')).min(1),
    otherwise: Next.describe('where a message no rule matches goes'),
    save: VarName.optional().describe('variable that receives the message'),
    comment: Comment,
  })
  .describe("Routes on the visitor's message (waits for one if this turn has none); first matching rule wins.");

const VarCondition = shaped('{"var": "plan", "equals": "pro"}', {
    var: VarName,
    equals: Scalar.optional(),
    not_equals: Scalar.optional(),
    exists: z.boolean().optional(),
    contains: z.string().optional(),
    matches: z.string().min(1).max(1_000).optional().describe('a regex (case-insensitive)'),
    gt: z.number().optional(),
    lt: z.number().optional(),
  })
  .superRefine((c, ctx) => {
    const ops = (['equals', 'not_equals', 'exists', 'contains', 'matches', 'gt', 'lt'] as const).filter((k) => c[k] !== undefined);
    if (ops.length !== 1) ctx.addIssue({ code: 'custom', message: 'a variable condition has exactly one of equals, not_equals, exists, contains, matches, gt, lt' });
  });

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const BusinessHours = shaped('{"timezone": "Europe/Paris", "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}]}', {
  timezone: z.string().min(1).describe('an IANA time zone, e.g. Europe/Paris'),
  hours: z
    .array(
      z
        .strictObject({ days: z.array(z.enum(DAYS), listLike('["mon", "tue"] (mon, tue, wed, thu, fri, sat, sun)')).min(1), from: z.string().regex(HH_MM, TIME), to: z.string().regex(HH_MM, TIME) })
        .refine((h) => h.from < h.to, { message: 'from must be before to (split a range that crosses midnight in two)', path: ['to'] }),
      listLike('[{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}]'),
    )
    .min(1),
  closed_dates: z.array(z.string().regex(DATE, 'a date like "2025-12-25" (YYYY-MM-DD)')).optional().describe('local dates when closed all day'),
});
export type BusinessHours = z.infer<typeof BusinessHours>;

export const Condition = z.union([
  VarCondition,
  shaped('{"business_hours": {"timezone": "Europe/Paris", "hours": [...]}}', { business_hours: BusinessHours }).describe('true while open'),
  shaped('{"operators_available": true}', { operators_available: z.boolean() }).describe('true if operator availability is this value'),
]);
export type Condition = z.infer<typeof Condition>;

export const ConditionBlock = shaped('{"type": "condition", "when": {"operators_available": true}, "then": "handoff", "else": "leave_message"}', {
    type: z.literal('condition'),
    when: z.union([Condition, z.array(Condition).min(1)]).describe('one condition, or a list that must all hold'),
    then: Next,
    else: Next,
    comment: Comment,
  })
  .describe('Goes to then if the condition holds, else to else.');

const DataMap = z.record(DataKey, Scalar);
export const SetBlock = shaped('{"type": "set", "vars": {"topic": "billing"}, "next": "ask_details"}', {
    type: z.literal('set'),
    vars: z.record(VarName, Scalar).optional().describe('string values may use {{name}}'),
    conversation_data: DataMap.optional(),
    people_data: DataMap.optional(),
    segments: shaped('{"add": ["vip"], "remove": ["trial"]}', { add: z.array(z.string().min(1)).optional(), remove: z.array(z.string().min(1)).optional() }).optional(),
    next: Next,
    comment: Comment,
  })
  .refine((b) => b.vars || b.conversation_data || b.people_data || b.segments, 'set needs at least one of vars, conversation_data, people_data, segments')
  .describe('Sets variables, conversation or contact custom data, and conversation segments.');

export const WebhookBlock = shaped('{"type": "webhook", "url": "https://booking.example.com/slots", "map": {"slot": "data.first"}, "next": "offer"}', {
    type: z.literal('webhook'),
    url: HttpUrl.describe("its origin must be listed in the scenario's webhook_origins"),
    method: z.enum(['POST', 'GET']).optional().describe('POST (default) sends body as JSON'),
    body: z.record(DataKey, Scalar).optional().describe('JSON body; string values may use {{name}}; default: all variables'),
    map: z.record(VarName, z.string().min(1)).optional().describe('variable ← dotted path in the JSON answer'),
    next: Next,
    on_error: BlockRef.optional().describe('where a failed call goes (default: next)'),
    comment: Comment,
  })
  .describe('Calls an allow-listed URL, maps the answer into variables, goes to next.');

export const ArticlesBlock = shaped('{"type": "articles", "text": "These articles may help:", "next": "more", "none": "human"}', {
    type: z.literal('articles'),
    query: Text.optional().describe("what to search the helpdesk for; {{name}} inserts a variable; default: the visitor's last message"),
    text: Text.optional().describe('the caption above the articles (default "These articles may help:")'),
    limit: z.number().int().min(1).max(5).optional().describe('most articles offered (default 3)'),
    locale: z.string().regex(/^[a-z]{2}(?:-[a-z]{2})?$/, 'a helpdesk locale like "en" or "pt-br"').optional().describe("the helpdesk locale (default: the helpdesk's first)"),
    display: z.enum(['buttons', 'carousel']).optional().describe('link buttons (default) or carousel cards'),
    next: Next.describe('where to go after offering the articles'),
    none: Next.describe('where to go when no article matches'),
    comment: Comment,
  })
  .describe("Searches the Crisp Helpdesk with the visitor's words, offers the best articles as links, goes to next; none when nothing matches.");

export const HandoffBlock = shaped('{"type": "handoff", "text": "A human will answer shortly."}', {
    type: z.literal('handoff'),
    text: Text.optional().describe('said to the visitor before the bot goes silent'),
    assign: z
      .strictObject({ user_id: z.string().min(1).optional(), email: z.email().optional() })
      .refine((a) => (a.user_id === undefined) !== (a.email === undefined), 'assign needs exactly one of user_id, email')
      .optional(),
    unassign: z.boolean().optional(),
    note: Text.optional().describe('a private note for operators'),
    reason: z.string().max(200).optional(),
    comment: Comment,
  })
  .refine((b) => !(b.assign && b.unassign), { message: 'assign and unassign exclude each other', path: ['unassign'] })
  .describe('Hands the conversation to a human; the bot stays silent in it afterwards.');

export const EndBlock = shaped('{"type": "end", "resolve": true}', {
    type: z.literal('end'),
    text: Text.optional(),
    resolve: z.boolean().optional().describe('mark the conversation resolved'),
    comment: Comment,
  })
  .describe("Ends the scenario; the visitor's next message starts it again.");

export const BLOCK_TYPES = ['message', 'choice', 'ask', 'match', 'condition', 'set', 'webhook', 'articles', 'handoff', 'end'] as const;
export const Block = z.discriminatedUnion('type', [MessageBlock, ChoiceBlock, AskBlock, MatchBlock, ConditionBlock, SetBlock, WebhookBlock, ArticlesBlock, HandoffBlock, EndBlock], {
  error: (issue) => {
    const input: unknown = issue.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return `a block is an object with a "type", like {"type": "message", "text": "Hello!"}; got ${kindOf(input)}`;
    const type = (input as { type?: unknown }).type;
    return type === undefined ? `a block needs "type": one of ${BLOCK_TYPES.join(', ')}` : `unknown block type ${JSON.stringify(type)}: the types are ${BLOCK_TYPES.join(', ')}`;
  },
});
export type Block = z.infer<typeof Block>;
export type BlockType = Block['type'];
export type MessageBlock = z.infer<typeof MessageBlock>;
export type ChoiceBlock = z.infer<typeof ChoiceBlock>;
export type AskBlock = z.infer<typeof AskBlock>;
export type MatchBlock = z.infer<typeof MatchBlock>;
export type ConditionBlock = z.infer<typeof ConditionBlock>;
export type SetBlock = z.infer<typeof SetBlock>;
export type WebhookBlock = z.infer<typeof WebhookBlock>;
export type ArticlesBlock = z.infer<typeof ArticlesBlock>;
export type HandoffBlock = z.infer<typeof HandoffBlock>;
export type EndBlock = z.infer<typeof EndBlock>;

/** Blocks that wait for the visitor: a cycle must pass through one of them. */
export const WAITING_BLOCKS: ReadonlySet<BlockType> = new Set(['choice', 'ask', 'match']);

export const Scenario = shaped('{"name": "hello", "version": 1, "start": "hi", "blocks": {"hi": {"type": "message", "text": "Hello!"}}}', {
    $schema: z.string().optional(),
    name: z.string({ error: (issue) => (issue.input === undefined ? 'required: a name like "order-status" (1-64 lowercase letters, digits, "_" or "-")' : undefined) }).regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a scenario name is 1-64 lowercase letters, digits, "_" or "-"'),
    version: z.union([z.string({ error: (issue) => (issue.input === undefined ? 'required: a version, e.g. 1 or "2025-06-01"' : 'a version is a string or a whole number') }).min(1).max(50), z.number().int().nonnegative()]),
    description: z.string().max(2_000).optional(),
    start: z
      .string({ error: (issue) => (issue.input === undefined ? 'required: the id of the first block, like "start": "greet"' : undefined) })
      .min(1)
      .max(100)
      .describe('id of the first block'),
    webhook_origins: z.array(z.string()).optional().describe('origins webhook blocks may call, e.g. https://booking.example.com'),
    migrations: z
      .record(z.string().min(1), BlockRef)
      .optional()
      .describe('after an edit, a conversation saved at block (key) of an older version resumes at block (value) instead of restarting'),
    blocks: z.record(BlockId, Block, {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? `${issue.input === undefined ? 'required: ' : ''}blocks is an object keyed by block id, like {"hi": {"type": "message", "text": "Hello!", "next": "bye"}, "bye": {"type": "end"}}${issue.input === undefined ? '' : `; got ${kindOf(issue.input)}`}`
          : undefined,
    }),
  })
  .describe('A crisp-mcp chatbot scenario: a graph of blocks, linearized at boot.');
export type Scenario = z.infer<typeof Scenario>;

/** The JSON Schema of scenario files (draft 2020-12), for editors. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    title: 'crisp-mcp scenario',
    ...z.toJSONSchema(Scenario, { io: 'input', unrepresentable: 'any' }),
  };
}
