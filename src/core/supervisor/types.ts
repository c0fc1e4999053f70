/** The supervisor's public data types: what the CLI, the extension and the webview see. */
import type { EngineRoomErrorCode } from '../errors';
import type { FailureDiagnosis } from '../failure';
import type { HealthResult } from '../health';
import type { LockWaitInfo } from '../hostLock';
import type { EnginesConfig, ReplicaInfo } from '../model';
import type { PortRanges } from '../ports';
import type { OwnerRecord } from '../registry';
import type { LastExit } from '../runRecords';
import type { EngineState } from '../../shared/engineState';

export type { EngineState };

export interface OwnerInfo {
  readonly pid: number;
  readonly label: string;
  readonly kind: OwnerRecord['kind'];
  /** This supervisor started it. */
  readonly self: boolean;
  /** The owning process still runs (false: e.g. `up --detach` has returned). */
  readonly alive: boolean;
}

/** Everything the UI and the CLI show about one engine. Plain data, safe to post to a webview. */
export interface EngineSnapshot {
  readonly name: string;
  readonly key: string;
  readonly configFile: string;
  readonly description?: string;
  readonly command: readonly string[];
  /** Where the engine's ports are reached. */
  readonly host: string;
  /** The kind of health probe (`http` engines can be opened in a browser). */
  readonly probe: 'http' | 'tcp' | 'log' | 'command' | 'none';
  readonly state: EngineState;
  /** Why it is in this state, for people ("waiting for the start lock held by pid 12 (api)"). */
  readonly reason?: string;
  /** Why it failed, for programs. */
  readonly errorCode?: EngineRoomErrorCode;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly pid: number | null;
  readonly pgid: number | null;
  /** Port name to number; the main one is `port`. */
  readonly ports: Readonly<Record<string, number>>;
  readonly portBlock: readonly [number, number] | null;
  readonly health: HealthResult | null;
  /** Latencies (ms) of the recent probes, oldest first; failed probes are null. */
  readonly healthHistory: readonly (number | null)[];
  readonly owner: OwnerInfo | null;
  readonly restarts: number;
  /** How its previous run ended, once it was restarted after a crash (also for another owner's engine). */
  readonly lastExit: LastExit | null;
  readonly nextRestartAt: number | null;
  readonly startedAt: number | null;
  readonly healthyAt: number | null;
  readonly logFile: string;
  /** Set while the engine waits for the start lock. */
  readonly lockWait?: LockWaitInfo;
  /** The last log lines when it failed. */
  readonly lastLines?: readonly string[];
  /**
   * Why it failed, for people (state `failed` only): a known signature ("CUDA out of memory") with a
   * hint, or the last meaningful log lines (never the last probe's "connection refused").
   */
  readonly failure?: FailureDiagnosis;
  /** It serves the OpenAI API under /v1 (from its preset). */
  readonly openai: boolean;
  /** The preset it was written with. */
  readonly preset?: string;
  /** The model ids it serves (`/v1/models`), once healthy; OpenAI-compatible engines only. */
  readonly models?: readonly string[];
  /** GPU memory (MiB) its process tree uses, where `nvidia-smi` exists. */
  readonly gpuMemoryMiB?: number;
  /** Set on a replica of a group (`"replicas"`): the tree and the panel show it under its group. */
  readonly replica?: ReplicaInfo;
}

export interface SupervisorOptions {
  readonly config: EnginesConfig;
  readonly stateDir: string;
  readonly ownerKind: OwnerRecord['kind'];
  readonly ownerLabel: string;
  /** The environment engines inherit; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly ranges?: PortRanges;
  /** Diagnostics for the output channel / stderr. */
  readonly log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * Engines of this config whose owner died without meaning to leave them (a crashed window, a CLI
   * killed by SIGKILL; not `up --detach`): `adopt` them (this supervisor becomes their owner and stops
   * them on dispose), `stop` them, or `leave` them as they are (default).
   */
  readonly orphans?: 'adopt' | 'stop' | 'leave';
  /**
   * Engines die with this supervisor's process even when it is killed (SIGKILL, a crash): a reaper
   * process (this script, run by `execPath`) stops them. Without it they stay running, adoptable.
   */
  readonly reaper?: { readonly script: string; readonly execPath?: string };
}

export interface StartOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly state: EngineState;
  readonly reason?: string;
  /** The start was cancelled (by the caller or a stop), which is not a failure to report. */
  readonly cancelled?: boolean;
}
