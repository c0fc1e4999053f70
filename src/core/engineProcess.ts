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
import { descendants, isAlive, processStartTime, userShell } from './platform';
import type { EngineProcessRecord } from './processTree';
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
    // A table up to half a second old is fine here (and shared by every engine's bookkeeping).
    for (const pid of descendants(this.record.pid, 500)) {
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
    // execa and its dependencies (a quarter of the CLI bundle) load on the first spawn, not with this
    // module: `engine-room status`, `env` and the extension's activation start nothing.
    const { execa } = await import('execa');
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
