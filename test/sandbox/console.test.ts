// The sandbox console in a real browser, against `crisp-mcp bot --scenario gdpr --sandbox` as a
// newcomer starts it: the visitor's question gets the bot's reply without a reload, an operator's
// message silences the bot, a picker button clicked as the visitor moves the scenario on, and a
// conversation started over Crisp's REST API shows up in the inbox by itself. And the page of
// `crisp-mcp scenario graph` opens offline with every block of the scenario on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, screenshotPath, type TestBrowser } from '../helpers/browser.js';
import { CLI, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios', import.meta.url));
const KEY = 'console-test-key-0123456789';
/** The issue's bound for a reply to appear, used only as the wait's timeout. */
const REPLY_WAIT_MS = 2_000;

interface Bot {
  child: ChildProcess;
  logs: () => Array<Record<string, unknown>>;
  stderr: () => string;
  sandbox: { url: string; console: string; website_id: string };
}

async function startBot(): Promise<Bot> {
  const child = spawn(process.execPath, [CLI, 'bot', '--scenario', 'gdpr', '--sandbox', '--scenarios', SCENARIOS, '--store', 'memory'], {
    env: { PATH: process.env.PATH ?? '', CRISP_MCP_LOG_LEVEL: 'debug', CRISP_SANDBOX_KEY: KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const logs = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  await eventually(() => logs().some((l) => l.msg === 'autopilot running'), 15_000, `the bot starting (stderr: ${stderr})`);
  const started = logs().find((l) => l.msg === 'embedded Crisp sandbox started')!;
  return { child, logs, stderr: () => stderr, sandbox: started as unknown as Bot['sandbox'] };
}

describeWithChromium('sandbox console (Chromium)', (executable) => {
  let bot: Bot;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    bot = await startBot();
    browser = await launchChromium(executable);
    page = await browser.context.newPage();
    await page.goto(bot.sandbox.console);
    await page.locator('#conversations li').first().waitFor();
    // A reload would clear this: its presence at the end proves every update came live.
    await page.evaluate('window.loadedOnce = true');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    bot?.child.kill('SIGTERM');
  });

  const stillTheSamePage = () => page.evaluate('window.loadedOnce === true');
  const thread = () => page.locator('.thread');

  /** Starts a conversation from the console's button and writes `text` as its visitor (Enter sends). */
  async function newVisitorConversation(text: string): Promise<string> {
    const before = page.url();
    await page.click('#new-conversation');
    await page.waitForURL((url) => url.toString() !== before && url.hash.startsWith('#session_'));
    await page.locator('#visitor-text').fill(text);
    await page.locator('#visitor-text').press('Enter');
    await thread().locator('.message.visitor', { hasText: text }).waitFor();
    return decodeURIComponent(new URL(page.url()).hash.slice(1));
  }

  it('the page loads everything from the sandbox (no CDN): the start-up log names the console and the credentials', () => {
    expect(bot.sandbox.console).toBe(`${bot.sandbox.url}/`);
    expect(bot.stderr()).toContain(`console     ${bot.sandbox.url}/`);
    expect(bot.stderr()).toContain(`key         ${KEY}`);
    expect(bot.stderr()).toContain(`curl -X POST ${bot.sandbox.url}/_sandbox/websites/${bot.sandbox.website_id}/conversations`);
  });

  it('the visitor asks about GDPR: the bot answers in the thread without a reload', async () => {
    await newVisitorConversation('what about GDPR?');
    await thread().locator('.message.bot', { hasText: 'Our help center has the answer' }).waitFor({ timeout: REPLY_WAIT_MS });
    await thread().locator('.message.bot', { hasText: 'Did that answer your question?' }).waitFor({ timeout: REPLY_WAIT_MS });
    // The articles the helpdesk search found are links; the question's buttons are for the visitor to click.
    expect(await thread().locator('.message.bot a', { hasText: 'GDPR and our Data Processing Agreement' }).getAttribute('href')).toMatch(/\/en\/article\/gdpr-data-processing/);
    expect(await thread().locator('.message.bot button[data-value]').allTextContents()).toEqual(['Yes, thanks', 'No, I need a human']);
    expect(await stillTheSamePage()).toBe(true);
  });

  it('an operator writes: the bot is silent at the visitor’s next message', async () => {
    const session = await newVisitorConversation('Is my data processed under GDPR?');
    await thread().locator('.message.bot', { hasText: 'Did that answer your question?' }).waitFor({ timeout: REPLY_WAIT_MS });
    await page.locator('#operator-text').fill('Hi, Sam here: I will take it from here.');
    await page.click('#operator-send');
    await thread().locator('.message.operator', { hasText: 'Sam here' }).waitFor();
    await eventually(() => bot.logs().some((l) => l.msg?.toString().startsWith('an operator wrote') && String(l.conversation).includes(session)), 5_000, 'the bot pausing');

    await page.locator('#visitor-text').fill('Thanks! And the DPA?');
    await page.click('#visitor-send');
    const question = thread().locator('.message.visitor', { hasText: 'And the DPA?' });
    await question.waitFor();
    const fingerprint = Number(await question.getAttribute('data-fingerprint'));
    // The bot read that message and chose not to answer it (its own debug log says so)…
    await eventually(() => bot.logs().some((l) => l.msg === 'visitor message not answered' && l.fingerprint === fingerprint), 5_000, 'the bot reading the message');
    // …so the last word in the thread stays the visitor's.
    expect(await thread().locator('.message').last().getAttribute('data-fingerprint')).toBe(String(fingerprint));
    expect(await page.locator('#state').inputValue()).toBe('unresolved');

    // A private note is for operators: it shows apart, and it is not in the visitor's view of the thread.
    await page.locator('#operator-text').fill('Visitor asks for the DPA: send the signed copy.');
    await page.click('#operator-note');
    await thread().locator('.message.note', { hasText: 'signed copy' }).waitFor();
    const visitorSide = (await (await fetch(`${bot.sandbox.url}/_sandbox/websites/${bot.sandbox.website_id}/conversations/${session}/messages`)).json()) as { data: Array<{ type: string }> };
    expect(visitorSide.data.map((m) => m.type)).toEqual(['text', 'picker', 'picker', 'text', 'text']);
    const shot = screenshotPath('console-conversation.png');
    if (shot) await page.screenshot({ path: shot });
  });

  it('a picker button clicked as the visitor (here by keyboard) moves the scenario on', async () => {
    await newVisitorConversation('GDPR question');
    const yes = thread().locator('.message.bot button[data-value="yes"]');
    await yes.waitFor({ timeout: REPLY_WAIT_MS });
    // By keyboard: the focus stays on the button while the conversation changes around it.
    await yes.focus();
    const session = decodeURIComponent(new URL(page.url()).hash.slice(1));
    await fetch(`${bot.sandbox.url}/_sandbox/websites/${bot.sandbox.website_id}/conversations/${session}/state`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"state":"pending"}' });
    await expect.poll(() => page.locator('#state').inputValue()).toBe('pending');
    expect(await page.evaluate('document.activeElement?.dataset.value')).toBe('yes');
    await page.keyboard.press('Enter');
    await thread().locator('.message.visitor', { hasText: 'chose “Yes, thanks”' }).waitFor();
    await thread().locator('.message.bot', { hasText: 'Glad to help!' }).waitFor({ timeout: REPLY_WAIT_MS });
    // The end block resolves the conversation; the controls and the answered picker show it.
    await expect.poll(() => page.locator('#state').inputValue()).toBe('resolved');
    expect(await thread().locator('button[data-value="yes"]').getAttribute('aria-pressed')).toBe('true');
    expect(await stillTheSamePage()).toBe(true);
  });

  it('the inbox shows a conversation started over Crisp’s REST API, without a reload', async () => {
    const auth = `Basic ${Buffer.from(`c0ffee00-5a4d-4b0c-8000-000000000001:${KEY}`).toString('base64')}`;
    const headers = { authorization: auth, 'x-crisp-tier': 'plugin', 'user-agent': 'crisp-mcp-tests', 'content-type': 'application/json' };
    const base = `${bot.sandbox.url}/v1/website/${bot.sandbox.website_id}`;
    const created = (await (await fetch(`${base}/conversation`, { method: 'POST', headers })).json()) as { data: { session_id: string } };
    const session = created.data.session_id;
    await fetch(`${base}/conversation/${session}/meta`, { method: 'PATCH', headers, body: JSON.stringify({ nickname: 'Rest Visitor' }) });
    const row = page.locator(`#conversations li[data-session="${session}"]`);
    await row.waitFor({ timeout: REPLY_WAIT_MS });
    await expect.poll(() => row.textContent()).toContain('Rest Visitor');
    const shot = screenshotPath('console-inbox.png');
    if (shot) await page.screenshot({ path: shot });
    expect(await stillTheSamePage()).toBe(true);
  });

  it('state and assignee controls, the keyboard and the state filter work; a narrow window still fits', async () => {
    const marta = await page.locator('#assignee option', { hasText: 'Marta' }).getAttribute('value');
    await page.selectOption('#assignee', marta!);
    const session = decodeURIComponent(new URL(page.url()).hash.slice(1));
    await expect.poll(() => page.locator(`#conversations li[data-session="${session}"]`).textContent()).toContain('assigned to Marta');
    await page.selectOption('#state', 'pending');
    await expect.poll(() => page.locator(`#conversations li[data-session="${session}"] .badge`).first().textContent()).toBe('pending');

    // Keyboard: ↓ from the focused conversation moves to the next one, Enter opens it.
    const rows = page.locator('#conversations li');
    await rows.nth(0).locator('button').focus();
    await page.keyboard.press('ArrowDown');
    const second = await rows.nth(1).getAttribute('data-session');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.hash === `#${second}`);

    // The state filter narrows the inbox to that state.
    await page.selectOption('#filter', 'resolved');
    await expect.poll(async () => [...new Set(await page.locator('#conversations li .badge:not(.unread)').allTextContents())]).toEqual(['resolved']);
    await page.selectOption('#filter', '');

    await page.setViewportSize({ width: 390, height: 800 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.locator('#visitor-text').isVisible()).toBe(true);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('the `scenario graph` page opens offline and shows every block id of the example', async () => {
    const file = join(SCENARIOS, 'gdpr.json');
    const ids = Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { blocks: object }).blocks);
    const drawn = await runCli(['scenario', 'graph', file, '--format', 'html']);
    expect(drawn.status).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-graph-'));
    const graphPage = await browser.context.newPage();
    try {
      const html = join(dir, 'gdpr.html');
      writeFileSync(html, drawn.stdout);
      const requests: string[] = [];
      graphPage.on('request', (request) => requests.push(request.url()));
      await browser.context.setOffline(true);
      await graphPage.goto(pathToFileURL(html).toString());
      for (const id of ids) {
        expect(await graphPage.locator(`svg g[id="block-${id}"]`).count()).toBe(1);
        expect(await graphPage.locator('.blocks code', { hasText: id }).count()).toBeGreaterThan(0);
      }
      expect(await graphPage.locator('svg .start').count()).toBe(1);
      expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
      const shot = screenshotPath('scenario-graph.png');
      if (shot) await graphPage.screenshot({ path: shot, fullPage: true });
    } finally {
      await browser.context.setOffline(false);
      await graphPage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
