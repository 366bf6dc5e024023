// People routes.
import { z } from 'zod';
import { PeopleDataBody, PeopleEventBody, PeopleProfileCard, describeIssues, type PeopleProfile } from '../../crisp/schemas.js';
import { flag, intParam, invalid, validate } from '../http.js';
import { pageOf, type RestContext, type RestRoute } from './context.js';
import { searchKey } from '../search-text.js';

/** Profiles, events and session ids per page (unverified at Crisp; the libraries send no per_page). */
export const PEOPLE_PAGE = 20;
const P = '/v1/website/:website_id/people';

export const peopleRoutes: RestRoute[] = [
  { method: 'GET', pattern: `${P}/stats`, handler: ({ site }) => ({ data: { total: site.people.size } }) },
  { method: 'GET', pattern: `${P}/profiles/:page`, handler: listPeople },
  {
    method: 'POST',
    pattern: `${P}/profile`,
    handler: ({ state, site, body }) => ({ reason: 'added', data: { people_id: state.addPerson(site, validate(PeopleProfileCard, body)).people_id } }),
  },
  { method: 'GET', pattern: `${P}/profile/:people_id`, handler: ({ state, site }, p) => ({ data: state.person(site, p.people_id!) }) },
  {
    method: 'PATCH',
    pattern: `${P}/profile/:people_id`,
    handler: ({ state, site, body }, p) => (state.updatePerson(site, p.people_id!, validate(PeopleProfileCard, body), 'patch'), { reason: 'updated' }),
  },
  {
    method: 'PUT',
    pattern: `${P}/profile/:people_id`,
    handler: ({ state, site, body }, p) => (state.updatePerson(site, p.people_id!, validate(PeopleProfileCard, body), 'put'), { reason: 'updated' }),
  },
  { method: 'DELETE', pattern: `${P}/profile/:people_id`, handler: ({ state, site }, p) => (state.removePerson(site, p.people_id!), { reason: 'deleted' }) },
  {
    method: 'GET',
    pattern: `${P}/data/:people_id`,
    handler: ({ state, site }, p) => ({ data: { data: site.peopleData.get(state.person(site, p.people_id!).people_id) ?? {} } }),
  },
  {
    method: 'PATCH',
    pattern: `${P}/data/:people_id`,
    handler: ({ state, site, body }, p) => (state.writePeopleData(site, p.people_id!, validate(PeopleDataBody, body).data, 'patch'), { reason: 'updated' }),
  },
  {
    method: 'PUT',
    pattern: `${P}/data/:people_id`,
    handler: ({ state, site, body }, p) => (state.writePeopleData(site, p.people_id!, validate(PeopleDataBody, body).data, 'put'), { reason: 'updated' }),
  },
  {
    method: 'POST',
    pattern: `${P}/events/:people_id`,
    handler: ({ state, site, body }, p) => (state.addPeopleEvent(site, p.people_id!, validate(PeopleEventBody, body)), { reason: 'added' }),
  },
  {
    method: 'GET',
    pattern: `${P}/events/:people_id/list/:page`,
    handler: ({ state, site }, p) => {
      const page = intParam(p.page, 'page_number', 1)!;
      const events = [...(site.peopleEvents.get(state.person(site, p.people_id!).people_id) ?? [])].sort((a, b) => b.timestamp - a.timestamp);
      return { data: pageOf(events, page, PEOPLE_PAGE) };
    },
  },
  { method: 'GET', pattern: `${P}/conversations/:people_id/list/:page`, handler: personConversations },
];

const SearchFilter = z.array(
  z.object({
    model: z.string().optional(),
    criterion: z.string().min(1),
    operator: z.enum(['eq', 'neq', 'has', 'hasnt', 'gt', 'lt']),
    query: z.array(z.union([z.string(), z.number()])).min(1),
  }),
);
type SearchFilter = z.infer<typeof SearchFilter>;

function listPeople({ site, query }: RestContext, params: Record<string, string>) {
  const page = intParam(params.page, 'page_number', 1)!;
  let items = [...site.people.values()];
  const search = query.get('search_text');
  if (search) {
    const text = searchKey(search);
    items = items.filter((p) =>
      [p.email, p.person?.nickname, p.person?.phone, p.company?.name].some((f) => typeof f === 'string' && searchKey(f).includes(text)),
    );
  }
  const rawFilter = query.get('search_filter');
  if (rawFilter) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawFilter);
    } catch {
      throw invalid('query.search_filter should be a JSON array');
    }
    const filter = SearchFilter.safeParse(parsed, { reportInput: true });
    if (!filter.success) throw invalid(describeIssues(filter.error, 'query.search_filter'));
    const any = query.get('search_operator') === 'or';
    items = items.filter((p) => (any ? filter.data.some((f) => matches(p, site.peopleData.get(p.people_id), f)) : filter.data.every((f) => matches(p, site.peopleData.get(p.people_id), f))));
  }
  const field = query.get('sort_field') ?? 'created_at';
  if (!['created_at', 'updated_at', 'email', 'nickname', 'score'].includes(field)) {
    throw invalid('query.sort_field should be equal to one of the allowed values (created_at, updated_at, email, nickname, score)');
  }
  const direction = (query.get('sort_order') ?? 'descending') === 'ascending' ? 1 : -1;
  items.sort((a, b) => direction * compare(sortValue(a, field), sortValue(b, field)));
  return { data: pageOf(items, page, PEOPLE_PAGE) };
}

function sortValue(p: PeopleProfile, field: string): string | number {
  if (field === 'nickname') return p.person?.nickname ?? '';
  if (field === 'email') return p.email ?? '';
  return (p as Record<string, unknown>)[field] as number | undefined ?? 0;
}

function compare(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `criterion` is a dotted path into the profile (`segments`, `person.geolocation.country`) or `data.<key>`. */
function matches(profile: PeopleProfile, data: Record<string, unknown> | undefined, f: SearchFilter[number]): boolean {
  const path = f.criterion.split('.');
  let value: unknown = path[0] === 'data' ? data : profile;
  for (const key of path[0] === 'data' ? path.slice(1) : path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  const values = Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)];
  const wanted = f.query.map(String);
  switch (f.operator) {
    case 'eq':
      return values.some((v) => wanted.includes(v));
    case 'neq':
      return !values.some((v) => wanted.includes(v));
    case 'has':
      return values.some((v) => wanted.some((w) => v.toLowerCase().includes(w.toLowerCase())));
    case 'hasnt':
      return !values.some((v) => wanted.some((w) => v.toLowerCase().includes(w.toLowerCase())));
    case 'gt':
      return values.some((v) => Number(v) > Number(wanted[0]));
    case 'lt':
      return values.some((v) => Number(v) < Number(wanted[0]));
  }
}

function personConversations({ state, site, query }: RestContext, params: Record<string, string>) {
  const page = intParam(params.page, 'page_number', 1)!;
  const person = state.person(site, params.people_id!);
  let items = [...site.conversations.values()].filter((c) => c.people_id === person.people_id);
  if (flag(query, 'filter_unread')) items = items.filter((c) => (c.unread?.operator ?? 0) > 0);
  if (flag(query, 'filter_resolved')) items = items.filter((c) => c.state === 'resolved');
  if (flag(query, 'filter_not_resolved')) items = items.filter((c) => c.state !== 'resolved');
  items.sort((a, b) => b.updated_at - a.updated_at);
  return { data: pageOf(items, page, PEOPLE_PAGE).map((c) => c.session_id) };
}
