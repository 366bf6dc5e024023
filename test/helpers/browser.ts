// A real Chromium for the console tests: Debian's /usr/bin/chromium (or CHROMIUM), driven by
// playwright-core, never a downloaded browser. `chromiumAvailability()` says up front whether the
// browser suites can run, so they skip with a visible reason locally; under CI=true (.ci/run
// installs chromium with apt) a missing browser is a failure, not a skip.
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { describe, test } from 'vitest';

export type ChromiumAvailability = { ok: true; executable: string } | { ok: false; reason: string };

export function chromiumAvailability(): ChromiumAvailability {
  const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
  try {
    accessSync(executable, constants.X_OK);
    return { ok: true, executable };
  } catch {
    return { ok: false, reason: `no Chromium at ${executable} (apt-get install chromium, or set CHROMIUM)` };
  }
}

/** Declares the suite, or its skip (locally) or its failure (CI=true) when there is no Chromium. */
export function describeWithChromium(name: string, suite: (executable: string) => void): void {
  const found = chromiumAvailability();
  if (found.ok) describe(name, () => suite(found.executable));
  else if (process.env.CI === 'true') {
    test(`${name}: Chromium is required under CI`, () => {
      throw new Error(found.reason);
    });
  } else {
    console.warn(`[${name}] SKIPPED: ${found.reason}`);
    describe.skip(`${name} (skipped: ${found.reason})`, () => test('browser', () => {}));
  }
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile and no background traffic (no sync, updates, QUIC). */
export async function launchChromium(executable: string, viewport = { width: 1280, height: 800 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'crisp-mcp-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots go when UPDATE_SCREENSHOTS=1 (docs/sandbox.md shows them); undefined otherwise. */
export function screenshotPath(name: string): string | undefined {
  return process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)) : undefined;
}
