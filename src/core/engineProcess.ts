/**
 * Spawning an engine in its own process group with its output going straight to its log file, and
 * stopping whole process trees.
 *
 * Why the file and not a pipe: a pipe to us would break when we exit (`up --detach`, a crashed window),
 * and the engine would die of SIGPIPE or lose lines; the kernel appends to a file whatever happens to
 * us, so no line is lost even when the engine writes fast and dies. The UI tails the file.
 */
import * as fs from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { EngineRoomError, errorMessage } from './errors';
import { descendants, groupMembers, isAlive, processStartTime, signalGroup, signalProcess, userShell } from './platform';
import type { EngineProcessRecord } from './registry';
import type { ProcessIdentity } from './platform';

export interface SpawnRequest {
  readonly command: readonly string[];
  readonly shell: boolean;
  readonly cwd: string;
  /** The complete environment (already merged). */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
}

export interface ExitInfo {
  readonly exitCode: number | null;
  readonly signal: string | null;
}

/** A running engine that we spawned. */
export class EngineProcess {
  /** Descendants seen while it ran, so that a crash of the leader does not orphan workers that left its group. */
  private readonly seen = new Map<number, string>();

  private constructor(
    readonly record: EngineProcessRecord,
    /** Settles when the engine's main process exits (never rejects). */
    readonly exited: Promise<ExitInfo>,
  ) {}

  get pid(): number {
    return this.record.pid;
  }

  /** Remembers the current descendants (cheap: one /proc scan). Call now and then while it runs. */
  noteDescendants(): void {
    for (const pid of descendants(this.record.pid)) {
      const st = processStartTime(pid);
      if (st !== undefined) this.seen.set(pid, st);
    }
  }

  /** Descendants seen earlier that still run (same pid and start time). */
  knownDescendants(): ProcessIdentity[] {
    return [...this.seen].map(([pid, startTime]) => ({ pid, startTime })).filter(isAlive);
  }

  /** Spawns; throws `spawn-failed` (command not found, cwd missing, ...) with the reason. */
  static async spawn(req: SpawnRequest): Promise<EngineProcess> {
    if (!fs.existsSync(req.cwd)) {
      throw new EngineRoomError('spawn-failed', `The working directory ${req.cwd} does not exist.`);
    }
    const fd = fs.openSync(req.logFile, 'a', 0o600);
    let child: ResultPromise;
    try {
      const [file, ...args] = req.command;
      const options = {
        cwd: req.cwd,
        env: { ...req.env },
        extendEnv: false,
        // A new process group (setsid) so that a stop reaches the workers the engine forks.
        detached: true,
        // We stop engines ourselves; execa's cleanup would kill detached engines when the CLI exits.
        cleanup: false,
        stdin: 'ignore',
        // A descriptor number is handed to spawn() as is (execa's types only list 3-9, its runtime takes
        // any): the child writes to the file itself.
        stdout: fd as 3,
        stderr: fd as 3,
        reject: false,
        buffer: false,
        windowsHide: true,
      } as const;
      child = req.shell ? execa(req.command.join(' '), [], { ...options, shell: userShell() }) : execa(file as string, args, options);
    } finally {
      // The child has its own copy of the descriptor.
      fs.closeSync(fd);
    }
    const exited: Promise<ExitInfo> = child.then(
      (r) => ({ exitCode: r.exitCode ?? null, signal: r.signal ?? null }),
      (e: unknown) => ({ exitCode: null, signal: null, error: errorMessage(e) }),
    );
    const pid = child.pid;
    if (pid === undefined) {
      const result = await child.catch((e: unknown) => e);
      const reason = (result as { originalMessage?: string; message?: string }).originalMessage ?? (result as { message?: string }).message ?? 'unknown error';
      throw new EngineRoomError('spawn-failed', `Could not start ${req.command[0]}: ${reason}`);
    }
    const startTime = processStartTime(pid) ?? '';
    return new EngineProcess({ pid, pgid: pid, startTime }, exited);
  }
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
