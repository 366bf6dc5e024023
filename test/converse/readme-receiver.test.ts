// The converse receiver of docs/converse.md (the page the README's converse paragraph links to), as
// an integrator copies it: the code block is taken out of docs/converse.md, run as its own node process (only its port changed), and fed the replies of a real
// ReplyDeliverer; then forged, stale and unsigned requests, which it must refuse.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook, webhookKey } from '../../src/converse/delivery.js';
import { startConverseHarness, type ConverseHarness } from '../helpers/converse.js';
import { freePort } from '../helpers/net.js';
import { Receiver, TEST_SECRET } from '../helpers/receiver.js';

const CONVERSE_PAGE = new URL('../../docs/converse.md', import.meta.url);

/** The page's receiver: the js block that starts with `// receiver.mjs:`. */
function readmeReceiver(): string {
  const block = /```js\n(\/\/ receiver\.mjs:[\s\S]*?)```/.exec(readFileSync(CONVERSE_PAGE, 'utf8'))?.[1];
  if (!block) throw new Error('docs/converse.md has no ```js block starting with // receiver.mjs:');
  return block;
}

let dir: string;
let child: ChildProcess;
let url: string;
let out = '';
let h: ConverseHarness | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-readme-receiver-'));
  const port = await freePort();
  const source = readmeReceiver();
  expect(source).toContain('.listen(3000);');
  writeFileSync(join(dir, 'receiver.mjs'), source.replace('.listen(3000);', `.listen(${port}, () => console.log('listening'));`));
  child = spawn(process.execPath, [join(dir, 'receiver.mjs')], { env: { ...process.env, CRISP_MCP_CONVERSE_SECRET: TEST_SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const deadline = Date.now() + 10_000;
  while (!out.includes('listening')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the docs/converse.md receiver did not start: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  url = `http://127.0.0.1:${port}/bot-replies`;
});

afterAll(async () => {
  await h?.close();
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (prefix: string) => out.split('\n').filter((line) => line.startsWith(prefix));
async function until(what: () => boolean, label: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within 10 s; the receiver printed: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const post = (headers: Record<string, string>, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then((r) => r.status);

describe("docs/converse.md's node:http receiver", () => {
  it("takes every signed reply of a conversation once, in order, and refuses forged, stale and unsigned ones", async () => {
    // The harness's own receiver stays unused: the deliverer posts to the page's.
    h = await startConverseHarness({ receiver: await Receiver.start(), deliverer: { url } });
    await h.service.accept({ conversationId: 'readme-1', eventType: 'startSession', metadata: [{ key: 'user_name', value: 'Ann' }] });
    await h.service.accept({ conversationId: 'readme-1', eventType: 'message', text: 'Bye' });
    await until(() => h!.deliverer.stats.delivered === 4 && lines('readme-1').length === 4, 'four replies');
    expect(lines('readme-1')).toEqual(['readme-1 text Hello Ann!', 'readme-1 choice What do you need?', 'readme-1 text Bye!', 'readme-1 end ']);
    expect(h.deliverer.stats).toMatchObject({ delivered: 4, retried: 0, dropped: 0 });

    const body = JSON.stringify({ conversationId: 'readme-2', messageId: 'msg_x', type: 'text', text: 'forged' });
    const now = Math.floor(Date.now() / 1000);
    const signed = (timestamp: number, key = webhookKey(TEST_SECRET)) => ({ 'webhook-id': 'msg_x', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(key, 'msg_x', timestamp, body) });
    expect(await post({}, body)).toBe(401);
    expect(await post(signed(now, Buffer.from('another key of 24 bytes!')), body)).toBe(401);
    expect(await post(signed(now - 600), body)).toBe(401);
    expect(await post(signed(now), body.replace('forged', 'tampered'))).toBe(401);
    const hmac = createHmac('sha256', webhookKey(TEST_SECRET)).update(`msg_x.${now}.${body}`).digest('base64');
    // A signature list (a key rotation) with the right one second; then the same id again: taken once.
    expect(await post({ 'webhook-id': 'msg_x', 'webhook-timestamp': String(now), 'webhook-signature': `v1,AAAA v1,${hmac}` }, body)).toBe(204);
    expect(await post(signed(now), body)).toBe(204);
    await until(() => lines('readme-2').length > 0, 'the signed one');
    expect(lines('readme-2')).toEqual(['readme-2 text forged']);
  });
});
