// How every command holds what it opens (the embedded sandbox, the Crisp client, the store, the
// HTTP and hook servers, the RTM socket, the autopilot, the converse workers): each part is
// acquired in order on one stack and released in reverse — at the end, on any failure, on
// SIGINT/SIGTERM, and on an uncaught exception or unhandled rejection — so no error path needs its
// own close chain. Each close is bounded: one that
// throws or hangs is logged and the release moves on to the next, so nothing is left open behind
// it and the process ends within seconds. Node 20 has no AsyncDisposableStack; this is its small,
// bounded equivalent.
import type { Logger } from '../log.js';

/** How long one part's close may take unless it says otherwise (a part that drains work gets its own drain time plus a margin). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

/** Thrown by acquire() once the stack is released (a signal arrived while the command was starting). */
export class StoppedError extends Error {
  readonly code = 'stopped';
  constructor(part: string) {
    super(`stopped before ${part} was ready`);
    this.name = 'StoppedError';
  }
}

interface Part {
  name: string;
  close: () => unknown;
  timeoutMs: number;
}

/** What release() reports for each part, in the order they were closed (the reverse of acquisition). */
export interface Released {
  name: string;
  outcome: 'closed' | 'failed' | 'timed_out';
}

export interface ResourceStackOptions {
  /** Where a close that fails or times out is reported (the process logger scrubs secrets from every line). */
  log: Pick<Logger, 'warn'>;
  closeTimeoutMs?: number;
}

export class ResourceStack {
  readonly #parts: Part[] = [];
  readonly #log: Pick<Logger, 'warn'>;
  readonly #timeoutMs: number;
  #releasing: Promise<Released[]> | undefined;

