// The sandbox console as a newcomer meets it, in a real Chromium against `crisp-mcp sandbox` as
// they start it: hostile and right-to-left text, a slow network, links and the back button, the
// keyboard, an agent typing and writing (the page against what Crisp's REST API returns), two
// tabs, the sandbox stopped and restarted, or reset, under the open page, and an empty inbox.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { CLI } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';

interface Started {
  child: ChildProcess;
  url: string;
  website_id: string;
  identifier: string;
  key: string;
}

/** `crisp-mcp sandbox --json` on `port` (0: any), once it has printed where it listens. */
async function startSandbox(port: number): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'sandbox', '--port', String(port), '--json'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const line = await eventually(() => stdout.includes('\n') && stdout.split('\n')[0], 15_000, `the sandbox starting (stderr: ${stderr})`);
  return { child, ...(JSON.parse(line) as Omit<Started, 'child'>) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

describeWithChromium('sandbox console, as a newcomer meets it (Chromium)', (executable) => {
  let sandbox: Started;
  let browser: TestBrowser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox(0);
    browser = await launchChromium(executable);
    page = await browser.context.newPage();
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (sandbox) await stop(sandbox.child);
  });

  const conversations = () => `${sandbox.url}/_sandbox/websites/${sandbox.website_id}/conversations`;
  const post = async <T>(url: string, body: unknown, method = 'POST'): Promise<T> => {
    const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return ((await response.json()) as { data: T }).data;
  };
  const visitorStarts = async (body: { nickname?: string; text?: string }) => (await post<{ session_id: string }>(conversations(), body)).session_id;
  const rest = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers = {
      authorization: `Basic ${Buffer.from(`${sandbox.identifier}:${sandbox.key}`).toString('base64')}`,
      'x-crisp-tier': 'plugin',
      'user-agent': 'crisp-mcp-tests',
      'content-type': 'application/json',
    };
    const response = await fetch(`${sandbox.url}/v1/website/${sandbox.website_id}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return ((await response.json()) as { data: T }).data;
  };
  const shownSession = () => decodeURIComponent(new URL(page.url()).hash.slice(1));
  const heading = () => page.locator('.details h2');
  const row = (session: string) => page.locator(`#conversations li[data-session="${session}"]`);

  it('a nickname and messages with markup stay text, a javascript: file is not a link, Arabic reads right to left; the page logs no error', async () => {
    const session = await visitorStarts({ nickname: '<img src=x onerror="window.pwned=1">', text: '<script>window.pwned=2</script><b>bold?</b>' });
    await post(`${conversations()}/${session}/messages`, { content: 'مرحبا، أحتاج مساعدة في الفاتورة' });
    await post(`${conversations()}/${session}/messages`, { type: 'file', content: { name: 'invoice.pdf', url: 'javascript:window.pwned=3', type: 'application/pdf' } });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message[data-type="file"]').waitFor();

    expect(await heading().textContent()).toBe('<img src=x onerror="window.pwned=1">');
    expect(await row(session).locator('.name').textContent()).toBe('<img src=x onerror="window.pwned=1">');
    expect(await page.locator('.message .body').first().textContent()).toBe('<script>window.pwned=2</script><b>bold?</b>');
    expect(await page.locator('main img, main script, .thread b').count()).toBe(0);
    const file = page.locator('.message[data-type="file"] .body');
    expect(await file.locator('a').count()).toBe(0);
    await file.getByText('invoice.pdf').click();
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(await page.locator('.message .body', { hasText: 'مرحبا' }).evaluate((node) => node.matches(':dir(rtl)'))).toBe(true);
    expect(await page.locator('.message .body').first().evaluate((node) => node.matches(':dir(ltr)'))).toBe(true);
    // Before: a 401 for /favicon.ico on every load, and a CSP violation for the javascript: link.
    expect(consoleErrors).toEqual([]);
  });

  it("a field shows its answer or that it is not filled in, an event without text its namespace, an audio its length: nothing shows as raw JSON", async () => {
    const session = await visitorStarts({ nickname: 'Fields', text: 'hello' });
    const send = (type: string, content: unknown) => rest('POST', `/conversation/${session}/message`, { type, from: 'operator', origin: 'chat', content });
    await send('field', { id: 'email', text: 'Your email?', explain: 'We reply there', value: 'zoe@example.test' });
    await send('field', { id: 'phone', text: 'Your phone?', explain: 'Optional' });
    await send('event', { namespace: 'order:shipped' });
    await send('audio', { url: 'https://files.example.test/hello.mp3', type: 'audio/mpeg', duration: 12 });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message[data-type="audio"]').waitFor();
    expect(await page.locator('.message[data-type="field"] .body').allTextContents()).toEqual(['Your email? → zoe@example.test', 'Your phone? → (not filled in)']);
    expect(await page.locator('.message[data-type="event"] .body').textContent()).toBe('order:shipped');
    expect(await page.locator('.message[data-type="audio"] .body').textContent()).toBe('https://files.example.test/hello.mp3 (12s)');
    expect(await page.locator('.thread').textContent()).not.toContain('{');
  });

  it('a 200-character nickname without a space wraps: nothing is pushed off a wide or a narrow window', async () => {
    const session = await visitorStarts({ nickname: 'N'.repeat(200), text: 'y'.repeat(400) });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor').waitFor();
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
      const box = (await page.locator('#operator-send').boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(width);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('on a slow network, Enter pressed again and the Send button clicked while the first send travels post the message once', async () => {
    await page.goto(sandbox.url);
    const before = page.url();
    await page.click('#new-conversation');
    await page.waitForURL((url) => url.toString() !== before && url.hash.startsWith('#session_'));
    const session = shownSession();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/messages', async (route) => (await held, route.continue()));
    const box = page.locator('#visitor-text');
    await box.fill('Is anyone there?');
    await box.press('Enter');
    await box.press('Enter');
    await page.locator('#visitor-send').click({ force: true });
    expect(await page.locator('#visitor-send').isDisabled()).toBe(true);
    release();
    await page.locator('.message.visitor', { hasText: 'Is anyone there?' }).waitFor();
    await expect.poll(() => box.inputValue()).toBe('');
    await page.unroute('**/messages');
    const stored = await (await fetch(`${conversations()}/${session}/messages`)).json() as { data: Array<{ content: string }> };
    expect(stored.data.map((m) => m.content)).toEqual(['Is anyone there?']);
    expect(await page.locator('.message.visitor').count()).toBe(1);
    expect(await page.locator('#visitor-send').isDisabled()).toBe(false);

    // A picker's button clicked twice while the first click travels answers it once.
    const picker = { id: 'help', text: 'Did that help?', choices: [{ value: 'yes', label: 'Yes', selected: false }, { value: 'no', label: 'No', selected: false }] };
    await rest('POST', `/conversation/${session}/message`, { type: 'picker', from: 'operator', origin: 'chat', content: picker });
    const yes = page.locator('.message button[data-value="yes"]');
    await yes.waitFor();
    let releaseChoice!: () => void;
    const choiceHeld = new Promise<void>((resolve) => (releaseChoice = resolve));
    await page.route('**/choices', async (route) => (await choiceHeld, route.continue()));
    await yes.click();
    await yes.click({ force: true });
    expect(await yes.isDisabled()).toBe(true);
    releaseChoice();
    await page.locator('.message.visitor', { hasText: 'chose “Yes”' }).waitFor();
    await page.unroute('**/choices');
    const answers = (await (await fetch(`${conversations()}/${session}/messages`)).json()) as { data: Array<{ type: string; from: string }> };
    expect(answers.data.filter((m) => m.type === 'picker' && m.from === 'user')).toHaveLength(1);
  });

  it('answers that come back out of order: a late read of the thread never takes away a message a newer read showed', async () => {
    const session = await visitorStarts({ nickname: 'Out Of Order', text: 'first' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor', { hasText: 'first' }).waitFor();
    // The next read of the thread is answered by the sandbox at once, but that answer reaches the page last.
    let held: Request | undefined;
    let answered = false;
    let deliver!: () => void;
    const delivery = new Promise<void>((resolve) => (deliver = resolve));
    await page.route(`**/conversations/${session}`, async (route) => {
      if (held || route.request().method() !== 'GET') return route.continue();
      held = route.request();
      const answer = await route.fetch();
      answered = true;
      await delivery;
      await route.fulfill({ response: answer });
    });
    await post(`${conversations()}/${session}/messages`, { content: 'second' });
    await eventually(() => answered, 5_000, 'the page reading the thread');
    await post(`${conversations()}/${session}/messages`, { content: 'third' });
    await page.locator('.message.visitor', { hasText: 'third' }).waitFor();
    // Any message taken off the thread from here on, even for a moment, is recorded.
    await page.evaluate(`
      window.removedMessages = [];
      new MutationObserver((changes) => changes.forEach((change) => change.removedNodes.forEach((node) => window.removedMessages.push(node.textContent))))
        .observe(document.querySelector('.thread'), { childList: true });
    `);
    const lateAnswer = page.waitForEvent('requestfinished', (request) => request === held);
    deliver();
    await lateAnswer;
    await page.evaluate('new Promise((resolve) => setTimeout(resolve, 200))');
    expect(await page.evaluate('window.removedMessages')).toEqual([]);
    expect(await page.locator('.message.visitor .body').allTextContents()).toEqual(['first', 'second', 'third']);
    await page.unroute(`**/conversations/${session}`);
  });

  it('the hash is the conversation: a link to another opens it, the back button returns to the one before, an unknown one says what to do', async () => {
    const first = await visitorStarts({ nickname: 'First Visitor', text: 'one' });
    const second = await visitorStarts({ nickname: 'Second Visitor', text: 'two' });
    await page.goto(sandbox.url);
    await row(first).locator('button').click();
    await expect.poll(() => heading().textContent()).toBe('First Visitor');
    await row(second).locator('button').click();
    await expect.poll(() => heading().textContent()).toBe('Second Visitor');
    await page.goBack();
    expect(shownSession()).toBe(first);
    await expect.poll(() => heading().textContent()).toBe('First Visitor');
    await page.goBack();
    await page.locator('.conversation .empty', { hasText: 'Pick a conversation' }).waitFor();
    await page.goForward();
    await expect.poll(() => heading().textContent()).toBe('First Visitor');

    // As a Crisp app link does (a redirect to /#session_…), in the tab already open.
    await page.evaluate(`location.hash = ${JSON.stringify(second)}`);
    await expect.poll(() => heading().textContent()).toBe('Second Visitor');
    await page.evaluate(`location.hash = 'session_not-here'`);
    await page.locator('.conversation .empty', { hasText: 'Conversation session_not-here is not in this sandbox' }).waitFor();
    expect(await page.locator('#visitor-text').count()).toBe(0);
  });

  it('what was typed and not sent survives leaving the conversation and coming back, and a click on the open one', async () => {
    const first = await visitorStarts({ nickname: 'Draft One', text: 'one' });
    const second = await visitorStarts({ nickname: 'Draft Two', text: 'two' });
    await page.goto(`${sandbox.url}/#${first}`);
    await page.locator('.message.visitor').waitFor();
    await page.locator('#operator-text').fill('Half-written answer');
    await page.locator('#visitor-text').fill('Half-written question');
    await row(first).locator('button').click();
    expect(await page.locator('#operator-text').inputValue()).toBe('Half-written answer');
    await row(second).locator('button').click();
    await expect.poll(() => heading().textContent()).toBe('Draft Two');
    expect(await page.locator('#operator-text').inputValue()).toBe('');
    await page.goBack();
    await expect.poll(() => heading().textContent()).toBe('Draft One');
    expect(await page.locator('#operator-text').inputValue()).toBe('Half-written answer');
    expect(await page.locator('#visitor-text').inputValue()).toBe('Half-written question');
    // Once sent, the draft is gone for good.
    await page.click('#operator-send');
    await page.locator('.message.operator', { hasText: 'Half-written answer' }).waitFor();
    await row(second).locator('button').click();
    await expect.poll(() => heading().textContent()).toBe('Draft Two');
    await row(first).locator('button').click();
    await expect.poll(() => heading().textContent()).toBe('Draft One');
    expect(await page.locator('#operator-text').inputValue()).toBe('');
  });

  it('keyboard only: the inbox is one Tab stop, so the composers are a few Tabs away; ↓, Home and End move through it', async () => {
    await page.goto(sandbox.url);
    await page.locator('#conversations li').nth(20).waitFor();
    const opened = (await page.locator('#conversations li').nth(1).getAttribute('data-session')) as string;
    await row(opened).locator('button').click();
    // The state and assignee menus are Tab stops once the conversation is open, not before.
    await expect.poll(shownSession).toBe(opened);
    await page.locator('#assignee').waitFor();
    await page.locator('#filter').focus();
    const stops: string[] = [];
    for (let i = 0; i < 12 && stops.at(-1) !== 'visitor-text'; i++) {
      await page.keyboard.press('Tab');
      stops.push(await page.evaluate<string>(`document.activeElement?.closest('#conversations') ? 'inbox' : document.activeElement?.id || document.activeElement?.className`));
    }
    expect(stops).toEqual(['new-conversation', 'inbox', 'state', 'assignee', 'thread', 'visitor-text']);
    const buttons = page.locator('#conversations li button');
    // The Tab stop in the inbox was the open conversation.
    expect(await buttons.nth(1).getAttribute('tabindex')).toBe('0');
    await buttons.nth(1).focus();
    await page.keyboard.press('End');
    const last = await buttons.count();
    expect(await page.evaluate(`document.activeElement?.closest('li')?.dataset.session`)).toBe(await page.locator('#conversations li').nth(last - 1).getAttribute('data-session'));
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(shownSession).toBe(await page.locator('#conversations li').nth(1).getAttribute('data-session'));
    expect(await page.locator('#conversations li button[tabindex="0"]').count()).toBe(1);
  });

  it('an agent types and answers over Crisp’s REST API: the page shows the typing, then the same messages in the same order as the API, once in each of two tabs', async () => {
    const session = await visitorStarts({ nickname: 'Typing Watcher', text: 'Where is my invoice?' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor').waitFor();
    const other = await browser.context.newPage();
    try {
      await other.goto(`${sandbox.url}/#${session}`);
      await other.locator('.message.visitor').waitFor();
      await rest('PATCH', `/conversation/${session}/compose`, { type: 'start', from: 'operator' });
      await expect.poll(() => page.locator('.typing').textContent()).toMatch(/ is typing…$/);
      await rest('POST', `/conversation/${session}/message`, { type: 'text', from: 'operator', origin: 'chat', content: 'Under Billing → Invoices.' });
      for (const tab of [page, other]) await tab.locator('.message.operator', { hasText: 'Billing' }).waitFor();
      expect(await page.locator('.typing').textContent()).toBe('');

      const messages = await rest<Array<{ fingerprint: number }>>('GET', `/conversation/${session}/messages`);
      for (const tab of [page, other]) expect(await tab.locator('.thread .message').evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-fingerprint'))))).toEqual(messages.map((m) => m.fingerprint));
      const conversation = await rest<{ state: string; unread: { operator: number } }>('GET', `/conversation/${session}`);
      expect(conversation.unread.operator).toBe(0);
      expect(await page.locator('#state').inputValue()).toBe(conversation.state);
      expect(await row(session).locator('.badge.unread').count()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('typing as the visitor is announced: another tab (the operator’s seat) shows who is typing, and stops showing it when the box is emptied', async () => {
    const session = await visitorStarts({ nickname: 'Typing Visitor', text: 'hello' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor').waitFor();
    const other = await browser.context.newPage();
    try {
      await other.goto(`${sandbox.url}/#${session}`);
      await other.locator('#live.on').waitFor();
      await page.locator('#visitor-text').pressSequentially('Is the 2FA reset');
      await expect.poll(() => other.locator('.typing').textContent()).toBe('Typing Visitor is typing…');
      await page.locator('#visitor-text').fill('');
      await expect.poll(() => other.locator('.typing').textContent()).toBe('');
      await page.locator('#visitor-text').pressSequentially('Anyone?');
      await expect.poll(() => other.locator('.typing').textContent()).toBe('Typing Visitor is typing…');
      await page.keyboard.press('Enter');
      await other.locator('.message.visitor', { hasText: 'Anyone?' }).waitFor();
      await expect.poll(() => other.locator('.typing').textContent()).toBe('');
    } finally {
      await other.close();
    }
  });

  it('eight tabs of the console (links opened in new tabs): every one loads, goes live and shows a new visitor, where the 7th never loaded (one event stream per tab, and Chromium’s 6 connections per host)', async () => {
    const tabs: Page[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const tab = await browser.context.newPage();
        tabs.push(tab);
        await tab.goto(`${sandbox.url}/`);
        await tab.locator('#live.on').waitFor();
      }
      const session = await visitorStarts({ nickname: 'Seen In Every Tab', text: 'hello, tabs' });
      for (const tab of tabs) await tab.locator(`#conversations li[data-session="${session}"]`).waitFor();
    } finally {
      for (const tab of tabs) await tab.close();
    }
  });

  it('the sandbox stops under the open page: it says so and what to do, a send keeps its text; restarted, the page is live again and says the conversation is gone', async () => {
    const session = await visitorStarts({ nickname: 'Before Restart', text: 'hello' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor').waitFor();
    await page.locator('#live.on').waitFor();
    const port = Number(new URL(sandbox.url).port);
    await stop(sandbox.child);

    const problem = page.locator('#problem');
    await problem.getByText(`Lost the sandbox at ${sandbox.url}; retrying every second.`).waitFor();
    expect(await problem.textContent()).toContain('open the console URL it printed');
    expect(await page.locator('#live').textContent()).toBe('offline, retrying…');
    await page.locator('#operator-text').fill('Sorry for the wait');
    await page.click('#operator-send');
    await problem.getByText(`Not sent. The sandbox at ${sandbox.url} did not answer: is it still running? Your text is still in the box.`).waitFor();
    expect(await page.locator('#operator-text').inputValue()).toBe('Sorry for the wait');
    // A state change that could not reach the sandbox does not pretend it happened.
    await page.selectOption('#state', 'resolved');
    await expect.poll(() => page.locator('#state').inputValue()).toBe('pending');
    // The problem bar sits above the layout: the conversation's header keeps its height.
    expect(await page.locator('.details').evaluate((node) => node.getBoundingClientRect().height)).toBeLessThan(80);

    sandbox = await startSandbox(port);
    await page.locator('#live.on').waitFor({ timeout: 10_000 });
    await page.locator('.conversation .empty', { hasText: `Conversation ${session} is not in this sandbox` }).waitFor();
    expect(await problem.isHidden()).toBe(true);
    await expect.poll(() => row(session).count()).toBe(0);
    expect(await page.locator('#conversations li').count()).toBeGreaterThan(0);
  });

  it('an empty inbox says so, and a new visitor conversation still starts from it', async () => {
    const all = await (await fetch(conversations())).json() as { data: Array<{ session_id: string }> };
    for (const { session_id } of all.data) await rest('DELETE', `/conversation/${session_id}`);
    await page.goto(sandbox.url);
    await page.locator('#conversations li.none', { hasText: 'No conversation yet' }).waitFor();
    await page.click('#new-conversation');
    await page.locator('#visitor-text').fill('First one here');
    await page.locator('#visitor-text').press('Enter');
    await page.locator('.message.visitor', { hasText: 'First one here' }).waitFor();
    await expect.poll(() => page.locator('#conversations li[data-session]').count()).toBe(1);
    await page.selectOption('#filter', 'resolved');
    await page.locator('#conversations li.none', { hasText: 'No resolved conversation.' }).waitFor();
  });

  it('POST /_sandbox/reset under the open page: without a reload, the page says the open conversation is gone and lists the demo inbox again', async () => {
    const session = await visitorStarts({ nickname: 'Before Reset', text: 'about to be reset' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor', { hasText: 'about to be reset' }).waitFor();
    await page.selectOption('#filter', '');
    await page.evaluate('window.beforeReset = true');
    const reset = await fetch(`${sandbox.url}/_sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    await page.locator('.conversation .empty', { hasText: `Conversation ${session} is not in this sandbox` }).waitFor();
    expect(await page.locator('.conversation .empty').textContent()).toContain('a reset (POST /_sandbox/reset)');
    await expect.poll(() => row(session).count()).toBe(0);
    const demo = (await (await fetch(conversations())).json()) as { data: Array<{ session_id: string }> };
    await expect.poll(() => page.locator('#conversations li[data-session]').count()).toBe(demo.data.length);
    expect(await page.evaluate('window.beforeReset === true')).toBe(true);
  });
  it('an agent deletes the open conversation over Crisp’s REST API: the page says it was deleted, not that the sandbox restarted, and the inbox drops it', async () => {
    const session = await visitorStarts({ nickname: 'To Be Deleted', text: 'please forget me' });
    await page.goto(`${sandbox.url}/#${session}`);
    await page.locator('.message.visitor', { hasText: 'please forget me' }).waitFor();
    await page.locator('#live.on').waitFor();
    await rest('DELETE', `/conversation/${session}`);
    await page.locator('.conversation .empty', { hasText: `Conversation ${session} was deleted` }).waitFor();
    expect(await page.locator('.conversation .empty').textContent()).not.toContain('restart');
    await expect.poll(() => row(session).count()).toBe(0);
    expect(await page.locator('#problem').isHidden()).toBe(true);
  });
});
