// The resource stack every command holds its parts on, and the one signal and fault handler around
// it: release order, a failure half-way through start-up, a close that hangs or throws (the others
// still close, and the line it logs carries no secret), a signal while a part is still opening, a
// fault (uncaught exception, unhandled rejection) while running or starting, and a second one.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandLifecycle, ResourceStack, runCommand, StoppedError, stopOnFault, type Stop } from '../../src/commands/resources.js';
import { clearSecrets, registerSecret } from '../../src/credentials/redact.js';
import { createLogger } from '../../src/log.js';

/** A logger whose JSON lines land in `lines` (through the same scrubbing as the process logger). */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

/** A part that records its opening and closing in `events`. */
function part(events: string[], name: string, close: () => unknown = () => undefined) {
  return [name, () => (events.push(`open ${name}`), name), () => (events.push(`close ${name}`), close())] as const;
}

/**
 * A command body that opens the sandbox, starts opening its RTM connection, and is stopped by
 * `stop` (a signal, a fault) before that part has opened; `finishOpening` lets it open afterwards.
 */
function stoppedWhileOpening(events: string[], stop: () => void) {
  let finishOpening!: () => void;
  const body = async (life: CommandLifecycle): Promise<number> => {
    await life.acquire(...part(events, 'sandbox'));
    const rtm = life.acquire('RTM connection', () => new Promise<string>((resolve) => (finishOpening = () => resolve('socket'))), () => events.push('close RTM connection'));
    stop();
    await rtm;
    events.push('started'); // never reached
    return 0;
  };
  return { body, finishOpening: () => finishOpening() };
}

afterEach(() => {
  vi.useRealTimers();
  clearSecrets();
});

describe('ResourceStack', () => {
  it('releases the parts in the reverse order of their acquisition, once', async () => {
    const events: string[] = [];
    const stack = new ResourceStack({ log: capturedLog().log });
    expect(await stack.acquire(...part(events, 'sandbox'))).toBe('sandbox');
    await stack.acquire(...part(events, 'client'));
    await stack.acquire(...part(events, 'store'));
    const report = await stack.release();
    expect(events).toEqual(['open sandbox', 'open client', 'open store', 'close store', 'close client', 'close sandbox']);
    expect(report).toEqual([
      { name: 'store', outcome: 'closed' },
      { name: 'client', outcome: 'closed' },
      { name: 'sandbox', outcome: 'closed' },
    ]);
    // A second release (an error path after the end, a signal after a failure) closes nothing twice.
    expect(await stack.release()).toBe(report);
    expect(events.filter((e) => e.startsWith('close'))).toHaveLength(3);
  });

  it('a step failing half-way registers nothing for itself and leaves the earlier parts to the release', async () => {
    const events: string[] = [];
    const stack = new ResourceStack({ log: capturedLog().log });
    await stack.acquire(...part(events, 'sandbox'));
    await stack.acquire(...part(events, 'client'));
    const failing = stack.acquire('store', () => Promise.reject(new Error('cannot reach the Redis store')), () => events.push('close store'));
    await expect(failing).rejects.toThrow('cannot reach the Redis store');
    await stack.release();
    expect(events).toEqual(['open sandbox', 'open client', 'close client', 'close sandbox']);
  });

  it('a close that hangs is given up after its bound, and the parts below it still close', async () => {
    vi.useFakeTimers();
    const events: string[] = [];
    const { log, lines } = capturedLog();
    const stack = new ResourceStack({ log });
    await stack.acquire(...part(events, 'sandbox'));
    await stack.acquire(...part(events, 'store', () => new Promise(() => {}))); // never settles
    await stack.acquire(...part(events, 'server'));
    const released = stack.release();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(events).not.toContain('close sandbox'); // still waiting on the store
    await vi.advanceTimersByTimeAsync(1);
    expect(await released).toEqual([
      { name: 'server', outcome: 'closed' },
      { name: 'store', outcome: 'timed_out' },
      { name: 'sandbox', outcome: 'closed' },
    ]);
    expect(events.at(-1)).toBe('close sandbox');
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, part: 'store', timeout_ms: 5_000, msg: 'closing store took too long; moving on' }));
  });

  it('a part can bring its own bound (a drain that takes longer than the default)', async () => {
    vi.useFakeTimers();
    const stack = new ResourceStack({ log: capturedLog().log, closeTimeoutMs: 100 });
    let drained = false;
    await stack.acquire('server', () => 'server', () => new Promise<void>((resolve) => setTimeout(() => resolve(void (drained = true)), 1_000)), { timeoutMs: 2_000 });
    const released = stack.release();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await released).toEqual([{ name: 'server', outcome: 'closed' }]);
    expect(drained).toBe(true);
  });

  it('a close that throws (at once or later) is logged without the secret in it, and the others still close', async () => {
    registerSecret('sk-live-0123456789abcdef');
    const events: string[] = [];
    const { log, lines } = capturedLog();
    const stack = new ResourceStack({ log });
    await stack.acquire(...part(events, 'sandbox'));
    await stack.acquire(...part(events, 'client', () => Promise.reject(new Error('pool refused key sk-live-0123456789abcdef'))));
    await stack.acquire(...part(events, 'store', () => {
      throw new Error('database is locked');
    }));
    const report = await stack.release();
    expect(report.map((r) => r.outcome)).toEqual(['failed', 'failed', 'closed']);
    expect(events).toEqual(['open sandbox', 'open client', 'open store', 'close store', 'close client', 'close sandbox']);
    expect(lines).toContainEqual(expect.objectContaining({ part: 'store', error: 'database is locked', msg: 'closing store failed' }));
    expect(lines).toContainEqual(expect.objectContaining({ part: 'client', error: 'pool refused key [redacted]' }));
    expect(JSON.stringify(lines)).not.toContain('sk-live');
  });

  it('a part that finishes opening once the release has begun is closed at once, and its acquire fails', async () => {
    const events: string[] = [];
    const stack = new ResourceStack({ log: capturedLog().log });
    let finishOpening!: () => void;
    const opening = stack.acquire('RTM connection', () => new Promise<string>((resolve) => (finishOpening = () => resolve('socket'))), () => events.push('close RTM connection'));
    await stack.release();
    finishOpening();
    await expect(opening).rejects.toBeInstanceOf(StoppedError);
    expect(events).toEqual(['close RTM connection']);
    await expect(stack.acquire(...part(events, 'late'))).rejects.toThrow('stopped before late was ready');
    expect(events).not.toContain('open late');
  });
});

