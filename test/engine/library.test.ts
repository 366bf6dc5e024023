// Loading the scenario library at boot: every *.json of a directory compiled once; a bad file
// stops the boot with every problem of every file; names are unique.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultScenariosDir, loadScenarioLibrary, ScenarioLibraryError, SHIPPED_SCENARIOS_DIR } from '../../src/engine/library.js';
import { scenarioLibraryFromTexts } from '../../src/engine/compile-scenarios.js';
import { SCENARIOS_DIR } from '../mcp/scenario-fixtures.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-lib-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const gdpr = readFileSync(join(SCENARIOS_DIR, 'gdpr.json'), 'utf8');

describe('loadScenarioLibrary', () => {
  it('compiles every example scenario once, keeping source, program, summary and description', async () => {
    const library = await loadScenarioLibrary(SCENARIOS_DIR);
    expect(library.names()).toEqual(['booking', 'cancel-account', 'gdpr', 'handoff', 'newsletter', 'weekend-support']);
    const s = library.get('gdpr')!;
    expect(s.file).toBe(join(SCENARIOS_DIR, 'gdpr.json'));
    expect(s.source).toBe(gdpr);
    expect(s.description).toMatch(/^A question about GDPR/);
    expect(s.summary).toMatchObject({ scenario: 'gdpr', start: 'route', waiting_points: ['route', 'gdpr_answer', 'more'] });
    expect(s.program.code.length).toBe(s.summary.instructions);
    expect(s.warnings).toEqual([]);
    expect(library.list().map((x) => x.name)).toEqual(library.names());
  });

  it('reads a file saved with a byte order mark, as scenario validate does', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'gdpr.json'), `\uFEFF${gdpr}`);
    const library = await loadScenarioLibrary(dir);
    expect(library.get('gdpr')?.description).toMatch(/^A question about GDPR/);
    expect(library.get('gdpr')?.source).toBe(gdpr); // without the mark: the scenario resource parses it
    expect(library.get('gdpr')?.program.hash).toBe((await loadScenarioLibrary(SCENARIOS_DIR)).get('gdpr')?.program.hash);
  });

  it('fails the boot on a bad file, listing each file and each problem with its block path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'gdpr.json'), gdpr);
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ name: 'broken', version: 1, start: 'a', blocks: { a: { type: 'message', text: 'hi', next: 'missing' } } }));
    writeFileSync(join(dir, 'not-json.json'), '{ "name": ');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const error = await loadScenarioLibrary(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScenarioLibraryError);
    const e = error as ScenarioLibraryError;
    expect(e.code).toBe('scenario_invalid');
    expect(e.files.map((f) => f.file)).toEqual([join(dir, 'broken.json'), join(dir, 'not-json.json')]);
    expect(e.message.split('\n')[0]).toBe('2 scenario files did not compile (fix them, or check with `crisp-mcp scenario validate FILE`):');
    expect(e.message).toContain(`${join(dir, 'broken.json')}:\n  blocks.a.next: `);
    expect(e.message).toMatch(/missing/);
    expect(e.message).toContain(`${join(dir, 'not-json.json')}:\n  (file): `);
  });

  it('refuses two files with one scenario name, and a missing directory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), gdpr);
    writeFileSync(join(dir, 'b.json'), gdpr);
    await expect(loadScenarioLibrary(dir)).rejects.toThrow(/two scenarios are named "gdpr": .*a\.json and .*b\.json/);
    await expect(loadScenarioLibrary(join(dir, 'nope'))).rejects.toThrow(/--scenarios .*nope: no such directory/);
  });

  it('an empty directory is an empty library, whose lookups say nothing is loaded', async () => {
    const library = await loadScenarioLibrary(tempDir());
    expect(library.size).toBe(0);
    expect(() => library.require('gdpr')).toThrow(/unknown scenario "gdpr": no scenarios are loaded from /);
  });

  it('says which files of the folder look like scenarios in another format and were not read, on both load paths', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'gdpr.json'), gdpr);
    for (const name of ['booking.yaml', 'faq.yml', 'old.json5', 'UPPER.JSON', 'notes.txt']) writeFileSync(join(dir, name), 'name: x');
    for (const onFirstUse of [false, true]) {
      const library = await (await loadScenarioLibrary(dir, { onFirstUse })).compiled();
      expect(library.notRead).toEqual(['UPPER.JSON', 'booking.yaml', 'faq.yml', 'old.json5']);
      expect(library.names()).toEqual(['gdpr']);
      expect(() => library.require('booking')).toThrow('unknown scenario "booking"; valid: gdpr (list_scenarios); not read: UPPER.JSON, booking.yaml, faq.yml, old.json5 (scenario files are JSON, named *.json)');
    }
    // A folder of JSON only has nothing to say.
    const clean = tempDir();
    writeFileSync(join(clean, 'gdpr.json'), gdpr);
    expect(() => (scenarioLibraryFromTexts([{ file: 'gdpr.json', source: gdpr }])).require('x')).toThrow(/\(list_scenarios\)$/);
    expect((await loadScenarioLibrary(clean)).notRead).toEqual([]);
  });

  it('unknown names list the valid ones', () => {
    const library = scenarioLibraryFromTexts([{ file: 'gdpr.json', source: gdpr }]);
    expect(() => library.require('gpdr')).toThrow('unknown scenario "gpdr"; valid: gdpr (list_scenarios)');
  });
});

describe('defaultScenariosDir', () => {
  it('is ./scenarios when that directory exists, else the shipped examples, else none', () => {
    const dir = tempDir();
    const shipped = join(dir, 'shipped');
    expect(defaultScenariosDir(dir, shipped)).toBeUndefined();
    mkdirSync(shipped);
    expect(defaultScenariosDir(dir, shipped)).toBe(shipped);
    mkdirSync(join(dir, 'scenarios'));
    expect(defaultScenariosDir(dir, shipped)).toBe(join(dir, 'scenarios'));
  });

  it('ships the example scenarios with the package', () => {
    expect(readdirSync(SHIPPED_SCENARIOS_DIR)).toContain('gdpr.json');
  });
});

describe('loadScenarioLibrary refusals', () => {
  it('says when --scenarios names a file', async () => {
    const file = join(tempDir(), 'gdpr.json');
    writeFileSync(file, gdpr);
    await expect(loadScenarioLibrary(file)).rejects.toThrow(`--scenarios ${file} is a file: point it at the directory that holds the scenario files (*.json)`);
  });
});
