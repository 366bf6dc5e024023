// `crisp-mcp scenario graph` draws a webhook block with where it posts conversation data: the URL's
// host on the node, in the Mermaid flowchart and on the HTML page, as `scenario validate` lists the
// URLs. Before, the Mermaid node said only "webhook", and the page showed the URL cut to fit. Text of
// the file's own is escaped: a URL that is no URL (the file is drawn while it is still wrong) is
// shown as written, as text, never as markup (and so is a problem that quotes it). The built CLI as a child process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const BOOKING = fileURLToPath(new URL('../../scenarios/booking.json', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-graph-webhook-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('the booking example: its webhook node names booking.example.com in Mermaid and on the page', async () => {
  const mermaid = await runCli(['scenario', 'graph', BOOKING, '--format', 'mermaid']);
  expect({ status: mermaid.status, stderr: mermaid.stderr }).toEqual({ status: 0, stderr: '' });
  expect(mermaid.stdout).toContain('  n4[("<b>book</b><br/>webhook<br/>→ booking.example.com")]\n');

  const html = await runCli(['scenario', 'graph', BOOKING]);
  expect({ status: html.status, stderr: html.stderr }).toEqual({ status: 0, stderr: '' });
  const node = /<g class="node ok" id="block-book">[\s\S]*?<\/g>/.exec(html.stdout)?.[0];
  expect(node).toContain('<text class="text" x="165" y="632">→ booking.example.com</text>');
  // The whole URL stays in the node's tooltip.
  expect(node).toContain('https://booking.example.com/api/bookings</title>');
});

it('a webhook URL that is no URL is drawn as escaped text, with the validator’s error under it', async () => {
  const path = join(dir, 'odd.json');
  const url = '<img src=x onerror=alert(1)>#"&';
  writeFileSync(path, JSON.stringify({ name: 'odd', version: 1, start: 'call', blocks: { call: { type: 'webhook', url, next: 'done' }, done: { type: 'end', text: 'ok' } } }));

  const mermaid = await runCli(['scenario', 'graph', path, '--format', 'mermaid']);
  expect(mermaid.status).toBe(0); // drawn; stderr counts the errors
  expect(mermaid.stdout).toContain('<b>call</b><br/>webhook<br/>→ #lt;img src=x onerror=alert(1)#gt;#35;#quot;#amp;<br/>⛔');
  expect(mermaid.stdout).not.toContain('<img');

  const html = await runCli(['scenario', 'graph', path]);
  expect(html.status).toBe(0);
  const node = /<g class="node error" id="block-call">[\s\S]*?<\/g>/.exec(html.stdout)?.[0];
  expect(node).toMatch(/<text class="text" x="\d+" y="\d+">→ &lt;img src=x onerror=alert\(…<\/text><text class="text" x="\d+" y="\d+">⛔ /);
  expect(html.stdout).not.toContain('<img');
});
