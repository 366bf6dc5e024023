// Every tool's input, generated from the JSON Schema it advertises: values inside the schema and
// values that break it in one field, sent by a real MCP client to the server over the sandbox.
// Never a crash or a protocol error: a result, or an isError whose text names the field at fault.
import type { Client } from '@modelcontextprotocol/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../../src/mcp/tools/index.js';
import { MemoryStore } from '../../src/store/index.js';
import { McpHarness } from '../helpers/mcp.js';
import { SATURDAY_NOON_PARIS, testLibrary } from '../mcp/scenario-fixtures.js';
import { brokenArguments, inside, type JsonSchema, type Known } from './json-schema.js';

/** Generated calls per tool, each kind; docs/operating.md's Reliability section quotes these numbers. */
export const INSIDE_RUNS = 40;
export const BROKEN_RUNS = 40;

let harness: McpHarness;
let client: Client;
let tools: Array<{ name: string; inputSchema: JsonSchema }>;
let known: Known;

beforeAll(async () => {
  harness = await McpHarness.start({ seed: 31, scenarios: { scenarios: testLibrary(), store: new MemoryStore(), clock: () => SATURDAY_NOON_PARIS } });
  client = harness.client;
  tools = (await client.listTools()).tools as typeof tools;
  const site = harness.sandbox.state.websites.get(harness.sandbox.websiteId)!;
  const operators = [...site.operators.values()];
  known = {
    website_id: [harness.sandbox.websiteId],
    session_id: [...site.conversations.keys()].slice(0, 5),
    people_id: [...site.people.keys()].slice(0, 5),
    operator: operators.flatMap((o) => [o.details.email, o.details.user_id]).filter((v): v is string => v !== undefined).slice(0, 6),
    scenario: ['gdpr', 'cancel-account', 'newsletter'],
  };
  const drafts: string[] = [];
  for (const session of known.session_id!.slice(0, 3)) {
    const draft = await call('draft_scenario_reply', { session_id: session, scenario: 'gdpr' });
    const id = draft.isError ? null : (draft.structured as { draft_id: string | null }).draft_id;
    if (id) drafts.push(id);
  }
  known.draft_id = drafts;
});
afterAll(() => harness.close());

interface Outcome {
  isError: boolean;
  text: string;
  structured: unknown;
}

async function call(name: string, args: Record<string, unknown>): Promise<Outcome> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as Array<{ type: string; text?: string }>;
  expect(content[0]?.type).toBe('text');
  return { isError: result.isError === true, text: content[0]!.text ?? '', structured: result.structuredContent };
}

/** What the server sees: the arguments after their trip through JSON. */
const wire = (args: Record<string, unknown>): Record<string, unknown> => JSON.parse(JSON.stringify(args)) as Record<string, unknown>;

describe('generated tool inputs', () => {
  it('every tool is covered', () => {
    expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
  });

  for (const def of ALL_TOOLS) {
    it(`${def.name}: inside and outside its schema, a result or an error naming the field`, { timeout: 120_000 }, async () => {
      const schema = tools.find((t) => t.name === def.name)!.inputSchema;
      const check = async (raw: Record<string, unknown>) => {
        const args = wire(raw);
        const outcome = await call(def.name, args);
        expect(outcome.text, 'never a crash').not.toMatch(/Internal error/i);
        expect(outcome.text.length).toBeGreaterThan(0);
        // The check the SDK runs on the arguments: the tool's Standard Schema validate (the zod schema, with null taken as leaving out an optional argument).
        const parsed = await def.inputSchema['~standard'].validate(args);
        if (parsed.issues) {
          expect(outcome.isError, `${JSON.stringify(args)} is outside the schema`).toBe(true);
          for (const issue of parsed.issues) {
            const first = issue.path?.[0];
            if (first !== undefined) expect(outcome.text, JSON.stringify(issue)).toContain(String(typeof first === 'object' ? first.key : first));
          }
        } else if (!outcome.isError) {
          expect(def.outputSchema.safeParse(outcome.structured).success, outcome.text).toBe(true);
        }
      };
      await fc.assert(fc.asyncProperty(inside(schema, known) as fc.Arbitrary<Record<string, unknown>>, check), { numRuns: INSIDE_RUNS });
      await fc.assert(fc.asyncProperty(brokenArguments(schema, known), check), { numRuns: BROKEN_RUNS });
    });
  }
});

describe('bugs the generated inputs found', () => {
  it('get_conversation with messages: 0 answers (it crashed reading the first of no messages), and its cursor leads to the latest messages', async () => {
    const session = known.session_id![0] as string;
    const zero = await call('get_conversation', { session_id: session, messages: 0 });
    expect(zero.isError, zero.text).toBe(false);
    const out = zero.structured as { messages: unknown[]; older_cursor: string | null };
    expect(out.messages).toEqual([]);
    const all = await call('list_messages', { session_id: session });
    const continued = await call('list_messages', { session_id: session, cursor: out.older_cursor });
    expect(continued.isError, continued.text).toBe(false);
    expect((continued.structured as { messages: unknown[] }).messages).toEqual((all.structured as { messages: unknown[] }).messages);
  });
});
