/**
 * The validated, read-only model of `.vscode/engines.json`. Produced by `config/`, consumed by the
 * supervisor, the CLI and the VS Code adapters. Durations are milliseconds.
 *
 * Strings in `command`, `cwd`, `env`, `envFile` and health probes may hold variables, expanded at start
 * time by `variables.ts`: `${port}`, `${port.NAME}`, `${portBlock}`, `${portBlockEnd}`, `${portBlock+N}`,
 * `${port:OTHER}`, `${port:OTHER.NAME}`, `${workspaceFolder}`, `${env:NAME}`. (`${replica}` is already
 * replaced: an entry with `"replicas": N` is N specs here.)
 */

/** Where a value came from, for messages and for the Problems panel. Lines and columns are 1-based. */
export interface SourceRange {
  readonly offset: number;
  readonly length: number;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export interface ConfigProblem {
  readonly file: string;
  /** JSON path of the offending value, e.g. `engines[2].health.interval`; `` for the whole file. */
  readonly field: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  readonly range: SourceRange;
}

/** `"auto"`, a fixed number, or an inclusive range `[from, to]`. */
export type PortRequest =
  | { readonly kind: 'auto' }
  | { readonly kind: 'fixed'; readonly port: number }
  | { readonly kind: 'range'; readonly from: number; readonly to: number };

export type HealthProbe =
  | { readonly kind: 'http'; readonly path: string; readonly expectStatus?: readonly number[] }
  | { readonly kind: 'tcp' }
  | { readonly kind: 'log'; readonly pattern: string }
  | { readonly kind: 'command'; readonly command: readonly string[] }
  /** No probe configured and no port: healthy once the process runs. */
  | { readonly kind: 'none' };

export interface HealthSpec {
  readonly probe: HealthProbe;
  /** Poll interval once healthy. */
  readonly interval: number;
  /** Timeout of one probe. */
  readonly timeout: number;
  /** Consecutive failed probes after which a healthy engine is unhealthy. */
  readonly failureThreshold: number;
}

export type StartLockMode = 'untilHealthy' | 'untilListening' | 'leaseOnly';

export interface RestartPolicy {
  readonly policy: 'no' | 'on-failure';
  /** Attempts after the first start. */
  readonly limit: number;
  /** First delay; doubles on each attempt, capped at `maxBackoff`. */
  readonly backoff: number;
  readonly maxBackoff: number;
}

export interface EngineSpec {
  readonly name: string;
  readonly description?: string;
  /** argv; with `shell`, a single command line passed to the user's shell. */
  readonly command: readonly string[];
  readonly shell: boolean;
  /** Unexpanded; relative paths are relative to the workspace folder. */
  readonly cwd?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly envFile?: string;
  /** Host the health probes connect to. */
  readonly host: string;
  readonly port?: PortRequest;
  /** Named ports beside `port` (`"ports": { "metrics": "auto" }`), each leased like `port`. */
  readonly ports?: Readonly<Record<string, PortRequest>>;
  /** Extra contiguous ports reserved for the engine's internal use, outside the ephemeral range. */
  readonly portBlock?: number;
  readonly health: HealthSpec;
  /** Counted from the spawn, not from the wait for the lock. */
  readonly startTimeout: number;
  /** Explicit `dependsOn` plus the engines named by `${port:OTHER}`. */
  readonly dependsOn: readonly string[];
  readonly restart: RestartPolicy;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeout: number;
  /** `group`: the stop signal goes to the whole tree at once; `leader`: to the main process first, the rest later. */
  readonly stopSignalTo: 'group' | 'leader';
  /** A daemonizing engine's pid file (unexpanded; relative to its cwd): the daemon it names is the engine. */
  readonly pidFile?: string;
  readonly startLock: StartLockMode;
  /** The preset the engine was written with (`vllm`, `sglang`, ...); its defaults are already applied. */
  readonly preset?: string;
  /** GPUs of `gpus`, normalized (`"0,1"`); the environment has them as `CUDA_VISIBLE_DEVICES` unless `env` sets that. */
  readonly gpus?: string;
  /** The engine serves the OpenAI API under `/v1` (presets vllm, sglang, llama.cpp, tgi, ollama, or set by the user). */
  readonly openai?: boolean;
  /** One of the replicas of an entry with `"replicas"`: this spec is named `GROUP-INDEX`. */
  readonly replica?: ReplicaInfo;
  /** Where the engine object starts in the file, for messages and "go to definition". */
  readonly range: SourceRange;
}

/** Which replica a spec is: `group` is the entry's `name`, `index` 0-based, `count` its `replicas`. */
export interface ReplicaInfo {
  readonly group: string;
  readonly index: number;
  readonly count: number;
}

export interface EnginesConfig {
  /** Absolute path of the config file. */
  readonly file: string;
  /** The folder that holds `.vscode/`, i.e. `${workspaceFolder}`. */
  readonly workspaceFolder: string;
  readonly engines: readonly EngineSpec[];
}

export interface LoadResult {
  /** Present when there is no error (warnings allowed). */
  readonly config?: EnginesConfig;
  readonly problems: readonly ConfigProblem[];
}
