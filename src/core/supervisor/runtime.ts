/** One engine's live state inside a supervisor: plain fields, changed by the supervisor's parts. */
import type { EngineProcess } from '../engineProcess';
import type { FailureDiagnosis } from '../failure';
import type { EngineRoomErrorCode } from '../errors';
import type { HealthResult } from '../health';
import type { LockWaitInfo } from '../hostLock';
import type { Launch } from '../launch';
import type { LogFollower } from '../logs';
import type { EngineSpec } from '../model';
import type { LeaseRecord } from '../registry';
import type { LastExit } from '../runRecords';
import type { EngineState, StartOutcome } from './types';

/** How many probe latencies a snapshot shows. */
const HISTORY = 30;

/** The fields a state change may set at once (see SupervisorContext.set). */
export type RuntimePatch = Partial<Pick<Runtime, 'state' | 'reason' | 'errorCode' | 'lockWait' | 'exitCode' | 'signal' | 'lastLines' | 'nextRestartAt' | 'failure'>>;

export class Runtime {
  state: EngineState = 'stopped';
  reason: string | undefined;
  errorCode: EngineRoomErrorCode | undefined;
  exitCode: number | null = null;
  signal: string | null = null;
  proc: EngineProcess | undefined;
  /** A lease of another owner (another window, the CLI, a detached start) that we watch. */
  external: LeaseRecord | undefined;
  /** ENGINE_ROOM_START of the current start: leased before the spawn, in the engine's environment. */
  marker: string | undefined;
  ports: Record<string, number> = {};
  portBlock: [number, number] | null = null;
  launch: Launch | undefined;
  health: HealthResult | null = null;
  history: (number | null)[] = [];
  failures = 0;
  restarts = 0;
  /** How its previous run ended (kept across a restart; cleared by a fresh start). */
  lastExit: LastExit | undefined;
  nextRestartAt: number | null = null;
  startedAt: number | null = null;
  healthyAt: number | null = null;
  lockWait: LockWaitInfo | undefined;
  lastLines: string[] | undefined;
  /** Why it failed (state `failed` only): a known signature with a hint, or the last meaningful lines. */
  failure: FailureDiagnosis | undefined;
  follower: LogFollower | undefined;
  logMatched = false;
  /** Aborted by stop(): cancels a lock wait, a start, a restart backoff and the health loop. */
  run: AbortController | undefined;
  /** The promise of the current start (deduplicates concurrent start requests). */
  starting: Promise<StartOutcome> | undefined;
  /** A registry write about the current process under way (the daemon it left); never rejects. */
  recording: Promise<void> | undefined;
  /** Resolves when the current process's tree is gone and its lease released. */
  gone: Promise<void> | undefined;
  /** Ports that failed with EADDRINUSE in this start: avoid them on retry. */
  avoid = new Set<number>();
  /** Served model ids of an OpenAI-compatible engine, asked once it is healthy. */
  models: string[] | undefined;
  modelsAsked = false;
  /** GPU memory (MiB) of its tree at the last sample given to the supervisor (attachGpuMemory). */
  gpuMemoryMiB: number | undefined;
  /** Removed from the config while it ran: hidden from every view while it stops, then forgotten. */
  removed = false;
  /** When its state last changed (epoch ms): a failure recorded by another process before it is old news. */
  changedAt = 0;
  /** Whether the owner of `external` still ran at the last registry read (snapshots read no /proc). */
  externalOwnerAlive = true;

  constructor(
    public spec: EngineSpec,
    readonly key: string,
    readonly logFile: string,
  ) {}

  get pid(): number | null {
    return this.proc?.pid ?? this.external?.engine?.pid ?? null;
  }

  /** Keeps a probe's result and its latency in the history. */
  record(result: HealthResult): void {
    this.health = result;
    // The fast polls of a start fail until the engine is up: history starts with the first success.
    if (!result.ok && this.history.length === 0) return;
    this.history.push(result.ok ? result.latencyMs : null);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
  }
}
