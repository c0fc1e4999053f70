/** Messages between the benchmark's orchestrator (bench/run.ts) and its worker processes (bench/worker.ts). */

export type Strategy = 'unprotected' | 'sleep' | 'filelock' | 'er-untilHealthy' | 'er-leaseOnly';

export const STRATEGIES: readonly Strategy[] = ['unprotected', 'sleep', 'filelock', 'er-untilHealthy', 'er-leaseOnly'];

export const STRATEGY_LABEL: Record<Strategy, string> = {
  unprotected: 'unprotected (all at once)',
  sleep: 'random 1.5-3.0 s sleep',
  filelock: 'file lock until healthy',
  'er-untilHealthy': 'Engine Room untilHealthy',
  'er-leaseOnly': 'Engine Room leaseOnly + portBlock',
};

/** One engine of a trial: a fake vLLM-like engine with its own load time. */
export interface EngineDef {
  readonly name: string;
  /** Seconds of "model loading" between the internal port pick and the binds. */
  readonly load: number;
}

export interface TrialRequest {
  readonly type: 'trial';
  readonly trialId: string;
  readonly worker: number;
  readonly strategy: Strategy;
  readonly engines: readonly EngineDef[];
  /** This worker's private folder for this trial (its workspace, baseline logs). */
  readonly dir: string;
  /** The Engine Room state dir shared by every worker of the run. */
  readonly stateDir: string;
  /** The file the file-lock baseline locks (shared by every worker). */
  readonly lockFile: string;
  readonly ranges: { readonly auto: [number, number]; readonly blocks: [number, number] };
  /** The narrow range of the fake's contention mode. */
  readonly contention: [number, number];
  readonly internal: number;
  readonly python: string;
  readonly fake: string;
  readonly startTimeoutMs: number;
}

/** What a worker reports about one engine of a trial. */
export interface EngineOutcome {
  readonly name: string;
  readonly worker: number;
  readonly ok: boolean;
  readonly state: string;
  readonly reason?: string;
  /** Epoch ms of the (last) spawn. */
  readonly spawnAt: number | null;
  /** Epoch ms when the harness or the supervisor saw it healthy. */
  readonly healthyAt: number | null;
  /** Epoch ms when it became healthy or failed for good. */
  readonly settledAt: number | null;
  /** Spawns of this engine in this trial (Engine Room retries after EADDRINUSE). */
  readonly spawns: number;
  readonly logFile: string;
}

export interface IdleRequest {
  readonly type: 'idle';
  readonly n: number;
  readonly dir: string;
  readonly stateDir: string;
  readonly ranges: { readonly auto: [number, number]; readonly blocks: [number, number] };
  readonly python: string;
  readonly idleEngine: string;
}

export interface FloodRequest {
  readonly type: 'flood';
  readonly seconds: number;
  readonly dir: string;
  readonly stateDir: string;
  readonly flood: string;
  readonly countFile: string;
}

/** One engine that writes one line of `mb` megabytes without a newline (a `\r` progress bar) once `go` exists. */
export interface LongLineRequest {
  readonly type: 'longline';
  readonly dir: string;
  readonly stateDir: string;
  readonly engine: string;
  readonly mb: number;
  readonly go: string;
}

export type ToWorker =
  | TrialRequest
  | IdleRequest
  | FloodRequest
  | LongLineRequest
  | { readonly type: 'go'; readonly goAt: number }
  | { readonly type: 'stop' }
  | { readonly type: 'exit' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'prepared'; readonly trialId: string }
  | { readonly type: 'settled'; readonly trialId: string; readonly engines: EngineOutcome[]; readonly startLateMs: number; readonly notes: string[] }
  | { readonly type: 'started'; readonly ok: number; readonly failed: number; readonly wallMs: number; readonly rssBefore: number; readonly notes: string[] }
  | { readonly type: 'floodDone'; readonly linesSeen: number; readonly state: string; readonly logFile: string; readonly loopDelayMaxMs: number; readonly loopDelayP99Ms: number; readonly heapBefore: number; readonly heapAfter: number }
  | { readonly type: 'longlineReady'; readonly state: string }
  | { readonly type: 'longlineDone'; readonly state: string; readonly unhealthy: number; readonly logFile: string; readonly loopDelayMaxMs: number; readonly loopDelayP99Ms: number }
  | { readonly type: 'stopped'; readonly leftover: number[] }
  | { readonly type: 'error'; readonly message: string };
