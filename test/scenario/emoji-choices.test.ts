// Choice labels with an emoji (`返金 💴`, `Refund 💸`): a visitor who types only the words picks
// the choice; two labels that differ only by their emoji are not guessed between, the buttons are
// shown again. The runner as a table (nothing running), then `crisp-mcp scenario chat` as a user types.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, type Program } from '../../src/scenario/compile.js';
import { initialPosition, step, type Action, type Position } from '../../src/scenario/run.js';
import { runCli } from '../helpers/cli.js';

const SCENARIO = {
  name: 'refunds',
  version: 1,
  start: 'ask',
  blocks: {
    ask: {
      type: 'choice',
      text: 'What do you need?',
      choices: [
        { label: '返金 💴', next: 'refund_ja' },
        { label: 'Refund 💸', value: 'refund', next: 'refund' },
        { label: '🚚 Shipping!', next: 'shipping' },
        { label: 'Help 🙂', next: 'help_a' },
        { label: 'Help 🙃', next: 'help_b' },
      ],
    },
    refund_ja: { type: 'end', text: '返金の手続きをします。' },
    refund: { type: 'end', text: 'Refunding.' },
    shipping: { type: 'end', text: 'Shipping info.' },
    help_a: { type: 'end', text: 'Help A.' },
    help_b: { type: 'end', text: 'Help B.' },
  },
};

function program(blocks: Record<string, unknown> = SCENARIO.blocks): Program {
  const result = compile({ ...SCENARIO, blocks });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.program;
}

const texts = (actions: Action[]) => actions.flatMap((a) => (a.type === 'send_message' ? [a.message.text ?? ''] : []));

/** The visitor's answer to the buttons: what the bot says next. */
function answer(p: Program, typed: string): string[] {
  const asked: Position = step(p, initialPosition(p), { type: 'start' }).position;
  return texts(step(p, asked, { type: 'visitor_text', text: typed }).actions);
}

describe('a choice is picked by its words, its emoji ignored', () => {
  const p = program();
  it.each([
    ['返金', '返金の手続きをします。'],
    ['返金 💴', '返金の手続きをします。'],
    ['refund', 'Refunding.'],
    ['REFUND!', 'Refunding.'],
    ['💸 refund', 'Refunding.'],
    ['shipping', 'Shipping info.'],
    ['Help 🙃', 'Help B.'],
  ])('%j', (typed, reply) => {
    expect(answer(p, typed)).toEqual([reply]);
  });

  it('asks again when the words are two choices (labels that differ only by emoji): no guess', () => {
    expect(answer(p, 'help')).toEqual(['What do you need?']);
  });

  it('asks again, not the fallback, for those words when the block has a fallback', () => {
    const withFallback = program({ ...SCENARIO.blocks, ask: { ...SCENARIO.blocks.ask, fallback: 'shipping' } });
    expect(answer(withFallback, 'help')).toEqual(['What do you need?']);
    expect(answer(withFallback, 'something else')).toEqual(['Shipping info.']);
  });

  it('does not match on emoji alone, nor on part of the words', () => {
    expect(answer(p, '💸')).toEqual(['What do you need?']);
    expect(answer(p, 'ref')).toEqual(['What do you need?']);
  });
});

describe('crisp-mcp scenario chat', () => {
  it('picks `返金 💴` when the visitor types 返金, and asks again at "help"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crisp-mcp-emoji-'));
    const file = join(dir, 'refunds.json');
    writeFileSync(file, JSON.stringify(SCENARIO));
    const chat = await runCli(['scenario', 'chat', file], { env: {}, input: 'help\n返金\n/quit\n', timeoutMs: 60_000 });
    expect(chat.status).toBe(0);
    expect(chat.stdout).toContain('you: help\nbot: What do you need?\n');
    expect(chat.stdout).toContain('you: 返金\nbot: 返金の手続きをします。\n');
  }, 60_000);
});
