// `serve --sandbox` (stdio or HTTP) and `bot --sandbox` as a newcomer starts them: stderr says where the console is, the credentials the
// embedded sandbox takes (CRISP_SANDBOX_KEY when set) and how to play the visitor; the printed
// routes work as printed; stdout stays the MCP channel.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import { expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { eventually, next, openSocket } from '../helpers/events.js';

const KEY = 'guide-test-key-42';
const SCENARIOS = fileURLToPath(new URL('../../scenarios', import.meta.url));

it.each([
  [['serve', '--sandbox']],
  [['serve', '--http', '--port', '0', '--sandbox']],
  [['bot', '--scenario', 'gdpr', '--sandbox', '--scenarios', SCENARIOS]],
])('%j prints the sandbox guide on stderr once up, and its routes answer as printed', async (args) => {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', CRISP_SANDBOX_KEY: KEY }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let socket: Socket | undefined;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  try {
    await eventually(() => stderr.includes('and read the replies: curl '), 15_000, `the guide on stderr (${stderr})`);
    const url = /Embedded Crisp sandbox on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    const website = /website_id {2}(\S+)/.exec(stderr)![1]!;
    expect(stderr).toContain(`console     ${url}/ `);
    expect(stderr).toContain(`key         ${KEY}`);
    expect(stderr).toContain(`identifier  c0ffee00-5a4d-4b0c-8000-000000000001`);

    // An RTM client with the printed key hears the visitor (stdio serve attaches Socket.IO on this first connection).
    socket = openSocket(`${url}/rtm`);
    const authenticated = next(socket, 'authenticated', 10_000);
    socket.emit('authentication', { tier: 'plugin', username: 'c0ffee00-5a4d-4b0c-8000-000000000001', password: KEY, events: ['message:send'] });
    expect(await authenticated).toBe(true);
    const heard = next<{ content: unknown }>(socket, 'message:send', 10_000);
    heard.catch(() => undefined); // awaited below; a failure before then is the one reported

    // The "Play the visitor" line, then the thread read back from the visitor's side.
    const start = /Play the visitor: curl -X POST (\S+)/.exec(stderr)![1]!;
    const created = (await (await fetch(start, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"Hello!"}' })).json()) as { data: { session_id: string } };
    const read = /and read the replies: curl (\S+)/.exec(stderr)![1]!.replace('SESSION_ID', created.data.session_id);
    const thread = async () => ((await (await fetch(read)).json()) as { data: Array<{ from: string; type: string; content: unknown }> }).data;
    expect((await thread())[0]).toMatchObject({ from: 'user', content: 'Hello!' });
    expect((await heard).content).toBe('Hello!');
    if (args[0] === 'bot') {
      // A script sees the bot's reply there; the handoff's private note for operators it does not.
      const replied = await eventually(async () => {
        const messages = await thread();
        return messages.some((m) => m.from === 'operator') && messages;
      }, 5_000, 'the bot replying');
      expect(replied.map((m) => [m.from, m.type, m.content])).toEqual([
        ['user', 'text', 'Hello!'],
        ['operator', 'text', 'Let me get someone from the team for you.'],
      ]);
    }

    // The key it printed opens Crisp's REST API on the sandbox.
    const rest = await fetch(`${url}/v1/website/${website}/conversation/${created.data.session_id}`, {
      headers: { authorization: `Basic ${Buffer.from(`c0ffee00-5a4d-4b0c-8000-000000000001:${KEY}`).toString('base64')}`, 'x-crisp-tier': 'plugin', 'user-agent': 'crisp-mcp-tests' },
    });
    expect(rest.status).toBe(200);
    expect(stdout).toBe('');
  } finally {
    socket?.disconnect();
    child.kill('SIGTERM');
  }
});
