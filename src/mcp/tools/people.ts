// The people toolset: find a contact, read their profile, keep it current.
import { z } from 'zod';
import { CrispError } from '../../crisp/errors.js';
import type { PeopleProfile, PeopleProfileCard } from '../../crisp/schemas.js';
import { defineTool, ToolInputError } from './define.js';
import type { ToolDeps } from './deps.js';
import { DataPatch, DataValue, editSegments, SegmentList, WebsiteId, written, EmailIn } from './params.js';
import { cursorWebsite, decodeCursor, encodeCursor, pagedWebsite } from './support/cursor.js';
import { clean, cleanData, iso, oneLine } from './support/text.js';

/** Crisp's people pages hold 20 profiles (the libraries send no per_page). */
const PEOPLE_PAGE = 20;
const PeopleId = z.string().min(1).max(200).describe('people_id from search_people (an email also works)');

/**
 * The profile a people tool acts on. An email with no profile behind it is the usual case of a
 * visitor who wrote it in a message: Crisp makes a contact once a conversation carries the email
 * (docs/sandbox.md, the sandbox's visitor side). "Check the id" would send the agent looking for an id that
 * does not exist, so the answer says how to make the contact and where the email was written.
 */
async function profileOf({ crisp, guard }: ToolDeps, site: string, peopleId: string, signal?: AbortSignal): Promise<PeopleProfile> {
  try {
    return await crisp.people.get(site, peopleId, { signal });
  } catch (error) {
    if (!(error instanceof CrispError) || error.code !== 'crisp_not_found' || !peopleId.includes('@')) throw error;
    throw new ToolInputError(
      `people_id: no contact profile has the email ${peopleId} on website ${site}: no conversation has it as the visitor's email yet (one written in a message is not). Set it on their conversation with update_conversation_meta, which makes them a contact; list_conversations with search "${peopleId}" finds where it was written.${guard.elsewhere(site)}`,
    );
  }
}

const PersonSummary = z.object({
  people_id: z.string(),
  email: z.string(),
  name: z.string(),
  phone: z.string(),
  company: z.string(),
  segments: z.array(z.string()),
  updated_at: z.string().nullable(),
});

function summarize(p: PeopleProfile) {
  return {
    people_id: p.people_id,
    email: clean(p.email, 200),
    name: clean(p.person?.nickname, 200),
    phone: clean(p.person?.phone, 50),
    company: clean(p.company?.name, 200),
    segments: (p.segments ?? []).map((s) => clean(s, 100)),
    updated_at: iso(p.updated_at),
  };
}

export const searchPeople = defineTool({
  name: 'search_people',
  toolset: 'people',
  title: 'Search people',
  description: 'Find contact profiles by name, email, phone or company, optionally in a segment. Pages with cursor.',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    search: z.string().min(1).max(200).optional().describe('text to find; omit to list everyone'),
    segment: z.string().min(1).max(100).optional().describe('only people in this segment'),
    cursor: z.string().max(200).optional().describe('next_cursor from the previous page'),
  }),
  outputSchema: z.object({ website_id: z.string(), people: z.array(PersonSummary), next_cursor: z.string().nullable() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ website_id, search, segment, cursor }, { crisp, guard }: ToolDeps, call) {
    const paged = cursor ? decodeCursor(cursor, 'search_people', ['p']) : undefined;
    const site = cursorWebsite(guard, website_id, paged);
    const page = paged?.p ?? 1;
    const filter = segment ? [{ model: 'people', criterion: 'segments', operator: 'eq', query: [segment] }] : undefined;
    const rows = await crisp.people.list(site, page, { ...(search ? { search_text: search } : {}), ...(filter ? { search_filter: filter } : {}) }, { signal: call?.signal });
    return { website_id: site, people: rows.map(summarize), next_cursor: rows.length === PEOPLE_PAGE ? encodeCursor({ k: 'search_people', p: page + 1, ...pagedWebsite(guard, site) }) : null };
  },
  text: ({ people, next_cursor }) =>
    [
      ...people.map((p) => oneLine(`${p.people_id} ${p.email} | ${p.name}${p.company ? ` (${p.company})` : ''}${p.segments.length ? ` [${p.segments.join(', ')}]` : ''}`)),
      people.length ? '' : 'Nobody matches.',
      next_cursor ? `next_cursor: ${next_cursor}` : 'Last page.',
    ]
      .filter(Boolean)
      .join('\n'),
});

