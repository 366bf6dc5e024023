// The conversation record (engine/record.ts): what earlier releases saved reads as a record, with
// the real stores in between (SQLite file, Redis), and a channel's write keeps the other parts.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshState } from '../../src/autopilot/state.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { loadRecord, readRecord, saveRecord, withChannel, withPosition } from '../../src/engine/record.js';
import { initialPosition } from '../../src/scenario/index.js';
import type { Store } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ECHO_SCENARIO } from '../helpers/autopilot.js';
import { describeWithRedis, useRedis } from '../helpers/redis.js';

const program = scenarioLibraryFromTexts([{ file: 'echo.json', source: ECHO_SCENARIO }]).require('echo').program;
const position = initialPosition(program);
const autopilot = { ...freshState(), paused: { reason: 'operator' as const, at: 5, by: 'op' } };

describe('readRecord', () => {
  it.each([
    ['nothing saved', undefined, { v: 2, scenario: null, channels: {} }, false],
    ['a bare position (MCP tools, previous release)', position, { v: 2, scenario: position, channels: {} }, false],
    ['a position + autopilot (autopilot, previous release)', { ...position, autopilot }, { v: 2, scenario: position, channels: { autopilot } }, false],
    ['a record', { v: 2, scenario: position, channels: { autopilot, converse: { x: 1 } } }, { v: 2, scenario: position, channels: { autopilot, converse: { x: 1 } } }, false],
    ['a record with a broken position keeps the channels', { v: 2, scenario: { pc: 'x' }, channels: { autopilot } }, { v: 2, scenario: null, channels: { autopilot } }, true],
    ['a converse session (converse API, previous release)', { kind: 'converse_session', conversationId: 'c', status: 'active', session: 1, position, inboxSeq: 4 }, { v: 2, scenario: position, channels: { converse: { kind: 'converse_session', conversationId: 'c', status: 'active', session: 1, inboxSeq: 4 } } }, false],
    ['a converse session opened by metadata alone (no position yet)', { kind: 'converse_session', session: 1, position: null }, { v: 2, scenario: null, channels: { converse: { kind: 'converse_session', session: 1 } } }, false],
    ['something else', { hello: 'world' }, { v: 2, scenario: null, channels: {} }, true],
  ])('%s', (_what, value, record, unreadable) => {
    expect(readRecord(value)).toEqual({ record, unreadable });
  });

  it('a channel writes its own part; the position and the other parts stay', () => {
    const { record } = readRecord({ ...position, autopilot });
    const moved = { ...position, block: 'echo', pc: 3 };
    expect(withPosition(record, moved)).toEqual({ v: 2, scenario: moved, channels: { autopilot } });
    expect(withChannel(record, 'converse', { s: 1 })).toEqual({ v: 2, scenario: position, channels: { autopilot, converse: { s: 1 } } });
  });
});

function migrates(open: () => Promise<Store>) {
  return async () => {
    const store = await open();
    try {
      const key = `web/${randomUUID()}`;
      expect((await store.savePosition(key, 'echo', { ...position, autopilot }, { expectedVersion: 0 })).ok).toBe(true);
      const loaded = await loadRecord(store, key, 'echo');
      expect(loaded).toMatchObject({ version: 1, unreadable: false, record: { v: 2, scenario: position, channels: { autopilot } } });
      const moved = { ...position, block: 'echo' };
      expect((await saveRecord(store, key, 'echo', withPosition(loaded.record, moved), { expectedVersion: 1 })).ok).toBe(true);
      expect((await store.getPosition(key, 'echo'))!.value).toEqual({ v: 2, scenario: moved, channels: { autopilot } });
      // Compare-and-set on the whole record: a save against the old version writes nothing.
      expect(await saveRecord(store, key, 'echo', withChannel(loaded.record, 'autopilot', freshState()), { expectedVersion: 1 })).toEqual({ ok: false, current: 2 });
    } finally {
      await store.close();
    }
  };
}

describe('records of the previous release in a real store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-record-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('SQLite', migrates(async () => new SqliteStore(join(dir, 'state.db'))));

  describeWithRedis('Redis migration', () => {
    const redis = useRedis();
    it('Redis', migrates(() => RedisStore.connect(redis().url, { prefix: `test:${randomUUID()}:` })));
  });
});
