/**
 * How engines look, without the vscode API (so it is tested in plain Node): icon ids, labels, ports,
 * URLs, and the tree items' contextValue that the menus in package.json match.
 */
import type { EngineSnapshot, EngineState } from '../core/supervisor/supervisor';
import { urlHost } from '../core/health';

/** Codicon id and theme color of each state. */
export const STATE_ICONS: Readonly<Record<EngineState, readonly [string, string | undefined]>> = {
  stopped: ['circle-large-outline', 'disabledForeground'],
  waiting: ['clock', 'charts.yellow'],
  starting: ['loading~spin', 'charts.blue'],
  healthy: ['pass-filled', 'testing.iconPassed'],
  unhealthy: ['warning', 'problemsWarningIcon.foreground'],
  failed: ['error', 'testing.iconFailed'],
  stopping: ['loading~spin', 'disabledForeground'],
};

/** The codicon id, for `$(id)` text (quick picks, status bar). */
export function stateCodicon(state: EngineState): string {
  return STATE_ICONS[state][0];
}

export function stateLabel(s: Pick<EngineSnapshot, 'state' | 'lockWait' | 'nextRestartAt'>): string {
  if (s.state === 'waiting' && s.lockWait?.holder) return `waiting for lock (pid ${s.lockWait.holder.pid})`;
  if (s.state === 'failed' && s.nextRestartAt) return `failed, restarting in ${Math.max(0, Math.ceil((s.nextRestartAt - Date.now()) / 1000))} s`;
  return s.state;
}

export function portsText(s: Pick<EngineSnapshot, 'ports' | 'portBlock'>): string {
  const parts = Object.entries(s.ports).map(([k, v]) => (k === 'port' ? `:${v}` : `${k}:${v}`));
  if (s.portBlock) parts.push(`block ${s.portBlock[0]}-${s.portBlock[1]}`);
  return parts.join(' ');
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** The engine's base URL when it has a main port. */
export function engineUrl(s: Pick<EngineSnapshot, 'ports' | 'host'>): string | undefined {
  const port = s.ports.port;
  return port === undefined ? undefined : `http://${urlHost(browsableHost(s.host))}:${port}`;
}

/** A wildcard bind (`0.0.0.0`, `::`) is reached through loopback. */
export function browsableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/**
 * Something to stop: a process runs, a start is under way, or a restart is scheduled after a crash
 * (state `failed` with `nextRestartAt`).
 */
export function isRunning(s: Pick<EngineSnapshot, 'state' | 'pid' | 'nextRestartAt'>): boolean {
  return s.pid !== null || s.nextRestartAt !== null || s.state === 'waiting' || s.state === 'starting' || s.state === 'stopping';
}

/**
 * `engine.<state>.<running|idle>[.http]`: the `when` clauses of the tree's menus match on it
 * (`viewItem =~ /\.running\b/` shows Stop; `.http` shows Open in Browser).
 */
export function contextValue(s: Pick<EngineSnapshot, 'state' | 'pid' | 'nextRestartAt' | 'ports' | 'host' | 'probe'>): string {
  const parts = [`engine.${s.state}`, isRunning(s) ? 'running' : 'idle'];
  if (engineUrl(s) && s.probe === 'http') parts.push('http');
  return parts.join('.');
}
