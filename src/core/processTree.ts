/**
 * Whether an engine's process tree lives, and stopping it whole. No execa here: the reaper process
 * (dist/reaper.js) bundles this without the rest of the runtime.
 *
 * An engine's tree is its process group, the descendants seen to leave it, and every process whose
 * environment carries the start's marker (ENGINE_ROOM_START, set before the spawn): the marker finds
 * workers that changed session or process group and daemons whose parent exited, also when the pid
 * never reached the registry. Only a process that clears its environment escapes it.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { EngineRoomError } from './errors';
import {
  commandLine,
  descendants,
  groupMembers,
  isAlive,
  processStartTime,
  signalGroup,
  signalProcess,
  type ProcessIdentity,
} from './platform';
import { processesWithEnv, processRow, type MarkedProcess } from './processEnv';

/** An engine's process tree as the registry records it: its leader, and the process group it leads. */
export interface EngineProcessRecord extends ProcessIdentity {
  readonly pgid: number;
}

/** The environment variable that marks every process of one start of an engine. */
export const MARKER_VARIABLE = 'ENGINE_ROOM_START';

/** A marker unique to one start. */
export function newMarker(): string {
  return randomUUID();
}

/** Live processes carrying each of these markers (one pass over the process table). */
export function markedProcesses(markers: Iterable<string | undefined>): Map<string, MarkedProcess[]> {
  const wanted = new Set<string>();
  for (const m of markers) if (m) wanted.add(m);
  return processesWithEnv(MARKER_VARIABLE, wanted);
}

/** The marked processes whose parent is not marked: the engine's leader, or the daemons it left. */
export function markedRoots(procs: readonly MarkedProcess[]): MarkedProcess[] {
  const pids = new Set(procs.map((p) => p.pid));
  return procs.filter((p) => !pids.has(p.ppid));
}

/** A record for a tree known only by its marker: its first root. */
export function recordOfMarked(procs: readonly MarkedProcess[]): EngineProcessRecord | undefined {
  const root = markedRoots(procs)[0] ?? procs[0];
  return root ? { pid: root.pid, pgid: root.pgid, startTime: root.startTime } : undefined;
}

/**
 * The live process named by a daemon's pid file, if it started no earlier than `since` (the start time
 * of the engine's leader): a stale file naming a reused pid is not taken for the engine.
 */
export function pidFileProcess(file: string, since: string): MarkedProcess | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
  const p = Number.isInteger(pid) && pid > 0 ? processRow(pid) : undefined;
  if (!p || !/^\d+$/.test(since) || !/^\d+$/.test(p.startTime)) return undefined;
  return Number(p.startTime) >= Number(since) ? p : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * True while the engine's process tree lives: its leader (same pid and start time; a daemon may have
 * left the recorded group since), or members of its process group when the leader's pid is not taken
 * by another process (a reused pid leads a new group
 * with the same number, which must never be taken for ours, let alone signalled).
 */
export function engineIsLive(e: EngineProcessRecord): boolean {
  return e.startTime !== '' && (isAlive(e) || groupIsOurs(e));
}

/** The recorded process group still is the engine's (see engineIsLive): safe to list and signal. */
function groupIsOurs(e: EngineProcessRecord): boolean {
  if (e.startTime === '') return false;
  const leaderStart = processStartTime(e.pgid);
  if (leaderStart !== undefined) return e.pgid === e.pid && leaderStart === e.startTime;
  return groupMembers(e.pgid).length > 0;
}

/** What to stop: the recorded leader and group (if known), the start's marker, descendants seen before. */
export interface StopTarget {
  readonly record: EngineProcessRecord | null;
  readonly marker?: string;
  readonly known?: readonly ProcessIdentity[];
}

export interface StopOptions {
  readonly signal: NodeJS.Signals;
  readonly timeoutMs: number;
  /**
   * `group` (default): the signal goes to the whole tree at once. `leader`: to the leader alone; the
   * rest of the tree gets it once the leader has exited, or after half of `timeoutMs` at the latest.
   */
  readonly to?: 'group' | 'leader';
}

