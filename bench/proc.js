// What a process has used, read from Linux /proc (NaN elsewhere): the benches' per-process CPU and memory.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux this runs on

/** CPU time (user + system) a process has used so far, in µs. */
export function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLOCK_TICKS_PER_S);
  } catch {
    return NaN;
  }
}

/**
 * The same CPU time to the nanosecond, summed over the process's threads from their schedstat: for
 * spans too short for clock ticks (a start-up, a block of calls), in µs.
 */
export function preciseCpuMicros(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, task) => sum + Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1e3, 0);
  } catch {
    return NaN;
  }
}

/** A process's resident memory now, in MB. */
export function rssMb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
}
