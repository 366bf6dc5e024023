// The tool surface is a contract: each tool's tools/list entry (keys sorted) is compared with
// test/mcp/__toolsnaps__/<name>.json. UPDATE_TOOLSNAPS=1 npm test rewrites them; under CI=true a
// missing snapshot fails. Inventory-wide invariants are checked beside them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeFlags, resolveConfig } from '../../src/config.js';
import { CrispClient } from '../../src/crisp/index.js';
import { createLogger } from '../../src/log.js';
import { Guard } from '../../src/mcp/guard.js';
import { loadScenarioLibrary } from '../../src/engine/library.js';
import { buildServer, toolsFor } from '../../src/mcp/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { ALL_TOOLS, TOOLSETS } from '../../src/mcp/tools/index.js';
import { connectStdio } from '../helpers/stdio.js';
import { openCrispConversations } from '../../src/commands/crisp-conversation.js';

const DIR = fileURLToPath(new URL('./__toolsnaps__/', import.meta.url));
const WEBSITE = '42286ab3-b29a-4fde-8538-da0ae501d825';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  return value;
}

let client: Client;
let listed: Awaited<ReturnType<Client['listTools']>>['tools'];
const crisp = new CrispClient({ baseUrl: 'http://127.0.0.1:9', credentials: { identifier: 'i', key: 'k', tier: 'plugin' } });

beforeAll(async () => {
  // With a scenario library and a store, so that the scenarios toolset is registered too.
  const scenarios = await loadScenarioLibrary(fileURLToPath(new URL('../../scenarios/', import.meta.url)));
  const deps = { crisp, guard: new Guard([WEBSITE]), config: resolveConfig(parseServeFlags(['--sandbox']), { env: {} }), log: createLogger('silent'), scenarios, store: new MemoryStore(), openConversation: openCrispConversations(crisp) };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await buildServer(toolsFor({ readOnly: false, toolsets: ['all'] }), deps).connect(serverSide);
  client = new Client({ name: 'snap', version: '1.0.0' });
  await client.connect(clientSide);
  listed = (await client.listTools()).tools;
});
afterAll(async () => {
  await client.close();
  await crisp.close();
});

describe('tool snapshots', () => {
  it('lists every tool', () => {
    expect(listed.map((t) => t.name).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
  });

  for (const tool of ALL_TOOLS) {
    it(`${tool.name} matches its snapshot`, () => {
      const entry = listed.find((t) => t.name === tool.name)!;
      const json = `${JSON.stringify(sortKeys(entry), null, 2)}\n`;
      const file = `${DIR}${tool.name}.json`;
      if (process.env.UPDATE_TOOLSNAPS === '1' || (!existsSync(file) && process.env.CI !== 'true')) {
        mkdirSync(DIR, { recursive: true });
        writeFileSync(file, json);
      }
      expect(existsSync(file), `missing ${file}: run UPDATE_TOOLSNAPS=1 npm test and commit it`).toBe(true);
      expect(json).toBe(readFileSync(file, 'utf8'));
    });
  }
});

describe('inventory invariants', () => {
  const toolsets = new Set(TOOLSETS.map((t) => t.id));

  it.each(ALL_TOOLS.map((t) => [t.name, t] as const))('%s is well formed', (_, tool) => {
    expect(tool.name).toMatch(/^(list|get|find|search|send|set|update|add|assign|mark|draft|post|reset)_[a-z_]+$/);
    expect(toolsets.has(tool.toolset)).toBe(true);
    expect(tool.title.length).toBeGreaterThan(0);
    for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) expect(typeof tool.annotations[hint]).toBe('boolean');
    expect(tool.annotations.readOnlyHint && tool.annotations.destructiveHint).toBe(false);
    expect(tool.description.split('\n').length).toBeLessThanOrEqual(2);
    expect(tool.description.length).toBeLessThanOrEqual(200);
    const schema = listed.find((t) => t.name === tool.name)!.inputSchema as Record<string, unknown>;
    for (const combinator of ['anyOf', 'oneOf', 'allOf']) expect(schema).not.toHaveProperty(combinator);
  });

  it('stays at 25 tools or fewer, and read-only selection keeps no write tool', () => {
    expect(ALL_TOOLS.length).toBeLessThanOrEqual(25);
    const readOnly = toolsFor({ readOnly: true, toolsets: ['all'] });
    expect(readOnly.length).toBeGreaterThan(0);
    expect(readOnly.every((t) => t.annotations.readOnlyHint)).toBe(true);
  });

  it('keeps what a model reads of every tool (name, description, input schema) at 3.5k tokens or fewer (chars / 4)', () => {
    const tokens = JSON.stringify(listed.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }))).length / 4;
    expect(tokens, `name + description + input schema is ${tokens} tokens`).toBeLessThanOrEqual(3_500);
  });

  it('keeps the whole tools/list at 6k tokens or fewer (chars / 4)', () => {
    const tokens = JSON.stringify(listed).length / 4;
    expect(tokens, `tools/list is ${tokens} tokens`).toBeLessThanOrEqual(6_000);
  });

  it('keeps tools/list at the original 18 tools (before find_conversations, search_helpdesk, get_article) at 5k tokens or fewer', () => {
    const later = new Set(['find_conversations', 'search_helpdesk', 'get_article']);
    const original = listed.filter((t) => !later.has(t.name));
    expect(original).toHaveLength(18);
    const tokens = JSON.stringify(original).length / 4;
    expect(tokens, `tools/list at 18 tools is ${tokens} tokens`).toBeLessThanOrEqual(5_000);
  });
});

describe('the built CLI', () => {
  // The bundle serves JSON Schemas converted at build time (BUILT_TOOL_SCHEMAS, build/bundle.js):
  // its tools/list must be the very contract the snapshots hold, not a stale or differently trimmed copy.
  it('lists, over stdio, exactly the snapshots', async () => {
    const home = mkdtempSync(join(tmpdir(), 'crisp-mcp-snap-'));
    const { client: built } = await connectStdio(['serve', '--sandbox'], { env: { HOME: home, XDG_STATE_HOME: home } });
    try {
      const { tools } = await built.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
      for (const entry of tools) expect(`${JSON.stringify(sortKeys(entry), null, 2)}\n`, entry.name).toBe(readFileSync(`${DIR}${entry.name}.json`, 'utf8'));
    } finally {
      await built.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