export const getPerson = defineTool({
  name: 'get_person',
  toolset: 'people',
  title: 'Get a person',
  description: 'A contact profile with its custom data, recent events and conversation ids.',
  inputSchema: z.object({ website_id: WebsiteId.optional(), people_id: PeopleId }),
  outputSchema: z.object({
    person: PersonSummary.extend({ notepad: z.string(), country: z.string().nullable(), created_at: z.string().nullable() }),
    data: z.record(z.string(), DataValue),
    events: z.array(z.object({ text: z.string(), color: z.string(), at: z.string().nullable() })).describe('newest first'),
    conversations: z.array(z.string()).describe('session ids'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler({ website_id, people_id }, deps: ToolDeps, call) {
    const { crisp, guard } = deps;
    const options = { signal: call?.signal };
    const site = guard.website(website_id);
    const profile = await profileOf(deps, site, people_id, call?.signal);
    const [data, events, conversations] = await Promise.all([
      crisp.people.getData(site, profile.people_id, options),
      crisp.people.listEvents(site, profile.people_id, 1, options),
      crisp.people.listConversations(site, profile.people_id, 1, {}, options),
    ]);
    return {
      person: { ...summarize(profile), notepad: clean(profile.notepad, 2_000), country: profile.person?.geolocation?.country ? clean(profile.person.geolocation.country, 10) : null, created_at: iso(profile.created_at) },
      data: cleanData(data, 1_000),
      events: events.slice(0, 10).map((e) => ({ text: clean(e.text, 500), color: clean(e.color, 20), at: iso(e.timestamp) })),
      conversations,
    };
  },
  text: ({ person: p, data, events, conversations }) =>
    [
      oneLine(`${p.people_id} ${p.email} | ${p.name}${p.phone ? ` ${p.phone}` : ''}${p.company ? ` (${p.company})` : ''}${p.country ? ` ${p.country}` : ''}`),
      oneLine(`segments: ${p.segments.join(', ') || '(none)'}`),
      `data: ${JSON.stringify(data)}`,
      ...(p.notepad ? [`notepad: ${oneLine(p.notepad)}`] : []),
      oneLine(`events: ${events.map((e) => `${e.at} ${e.text}`).join('; ') || '(none)'}`),
      `conversations: ${conversations.join(', ') || '(none)'}`,
    ].join('\n'),
});

export const updatePerson = defineTool({
  name: 'update_person',
  toolset: 'people',
  title: 'Update a person',
  description: 'Change only the fields given on a contact profile: name, email, phone, company, notepad, segments, custom data (null removes a key).',
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    people_id: PeopleId,
    name: written(z.string().min(1).max(200), { visible: true }).optional(),
    email: EmailIn.optional(),
    phone: written(z.string().max(50)).optional(),
    company: written(z.string().max(200)).optional(),
    notepad: written(z.string().max(10_000)).optional(),
    segments_add: SegmentList.optional(),
    segments_remove: SegmentList.optional(),
    data: DataPatch.optional(),
  }),
  outputSchema: z.object({ people_id: z.string(), updated: z.array(z.string()) }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(input, deps: ToolDeps) {
    const { crisp, guard } = deps;
    const site = guard.website(input.website_id);
    const profile = await profileOf(deps, site, input.people_id);
    const card: PeopleProfileCard = {};
    const updated: string[] = [];
    const person: Record<string, string> = {};
    if (input.name !== undefined) person.nickname = input.name;
    if (input.phone !== undefined) person.phone = input.phone;
    if (Object.keys(person).length) card.person = person;
    if (input.email !== undefined) card.email = input.email;
    if (input.company !== undefined) card.company = { name: input.company };
    if (input.notepad !== undefined) card.notepad = input.notepad;
    if (input.segments_add || input.segments_remove) {
      card.segments = editSegments(profile.segments ?? [], input.segments_add, input.segments_remove);
    }
    for (const key of ['name', 'email', 'phone', 'company', 'notepad'] as const) if (input[key] !== undefined) updated.push(key);
    if (card.segments) updated.push('segments');
    if (!updated.length && !input.data) throw new ToolInputError('nothing to update: give at least one of name, email, phone, company, notepad, segments_add, segments_remove, data');
    if (updated.length) await crisp.people.update(site, profile.people_id, card);
    if (input.data) {
      await crisp.people.updateData(site, profile.people_id, input.data);
      updated.push('data');
    }
    return { people_id: profile.people_id, updated };
  },
  text: ({ people_id, updated }) => `Updated ${updated.join(', ')} on ${people_id}.`,
});

export const addPersonEvent = defineTool({
  name: 'add_person_event',
  toolset: 'people',
  title: 'Add a person event',
  description: "Record an event on a contact's timeline (e.g. \"Refund issued\"), with optional data.",
  inputSchema: z.object({
    website_id: WebsiteId.optional(),
    people_id: PeopleId,
    text: written(z.string().min(1).max(500), { visible: true }),
    data: DataPatch.optional(),
    color: z.enum(['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'grey', 'black']).optional(),
  }),
  outputSchema: z.object({ people_id: z.string(), text: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler({ website_id, people_id, text, data, color }, deps: ToolDeps) {
    const { crisp, guard } = deps;
    const site = guard.website(website_id);
    const profile = await profileOf(deps, site, people_id);
    await crisp.people.addEvent(site, profile.people_id, { text, ...(data ? { data } : {}), ...(color ? { color } : {}) });
    return { people_id: profile.people_id, text };
  },
  text: ({ people_id, text }) => `Event "${text}" added to ${people_id}.`,
});

export const PEOPLE_TOOLS = [searchPeople, getPerson, updatePerson, addPersonEvent];
