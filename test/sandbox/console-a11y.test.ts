// The sandbox console from the seat of someone on the keyboard alone, with a screen reader, at
// 400% zoom: axe-core (injected into the page) finds nothing serious on its main views, the flows a
// newcomer tries (play the visitor, reply, note, resolve, assign) go by keyboard with the focus
// kept where the next key is meant for, new messages are announced (and the history is not, when
// a conversation opens), and at 320×256 CSS px (1280×1024 at 400%) the inbox and thread still show.
import axe from 'axe-core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { spawnSandboxCli, type SandboxChild } from '../helpers/sandbox-cli.js';

// The scripts run in the page are strings: the tests' TypeScript has no DOM types.

interface Finding {
  rule: string;
  impact: string | null;
  where: string[];
}

/**
 * axe's serious and critical violations on the page as it is, plus the contrasts it measured below
 * what WCAG AA asks but filed as "incomplete" (a badge's "3" is too short for it to call text).
 */
async function axeFindings(page: Page): Promise<Finding[]> {
  await page.evaluate(axe.source); // evaluated through DevTools: the console's CSP refuses inline scripts
  return page.evaluate<Finding[]>(`(async () => {
    const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] });
    const tooLow = (node) => node.any.some((check) => check.data?.contrastRatio !== undefined && check.data.contrastRatio < parseFloat(check.data.expectedContrastRatio ?? '4.5'));
    return [
      ...result.violations.filter((rule) => rule.impact === 'serious' || rule.impact === 'critical').map((rule) => ({ rule: rule.id, impact: rule.impact, where: rule.nodes.map((n) => n.target.join(' ')) })),
      ...result.incomplete
        .filter((rule) => rule.id === 'color-contrast')
        .map((rule) => ({ rule: 'color-contrast (measured, filed incomplete)', impact: rule.impact, where: rule.nodes.filter(tooLow).map((n) => n.target.join(' ')) }))
        .filter((finding) => finding.where.length > 0),
    ];
  })()`);
}

