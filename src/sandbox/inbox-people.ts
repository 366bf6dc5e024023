// The sandbox inbox's people profiles (contacts): looking one up, creating, updating and removing
// it, its custom data and its events, with the events Crisp announces for each change.
import type { CustomData, PeopleEvent, PeopleProfile, PeopleProfileCard } from '../crisp/schemas.js';
import { SandboxHttpError, invalid, notFound } from './http.js';
import { mergeData } from './inbox-rules.js';
import { makeUuid } from './seed.js';
import type { Inbox, WebsiteState } from './state.js';

export function person(site: WebsiteState, peopleId: string): PeopleProfile {
  const person = site.people.get(peopleId) ?? [...site.people.values()].find((p) => p.email === peopleId);
  if (!person) throw notFound(`people profile ${peopleId} does not exist on website ${site.website_id}`);
  return person;
}

/** The profile with this email, in any case. */
export function personByEmail(site: WebsiteState, email: string): PeopleProfile | undefined {
  const lower = email.toLowerCase();
  return [...site.people.values()].find((p) => p.email?.toLowerCase() === lower);
}

export function addPerson(inbox: Inbox, site: WebsiteState, card: PeopleProfileCard): PeopleProfile {
  if (!card.email) throw invalid("data should have required property '.email'");
  assertEmailFree(site, card.email);
  const now = inbox.now();
  const profile: PeopleProfile = {
    people_id: makeUuid(inbox.rng),
    email: card.email,
    person: card.person ?? {},
    company: card.company ?? {},
    segments: card.segments ?? [],
    notepad: card.notepad ?? '',
    active: { now: false, last: card.active ?? now },
    score: 0,
    created_at: now,
    updated_at: now,
  };
  site.people.set(profile.people_id, profile);
  site.peopleData.set(profile.people_id, {});
  site.peopleEvents.set(profile.people_id, []);
  inbox.announce(site, 'people:profile:created', { people_id: profile.people_id, email: profile.email });
  return profile;
}

/** PATCH keeps what is not sent and merges `person` and `company` one level deep; PUT replaces. */
export function updatePerson(inbox: Inbox, site: WebsiteState, peopleId: string, card: PeopleProfileCard, mode: 'patch' | 'put'): void {
  const profile = person(site, peopleId);
  if (card.email && card.email !== profile.email) assertEmailFree(site, card.email, profile.people_id);
  if (mode === 'put') {
    if (!card.email) throw invalid("data should have required property '.email'");
    profile.person = card.person ?? {};
    profile.company = card.company ?? {};
    profile.segments = card.segments ?? [];
    profile.notepad = card.notepad ?? '';
  } else {
    if (card.person) profile.person = { ...profile.person, ...card.person };
    if (card.company) profile.company = { ...profile.company, ...card.company };
    if (card.segments) profile.segments = card.segments;
    if (card.notepad !== undefined) profile.notepad = card.notepad;
  }
  if (card.email) profile.email = card.email;
  if (card.active !== undefined) profile.active = { ...profile.active, last: card.active };
  profile.updated_at = inbox.now();
  inbox.announce(site, 'people:profile:updated', { people_id: profile.people_id, email: profile.email, update: { updated_at: profile.updated_at, person: profile.person } });
}

/**
 * The profile goes; its conversations stay, as the visitor's sessions they are, bound to no
 * contact (`people_id` null, as before an email made one) rather than to a profile that no
 * longer exists. Crisp's behaviour here is unverified (docs/sandbox.md, the sandbox's choices).
 */
export function removePerson(inbox: Inbox, site: WebsiteState, peopleId: string): void {
  const profile = person(site, peopleId);
  site.people.delete(profile.people_id);
  site.peopleData.delete(profile.people_id);
  site.peopleEvents.delete(profile.people_id);
  for (const conversation of site.conversations.values()) {
    if (conversation.people_id === profile.people_id) conversation.people_id = null;
  }
  inbox.announce(site, 'people:profile:removed', { people_id: profile.people_id, email: profile.email });
}

/** PATCH merges keys (a null value removes one); PUT replaces the whole object. */
export function writePeopleData(inbox: Inbox, site: WebsiteState, peopleId: string, data: CustomData, mode: 'patch' | 'put'): void {
  const profile = person(site, peopleId);
  const next = mode === 'put' ? mergeData({}, data) : mergeData(site.peopleData.get(profile.people_id) ?? {}, data);
  site.peopleData.set(profile.people_id, next);
  profile.updated_at = inbox.now();
}

export function addPeopleEvent(inbox: Inbox, site: WebsiteState, peopleId: string, event: { text: string; data?: CustomData; color?: string }): PeopleEvent {
  const profile = person(site, peopleId);
  const stored: PeopleEvent = { text: event.text, data: event.data ?? {}, color: event.color ?? 'grey', timestamp: inbox.now() };
  const events = site.peopleEvents.get(profile.people_id) ?? [];
  events.push(stored);
  site.peopleEvents.set(profile.people_id, events);
  return stored;
}

function assertEmailFree(site: WebsiteState, email: string, exceptPeopleId?: string): void {
  const lower = email.toLowerCase();
  for (const p of site.people.values()) {
    if (p.people_id !== exceptPeopleId && p.email?.toLowerCase() === lower) throw new SandboxHttpError(409, 'people_exists', `a people profile with email ${email} already exists`);
  }
}
