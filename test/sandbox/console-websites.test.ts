// The console of `crisp-mcp sandbox --websites 2`, in a real Chromium: a conversation link of the
// second website (the `url` tools hand out) opens that website's inbox on that conversation, the
// header names the website and links the other, and one website's inbox never shows the other's.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { CLI } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';

interface Started {
  child: ChildProcess;
  url: string;
  website_id: string;
  website_ids: string[];
}

describeWithChromium('sandbox console with several websites (Chromium)', (executable) => {
  let sandbox: Started;
  let browser: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const child = spawn(process.execPath, [CLI, 'sandbox', '--port', '0', '--json', '--websites', '2'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const line = await eventually(() => stdout.includes('\n') && stdout.split('\n')[0], 15_000, 'the sandbox starting');
    sandbox = { child, ...(JSON.parse(line) as Omit<Started, 'child'>) };
    browser = await launchChromium(executable);
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (sandbox && sandbox.child.exitCode === null) {
      await new Promise<void>((done) => {
        sandbox.child.once('exit', () => done());
        sandbox.child.kill('SIGTERM');
      });
    }
  });

  const visitorStarts = async (website: string, nickname: string) => {
    const response = await fetch(`${sandbox.url}/_sandbox/websites/${website}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname, text: 'hello' }) });
    return ((await response.json()) as { data: { session_id: string } }).data.session_id;
  };
  const row = (session: string) => page.locator(`#conversations li[data-session="${session}"]`);

  it("a conversation link of the second website opens that website's inbox on it; the header links the first", async () => {
    const [first, second] = sandbox.website_ids as [string, string];
    const onSecond = await visitorStarts(second, 'Second Site Visitor');
    const onFirst = await visitorStarts(first, 'First Site Visitor');
    await page.goto(`${sandbox.url}/website/${second}/inbox/${onSecond}/`);
    await expect.poll(() => page.locator('.details h2').textContent()).toBe('Second Site Visitor');
    await expect.poll(() => row(onSecond).count()).toBe(1);
    expect(await row(onFirst).count()).toBe(0);
    expect(await page.locator('#website').textContent()).toContain(`Bluebird Books ${second}`);

    await page.locator('#website a', { hasText: 'Acme Cloud' }).click();
    await expect.poll(() => row(onFirst).count()).toBe(1);
    expect(await row(onSecond).count()).toBe(0);
    // A visitor writing on the other website does not show in this inbox.
    const later = await visitorStarts(second, 'Later Visitor');
    const another = await visitorStarts(first, 'Another Visitor');
    await expect.poll(() => row(another).count()).toBe(1);
    expect(await row(later).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
  it('on a narrow window the header still names the website and links the other, which opens its inbox', async () => {
    const [first, second] = sandbox.website_ids as [string, string];
    const onSecond = await visitorStarts(second, 'Narrow Second Visitor');
    await page.setViewportSize({ width: 380, height: 700 });
    try {
      await page.goto(`${sandbox.url}/`);
      await page.locator('#live.on').waitFor();
      await expect.poll(() => page.locator('#website').isVisible()).toBe(true);
      expect(await page.locator('#website').textContent()).toContain(`Acme Cloud ${first}`);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
      await page.locator('#website a', { hasText: 'Bluebird Books' }).click();
      await expect.poll(() => row(onSecond).count()).toBe(1);
      expect(await page.locator('#website').textContent()).toContain(`Bluebird Books ${second}`);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('a link naming a website this sandbox does not have says so in the header, over the default inbox it shows', async () => {
    const [first] = sandbox.website_ids as [string, string];
    await page.goto(`${sandbox.url}/?website=00000000-0000-4000-8000-00000000dead`);
    await page.locator('#live.on').waitFor();
    expect(await page.locator('#website').textContent()).toBe(`no website 00000000-0000-4000-8000-00000000dead in this sandbox, so: website Acme Cloud ${first} · Bluebird Books`);
    expect(pageErrors).toEqual([]);
  });
});
