/**
 * Everything that differs by operating system, in one place: process identity and trees, process groups,
 * the ephemeral port range (who holds a port: portHolders.ts). Linux reads /proc; macOS asks `ps`.
 * Windows is not supported yet; a port of Engine Room starts here.
 */
import { childProcess } from './builtins';
import * as fs from 'node:fs';

const isLinux = process.platform === 'linux';

/** A process identified by pid and start time, since pids are reused. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Opaque start time (clock ticks since boot on Linux, `lstart` text elsewhere). */
  readonly startTime: string;
}

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly state: string;
  readonly startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), pgid: Number(rest[2]), startTime: rest[19] ?? '' };
}

function psRows(): ProcStat[] {
  const out = childProcess().execFileSync('ps', ['-A', '-o', 'pid=,ppid=,pgid=,state='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map(([pid, ppid, pgid, state]) => ({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state: state ?? '?', startTime: '' }));
}

let table: { at: number; rows: ProcStat[] } | undefined;

/**
 * Every process. `maxAgeMs` > 0 accepts a table read that long ago: the supervisor's periodic
 * bookkeeping of many engines then shares one /proc scan; stopping and liveness always read afresh.
 */
function allProcesses(maxAgeMs = 0): ProcStat[] {
  if (maxAgeMs > 0 && table && Date.now() - table.at <= maxAgeMs) return table.rows;
  const rows = readAllProcesses();
  table = { at: Date.now(), rows };
  return rows;
}

function readAllProcesses(): ProcStat[] {
  if (!isLinux) return psRows();
  const rows: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st) rows.push(st);
  }
  return rows;
}

/** Start time of a live process, or undefined when it is gone (zombies count as gone). */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (isLinux) {
    const st = readProcStat(pid);
    return st && st.state !== 'Z' && st.state !== 'X' ? st.startTime : undefined;
  }
  try {
    const out = childProcess().execFileSync('ps', ['-o', 'state=,lstart=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    if (!out || out.startsWith('Z')) return undefined;
    return out.slice(out.indexOf(' ') + 1).trim();
  } catch {
    return undefined;
  }
}

/** The parent of a live process, or undefined when it is gone. */
export function parentPid(pid: number): number | undefined {
  if (isLinux) return readProcStat(pid)?.ppid;
  try {
    const out = Number(childProcess().execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    return Number.isInteger(out) && out > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Our own identity. */
export function selfIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
}

/** True when the process with this pid runs and is the same one (same start time). */
export function isAlive(id: ProcessIdentity): boolean {
  const st = processStartTime(id.pid);
  return st !== undefined && (id.startTime === '' || st === id.startTime);
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number, maxAgeMs = 0): number[] {
  return allProcesses(maxAgeMs)
    .filter((p) => p.pgid === pgid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => p.pid);
}

/** Live descendants of pid (children, grandchildren, ...), also those that left the process group. */
export function descendants(pid: number, maxAgeMs = 0): number[] {
  const rows = allProcesses(maxAgeMs).filter((p) => p.state !== 'Z' && p.state !== 'X');
  const byParent = new Map<number, number[]>();
  for (const r of rows) {
    const list = byParent.get(r.ppid) ?? [];
    list.push(r.pid);
    byParent.set(r.ppid, list);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const child of byParent.get(stack.pop() as number) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

/** Whether this kernel lists a task's children in /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN). */
let childrenFiles: boolean | undefined;

function hasChildrenFiles(): boolean {
  if (childrenFiles === undefined) {
    try {
      fs.accessSync(`/proc/${process.pid}/task/${process.pid}/children`);
      childrenFiles = true;
    } catch {
      childrenFiles = false;
    }
  }
  return childrenFiles;
}

/** The pids that the threads of `pid` forked (read from each thread's children file). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const f of text.split(' ')) if (f) out.push(Number(f));
  }
  return out;
}

/**
 * Live descendants of pid with their start times. On Linux it reads only the tree (each process's
 * children files and stat), not every process on the host: the periodic bookkeeping of a healthy engine
 * costs what its tree costs, on a host with thousands of processes too.
 */
export function descendantIdentities(pid: number): ProcessIdentity[] {
  if (!isLinux || !hasChildrenFiles()) {
    // A table up to half a second old is fine here (and shared by every engine's bookkeeping).
    const out: ProcessIdentity[] = [];
    for (const p of descendants(pid, 500)) {
      const startTime = processStartTime(p);
      if (startTime !== undefined) out.push({ pid: p, startTime });
    }
    return out;
  }
  const out: ProcessIdentity[] = [];
  const seen = new Set<number>([pid]);
  const stack = [pid];
  while (stack.length > 0) {
    for (const child of childrenOf(stack.pop() as number)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const st = readProcStat(child);
      if (!st || st.state === 'Z' || st.state === 'X') continue;
      out.push({ pid: child, startTime: st.startTime });
      stack.push(child);
    }
  }
  return out;
}

/** Sends a signal to a whole process group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The kernel's range for port-0 binds; blocks placed inside it could be taken by any program. */
export function ephemeralPortRange(): readonly [number, number] {
  if (isLinux) {
    try {
      const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      if (lo && hi && lo <= hi) return [lo, hi];
    } catch {
      // fall through to the usual Linux default
    }
    return [32768, 60999];
  }
  if (process.platform === 'darwin') {
    try {
      const lo = Number(childProcess().execFileSync('sysctl', ['-n', 'net.inet.ip.portrange.first'], { encoding: 'utf8' }).trim());
      const hi = Number(childProcess().execFileSync('sysctl', ['-n', 'net.inet.ip.portrange.last'], { encoding: 'utf8' }).trim());
      if (lo && hi && lo <= hi) return [lo, hi];
    } catch {
      // fall through
    }
  }
  return [49152, 65535];
}

/** A process's command line (arguments joined by spaces), or "" when it is gone or hidden. */
export function commandLine(pid: number): string {
  try {
    if (isLinux) return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return childProcess().execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** The user's login shell for `"shell": true` engines. */
export function userShell(): string {
  return process.env.SHELL || '/bin/sh';
}

let nvidiaSmiMissing = false;

/**
 * GPU memory (MiB) used by each process, from `nvidia-smi`; undefined where there is no nvidia-smi (then
 * it is not asked again) or it fails. Works the same on every platform that has the tool.
 */
export function gpuMemoryByPid(): Map<number, number> | undefined {
  if (nvidiaSmiMissing) return undefined;
  let text: string;
  try {
    text = childProcess().execFileSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') nvidiaSmiMissing = true;
    return undefined;
  }
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const [pid, mem] = line.split(',').map((x) => Number(x.trim()));
    if (Number.isInteger(pid) && Number.isFinite(mem)) out.set(pid as number, (out.get(pid as number) ?? 0) + (mem as number));
  }
  return out;
}

/**
 * A clock shared by every process on the host that wall-clock jumps (NTP steps, a user setting the date)
 * do not move: milliseconds since boot from /proc/uptime on Linux. Elsewhere the wall clock.
 * The start slot's expiry and the queue's grace period are measured on it.
 */
export function hostClockMs(): number {
  if (isLinux) {
    try {
      return Math.round(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
    } catch {
      // fall through
    }
  }
  return Date.now();
}
