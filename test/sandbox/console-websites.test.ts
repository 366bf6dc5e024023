// The console of `crisp-mcp sandbox --websites 2`, in a real Chromium: a conversation link of the
// second website (the `url` tools hand out) opens that website's inbox on that conversation, the
// header names the website and links the other, and one website's inbox never shows the other's.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { spawnSandboxCli, type SandboxChild } from '../helpers/sandbox-cli.js';

describeWithChromium('sandbox console with several websites (Chromium)', (executable) => {
  let sandbox: SandboxChild;
  let browser: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sandbox = await spawnSandboxCli(['--websites', '2']);
    browser = await launchChromium(executable);
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
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