/** Presses Tab (or Shift+Tab) until `selector` has the focus; fails naming where the focus went. */
async function tabTo(page: Page, selector: string, key: 'Tab' | 'Shift+Tab' = 'Tab'): Promise<void> {
  const visited: string[] = [];
  for (let i = 0; i < 40; i++) {
    if (await page.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
    await page.keyboard.press(key);
    visited.push(await focusedName(page));
  }
  throw new Error(`${key} never reached ${selector}; the focus went through: ${visited.join(' → ')}`);
}

/** The focused element as `tag#id`, for messages; `body` when the focus was lost. */
function focusedName(page: Page): Promise<string> {
  return page.evaluate<string>("document.activeElement ? document.activeElement.tagName.toLowerCase() + (document.activeElement.id ? '#' + document.activeElement.id : '') : 'nothing'");
}

describeWithChromium('sandbox console, by keyboard and screen reader (Chromium)', (executable) => {
  let sandbox: SandboxChild;
  let browser: TestBrowser;

  beforeAll(async () => {
    sandbox = await spawnSandboxCli([]);
    browser = await launchChromium(executable);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
  });

  const api = (path: string) => `${sandbox.url}/_sandbox/websites/${sandbox.website_id}${path}`;
  async function conversation(sessionId: string): Promise<{ state: string; assigned?: { user_id: string } }> {
    return ((await (await fetch(api(`/conversations/${sessionId}`))).json()) as { data: { conversation: { state: string; assigned?: { user_id: string } } } }).data.conversation;
  }
  async function newVisitor(text: string): Promise<string> {
    const started = await fetch(api('/conversations'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'Axe Visitor', text }) });
    return ((await started.json()) as { data: { session_id: string } }).data.session_id;
  }

  it('axe finds no serious or critical violation on the inbox and a conversation with visitor, operator and note messages, wide and at 320 px', async () => {
    const session = await newVisitor('Where is my invoice?');
    await fetch(api(`/conversations/${session}/operator/messages`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', content: 'Sent it again just now.' }) });
    await fetch(api(`/conversations/${session}/operator/messages`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'note', content: 'Customer since 2021' }) });
    const page = await browser.context.newPage();
    try {
      for (const viewport of [{ width: 1280, height: 800 }, { width: 320, height: 256 }]) {
        await page.setViewportSize(viewport);
        await page.goto(`${sandbox.url}/`);
        await page.locator('#conversations .badge.unread').first().waitFor();
        expect.soft(await axeFindings(page), `inbox at ${viewport.width}×${viewport.height}`).toEqual([]);
        await page.goto(`${sandbox.url}/#${session}`);
        await page.locator('.message.note').waitFor();
        expect.soft(await axeFindings(page), `conversation at ${viewport.width}×${viewport.height}`).toEqual([]);
      }
    } finally {
      await page.close();
    }
  }, 60_000);

  it('the inbox says how many messages are unread in the conversation button\'s name, not as a bare number', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${sandbox.url}/`);
      const unread = page.locator('#conversations li', { has: page.locator('.badge.unread') }).first();
      const count = parseInt((await unread.locator('.badge.unread').textContent())!, 10);
      await expect.poll(() => page.getByRole('button', { name: new RegExp(`\\b${count} unread\\b`) }).count()).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });

  it('by keyboard alone: start as a visitor and send, reply and add a note as the operator, resolve and assign, the focus staying where the next key goes', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${sandbox.url}/`);
      await page.locator('#conversations li button').first().waitFor();
      await tabTo(page, '#new-conversation');
      await page.keyboard.press('Enter');
      await expect.poll(() => focusedName(page)).toBe('textarea#visitor-text');
      const session = await page.evaluate<string>('decodeURIComponent(location.hash.slice(1))');

      await page.keyboard.type('My export is stuck');
      await page.keyboard.press('Enter');
      await page.locator('.message.visitor', { hasText: 'My export is stuck' }).waitFor();
      expect(await focusedName(page)).toBe('textarea#visitor-text');

      await tabTo(page, '#operator-text');
      await page.keyboard.type('Looking into it');
      await page.keyboard.press('Enter');
      await page.locator('.message.operator', { hasText: 'Looking into it' }).waitFor();
      expect(await focusedName(page)).toBe('textarea#operator-text');

      // A note has no key of its own: Tab to its button and press it; the focus comes back to the box.
      await page.keyboard.type('Export job 42 is wedged');
      await tabTo(page, '#operator-note');
      await page.keyboard.press('Space');
      await page.locator('.message.note', { hasText: 'Export job 42 is wedged' }).waitFor();
      await expect.poll(() => focusedName(page), { message: 'the focus after adding a note with its button' }).toBe('textarea#operator-text');

      // Resolve: the state select, arrow keys; the redraw the change brings keeps the focus on it.
      await tabTo(page, '#state', 'Shift+Tab');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await expect.poll(async () => (await conversation(session)).state).toBe('resolved');
      await page.locator('#conversations li[data-session] .badge.resolved').first().waitFor();
      await expect.poll(() => page.locator('#state').inputValue()).toBe('resolved');
      expect(await focusedName(page), 'the focus once the state change has been drawn').toBe('select#state');

      await tabTo(page, '#assignee');
      await page.keyboard.press('ArrowDown');
      const operators = ((await (await fetch(api('/operators'))).json()) as { data: Array<{ user_id: string; nickname: string }> }).data;
      await expect.poll(async () => (await conversation(session)).assigned?.user_id).toBe(operators[0]!.user_id);
      await page.locator(`#conversations li[data-session="${session}"]`, { hasText: `assigned to ${operators[0]!.nickname}` }).waitFor();
      expect(await focusedName(page), 'the focus once the assignment has been drawn').toBe('select#assignee');
    } finally {
      await page.close();
    }
  }, 60_000);

  it('a new message lands in a polite live region; the history shown when a conversation opens is not read out', async () => {
    const session = await newVisitor('First question');
    const page = await browser.context.newPage();
    try {
      // Records, for each message as it is put in the page, whether its list was a live region then.
      // The observer hears of a batch after the fact, so each list's aria-live is followed through
      // the batch in order (as the list came in, then each change to it), not read at the end.
      await page.addInitScript(`
        const landed = (window.landed = []);
        const liveAt = new Map();
        new MutationObserver((records) => {
          for (const record of records) {
            if (record.type === 'attributes') liveAt.set(record.target, record.target.getAttribute('aria-live'));
            for (const node of record.addedNodes) {
              if (!(node instanceof HTMLElement)) continue;
              // A later change to its aria-live in this batch holds the value it came in with.
              if (node.matches('.thread')) liveAt.set(node, records.find((r) => r.type === 'attributes' && r.target === node)?.oldValue ?? node.getAttribute('aria-live'));
              if (node.matches('.message')) landed.push({ text: node.textContent ?? '', live: liveAt.get(record.target) ?? null });
            }
          }
        }).observe(document, { childList: true, subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['aria-live'] });
      `);
      await page.goto(`${sandbox.url}/#${session}`);
      await page.locator('.message', { hasText: 'First question' }).waitFor();
      await page.locator('#live.on').waitFor();
      await fetch(api(`/conversations/${session}/messages`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', content: 'Second question' }) });
      await page.locator('.message', { hasText: 'Second question' }).waitFor();
      const landed = await page.evaluate<Array<{ text: string; live: string | null }>>('window.landed');
      expect(landed.filter((m) => m.text.includes('First question')).map((m) => m.live), 'the history, as the conversation opens').toEqual([null]);
      expect(landed.filter((m) => m.text.includes('Second question')).map((m) => m.live), 'a message that comes in while it is open').toEqual(['polite']);
      expect(await page.locator('.typing').getAttribute('aria-live')).toBe('polite');
    } finally {
      await page.close();
    }
  });

  it('answering a picker by keyboard leaves the focus on the thread, where the answer and the reply come, not on the page\'s body', async () => {
    const session = await newVisitor('Can I change plan?');
    const picker = { id: 'plan', text: 'Which plan?', choices: [{ value: 'pro', label: 'Pro', selected: false }, { value: 'free', label: 'Free', selected: false }] };
    const rest = await fetch(`${sandbox.url}/v1/website/${sandbox.website_id}/conversation/${session}/message`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${sandbox.identifier}:${sandbox.key}`).toString('base64')}`, 'x-crisp-tier': 'plugin', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'picker', from: 'operator', origin: 'chat', content: picker }),
    });
    expect(rest.status).toBe(200);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${sandbox.url}/#${session}`);
      await page.locator('.choices button[data-value="pro"]').waitFor();
      await tabTo(page, '.choices button[data-value="pro"]');
      await page.keyboard.press('Enter');
      await page.locator('.choices button[data-value="pro"][aria-pressed="true"]').waitFor();
      await expect.poll(() => focusedName(page)).toBe('ol');
      expect(await page.evaluate<boolean>("document.activeElement.matches('.thread')")).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('the connection status reads as words: the green dot before "live" is not read out', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${sandbox.url}/`);
      await page.locator('#live.on').waitFor();
      expect(await page.locator('#live').ariaSnapshot()).toBe('- status: live');
    } finally {
      await page.close();
    }
  });

  it('at 320×256 CSS px (400% zoom) nothing scrolls sideways, and the inbox and an open thread each show at least one whole item', async () => {
    const session = await newVisitor('Small screen question');
    const page = await browser.context.newPage();
    try {
      await page.setViewportSize({ width: 320, height: 256 });
      await page.goto(`${sandbox.url}/#${session}`);
      await page.locator('.message').first().waitFor();
      await page.locator('#conversations li button').first().waitFor();
      const measured = await page.evaluate<Record<'pageWidth' | 'inbox' | 'conversationButton' | 'thread' | 'message', number>>(`(() => {
        const height = (selector) => document.querySelector(selector).getBoundingClientRect().height;
        return {
          pageWidth: document.documentElement.scrollWidth,
          inbox: height('#conversations'),
          conversationButton: height('#conversations li button'),
          thread: height('.thread'),
          message: height('.thread .message'),
        };
      })()`);
      expect(measured.pageWidth).toBeLessThanOrEqual(320);
      expect(measured.inbox, `the inbox list's height (one conversation is ${measured.conversationButton}px)`).toBeGreaterThanOrEqual(measured.conversationButton);
      expect(measured.thread, `the thread's height (one message is ${measured.message}px)`).toBeGreaterThanOrEqual(measured.message);
    } finally {
      await page.close();
    }
  });
});
