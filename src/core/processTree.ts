/**
 * Whether an engine's process tree lives, and stopping it whole. No execa here: the reaper process
 * (dist/reaper.js) bundles this without the rest of the runtime.
 */
import { EngineRoomError } from './errors';
import { descendants, groupMembers, isAlive, processStartTime, signalGroup, signalProcess, type ProcessIdentity } from './platform';

/** An engine's main process and its process group, as the registry records them. */
export interface EngineProcessRecord extends ProcessIdentity {
  readonly pgid: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * True while the engine's process tree lives: its leader (same pid and start time), or members of its
 * process group when the leader's pid is not taken by another process (a reused pid leads a new group
 * with the same number, which must never be taken for ours, let alone signalled).
 */
export function engineIsLive(e: EngineProcessRecord): boolean {
  if (e.startTime === '') return false;
  const leaderStart = processStartTime(e.pgid);
  if (leaderStart !== undefined) return e.pgid === e.pid && leaderStart === e.startTime;
  return groupMembers(e.pgid).length > 0;
}

/**
 * Stops an engine's whole tree, ours or another process's: `signal` to the process group and to any
 * descendant that left it, SIGKILL to what is left after `timeoutMs`; resolves once nothing is left.
 */
export async function stopTree(rec: EngineProcessRecord, signal: NodeJS.Signals, timeoutMs: number, known: readonly ProcessIdentity[] = []): Promise<void> {
  const knownAlive = known.filter(isAlive).map((k) => k.pid);
  if (!engineIsLive(rec) && knownAlive.length === 0) return;
  // Collect descendants first: once the leader dies its children are reparented and lost to a tree walk.
  const leaderAlive = isAlive(rec);
  const strays = new Set([...(leaderAlive ? descendants(rec.pid) : []), ...knownAlive]);
  const living = (): number[] => {
    const pids = new Set(engineIsLive(rec) ? groupMembers(rec.pgid) : []);
    for (const p of strays) if (processStartTime(p) !== undefined) pids.add(p);
    return [...pids];
  };
  if (living().length === 0) return;
  if (engineIsLive(rec)) signalGroup(rec.pgid, signal);
  for (const p of strays) signalProcess(p, signal);
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  while (Date.now() < deadline) {
    if (living().length === 0) return;
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
  // SIGKILL cannot be ignored, but a process in uninterruptible sleep (a hung NFS or GPU driver call)
  // dies only when that call returns: report it rather than hang.
  const killDeadline = Date.now() + 5000;
  for (;;) {
    const left = living();
    if (left.length === 0) return;
    if (Date.now() > killDeadline) {
      throw new EngineRoomError('exited', `Processes ${left.join(', ')} did not exit after SIGKILL (uninterruptible?).`);
    }
    if (engineIsLive(rec)) signalGroup(rec.pgid, 'SIGKILL');
    for (const p of left) signalProcess(p, 'SIGKILL');
    await sleep(20);
  }
}
