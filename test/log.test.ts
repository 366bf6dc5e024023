// OutageLog: the shape of what a repeating failure writes, with an injected clock — one warning
// when it starts, debug lines after, a warning again for each new cause, one info line when it
// works again (how long, how many failures), and nothing at all while everything works.
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { OutageLog, createLogger } from '../src/log.js';

it('tells an outage in one warning and one line when it is back, and warns again for each new cause, once', () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let now = 1_000;
  const outage = new OutageLog(createLogger('debug', sink), () => now);
  const seen = () => lines.map(({ level, msg, code, failures, down_ms }) => ({ level, msg, code, failures, down_ms }));

  outage.succeeded({}, 'back');
  expect(lines).toEqual([]);
  outage.failed({ code: 'crisp_unavailable' }, 'failed');
  now += 5_000;
  outage.failed({ code: 'crisp_unavailable' }, 'failed');
  now += 5_000;
  outage.failed({ code: 'crisp_forbidden' }, 'failed');
  // Kinds interleaved (many conversations failing at once): each is news only the first time.
  outage.failed({ code: 'crisp_unavailable' }, 'failed');
  outage.failed({ code: 'crisp_forbidden' }, 'failed');
  expect(outage.down).toBe(true);
  now += 5_000;
  outage.succeeded({}, 'back');
  outage.succeeded({}, 'back');
  expect(outage.down).toBe(false);
  outage.failed({ code: 'crisp_unavailable' }, 'failed');

  expect(seen()).toEqual([
    { level: 40, msg: 'failed', code: 'crisp_unavailable', failures: undefined, down_ms: undefined },
    { level: 20, msg: 'failed', code: 'crisp_unavailable', failures: 2, down_ms: undefined },
    { level: 40, msg: 'failed', code: 'crisp_forbidden', failures: 3, down_ms: undefined },
    { level: 20, msg: 'failed', code: 'crisp_unavailable', failures: 4, down_ms: undefined },
    { level: 20, msg: 'failed', code: 'crisp_forbidden', failures: 5, down_ms: undefined },
    { level: 30, msg: 'back', code: undefined, failures: 5, down_ms: 15_000 },
    { level: 40, msg: 'failed', code: 'crisp_unavailable', failures: undefined, down_ms: undefined },
  ]);
});
