// The dependency rules between src/ folders (LAYERS in lint/layers.js), as `npm run lint` applies them (eslint.config.js + lint/layers.js):
// each forbidden arrow is linted as if the import sat in a file of that folder, and must fail.
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The snippets are files that do not exist, so no tsconfig holds them: the type-aware rules (which
// need one) are switched off here; the layer rules read imports only.
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname, overrideConfig: tseslint.configs.disableTypeChecked });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'layers/no-forbidden-arrow' || m.ruleId === 'no-restricted-globals').map((m) => m.message);
}

describe('layer rules', () => {
  it.each([
    ['src/transport/x.ts', "import { x } from '../commands/bot.js';", 'nothing but cli.ts imports commands/'],
    ['src/mcp/tools/x.ts', "import { x } from '../../commands/serve.js';", 'nothing but cli.ts imports commands/'],
    ['src/engine/x.ts', "import { x } from '../sandbox/server.js';", 'src/engine must not import'],
    ['src/engine/x.ts', "import { x } from '../mcp/server.js';", 'src/engine must not import'],
    // The engine reaches Crisp only through its effect port, whose Crisp side the commands wire in
    // (commands/crisp-conversation.ts): no channel imports it either.
    ['src/engine/x.ts', "import type { CrispClient } from '../crisp/index.js';", 'only through its effect port'],
    ['src/engine/x.ts', "import { x } from '../commands/crisp-conversation.js';", 'nothing but cli.ts imports commands/'],
    ['src/autopilot/x.ts', "import { x } from '../commands/crisp-conversation.js';", 'nothing but cli.ts imports commands/'],
    ['src/mcp/tools/x.ts', "import { x } from '../../commands/crisp-conversation.js';", 'nothing but cli.ts imports commands/'],
    ['src/autopilot/x.ts', "import { x } from '../converse/converse.js';", 'never another channel'],
    ['src/converse/x.ts', "import { x } from '../sandbox/hooks.js';", 'src/converse must not import'],
    ['src/mcp/x.ts', "import { x } from '../autopilot/autopilot.js';", 'never another channel'],
    ['src/transport/x.ts', "import { x } from '../sandbox/server.js';", 'src/transport must not import'],
    ['src/scenario/x.ts', "import { x } from '../store/index.js';", 'scenario/ is pure'],
    ['src/scenario/compile/x.ts', "import { x } from 'node:fs';", 'scenario/ is pure'],
    ['src/scenario/x.ts', "const x = setTimeout(() => 1, 1);", 'scenario/ is pure'],
    ['src/crisp/x.ts', "import { x } from '../engine/turn.js';", 'crisp/ knows nothing'],
    ['src/sandbox/x.ts', "import { x } from '../crisp/client.js';", 'wire schemas'],
    ['src/store/x.ts', "export { x } from '../engine/library.js';", 'src/store must not import'],
  ])('%s: %s fails', async (file, code, message) => {
    const found = await problems(file, code);
    expect(found.join('\n')).toContain(message);
  });

  it.each([
    ['src/mcp/x.ts', "import { x } from '../engine/turn.js';"],
    ['src/mcp/tools/x.ts', "import type { OpenConversation } from '../../engine/port.js';"],
    ['src/commands/x.ts', "import { x } from '../engine/port.js';"],
    ['src/autopilot/x.ts', "import { x } from '../store/index.js';"],
    ['src/sandbox/x.ts', "import { x } from '../crisp/schemas.js';"],
    ['src/scenario/compile/x.ts', "import { x } from '../schema.js';"],
    ['src/commands/x.ts', "import { x } from '../sandbox/server.js';"],
    ['src/cli.ts', "import { x } from './commands/serve.js';"],
  ])('%s: %s is allowed', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
