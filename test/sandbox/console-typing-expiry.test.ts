// The console in a real Chromium against `crisp-mcp sandbox`: an operator tab closed while typing
// sends no `stop`, and Crisp keeps the compose atom; the visitor's seat shows "… is typing…" for 3
// minutes after the `start` and then no more, as Crisp's web chatbox does (crisp-im/crisp-sdk-android#199).
// The visitor's seat runs on Playwright's fake clock. And the operator composer refuses text of only
// zero-width characters with the visitor side's words, keeping it in the box.
import type { Crisp } from 'crisp-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { spawnSandboxCli, type SandboxChild } from '../helpers/sandbox-cli.js';
import { officialClient } from '../helpers/official-rtm.js';

describeWithChromium('sandbox console: typing nobody stops, and invisible text (Chromium)', (executable) => {
  let sandbox: SandboxChild;
  let browser: TestBrowser;
  let official: InstanceType<typeof Crisp>;

  beforeAll(async () => {
    sandbox = await spawnSandboxCli([]);
    official = officialClient(sandbox.url, sandbox);
    browser = await launchChromium(executable);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
  });

  async function newConversation(text: string): Promise<string> {
    const started = await fetch(`${sandbox.url}/_sandbox/websites/${sandbox.website_id}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'Waiting Visitor', text }) });
    return ((await started.json()) as { data: { session_id: string } }).data.session_id;
  }

  it('an operator tab closed mid-typing shows "… is typing…" for 3 minutes after its start, then not; Crisp’s compose atom stays', async () => {
    const session = await newConversation('Anyone there?');
    const visitorSeat = await browser.context.newPage();
    await visitorSeat.clock.install();
    const operatorSeat = await browser.context.newPage();
    for (const page of [visitorSeat, operatorSeat]) {
      await page.goto(`${sandbox.url}/#${session}`);
      await page.locator('.message.visitor').waitFor();
      await page.locator('#live.on').waitFor();
    }
    await operatorSeat.locator('#operator-text').pressSequentially('Let me check');
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toMatch(/ is typing…$/);
    // The tab goes with its text unsent: no `stop` is sent.
    await operatorSeat.close();
    const atom = () => official.website.getConversation(sandbox.website_id, session) as Promise<{ compose: { operator?: { type: string } } }>;
    expect((await atom()).compose.operator).toMatchObject({ type: 'start' });

    await visitorSeat.clock.fastForward('02:30');
    expect(await visitorSeat.locator('.typing').textContent()).toMatch(/ is typing…$/);
    await visitorSeat.clock.fastForward('00:31');
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toBe('');
    // The sandbox, like Crisp, keeps the atom: the timeout is the reader's.
    expect((await atom()).compose.operator).toMatchObject({ type: 'start' });
    await visitorSeat.close();
  }, 60_000);

  it('the operator composer refuses text of only zero-width characters with the visitor side’s words, and keeps it in the box', async () => {
    const session = await newConversation('Hello?');
    const page = await browser.context.newPage();
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor').waitFor();
    const before = ((await official.website.getMessagesInConversation(sandbox.website_id, session)) as unknown[]).length;
    const invisible = '\u200b\u200c\u200d\u2060\ufeff';
    await page.locator('#operator-text').fill(invisible);
    await page.locator('#operator-text').press('Enter');
    await expect.poll(() => page.locator('#problem').textContent()).toContain("the text is only whitespace or invisible characters, which neither Crisp's chatbox nor its app sends");
    expect(await page.locator('#operator-text').inputValue()).toBe(invisible);
    expect(((await official.website.getMessagesInConversation(sandbox.website_id, session)) as unknown[]).length).toBe(before);
    await page.close();
  }, 60_000);
});
