// Preloaded (`node --import`) into a stdio server by bench/mcp-stdio: for each answer, the time from
// the stdin chunk that brought its request to the write of the answer, and when that write was
// made, in epoch µs (performance.timeOrigin + now(), one clock for every process on the machine).
// Written at exit as JSON to the file BENCH_ANSWER_TIMES names. For calls made one at a time, as
// the bench makes them, the last chunk before a write is that answer's request. What this measures
// is the server alone: the pipe hops and the scheduler's wake-ups, which move the client's latency
// by tens of µs from one run to the next, are outside it.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_ANSWER_TIMES;
const spans = [];
const at = [];
let requestAt = 0;

const emit = process.stdin.emit;
process.stdin.emit = function (event, ...args) {
  if (event === 'data') requestAt = performance.now();
  return emit.call(this, event, ...args);
};
const write = process.stdout.write;
process.stdout.write = function (...args) {
  if (requestAt) {
    const now = performance.now();
    spans.push(Math.round((now - requestAt) * 1000));
    at.push(Math.round((performance.timeOrigin + now) * 1000));
    requestAt = 0;
  }
  return write.apply(this, args);
};
process.on('exit', () => writeFileSync(file, JSON.stringify({ spans, at })));
