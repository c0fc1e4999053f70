/**
 * Spawning an engine in its own process group with its output going straight to its log file, and
 * stopping whole process trees.
 *
 * Why the file and not a pipe: a pipe to us would break when we exit (`up --detach`, a crashed window),
 * and the engine would die of SIGPIPE or lose lines; the kernel appends to a file whatever happens to
 * us, so no line is lost even when the engine writes fast and dies. The UI tails the file.
 */
import * as fs from 'node:fs';
import type { ResultPromise } from 'execa';
import { EngineRoomError, errorMessage } from './errors';
import { descendantIdentities, isAlive, processStartTime, userShell } from './platform';
import { processRow, type MarkedProcess } from './processEnv';
import { MARKER_VARIABLE, markedProcesses, markedRoots, pidFileProcess, type EngineProcessRecord } from './processTree';
import type { ProcessIdentity } from './platform';

export interface SpawnRequest {
  readonly command: readonly string[];
  readonly shell: boolean;
  readonly cwd: string;
  /** The complete environment (already merged). */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  /**
   * The start's ENGINE_ROOM_START, put into the environment. When the leader exits 0 and processes with
   * the marker still run, the engine daemonized: it is followed until they are gone.
   */
  readonly marker?: string;
  /** Absolute path of the file where a daemonizing engine writes its pid: that process leads it then. */
  readonly pidFile?: string;
  /** The leader exited 0 and left a daemon, which `record` now names. */
  readonly onDaemon?: (proc: EngineProcess) => void;
}

export interface ExitInfo {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The process that ended was a daemon we followed (pid), whose exit status we cannot know. */
  readonly daemon?: number;
}

/** How often a followed daemon is checked at most (one /proc/<pid>/stat read while it runs). */
const DAEMON_POLL_MAX = 1000;

/** A running engine that we spawned. */
export class EngineProcess {
  /** Descendants seen while it ran, so that a crash of the leader does not orphan workers that left its group. */
  private readonly seen = new Map<number, string>();

  private wakeFollower: (() => void) | undefined;
  private readonly endedController = new AbortController();
  /** The leader exited 0 and we do not know yet whether it left a daemon. */
  settling = false;
  private followed = false;

  private constructor(
    private rec: EngineProcessRecord,
    /** ENGINE_ROOM_START in its environment (see SpawnRequest.marker). */
    readonly marker: string | undefined,
    /** Settles when the engine's main process exits, or the daemon it left is gone (never rejects). */
    readonly exited: Promise<ExitInfo>,
  ) {
    void exited.then(() => this.endedController.abort());
  }

  /** Aborted once the engine is gone (`exited` settled): a health probe under way is abandoned then. */
  get ended(): AbortSignal {
    return this.endedController.signal;
  }

  /** The leader and its group: the spawned process, or the daemon it left. */
  get record(): EngineProcessRecord {
    // A daemon may call setsid() after we found it: its group is the one it has now.
    const now = this.followed ? processRow(this.rec.pid) : undefined;
    if (now && now.startTime === this.rec.startTime && now.pgid !== this.rec.pgid) this.rec = { ...this.rec, pgid: now.pgid };
    return this.rec;
  }

  get pid(): number {
    return this.rec.pid;
  }

  /** A followed daemon may be gone (a stop just ended): look now rather than at the next poll. */
  wake(): void {
    this.wakeFollower?.();
  }

  /** Remembers the current descendants (cheap: reads the tree's /proc entries). Call now and then while it runs. */
  noteDescendants(): void {
    for (const { pid, startTime } of descendantIdentities(this.record.pid)) this.seen.set(pid, startTime);
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
    // execa and its dependencies (a quarter of the CLI bundle) load on the first spawn, not with this
    // module: `engine-room status`, `env` and the extension's activation start nothing.
    const { execa } = await import('execa');
    const fd = fs.openSync(req.logFile, 'a', 0o600);
    let child: ResultPromise;
    try {
      const [file, ...args] = req.command;
      const options = {
        cwd: req.cwd,
        env: req.marker ? { ...req.env, [MARKER_VARIABLE]: req.marker } : { ...req.env },
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
    // Set below, before the child can have exited (an exit is seen on a later turn of the event loop).
    const self: { proc?: EngineProcess } = {};
    const exited: Promise<ExitInfo> = child
      .then(
        (r): ExitInfo => ({ exitCode: r.exitCode ?? null, signal: r.signal ?? null }),
        (e: unknown): ExitInfo => ({ exitCode: null, signal: null, error: errorMessage(e) }) as ExitInfo,
      )
      .then((info) => (info.exitCode === 0 && req.marker && self.proc ? self.proc.follow(req, req.marker, info) : info));
    const pid = child.pid;
    if (pid === undefined) {
      const result = await child.catch((e: unknown) => e);
      const reason = (result as { originalMessage?: string; message?: string }).originalMessage ?? (result as { message?: string }).message ?? 'unknown error';
      throw new EngineRoomError('spawn-failed', `Could not start ${req.command[0]}: ${reason}`);
    }
    const startTime = processStartTime(pid) ?? '';
    self.proc = new EngineProcess({ pid, pgid: pid, startTime }, req.marker, exited);
    return self.proc;
  }

  /**
   * The leader exited 0: while processes with the marker run, or the process named by the pid file
   * (for daemons that overwrite their environment with their process title), they are the engine.
   */
  private async follow(req: SpawnRequest, marker: string, info: ExitInfo): Promise<ExitInfo> {
    const since = this.rec.startTime;
    this.settling = true;
    let fromFile: MarkedProcess | undefined;
    const look = async (waitMs: number) => {
      fromFile = req.pidFile ? await waitForPidFile(req.pidFile, since, waitMs) : undefined;
      const marked = markedProcesses([marker]).get(marker) ?? [];
      return fromFile ? [fromFile, ...marked.filter((p) => p.pid !== fromFile?.pid)] : marked;
    };
    // A daemon writes its pid file after it forked, maybe after its parent exited: wait a little for it.
    let procs = await look(PID_FILE_WAIT);
    this.settling = false;
    if (procs.length === 0) return info;
    this.rec = leaderOf(procs, fromFile);
    this.followed = true;
    req.onDaemon?.(this);
    for (let delay = 50; ; delay = Math.min(delay * 2, DAEMON_POLL_MAX)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeFollower = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeFollower = undefined;
      if (procs.some(isAlive)) continue;
      procs = await look(0);
      if (procs.length === 0) return { exitCode: null, signal: null, daemon: this.rec.pid };
      this.rec = leaderOf(procs, fromFile);
    }
  }
}

/** How long a leader that exited 0 waits for its daemon's pid file (engines with `pidFile` only). */
const PID_FILE_WAIT = 3000;

/** The pid file's process (see pidFileProcess), waiting up to `waitMs` for it. */
async function waitForPidFile(file: string, since: string, waitMs: number): Promise<MarkedProcess | undefined> {
  for (const deadline = Date.now() + waitMs; ; await new Promise((r) => setTimeout(r, 50))) {
    const p = pidFileProcess(file, since);
    if (p || Date.now() >= deadline) return p;
  }
}

/** The leader of a daemon: the pid file's process if there is one, else the first root of the marked ones. */
function leaderOf(procs: readonly MarkedProcess[], fromFile: MarkedProcess | undefined): EngineProcessRecord {
  const p = fromFile ?? (markedRoots(procs)[0] as MarkedProcess);
  return { pid: p.pid, pgid: p.pgid, startTime: p.startTime };
}
