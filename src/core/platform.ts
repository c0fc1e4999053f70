/**
 * Everything that differs by operating system, in one place: process identity and trees, process groups,
 * the ephemeral port range, and who holds a port. Linux reads /proc; macOS asks `ps` and `lsof`.
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

export interface PortHolder {
  readonly pid: number;
  readonly command: string;
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

/** Socket inode -> port, for TCP sockets bound to one of `ports` (listening or only bound), from /proc/net/tcp{,6}. */
/** A row of /proc/net/tcp{,6} in state LISTEN or CLOSE: the local port (hex) and the inode. */
const SOCKET_ROW = /^ *\d+: [0-9A-F]+:([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} (?:0A|07) \S+ \S+ \S+ +\d+ +\d+ (\d+)/gm;

function socketInodes(ports: ReadonlySet<number>): Map<string, number> {
  const inodes = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // One pass of a regular expression over the table picks the bound (07) and listening (0A) rows; the
    // table also lists every connection (a probe's TIME_WAIT among them), so nothing else is split.
    for (const m of text.matchAll(SOCKET_ROW)) {
      const port = parseInt(m[1] as string, 16);
      if (ports.has(port) && m[2] !== '0') inodes.set(m[2] as string, port);
    }
  }
  return inodes;
}

/** Inodes of the sockets that a process holds open (empty when we may not look). */
function socketsOf(pid: number | string): string[] {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fd of fds) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) out.push(m[1] as string);
  }
  return out;
}

/**
 * Who holds each of these TCP ports (bound or listening), when the system lets us see it: on Linux only
 * processes of the same user are visible unless we are root. One pass over /proc for all the ports.
 */
export function portHoldersOf(ports: readonly number[]): Map<number, PortHolder[]> {
  const out = new Map<number, PortHolder[]>();
  if (ports.length === 0) return out;
  if (isLinux) {
    const inodes = socketInodes(new Set(ports));
    if (inodes.size === 0) return out;
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const found = new Set<number>();
      for (const inode of socketsOf(name)) {
        const port = inodes.get(inode);
        if (port !== undefined) found.add(port);
      }
      for (const port of found) {
        const list = out.get(port) ?? [];
        list.push({ pid: Number(name), command: commandLine(Number(name)) });
        out.set(port, list);
      }
    }
    return out;
  }
  for (const port of ports) {
    try {
      const text = childProcess().execFileSync('lsof', ['-nP', `-iTCP:${port}`, '-Fp'], { encoding: 'utf8' });
      const holders = text
        .split('\n')
        .filter((l) => l.startsWith('p'))
        .map((l) => Number(l.slice(1)))
        .map((pid) => ({ pid, command: commandLine(pid) }));
      if (holders.length > 0) out.set(port, holders);
    } catch {
      // lsof exits 1 when nothing holds the port
    }
  }
  return out;
}

/**
 * The holders of each port that are not in the port's own process tree (`trees`: port -> its tree's
 * pids). On Linux the trees' own descriptors are read first: when they hold every socket bound to
 * their port, nobody else does, and the pass over all of /proc (the expensive part) is skipped.
 */
export function portHoldersOutside(trees: ReadonlyMap<number, ReadonlySet<number>>): Map<number, PortHolder[]> {
  const out = new Map<number, PortHolder[]>();
  if (trees.size === 0) return out;
  if (isLinux) {
    const unexplained = socketInodes(new Set(trees.keys()));
    for (const [port, pids] of trees) {
      for (const pid of pids) for (const inode of socketsOf(pid)) if (unexplained.get(inode) === port) unexplained.delete(inode);
    }
    if (unexplained.size === 0) return out;
  }
  for (const [port, holders] of portHoldersOf([...trees.keys()])) {
    const tree = trees.get(port);
    const foreign = holders.filter((h) => !tree?.has(h.pid));
    if (foreign.length > 0) out.set(port, foreign);
  }
  return out;
}

/** Who holds one TCP port (see portHoldersOf). */
export function portHolders(port: number): PortHolder[] {
  return portHoldersOf([port]).get(port) ?? [];
}

/** "pid 123 (python3 -m http.server)" or "" */
export function describeHolders(holders: readonly PortHolder[]): string {
  return holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command.replace(/\s+/g, ' ').slice(0, 120)})` : ''}`).join(', ');
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
