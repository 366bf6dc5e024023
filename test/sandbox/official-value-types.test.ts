// The value types the official crisp-api client gives the sandbox's seeded inbox, read through it
// page by page from a real sandbox: custom data (people data, conversation meta data) holds only
// strings, numbers and booleans, as node-crisp-api types it (`Record<string, boolean | string |
// number>`) — the seed gave half the people `company: null`, a value Crisp never holds (a null sent
// by PATCH removes the key) — and every date is a number of milliseconds.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { officialClient } from '../helpers/official-rtm.js';

let sandbox: Sandbox;
let official: InstanceType<typeof Crisp>;
let w: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 42 });
  w = sandbox.websiteId;
  official = officialClient(sandbox.url, sandbox.credentials[0]!);
});
afterAll(() => sandbox.close());

/** Every page of a paged list, until a page comes back empty. */
async function allPages<T>(read: (page: number) => Promise<unknown>): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; ; page++) {
    const batch = (await read(page)) as T[];
    if (batch.length === 0) return items;
    items.push(...batch);
  }
}

const notScalar = (data: Record<string, unknown> | undefined) => Object.entries(data ?? {}).filter(([, v]) => !['string', 'number', 'boolean'].includes(typeof v));

describe('value types as the official client reads them', () => {
  it('people data and conversation meta data hold only strings, numbers and booleans', async () => {
    const people = await allPages<{ people_id: string }>((page) => official.website.listPeopleProfiles(w, page));
    expect(people).toHaveLength(sandbox.state.websites.get(w)!.people.size);
    const offending: string[] = [];
    for (const { people_id } of people) {
      const { data } = (await official.website.getPeopleData(w, people_id)) as { data: Record<string, unknown> };
      for (const [key, value] of notScalar(data)) offending.push(`people ${people_id} data.${key} = ${JSON.stringify(value)}`);
    }
    const conversations = await allPages<{ session_id: string; meta?: { data?: Record<string, unknown> } }>((page) => official.website.listConversations(w, page, { include_empty: 1 }));
    for (const c of conversations) for (const [key, value] of notScalar(c.meta?.data)) offending.push(`conversation ${c.session_id} meta.data.${key} = ${JSON.stringify(value)}`);
    expect(offending).toEqual([]);
  });

  it('every date is a number of milliseconds: conversations, messages, people, their events, operators\' availability', async () => {
    const ms = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value > 1e12;
    const conversations = (await official.website.listConversations(w, 1)) as Array<{ session_id: string; created_at: unknown; updated_at: unknown; active: { last: unknown }; waiting_since?: unknown }>;
    for (const c of conversations) {
      expect([c.created_at, c.updated_at, c.active.last].every(ms), c.session_id).toBe(true);
      if (c.waiting_since !== undefined) expect(ms(c.waiting_since), c.session_id).toBe(true);
      const messages = (await official.website.getMessagesInConversation(w, c.session_id)) as Array<{ timestamp: unknown }>;
      expect(messages.every((m) => ms(m.timestamp)), c.session_id).toBe(true);
    }
    const people = (await official.website.listPeopleProfiles(w, 1)) as Array<{ people_id: string; created_at: unknown; updated_at: unknown; active: { last: unknown } }>;
    for (const p of people) {
      expect([p.created_at, p.updated_at, p.active.last].every(ms), p.people_id).toBe(true);
      const events = (await official.website.listPeopleEvents(w, p.people_id, 1)) as Array<{ timestamp: unknown }>;
      expect(events.every((e) => ms(e.timestamp)), p.people_id).toBe(true);
    }
    const availability = (await official.website.listWebsiteOperatorAvailabilities(w)) as Array<{ time?: { since?: unknown } }>;
    expect(availability.every((a) => a.time?.since === undefined || ms(a.time.since))).toBe(true);
  });
});
