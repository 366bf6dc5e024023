// bench/scenario: resume + step of the linearized program (position.pc indexes the instruction
// array) beside the NAIVE resume seed 001 warns about (walk the graph from its start to find the
// saved block, then interpret the graph), at 10, 1 000 and 100 000 blocks; then compile time and
// memory at 100 000 blocks. In memory, no store. Prints markdown tables.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { compile, compileText } from '../dist/scenario/compile.js';
import { initialPosition, step } from '../dist/scenario/run.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

/**
 * A support-bot-like graph of `n` blocks: questions (choice: waits) each followed by an answer
 * (message), chained; answer "a" reads the answer then goes on, "b" skips to the next question.
 */
export function makeScenario(n) {
  const blocks = {};
  const even = n % 2 === 0;
  const pairs = Math.max(1, Math.floor((n - (even ? 2 : 1)) / 2));
  if (even) blocks.intro = { type: 'message', text: 'Hello!', next: 'q0' };
  const q = (i) => (i < pairs ? `q${i}` : 'done');
  for (let i = 0; i < pairs; i++) {
    blocks[`q${i}`] = {
      type: 'choice',
      text: `Question ${i}, {{name}}?`,
      choices: [
        { label: 'Tell me', value: 'a', next: `m${i}` },
        { label: 'Skip', value: 'b', next: q(i + 1) },
      ],
      save: 'name',
    };
    blocks[`m${i}`] = { type: 'message', text: `Answer ${i}.`, next: q(i + 1) };
  }
  blocks.done = { type: 'end', text: 'Bye' };
  return { name: 'bench', version: 1, start: even ? 'intro' : 'q0', blocks };
}

// ---------------------------------------------------------------- the anchor: naive resume

/** Finds the saved block by walking the graph from start (depth-first, like a bot with no index). */
function naiveFind(scenario, target) {
  const stack = [scenario.start];
  const seen = new Set();
  while (stack.length > 0) {
    const id = stack.pop();
    if (id === target) return scenario.blocks[id];
    if (seen.has(id)) continue;
    seen.add(id);
    const b = scenario.blocks[id];
    if (b.type === 'message') stack.push(b.next);
    else if (b.type === 'choice') for (let i = b.choices.length - 1; i >= 0; i--) stack.push(b.choices[i].next);
  }
  return undefined;
}

/** The same turn as step(): find the saved choice block, apply the answer, run to the next wait. */
function naiveStep(scenario, position, event) {
  const block = naiveFind(scenario, position.block);
  const actions = [];
  const chosen = block.choices.find((c) => c.value === event.value || c.label.toLowerCase() === event.value.toLowerCase());
  const vars = { ...position.vars, name: chosen.value };
  let id = chosen.next;
  for (;;) {
    const b = scenario.blocks[id];
    const text = b.text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => vars[k] ?? '');
    if (b.type === 'message') {
      actions.push({ type: 'send_message', message: { type: 'text', text } });
      id = b.next;
    } else if (b.type === 'choice') {
      actions.push({ type: 'send_message', message: { type: 'picker', id, text, choices: b.choices.map((c) => ({ value: c.value, label: c.label })) } });
      return { actions, position: { ...position, block: id, vars, waiting: true } };
    } else {
      actions.push({ type: 'send_message', message: { type: 'text', text } });
      return { actions, position: { ...position, block: id, vars, waiting: false, ended: true } };
    }
  }
}

// ---------------------------------------------------------------- measuring

/** Saved positions spread evenly over the graph's questions, as a store would hold them. */
function savedPositions(program, scenario, count) {
  const questions = Object.keys(scenario.blocks).filter((id) => scenario.blocks[id].type === 'choice');
  const base = initialPosition(program);
  return Array.from({ length: count }, (_, i) => {
    const block = questions[Math.floor(((i + 0.5) / count) * questions.length)];
    return JSON.parse(JSON.stringify({ ...base, pc: program.index.get(block), block, waiting: true, vars: { name: 'b' } }));
  });
}

