// `crisp-mcp sandbox --host 0.0.0.0` (every address, say to reach it from a container): the console
// and the /_sandbox/ routes answer only a loopback host name, so what the start-up prints for this
// machine — the console URL, the curl lines — must name loopback, not 0.0.0.0, or the newcomer's
// first click and first curl are refused. A real Chromium against the real sandbox.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, type TestBrowser } from '../helpers/browser.js';
import { CLI } from '../helpers/cli.js';
import { eventually } from '../helpers/events.js';

describeWithChromium('sandbox console of a sandbox bound to every address (Chromium)', (executable) => {
  let child: ChildProcess;
  let printed = '';
  let browser: TestBrowser;

  beforeAll(async () => {
    child = spawn(process.execPath, [CLI, 'sandbox', '--host', '0.0.0.0', '--port', '0'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    await eventually(() => printed.includes('and read the replies'), 15_000, 'the sandbox printing its guide');
    browser = await launchChromium(executable);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      await new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    }
  });

  it('the console URL it prints opens the inbox, and its "Play the visitor" curl line starts a conversation the console shows', async () => {
    expect(printed).toMatch(/^Crisp sandbox listening on http:\/\/0\.0\.0\.0:\d+$/m);
    const consoleUrl = /^ {2}console {5}(\S+)/m.exec(printed)![1]!;
    expect(consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await browser.context.newPage();
    await page.goto(consoleUrl);
    await page.locator('#live.on').waitFor();
    await page.locator('#conversations li[data-session]').first().waitFor();

    // The curl line, as a script sends it (no Origin).
    const [, url, body] = /Play the visitor: curl -X POST (\S+) -H 'content-type: application\/json' -d '([^']+)'/.exec(printed)!;
    const response = await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body! });
    expect(response.status).toBe(200);
    const { session_id } = ((await response.json()) as { data: { session_id: string } }).data;
    await page.locator(`#conversations li[data-session="${session_id}"]`).waitFor();
  });

  it('the console asked for under the 0.0.0.0 name is refused with the address to open instead', async () => {
    const port = /listening on http:\/\/0\.0\.0\.0:(\d+)/.exec(printed)![1]!;
    const refused = await fetch(`http://0.0.0.0:${port}/`);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toBe(`the sandbox console is only served to a browser on this machine (loopback): open http://127.0.0.1:${port}/\n`);
  });
});