/** A process that had to be killed with SIGKILL. */
export interface KilledProcess {
  readonly pid: number;
  readonly command: string;
}

export interface StopReport {
  /** Empty when everything exited on the stop signal. */
  readonly killed: KilledProcess[];
}

/**
 * Stops an engine's whole tree, ours or another process's: the stop signal to the process group, to
 * every descendant that left it and to every process with the marker (also those forked during the
 * stop), SIGKILL to what is left after `timeoutMs`; resolves once nothing is left, saying whom it killed.
 */
export async function stopTree(target: StopTarget, opts: StopOptions): Promise<StopReport> {
  const { record: rec, marker } = target;
  const report: StopReport = { killed: [] };
  const groupLive = () => rec !== null && groupIsOurs(rec);
  // Collect descendants first: once the leader dies its children are reparented and lost to a tree walk.
  const leaderAlive = rec !== null && isAlive(rec);
  const strays = new Set([...(leaderAlive ? descendants(rec.pid) : []), ...(target.known ?? []).filter(isAlive).map((k) => k.pid)]);
  const marked = () => (marker ? (markedProcesses([marker]).get(marker) ?? []) : []);
  const living = (): number[] => {
    const pids = new Set(groupLive() ? groupMembers(rec!.pgid) : []);
    for (const p of strays) if (processStartTime(p) !== undefined) pids.add(p);
    for (const p of marked()) pids.add(p.pid);
    return [...pids];
  };
  let left = living();
  if (left.length === 0) return report;
  const leader = leaderAlive ? rec.pid : rec === null ? markedRoots(marked())[0]?.pid : undefined;
  const signalled = new Set<number>();
  let all = opts.to !== 'leader' || leader === undefined;
  let groupSignalled = false;
  // Each process gets the signal once: a second SIGINT or SIGTERM means "quit now" to many servers.
  const send = (pids: readonly number[]) => {
    if (all && !groupSignalled && groupLive()) {
      groupSignalled = true;
      for (const p of groupMembers(rec!.pgid)) signalled.add(p);
      signalGroup(rec!.pgid, opts.signal);
    }
    for (const p of pids) {
      if (signalled.has(p) || !(all || p === leader)) continue;
      signalled.add(p);
      signalProcess(p, opts.signal);
    }
  };
  send(left);
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let delay = 10;
  while (Date.now() < deadline) {
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
    left = living();
    // Look twice: a process forked just as its parent exits can fall between one pass's reads.
    if (left.length === 0) await sleep(20);
    if (left.length === 0 && (left = living()).length === 0) return report;
    // Leader first: the rest once it is gone or half the time has passed.
    if (!all && (!left.includes(leader as number) || Date.now() - start >= opts.timeoutMs / 2)) all = true;
    // New processes (forked in a signal handler, a daemon's child) get the signal too.
    send(left);
  }
  // SIGKILL cannot be ignored, but a process in uninterruptible sleep (a hung NFS or GPU driver call)
  // dies only when that call returns: report it rather than hang.
  const killDeadline = Date.now() + 5000;
  const killed = new Set<number>();
  for (;;) {
    left = living();
    if (left.length === 0) return report;
    if (Date.now() > killDeadline) {
      throw new EngineRoomError('exited', `Processes ${left.join(', ')} did not exit after SIGKILL (uninterruptible?).`);
    }
    for (const p of left) {
      if (!killed.has(p)) report.killed.push({ pid: p, command: commandLine(p) });
      killed.add(p);
    }
    if (groupLive()) signalGroup(rec!.pgid, 'SIGKILL');
    for (const p of left) signalProcess(p, 'SIGKILL');
    await sleep(20);
  }
}

/** "pid 12 (ray::raylet), pid 13 (...)" */
export function describeKilled(killed: readonly KilledProcess[]): string {
  return killed.map((k) => `pid ${k.pid}${k.command ? ` (${k.command.replace(/\s+/g, ' ').slice(0, 80)})` : ''}`).join(', ');
}
