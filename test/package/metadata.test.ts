// The files that describe the package to the outside — package.json, server.json (the MCP
// Registry) and mcpb/manifest.json (the MCP Bundle) — say the same name and version.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseServeFlags } from '../../src/config.js';

interface HostEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
const pkg = read('package.json');
const server = read('server.json');
const manifest = read('mcpb/manifest.json');

describe('package metadata', () => {
  it('server.json and the bundle manifest carry package.json\'s version', () => {
    expect(server.version).toBe(pkg.version);
    expect(server.packages.map((p: { version: string }) => p.version)).toEqual([pkg.version]);
    expect(manifest.version).toBe(pkg.version);
  });

  it('server.json names the npm package, over stdio, and package.json claims it with mcpName', () => {
    expect(server.$schema).toBe('https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json');
    expect(pkg.mcpName).toBe(server.name);
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.description.length).toBeLessThanOrEqual(100);
    expect(server.packages).toEqual([expect.objectContaining({ registryType: 'npm', identifier: pkg.name, transport: { type: 'stdio' } })]);
  });

  it("server.json has what the registry's schema requires, only the fields it defines, and a described, choosable, secret-marked environment", () => {
    // The $schema above (2025-12-11): a server needs name, description and version; a package,
    // registryType, identifier and transport; each environment variable, a name.
    for (const field of ['name', 'description', 'version']) expect(server[field], field).toEqual(expect.any(String));
    expect(Object.keys(server).filter((key) => !['$schema', 'name', 'title', 'description', 'version', 'repository', 'websiteUrl', 'icons', 'packages', 'remotes', '_meta'].includes(key))).toEqual([]);
    const [npmPackage] = server.packages;
    expect(Object.keys(npmPackage).filter((key) => !['registryType', 'registryBaseUrl', 'identifier', 'version', 'fileSha256', 'runtimeHint', 'transport', 'runtimeArguments', 'packageArguments', 'environmentVariables'].includes(key))).toEqual([]);
    const inputFields = ['name', 'description', 'isRequired', 'format', 'value', 'isSecret', 'default', 'placeholder', 'choices', 'variables'];
    const variables = npmPackage.environmentVariables as Array<Record<string, unknown> & { name: string; description: string; default?: string; choices?: string[] }>;
    for (const variable of variables) {
      expect(Object.keys(variable).filter((key) => !inputFields.includes(key)), variable.name).toEqual([]);
      expect(variable.description.length, variable.name).toBeGreaterThan(10);
      if (variable.choices && variable.default !== undefined) expect(variable.choices, variable.name).toContain(variable.default);
      expect(variable.isSecret === true, variable.name).toBe(variable.name === 'CRISP_KEY');
    }
    // What the bundle's settings form offers, a registry client can set too.
    const formSettings = Object.entries(manifest.server.mcp_config.env as Record<string, string>).filter(([, value]) => value.startsWith('${user_config.'));
    expect(variables.map((v) => v.name).sort()).toEqual(formSettings.map(([name]) => name).sort());
    expect(server.title).toBe(manifest.display_name);
  });

  it("allowScripts decides every install script package-lock.json holds, better-sqlite3's allowed (npm 12 and later skip an undecided one)", () => {
    const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('better-sqlite3');
    expect(Object.keys(pkg.allowScripts).sort()).toEqual([...new Set(withScripts)].sort());
    expect(pkg.allowScripts['better-sqlite3']).toBe(true);
  });

  it('every environment variable server.json and the bundle set is one the server reads', () => {
    const config = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8');
    const names = [...server.packages[0].environmentVariables.map((v: { name: string }) => v.name), ...Object.keys(manifest.server.mcp_config.env)];
    for (const name of names) expect(config, name).toContain(`'${name}'`);
  });

  it('every mcp.json.example entry starts serve with flags serve accepts and variables the server reads', () => {
    const example = JSON.parse(readFileSync(new URL('../../mcp.json.example', import.meta.url), 'utf8')) as Record<string, { mcpServers?: Record<string, HostEntry>; servers?: Record<string, HostEntry> }>;
    const config = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8');
    const entries = Object.values(example).flatMap((host) => Object.entries({ ...host.mcpServers, ...host.servers }));
    expect(entries.length).toBeGreaterThanOrEqual(5);
    for (const [name, entry] of entries) {
      const serve = entry.args.indexOf('serve');
      expect(serve, `${name} runs serve`).toBeGreaterThanOrEqual(0);
      expect(() => parseServeFlags(entry.args.slice(serve + 1)), name).not.toThrow();
      for (const variable of Object.keys(entry.env ?? {})) expect(config, `${name}: ${variable}`).toContain(`'${variable}'`);
    }
  });

  it('the mcpb CLI accepts the bundle manifest', () => {
    const cli = join(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb')), 'cli', 'cli.js');
    const run = spawnSync(process.execPath, [cli, 'validate', fileURLToPath(new URL('../../mcpb/manifest.json', import.meta.url))], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/validation passes/i);
    expect(run.status).toBe(0);
  });

  it('the bundle marks the key sensitive, and the npm package ships a license', () => {
    expect(manifest.user_config.key.sensitive).toBe(true);
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8')).toMatch(/^MIT License/);
  });
});
