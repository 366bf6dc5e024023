// The people toolset through a real SDK Client, checked against the sandbox's state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Sandbox } from '../../src/sandbox/server.js';
import { callTool, McpHarness } from '../helpers/mcp.js';

let harness: McpHarness;
let sandbox: Sandbox;
let client: Client;

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 5 });
  ({ sandbox, client } = harness);
});
afterAll(() => harness.close());

const site = () => sandbox.state.websites.get(sandbox.websiteId)!;
const call = (name: string, args: Record<string, unknown>) => callTool(client, name, args);

describe('people tools', () => {
  it('searches by text and by segment, and pages', async () => {
    const target = [...site().people.values()][7]!;
    const byEmail = await call('search_people', { search: target.email });
    expect((byEmail.out.people as { people_id: string }[]).map((p) => p.people_id)).toEqual([target.people_id]);
    const vip = await call('search_people', { segment: 'vip' });
    expect((vip.out.people as { segments: string[] }[]).every((p) => p.segments.includes('vip'))).toBe(true);
    // Crisp sends no total: a full page means "maybe more", so the walk ends on a short page.
    const seen: string[] = [];
    let cursor: unknown;
    for (let page = 0; page < 5; page++) {
      const { out } = await call('search_people', cursor ? { cursor } : {});
      seen.push(...(out.people as { people_id: string }[]).map((p) => p.people_id));
      cursor = out.next_cursor;
      if (!cursor) break;
    }
    expect(cursor).toBeNull();
    expect(new Set(seen)).toEqual(new Set(site().people.keys()));
  });

  it('reads a profile with data, events and conversations; an email works as the id', async () => {
    const linked = [...site().conversations.values()].find((c) => c.people_id)!;
    const person = site().people.get(linked.people_id!)!;
    const { out, text } = await call('get_person', { people_id: person.email });
    expect((out.person as { people_id: string }).people_id).toBe(person.people_id);
    expect(out.conversations).toContain(linked.session_id);
    expect(out.data).toEqual(site().peopleData.get(person.people_id));
    expect(text).toContain(person.email!);
  });

  it('updates only the fields given, edits segments, merges data', async () => {
    const person = [...site().people.values()][2]!;
    const phone = person.person?.phone;
    const segments = person.segments ?? [];
    const { out } = await call('update_person', { people_id: person.people_id, name: 'Renamed Person', segments_add: ['churn-risk'], data: { plan: 'business', mrr: null } });
    expect(out.updated).toEqual(['name', 'segments', 'data']);
    const after = site().people.get(person.people_id)!;
    expect(after.person?.nickname).toBe('Renamed Person');
    expect(after.person?.phone).toBe(phone);
    expect(after.segments).toEqual([...new Set([...segments, 'churn-risk'])]);
    expect(site().peopleData.get(person.people_id)).toMatchObject({ plan: 'business' });
    expect(site().peopleData.get(person.people_id)).not.toHaveProperty('mrr');
    expect((await call('update_person', { people_id: person.people_id })).text).toMatch(/nothing to update/);
  });

  it('says where to check when an event\'s answer is lost, and does not add it twice', async () => {
    const person = [...site().people.values()][4]!;
    const before = site().peopleEvents.get(person.people_id)?.length ?? 0;
    sandbox.faults.burst({ fault: { kind: 'drop-after' }, count: 1, method: 'POST' });
    try {
      const { text, isError } = await call('add_person_event', { people_id: person.people_id, text: 'Answer lost' });
      expect(isError).toBe(true);
      expect(text).toBe("Crisp did not answer, so the write may or may not have happened: check before trying again (get_person shows a contact's events, get_conversation a conversation), since a resend could do it twice.");
    } finally {
      sandbox.faults.clear();
    }
    expect(site().peopleEvents.get(person.people_id)!.filter((e) => e.text === 'Answer lost')).toHaveLength(1);
    expect(site().peopleEvents.get(person.people_id)!.length).toBe(before + 1);
  });

  it('adds an event, and says when the person does not exist', async () => {
    const person = [...site().people.values()][3]!;
    await call('add_person_event', { people_id: person.people_id, text: 'Refund issued', color: 'green', data: { amount: 49 } });
    expect(site().peopleEvents.get(person.people_id)!.at(-1)).toMatchObject({ text: 'Refund issued', color: 'green', data: { amount: 49 } });
    const missing = await call('get_person', { people_id: 'nobody@example.test' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/^people_id: no contact profile has the email nobody@example\.test .*update_conversation_meta/);
    const unknownId = await call('get_person', { people_id: 'f0f0f0f0-0000-4000-8000-000000000000' });
    expect(unknownId.text).toMatch(/^Not found: .*search_people/);
  });
});
