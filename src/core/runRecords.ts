/**
 * What the registry records of an engine's runs: how the run before a restart ended (in its lease), and
 * what is remembered between runs (`lastRuns`: its last ports and why its last run failed).
 */
import type { FailureDiagnosis } from './failure';

/** How a run of an engine ended, as its supervisor (its parent) saw it. */
export interface LastExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: string;
  /** Epoch ms. */
  readonly at: number;
}

/**
 * What is remembered of an engine between its runs (written only by supervisor/lastRuns.ts): the ports
 * it last had, given to it again while they are free, and why its last run failed, for every process.
 */
export interface LastRunRecord {
  /** The engine's lease key, `${configFile}#${name}`. */
  readonly key: string;
  ports: Record<string, number>;
  portBlock: [number, number] | null;
  /** When those ports were leased (epoch ms). */
  at: number;
  /** Its last run failed (cleared by its next start). */
  failure?: LastFailure;
}

export interface LastFailure {
  readonly reason: string;
  readonly errorCode?: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly diagnosis: FailureDiagnosis;
  /** When it failed (epoch ms). */
  readonly at: number;
}
