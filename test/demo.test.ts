// The README's main job: `npm run demo` must keep working end to end (built CLI, stdio, sandbox).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../demo/agent-session.js', import.meta.url));

it('npm run demo works a pending chat on the short path: list with messages → helpdesk → reply and resolve', () => {
  const run = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 20_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const called = [...run.stdout.matchAll(/→ (\w+) /g)].map((m) => m[1]);
  expect(called).toEqual(['list_conversations', 'search_helpdesk', 'send_message', 'find_conversations']);
  expect(run.stdout).toMatch(/State is now resolved\./);
  expect(run.stdout).toMatch(/"content":"Hi \w+, thanks for your patience\. This article explains it: http:\/\/127\.0\.0\.1:\d+\/helpdesk\/[^"]+\/en\/article\/refund-policy\//);
  expect(run.stdout).toMatch(/url: http:\/\/127\.0\.0\.1:\d+\/website\/[^/]+\/inbox\/\{session_id\}\//);
  expect(run.stdout).toMatch(/Done\./);
});
