// The console's operator composer, in a real Chromium against `crisp-mcp sandbox`: typing as the
// operator is announced as Crisp's app announces it — a compose atom naming the operator and
// `message:compose:receive`, which the official crisp-api client hears over RTM — so the visitor's
// seat (another tab) shows "Sam … is typing…"; emptying the box, or adding a private note, stops it.
import type { Crisp } from 'crisp-api';
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { eventually } from '../helpers/events.js';
import { spawnSandboxCli, type SandboxChild } from '../helpers/sandbox-cli.js';
import { officialClient } from '../helpers/official-rtm.js';

interface Compose {
  session_id: string;
  type: string;
  timestamp: number;
  user: { user_id: string; nickname: string };
}

describeWithChromium('sandbox console: the operator composer announces typing (Chromium)', (executable) => {
  let sandbox: SandboxChild;
  let browser: TestBrowser;
  let official: InstanceType<typeof Crisp>;
  const heard: Compose[] = [];

  beforeAll(async () => {
    sandbox = await spawnSandboxCli([]);
    official = officialClient(sandbox.url, sandbox);
    await official.on('message:compose:receive', (data: Compose) => void heard.push(data));
    await eventually(async () => (await sandboxGet<{ authenticated: number }>('/_sandbox/rtm')).authenticated === 1, 10_000, 'the official client authenticating over RTM');
    browser = await launchChromium(executable);
  }, 60_000);

  afterAll(async () => {
    (official as unknown as { _socket: Socket | null } | undefined)?._socket?.disconnect();
    await browser?.close();
    await sandbox?.stop();
  });

  async function sandboxGet<T>(path: string): Promise<T> {
    return ((await (await fetch(`${sandbox.url}${path}`)).json()) as { data: T }).data;
  }

  it('typing as the operator shows "… is typing" in the visitor\'s seat and reaches the official client as message:compose:receive naming the operator; emptying the box or adding a note stops it', async () => {
    const conversations = `${sandbox.url}/_sandbox/websites/${sandbox.website_id}/conversations`;
    const started = await fetch(conversations, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'Waiting Visitor', text: 'Anyone there?' }) });
    const session = ((await started.json()) as { data: { session_id: string } }).data.session_id;
    const [first] = await sandboxGet<Array<{ user_id: string; nickname: string }>>(`/_sandbox/websites/${sandbox.website_id}/operators`);
    const typingLine = `${first!.nickname} is typing…`;

    const operatorSeat: Page = await browser.context.newPage();
    const visitorSeat: Page = await browser.context.newPage();
    for (const page of [operatorSeat, visitorSeat]) {
      await page.goto(`${sandbox.url}/#${session}`);
      await page.locator('.message.visitor').waitFor();
      await page.locator('#live.on').waitFor();
    }
    const forSession = () => heard.filter((c) => c.session_id === session);

    await operatorSeat.locator('#operator-text').pressSequentially('Let me check');
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toBe(typingLine);
    const start = await eventually(() => forSession().find((c) => c.type === 'start'), 5_000, 'message:compose:receive (start) reaching the official client');
    expect(start.user).toMatchObject({ user_id: first!.user_id, nickname: first!.nickname });
    expect(typeof start.timestamp).toBe('number');
    const conversation = (await official.website.getConversation(sandbox.website_id, session)) as { compose: { operator?: { type: string; user: { user_id: string } } } };
    expect(conversation.compose.operator).toMatchObject({ type: 'start', user: { user_id: first!.user_id } });

    await operatorSeat.locator('#operator-text').fill('');
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toBe('');
    await eventually(() => forSession().some((c) => c.type === 'stop'), 5_000, 'message:compose:receive (stop) reaching the official client');

    // A private note ends no typing in the thread the visitor sees: the composer stops it itself.
    await operatorSeat.locator('#operator-text').pressSequentially('Refund issued yesterday');
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toBe(typingLine);
    await operatorSeat.locator('#operator-note').click();
    await visitorSeat.locator('.message', { hasText: 'Refund issued yesterday' }).waitFor();
    await expect.poll(() => visitorSeat.locator('.typing').textContent()).toBe('');
    expect(((await official.website.getConversation(sandbox.website_id, session)) as { compose: { operator?: unknown } }).compose).not.toHaveProperty('operator');
    await operatorSeat.close();
    await visitorSeat.close();
    // Two tabs and an RTM client on a machine shared with other test runs: more than the 20 s default.
  }, 60_000);
});
