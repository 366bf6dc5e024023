import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineTool, selectTools, SelectionError, type Selection, type ToolsetInfo } from '../../src/mcp/tools/define.js';
import { Guard, GuardError } from '../../src/mcp/guard.js';

const tool = (name: string, toolset: string, readOnly: boolean) =>
  defineTool({
    name,
    toolset,
    title: name,
    description: name,
    inputSchema: z.object({}),
    outputSchema: z.object({}),
    annotations: { readOnlyHint: readOnly, destructiveHint: false, idempotentHint: readOnly, openWorldHint: true },
    handler: async () => ({}),
    text: () => name,
  });

const ALL = [
  tool('send_message', 'conversations', false),
  tool('list_conversations', 'conversations', true),
  tool('assign_conversation', 'routing', false),
  tool('list_operators', 'routing', true),
  tool('get_person', 'people', true),
  tool('draft_scenario_reply', 'scenarios', true),
];
const SETS: ToolsetInfo[] = [
  { id: 'conversations', description: '', default: true },
  { id: 'routing', description: '', default: true },
  { id: 'people', description: '', default: true },
  { id: 'scenarios', description: '', default: false },
];

const names = (s: Selection) => selectTools(ALL, SETS, s).map((t) => t.name);

describe('selectTools', () => {
  it.each<[string, Selection, string[]]>([
    ['defaults: the default toolsets, sorted by toolset then name', { readOnly: false }, ['list_conversations', 'send_message', 'get_person', 'assign_conversation', 'list_operators']],
    ['read-only removes every write tool', { readOnly: true }, ['list_conversations', 'get_person', 'list_operators']],
    ['--toolsets replaces the defaults', { readOnly: false, toolsets: ['routing', 'scenarios'] }, ['assign_conversation', 'list_operators', 'draft_scenario_reply']],
    ['--toolsets all', { readOnly: false, toolsets: ['all'] }, ['list_conversations', 'send_message', 'get_person', 'assign_conversation', 'list_operators', 'draft_scenario_reply']],
    ['--tools alone selects just those, skipping the toolset check', { readOnly: false, tools: ['draft_scenario_reply', 'get_person'] }, ['get_person', 'draft_scenario_reply']],
    ['--tools adds to --toolsets', { readOnly: false, toolsets: ['routing'], tools: ['get_person'] }, ['get_person', 'assign_conversation', 'list_operators']],
    ['exclude beats include', { readOnly: false, tools: ['send_message', 'get_person'], exclude: ['send_message'] }, ['get_person']],
    ['read-only wins over an explicitly named write tool', { readOnly: true, tools: ['send_message', 'list_operators'] }, ['list_operators']],
  ])('%s', (_, selection, expected) => {
    expect(names(selection)).toEqual(expected);
  });

  it('refuses unknown names, listing the valid ones', () => {
    expect(() => names({ readOnly: false, toolsets: ['conversation'] })).toThrow(SelectionError);
    expect(() => names({ readOnly: false, toolsets: ['conversation'] })).toThrow(/unknown toolset conversation; valid: all, conversations, routing, people, scenarios/);
    expect(() => names({ readOnly: false, exclude: ['send'] })).toThrow(/unknown tool send; valid: .*send_message/);
  });

  it('refuses a selection that leaves no tool, naming the flag that emptied it', () => {
    expect(() => names({ readOnly: false, tools: [] })).toThrow('no tool left to serve: --tools names none');
    expect(() => names({ readOnly: false, toolsets: [], tools: [] })).toThrow('no tool left to serve: --toolsets and --tools name none');
    expect(() => names({ readOnly: true, tools: ['send_message', 'assign_conversation'] })).toThrow('--read-only removes every write tool, and only write tools are selected (send_message, assign_conversation)');
    expect(() => names({ readOnly: false, toolsets: ['scenarios'], exclude: ['draft_scenario_reply'] })).toThrow('--exclude-tools removes every selected tool; exclude fewer');
  });
});

describe('Guard', () => {
  const W1 = '42286ab3-b29a-4fde-8538-da0ae501d825';
  const W2 = '9972daab-2c86-459f-9d78-3fe1be4e3280';
  const guard = new Guard([W1, W2]);

  it('defaults to the first website and allows the listed ones', () => {
    expect(guard.website(undefined)).toBe(W1);
    expect(guard.website('')).toBe(W1);
    expect(guard.website(W2)).toBe(W2);
  });

  it('refuses a website off the allow-list, saying what is allowed', () => {
    const attempt = () => guard.website('00000000-0000-4000-8000-000000000000');
    expect(attempt).toThrow(GuardError);
    expect(attempt).toThrow(/website 00000000-0000-4000-8000-000000000000 is not in CRISP_WEBSITE_ID; allowed: .*omit website_id to use 42286ab3/);
  });
});