/** Runs `turn` over the saved positions for about `ms` milliseconds (at least `min` turns); mean ns per turn. */
function measure(turn, positions, { ms = 400, min = 20 } = {}) {
  const events = [{ type: 'choice', value: 'a' }, { type: 'choice', value: 'Skip' }];
  for (let i = 0; i < Math.min(2_000, positions.length * 4); i++) turn(positions[i % positions.length], events[i & 1]); // warm up
  let turns = 0;
  let sink = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(ms) * 1_000_000n;
  while (turns < min || process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 256; i++, turns++) sink += turn(positions[turns % positions.length], events[turns & 1]).actions.length;
  }
  const ns = Number(process.hrtime.bigint() - started) / turns;
  if (sink === 0) throw new Error('no actions: the bench measured nothing');
  return { ns, perSecond: 1e9 / ns, turns };
}

export async function benchScenario({ sizes = [10, 1_000, 100_000] } = {}) {
  const rows = [];
  for (const n of sizes) {
    const scenario = makeScenario(n);
    const result = compile(scenario);
    if (!result.ok) throw new Error(JSON.stringify(result.problems.slice(0, 3)));
    const { program } = result;
    const positions = savedPositions(program, scenario, 1_000);
    // Same answers, same actions: the anchor really does the same work.
    const check = positions[positions.length >> 1];
    const a = step(program, check, { type: 'choice', value: 'a' }).actions;
    const b = naiveStep(scenario, check, { type: 'choice', value: 'a' }).actions;
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`anchor and runner disagree at ${n} blocks`);
    const ours = measure((pos, ev) => step(program, pos, ev), positions);
    const naive = measure((pos, ev) => naiveStep(scenario, pos, ev), positions, { ms: 400, min: n >= 100_000 ? 50 : 1_000 });
    rows.push({ blocks: Object.keys(scenario.blocks).length, instructions: program.code.length, ours, naive });
  }
  return { rows, compile: benchCompile(100_000) };
}

function benchCompile(n) {
  const scenario = makeScenario(n);
  const text = JSON.stringify(scenario, null, 1);
  gc();
  const before = process.memoryUsage().heapUsed;
  let t = performance.now();
  const first = compile(scenario);
  const cold = performance.now() - t;
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  if (!first.ok) throw new Error('compile failed');
  let warm = Infinity;
  let fromText = Infinity;
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    compile(scenario);
    warm = Math.min(warm, performance.now() - t);
    t = performance.now();
    compileText(text);
    fromText = Math.min(fromText, performance.now() - t);
  }
  return { blocks: n, instructions: first.program.code.length, cold, warm, fromText, textMB: text.length / 1e6, retainedMB: retained / 1e6, program: first.program };
}

export function formatScenario({ rows, compile: c }) {
  const us = (ns) => (ns >= 100_000 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`);
  const rate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0));
  const lines = [
    'bench/scenario — one turn: resume a saved position + answer a choice + run to the next wait (in memory, 1 000 saved positions spread over the graph)',
    '',
    '| blocks | instructions | resume + step (linear, pc index) | steps/s | naive resume + step (walk from start, anchor) | steps/s | speed-up |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.blocks.toLocaleString('en')} | ${r.instructions.toLocaleString('en')} | ${us(r.ours.ns)} | ${rate(r.ours.perSecond)} | ${us(r.naive.ns)} | ${rate(r.naive.perSecond)} | ${(r.naive.ns / r.ours.ns).toFixed(1)}× |`);
  }
  const largest = rows[rows.length - 1];
  lines.push(
    '',
    `Target: resume + step ≤ 2 µs at ${largest.blocks.toLocaleString('en')} blocks, independent of size — ${largest.ours.ns <= 2_000 ? 'met' : 'NOT met'} (${us(largest.ours.ns)}; ${us(rows[0].ours.ns)} at ${rows[0].blocks} blocks).`,
    '',
    `| compile ${c.blocks.toLocaleString('en')} blocks | time | |`,
    '|---|---:|---|',
    `| compile(object), first call (cold JIT) | ${c.cold.toFixed(0)} ms | validate (zod) + graph checks + linearize + sha-256 |`,
    `| compile(object), best of 3 | ${c.warm.toFixed(0)} ms | target < 500 ms: ${c.warm < 500 ? 'met' : 'NOT met'} |`,
    `| compileText(${c.textMB.toFixed(1)} MB of JSON), best of 3 | ${c.fromText.toFixed(0)} ms | + JSON.parse + duplicate-key scan |`,
    `| program kept in memory | ${c.retainedMB.toFixed(1)} MB | ${c.instructions.toLocaleString('en')} instructions, block index included |`,
  );
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${formatScenario(await benchScenario())}\n`);
}
