// Preloaded (`node --import`) into a stdio server by bench/mcp-stdio: for each answer, the time from
// the stdin chunk that brought its request to the write of the answer, and when that write was
// made, in epoch µs (performance.timeOrigin + now(), one clock for every process on the machine).
// When the call reached Crisp, that time is split in three: until the request to Crisp is written,
// until Crisp's first bytes come back, and from there to the answer. Written at exit as JSON to the
// file BENCH_ANSWER_TIMES names. For calls made one at a time, as the bench makes them, the last chunk
// before a write is that answer's request. What this measures is the server alone: the pipe hops and
// the scheduler's wake-ups, which move the client's latency by tens of µs from one run to the next,
// are outside it.
import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';

const file = process.env.BENCH_ANSWER_TIMES;
const spans = [];
const at = [];
/** Per answer that reached Crisp: [µs before its request was written, µs until Crisp's answer, µs after]; null for the others. */
const split = [];
let requestAt = 0;
let crispAskedAt = 0;
let crispAnsweredAt = 0;

const emit = process.stdin.emit;
process.stdin.emit = function (event, ...args) {
  if (event === 'data') {
    requestAt = performance.now();
    crispAskedAt = 0;
    crispAnsweredAt = 0;
  }
  return emit.call(this, event, ...args);
};
// Any other socket is the connection to Crisp (undici's): its first write after a request is the call, its first data the answer.
const socketWrite = Socket.prototype.write;
Socket.prototype.write = function (...args) {
  if (requestAt && !crispAskedAt && this !== process.stdout) crispAskedAt = performance.now();
  return socketWrite.apply(this, args);
};
const socketEmit = Socket.prototype.emit;
Socket.prototype.emit = function (event, ...args) {
  if (event === 'data' && crispAskedAt && !crispAnsweredAt && this !== process.stdin) crispAnsweredAt = performance.now();
  return socketEmit.call(this, event, ...args);
};
const write = process.stdout.write;
process.stdout.write = function (...args) {
  if (requestAt) {
    const now = performance.now();
    spans.push(Math.round((now - requestAt) * 1000));
    at.push(Math.round((performance.timeOrigin + now) * 1000));
    split.push(crispAskedAt && crispAnsweredAt ? [crispAskedAt - requestAt, crispAnsweredAt - crispAskedAt, now - crispAnsweredAt].map((ms) => Math.round(ms * 1000)) : null);
    requestAt = 0;
  }
  return write.apply(this, args);
};
process.on('exit', () => writeFileSync(file, JSON.stringify({ spans, at, split })));