describe('CommandLifecycle and runCommand', () => {
  it('the first SIGTERM ends the wait, a second one exits at once with 143', async () => {
    const exit = vi.fn();
    const life = new CommandLifecycle({ log: capturedLog().log, exit });
    try {
      const waiting = life.untilStopped(new Promise<Error>(() => {}));
      process.emit('SIGTERM', 'SIGTERM');
      expect(await waiting).toEqual({ kind: 'signal', signal: 'SIGTERM' });
      expect(exit).not.toHaveBeenCalled();
      process.emit('SIGTERM', 'SIGTERM');
      expect(exit).toHaveBeenCalledWith(143);
    } finally {
      life.dispose();
    }
  });

  it('untilStopped reports the failure that ends a command before any signal', async () => {
    const life = new CommandLifecycle({ log: capturedLog().log, exit: vi.fn() });
    try {
      expect(await life.untilStopped(Promise.resolve(new Error('RTM refused the credentials')))).toEqual({ kind: 'failed', error: new Error('RTM refused the credentials') });
      expect(await life.untilStopped(Promise.resolve())).toEqual({ kind: 'ended' });
    } finally {
      life.dispose();
    }
  });

  it('a signal while a part is still opening stops the start-up there; the part is closed once it opens', async () => {
    const events: string[] = [];
    const { log, lines } = capturedLog();
    const { body, finishOpening } = stoppedWhileOpening(events, () => process.emit('SIGINT', 'SIGINT'));
    const code = runCommand(log, body, { exit: vi.fn() });
    expect(await code).toBe(0);
    expect(events).toEqual(['open sandbox', 'close sandbox']);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'stopped during start-up', reason: 'stopped before RTM connection was ready' }));
    finishOpening();
    await vi.waitFor(() => expect(events).toContain('close RTM connection'));
    expect(process.listenerCount('SIGINT')).toBe(0); // runCommand let go of the signals
  });

  it('runCommand releases everything when the body throws, and rethrows', async () => {
    const events: string[] = [];
    const body = async (life: CommandLifecycle): Promise<number> => {
      await life.acquire(...part(events, 'sandbox'));
      await life.acquire(...part(events, 'server'));
      throw new Error('the autopilot could not start');
    };
    await expect(runCommand(capturedLog().log, body)).rejects.toThrow('the autopilot could not start');
    expect(events).toEqual(['open sandbox', 'open server', 'close server', 'close sandbox']);
  });

  it('runCommand turns a clean 0 into 1 when a part failed to close, and keeps a non-zero code as is', async () => {
    const failingClose = async (life: CommandLifecycle, code: number) => {
      await life.acquire('store', () => 'store', () => Promise.reject(new Error('close failed')));
      return code;
    };
    expect(await runCommand(capturedLog().log, (life) => failingClose(life, 0))).toBe(1);
    expect(await runCommand(capturedLog().log, (life) => failingClose(life, 2))).toBe(2);
  });
});

