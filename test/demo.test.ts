// The README's main job: `npm run demo` must keep working end to end (built CLI, stdio, sandbox).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../demo/agent-session.js', import.meta.url));

it('npm run demo works a pending chat from list to resolved', () => {
  const run = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 20_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const called = [...run.stdout.matchAll(/→ (\w+) /g)].map((m) => m[1]);
  expect(called).toEqual(['list_conversations', 'get_conversation', 'mark_messages_read', 'set_compose', 'send_message', 'list_operators', 'assign_conversation', 'set_conversation_state', 'update_person', 'get_conversation']);
  expect(run.stdout).toMatch(/is now resolved/);
  expect(run.stdout).toMatch(/operator API: Hi \w+, thanks for your patience/);
  expect(run.stdout).toMatch(/Done\./);
});
