/**
 * Who holds a TCP port: the sockets bound or listening on it (/proc/net/tcp{,6}) and the processes
 * whose descriptors hold them (Linux); `lsof` elsewhere. Part of the platform layer (see platform.ts).
 */
import { childProcess } from './builtins';
import * as fs from 'node:fs';
import { commandLine } from './platform';

const isLinux = process.platform === 'linux';

export interface PortHolder {
  readonly pid: number;
  readonly command: string;
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
 * Sockets (inode -> port) found in their port's own process tree by an earlier look. A socket's inode
 * is its identity while it exists, so one found in the tree stays explained: later looks read only the
 * socket tables, and the trees' descriptors only when a socket they have not seen is bound to a port.
 */
const explained = new Map<string, number>();

/**
 * The holders of each port that are not in the port's own process tree (`trees`: port -> a function
 * that lists its tree's pids, called only when needed). On Linux the trees' own descriptors are read
 * first: when they hold every socket bound to their port, nobody else does, and the pass over all of
 * /proc (the expensive part) is skipped.
 */
export function portHoldersOutside(trees: ReadonlyMap<number, () => ReadonlySet<number>>): Map<number, PortHolder[]> {
  const out = new Map<number, PortHolder[]>();
  if (trees.size === 0) return out;
  // A tree costs /proc reads: it is listed only for a port with a socket not explained before.
  const known = new Map<number, ReadonlySet<number>>();
  const treeOf = (port: number) => {
    let tree = known.get(port);
    if (!tree) known.set(port, (tree = trees.get(port)?.() ?? new Set()));
    return tree;
  };
  if (isLinux) {
    const unexplained = socketInodes(new Set(trees.keys()));
    // Forget the sockets of these ports that are gone; the ones still there were explained before.
    for (const [inode, port] of explained) if (trees.has(port) && unexplained.get(inode) !== port) explained.delete(inode);
    for (const [inode, port] of unexplained) if (explained.get(inode) === port) unexplained.delete(inode);
    for (const port of new Set(unexplained.values())) {
      for (const pid of treeOf(port)) {
        for (const inode of socketsOf(pid)) {
          if (unexplained.get(inode) !== port) continue;
          unexplained.delete(inode);
          if (explained.size >= 4096) explained.clear();
          explained.set(inode, port);
        }
      }
    }
    if (unexplained.size === 0) return out;
  }
  for (const [port, holders] of portHoldersOf([...trees.keys()])) {
    const tree = treeOf(port);
    const foreign = holders.filter((h) => !tree.has(h.pid));
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