describe('a fault (an uncaught exception or unhandled rejection) while a command runs', () => {
  /** A command holding three parts, waiting in untilStopped; `running` resolves once it is. */
  function threePartCommand(events: string[], storeClose: () => unknown = () => undefined) {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const stops: Stop[] = [];
    const body = async (life: CommandLifecycle): Promise<number> => {
      await life.acquire(...part(events, 'sandbox'));
      await life.acquire(...part(events, 'store', storeClose));
      await life.acquire(...part(events, 'server'));
      started();
      stops.push(await life.untilStopped());
      await life.release();
      events.push('command returned 0');
      return 0;
    };
    return { body, running, stops };
  }

  it('releases every part in reverse, then exits 1; the command ends with 1 whatever it returns', async () => {
    const events: string[] = [];
    const { body, running, stops } = threePartCommand(events);
    const fault = new Error('Cannot read properties of undefined (reading "session_id")');
    const code = runCommand(capturedLog().log, body, { exit: (c) => events.push(`exit ${c}`) });
    await running;
    expect(stopOnFault(fault)).toBe(true);
    expect(await code).toBe(1);
    expect(stops).toEqual([{ kind: 'fault', error: fault }]);
    expect(events.slice(3, 6)).toEqual(['close server', 'close store', 'close sandbox']);
    expect(events.filter((e) => e.startsWith('exit'))).toEqual(['exit 1']);
    expect(events.indexOf('exit 1')).toBeGreaterThan(events.indexOf('close sandbox'));
    expect(events.filter((e) => e.startsWith('close'))).toHaveLength(3); // the command's own release closed nothing twice
    // The command has let go: a fault from now on is cli.ts's to end at once.
    expect(stopOnFault(fault)).toBe(false);
  });

  it('does not wait for the command, which may be what broke: the parts are released and the process exits 1 all the same', async () => {
    const events: string[] = [];
    let unblock!: () => void;
    const code = runCommand(
      capturedLog().log,
      async (life) => {
        await life.acquire(...part(events, 'store'));
        await life.acquire(...part(events, 'autopilot'));
        // Stuck on something the fault broke: it never reaches untilStopped.
        await new Promise<void>((resolve) => (unblock = resolve));
        return 0;
      },
      { exit: (c) => events.push(`exit ${c}`) },
    );
    await vi.waitFor(() => expect(events).toContain('open autopilot'));
    stopOnFault(new Error('boom in a timer'));
    await vi.waitFor(() => expect(events).toContain('exit 1'));
    expect(events).toEqual(['open store', 'open autopilot', 'close autopilot', 'close store', 'exit 1']);
    unblock();
    expect(await code).toBe(1);
  });

  it('a close that hangs is given up after its bound, and the process still exits 1 once the rest is released', async () => {
    vi.useFakeTimers();
    const events: string[] = [];
    const { body, running } = threePartCommand(events, () => new Promise(() => {}));
    const code = runCommand(capturedLog().log, body, { exit: (c) => events.push(`exit ${c}`) });
    await running;
    stopOnFault(new Error('boom'));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(events).not.toContain('exit 1');
    expect(events).not.toContain('close sandbox');
    await vi.advanceTimersByTimeAsync(1);
    expect(await code).toBe(1);
    expect(events.slice(-3)).toEqual(['close sandbox', 'exit 1', 'command returned 0']);
  });

  it('a second fault, or a signal, during that release exits at once', async () => {
    for (const [second, forced] of [[() => stopOnFault(new Error('second fault')), 'exit 1'], [() => process.emit('SIGTERM', 'SIGTERM'), 'exit 143']] as const) {
      vi.useFakeTimers();
      const events: string[] = [];
      const { body, running } = threePartCommand(events, () => new Promise(() => {})); // the store's close hangs
      const code = runCommand(capturedLog().log, body, { exit: (c) => events.push(`exit ${c}`) });
      await running;
      stopOnFault(new Error('first fault'));
      await vi.advanceTimersByTimeAsync(100);
      expect(events.at(-1)).toBe('close store'); // waiting on it
      second();
      expect(events.at(-1)).toBe(forced); // at once, without waiting for the store
      await vi.advanceTimersByTimeAsync(5_000); // (the real process is gone by now; the injected exit is not)
      expect(await code).toBe(1);
      vi.useRealTimers();
    }
  });

  it('a fault during start-up stops it at its next step; the part still opening is closed once it opens, and the code is 1', async () => {
    const events: string[] = [];
    const { log, lines } = capturedLog();
    const { body, finishOpening } = stoppedWhileOpening(events, () => stopOnFault(new Error('unhandled rejection from a start-up retry')));
    const code = runCommand(log, body, { exit: (c) => events.push(`exit ${c}`) });
    expect(await code).toBe(1);
    expect(events).toEqual(['open sandbox', 'close sandbox', 'exit 1']);
    expect(lines.map((l) => l.msg)).not.toContain('stopped during start-up');
    finishOpening();
    await vi.waitFor(() => expect(events).toContain('close RTM connection'));
  });

  it('the command that throws after a fault (its consequence) still ends with 1, not with a second error', async () => {
    const events: string[] = [];
    const code = runCommand(
      capturedLog().log,
      async (life) => {
        await life.acquire(...part(events, 'store'));
        stopOnFault(new Error('the fault'));
        throw new Error('what the fault broke');
      },
      { exit: (c) => events.push(`exit ${c}`) },
    );
    expect(await code).toBe(1);
    expect(events).toEqual(['open store', 'close store', 'exit 1']);
  });

  it('with no command running there is nothing to release: stopOnFault says so (cli.ts then exits at once)', () => {
    expect(stopOnFault(new Error('a fault while parsing the flags'))).toBe(false);
  });
});
