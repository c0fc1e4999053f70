/**
 * The states of an engine and what they mean, for the host and the webview alike. Plain data: core's
 * supervisor, the adapters, the CLI and the panel read the same list.
 */

export type EngineState = 'stopped' | 'waiting' | 'starting' | 'healthy' | 'unhealthy' | 'failed' | 'stopping';

/** What isRunning reads of an engine's snapshot. */
export interface RunInfo {
  readonly state: EngineState;
  readonly pid: number | null;
  /** When a restart after a crash is due (epoch ms), or null. */
  readonly nextRestartAt: number | null;
}

/** A start or a stop under way: the state changes by itself soon (a spinner, not a verdict). */
export function isInTransition(state: EngineState): boolean {
  return state === 'waiting' || state === 'starting' || state === 'stopping';
}

/**
 * Something to stop: a process runs, a start or stop is under way, or a restart is scheduled after a
 * crash (state `failed` with `nextRestartAt`).
 */
export function isRunning(s: RunInfo): boolean {
  return s.pid !== null || s.nextRestartAt !== null || isInTransition(s.state);
}