  constructor(options: ResourceStackOptions) {
    this.#log = options.log;
    this.#timeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  /**
   * Opens a part and puts its close on the stack. An `open` that throws registers nothing (it must
   * clean up after itself). A part that opens after release() began is closed at once, and
   * acquire() throws StoppedError.
   */
  async acquire<T>(name: string, open: () => T | Promise<T>, close: (part: T) => unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.#releasing) throw new StoppedError(name);
    const part = await open();
    const entry: Part = { name, close: () => close(part), timeoutMs: options.timeoutMs ?? this.#timeoutMs };
    if (this.#releasing) {
      await this.#closeOne(entry);
      throw new StoppedError(name);
    }
    this.#parts.push(entry);
    return part;
  }

  /**
   * Closes every part, the last acquired first, each within its bound; never throws. Calling it
   * again returns the same outcome, after the same single release.
   */
  release(): Promise<Released[]> {
    this.#releasing ??= (async () => {
      const report: Released[] = [];
      for (let part = this.#parts.pop(); part; part = this.#parts.pop()) report.push({ name: part.name, outcome: await this.#closeOne(part) });
      return report;
    })();
    return this.#releasing;
  }

  async #closeOne(part: Part): Promise<Released['outcome']> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'timed_out'>((resolve) => (timer = setTimeout(resolve, part.timeoutMs, 'timed_out')));
    try {
      // Promise.resolve().then(): a close that throws synchronously is a failed close like any other.
      const outcome = await Promise.race([Promise.resolve().then(part.close).then(() => 'closed' as const), late]);
      if (outcome === 'timed_out') this.#log.warn({ part: part.name, timeout_ms: part.timeoutMs }, `closing ${part.name} took too long; moving on`);
      return outcome;
    } catch (error) {
      this.#log.warn({ part: part.name, error: error instanceof Error ? error.message : String(error) }, `closing ${part.name} failed`);
      return 'failed';
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Why a long-running command stopped. A fault is an uncaught exception or an unhandled rejection. */
export type Stop = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'fault'; error: unknown } | { kind: 'failed'; error: Error } | { kind: 'ended' };

/**
 * The signals that stop a command, its work in flight finished first. SIGHUP among them: a closed
 * terminal, or a `kill -HUP` meant as "reload", would otherwise end the process at once by Node's
 * default, with no line and no grace; a command that reloads something on it says so (onHangup).
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The conventional exit code of a process ended by a signal (128 + its number). */
const FORCED_EXIT: Record<(typeof STOP_SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** The lifecycle of the command runCommand runs (one per process), which a fault stops; none before it starts or once it has let go. */
let running: CommandLifecycle | undefined;

/**
 * The one place a command meets SIGINT/SIGTERM and faults. The first of them resolves `stopped`
 * (the command then releases its parts and returns its code) and makes every later acquire() fail,
 * so a start-up still under way stops at its next step; a second one exits at once, without
 * waiting for calls or conversations in flight. A fault also starts the release itself and exits 1
 * once it is done: the code the command was running may be what broke, so it is not waited for.
 */
export class CommandLifecycle {
  readonly #parts: ResourceStack;
  /** Resolves with the first signal or fault; never rejects. */
  readonly stopped: Promise<Stop>;
  readonly #stop: (stop: Stop) => void;
  readonly #exit: (code: number) => void;
  readonly #onSignal: (signal: NodeJS.Signals) => void;
  /** What SIGHUP does instead of stopping, while a command has something to reload on it. */
  #onHangup: (() => void) | undefined;
  readonly #testFault: (() => void) | undefined;
  #stopping = false;
  #faulted = false;
  /** Aborted by the first stop: a start-up step that waits on the network (RTM discovery) gives up with it. */
  readonly #stopSignal = new AbortController();

  constructor(options: ResourceStackOptions & { exit?: (code: number) => void }) {
    this.#parts = new ResourceStack(options);
    this.#exit = options.exit ?? ((code: number) => process.exit(code));
    let stop!: (s: Stop) => void;
    this.stopped = new Promise<Stop>((resolve) => (stop = resolve));
    this.#stop = stop;
    this.#onSignal = (signal) => {
      if (signal === 'SIGHUP' && this.#onHangup && !this.#stopping) return this.#onHangup();
      this.#stopOnce({ kind: 'signal', signal }, FORCED_EXIT[signal as (typeof STOP_SIGNALS)[number]] ?? 1);
    };
    for (const signal of STOP_SIGNALS) process.on(signal, this.#onSignal);
    this.#testFault = testFaultTrigger();
    if (this.#testFault) process.on('SIGUSR2', this.#testFault);
  }

  /** The first stop wins (true); any later one exits at once with `forcedCode`. */
  #stopOnce(stop: Stop, forcedCode: number): boolean {
    if (this.#stopping) {
      this.#exit(forcedCode);
      return false;
    }
    this.#stopping = true;
    this.#stop(stop);
    this.#stopSignal.abort();
    return true;
  }

  /** An uncaught exception or unhandled rejection: stops the command as a signal does, releases every part (each close bounded), then exits 1. */
  fault(error: unknown): void {
    if (!this.#stopOnce({ kind: 'fault', error }, 1)) return;
    this.#faulted = true;
    void this.release().then(() => this.#exit(1));
  }

  /** True once a fault stopped the command: its code is then 1, whatever the command returns. */
  get faulted(): boolean {
    return this.#faulted;
  }

  /**
   * Opens a part on the stack, unless the command was stopped: then it throws StoppedError, and the
   * part, if it opens later anyway, is closed. `open` gets a signal the stop aborts, for a step that
   * would otherwise go on retrying after the command has let go of it.
   */
  async acquire<T>(name: string, open: (stopped: AbortSignal) => T | Promise<T>, close: (part: T) => unknown, options?: { timeoutMs?: number }): Promise<T> {
    if (this.#stopping) throw new StoppedError(name);
    // A start-up step can take seconds (Redis retries, RTM discovery): a signal or fault does not wait for it.
    const opening = this.#parts.acquire(name, () => open(this.#stopSignal.signal), close, options);
    const first = await Promise.race([opening.then((part) => ({ part })), this.stopped.then(() => undefined)]);
    if (first) return first.part;
    // Whatever it opens in the end is closed on arrival: the stack is released by then.
    opening.catch(() => undefined);
    throw new StoppedError(name);
  }

  /** Waits for a signal, or for `until` (a failure that ends the command, or its natural end). */
  async untilStopped(until?: Promise<Error | void>): Promise<Stop> {
    const ended = until?.then((outcome): Stop => (outcome instanceof Error ? { kind: 'failed', error: outcome } : { kind: 'ended' }));
    return Promise.race(ended ? [this.stopped, ended] : [this.stopped]);
  }

  /** Releases every part (once, whoever asks); true when each closed within its bound. A second signal or fault during the release still forces the exit. */
  async release(): Promise<boolean> {
    const report = await this.#parts.release();
    return report.every((r) => r.outcome === 'closed');
  }

  /** SIGHUP runs `reload` instead of stopping the command, until the returned function undoes it. */
  onHangup(reload: () => void): () => void {
    this.#onHangup = reload;
    return () => {
      if (this.#onHangup === reload) this.#onHangup = undefined;
    };
  }

  /** Stops listening for signals and faults (once released, or for in-process callers such as tests). */
  dispose(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.#onSignal);
    if (this.#testFault) process.off('SIGUSR2', this.#testFault);
  }
}

/**
 * What cli.ts calls on an uncaught exception or unhandled rejection, once it has written its line:
 * the running command stops, releases its parts and exits 1 (a second fault exits at once). False
 * when no command is running: nothing is open, and the caller exits at once.
 */
export function stopOnFault(error: unknown): boolean {
  if (!running) return false;
  running.fault(error);
  return true;
}

/**
 * Test-only: CRISP_MCP_TEST_FAULT=uncaughtException (or unhandledRejection) makes SIGUSR2 raise that
 * fault from an event callback, as a bug there would, so the end-to-end tests can prove a real
 * process releases its parts on a fault at the moment they choose. Unset, as outside those tests,
 * it does nothing and SIGUSR2 keeps its default.
 */
function testFaultTrigger(): (() => void) | undefined {
  const kind = process.env.CRISP_MCP_TEST_FAULT;
  const error = () => new Error(`CRISP_MCP_TEST_FAULT: ${kind} raised on purpose`);
  if (kind === 'uncaughtException') return () => {
    throw error();
  };
  if (kind === 'unhandledRejection') return () => void Promise.reject(error());
  return undefined;
}

/**
 * Runs a command's body with its lifecycle: whatever the body returns or throws, every part it
 * acquired is released before the code (or the error) leaves. A signal during start-up surfaces as
 * StoppedError and ends the command with the release's code, like a signal while running; after a
 * fault the code is 1.
 */
export async function runCommand(log: Pick<Logger, 'warn' | 'info'>, body: (life: CommandLifecycle) => Promise<number>, options: { exit?: (code: number) => void } = {}): Promise<number> {
  const life = new CommandLifecycle({ log, ...options });
  running = life;
  try {
    let code: number;
    try {
      code = await body(life);
    } catch (error) {
      const clean = await life.release();
      // After a fault, what the body then throws is most likely its consequence: the fault's line is written, the code is 1.
      if (life.faulted) return 1;
      if (!(error instanceof StoppedError)) throw error;
      log.info({ reason: error.message }, 'stopped during start-up');
      return clean ? 0 : 1;
    }
    const clean = await life.release();
    if (life.faulted) return 1;
    return code === 0 && !clean ? 1 : code;
  } finally {
    // Released: a signal from now on ends the process the default way, and a fault exits at once.
    life.dispose();
    if (running === life) running = undefined;
  }
}
