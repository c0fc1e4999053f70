/**
 * Finding processes by their environment, and one process's row, for the start markers of
 * processTree.ts. OS-specific like platform.ts: Linux reads /proc, elsewhere `ps`.
 */
import * as fs from 'node:fs';
import { childProcess } from './builtins';
import { processStartTime, readProcStat, type ProcStat, type ProcessIdentity } from './platform';

const isLinux = process.platform === 'linux';

/** A live process found by a variable of its environment (processesWithEnv). */
export interface MarkedProcess extends ProcessIdentity {
  readonly ppid: number;
  readonly pgid: number;
}

/**
 * Live processes whose environment sets `name` to one of `values`, by value, in one pass: on Linux from
 * /proc/<pid>/environ (the environment it started with; readable for the same user or root only),
 * elsewhere from `ps -E`. A process that cleared its environment is not found.
 */
export function processesWithEnv(name: string, values: ReadonlySet<string>): Map<string, MarkedProcess[]> {
  const out = new Map<string, MarkedProcess[]>();
  const add = (value: string | undefined, st: ProcStat | undefined) => {
    if (value === undefined || !values.has(value) || !st || st.state.startsWith('Z') || st.startTime === undefined) return;
    out.set(value, [...(out.get(value) ?? []), { pid: st.pid, ppid: st.ppid, pgid: st.pgid, startTime: st.startTime }]);
  };
  if (values.size === 0) return out;
  if (!isLinux) {
    const re = new RegExp(`(?:^|\\s)${name}=(\\S+)`);
    const text = childProcess().execFileSync('ps', ['-A', '-E', '-ww', '-o', 'pid=,ppid=,pgid=,state=,command='], { encoding: 'utf8', maxBuffer: 1 << 26 });
    for (const line of text.split('\n')) {
      const [pid, ppid, pgid, state] = line.trim().split(/\s+/).map(String);
      add(re.exec(line)?.[1], { pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state, startTime: processStartTime(Number(pid)) as string });
    }
    return out;
  }
  const key = Buffer.from(`\0${name}=`);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let block: Buffer;
    try {
      // A leading NUL makes the first variable match like the others.
      block = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${entry}/environ`)]);
    } catch {
      continue; // gone, or another user's
    }
    const i = block.indexOf(key);
    if (i < 0) continue;
    const end = block.indexOf(0, i + key.length);
    add(block.toString('utf8', i + key.length, end < 0 ? block.length : end), readProcStat(Number(entry)));
  }
  return out;
}

/** A live process's parent, group and start time (elsewhere than Linux: its own group). */
export function processRow(pid: number): MarkedProcess | undefined {
  const st = isLinux ? readProcStat(pid) : undefined;
  if (st) return st.state === 'Z' || st.state === 'X' ? undefined : { pid, ppid: st.ppid, pgid: st.pgid, startTime: st.startTime };
  const startTime = isLinux ? undefined : processStartTime(pid);
  return startTime === undefined ? undefined : { pid, ppid: 0, pgid: pid, startTime };
}

