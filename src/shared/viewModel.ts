/**
 * How engines look, without the vscode API (so it is tested in plain Node, and the webview may use it):
 * icon ids, labels, ports, URLs, and the tree items' contextValue that the menus in package.json match.
 */
import { isRunning, type EngineState, type RunInfo } from './engineState';
import { browsableHost, httpUrl } from './url';

/**
 * The fields of an engine's snapshot (core's EngineSnapshot) that are shown here. Declared rather than
 * imported, since src/shared imports nothing of the core; the adapters pass core's snapshots to these
 * functions, so the typecheck keeps the two in step.
 */
export interface EngineView extends RunInfo {
  readonly ports: Readonly<Record<string, number>>;
  readonly portBlock: readonly [number, number] | null;
  readonly host: string;
  /** The kind of health probe: `http` engines can be opened in a browser. */
  readonly probe: string;
  /** Who holds the start lock while this engine waits for it. */
  readonly lockWait?: { readonly holder?: { readonly pid: number } };
}

/** Why an engine failed (core's FailureDiagnosis, declared here for the same reason as EngineView). */
export interface FailureView {
  readonly kind: string;
  readonly summary: string;
  readonly hint?: string;
  readonly lines: readonly string[];
}

/**
 * The one line that says why an engine is in its state, where a state needs one: a failure's summary
 * ("CUDA out of memory", or its last meaningful log line), what a waiting or unhealthy engine waits for.
 */
export function reasonText(s: { readonly state: EngineState; readonly reason?: string | null; readonly failure?: FailureView | null }): string {
  if (s.state === 'failed') return s.failure?.summary ?? s.reason ?? '';
  if (s.state === 'waiting' || s.state === 'unhealthy') return s.reason ?? '';
  return '';
}

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

export function stateLabel(s: Pick<EngineView, 'state' | 'lockWait' | 'nextRestartAt'>): string {
  if (s.state === 'waiting' && s.lockWait?.holder) return `waiting for lock (pid ${s.lockWait.holder.pid})`;
  if (s.state === 'failed' && s.nextRestartAt) return `failed, restarting in ${Math.max(0, Math.ceil((s.nextRestartAt - Date.now()) / 1000))} s`;
  return s.state;
}

export function portsText(s: Pick<EngineView, 'ports' | 'portBlock'>): string {
  const parts = Object.entries(s.ports).map(([k, v]) => (k === 'port' ? `:${v}` : `${k}:${v}`));
  if (s.portBlock) parts.push(`block ${s.portBlock[0]}-${s.portBlock[1]}`);
  return parts.join(' ');
}

/** The group of replicas an engine belongs to (`"replicas"` in the config), as the views need it. */
export interface ReplicaView {
  readonly key: string;
  readonly replica?: { readonly group: string };
}

/**
 * A group's key: its engines' keys (`CONFIG#NAME-i`) with the group's name (`CONFIG#NAME`). Unique: the
 * loader lets no engine take a group's name.
 */
export function groupKey(s: ReplicaView): string | undefined {
  if (!s.replica) return undefined;
  const hash = s.key.lastIndexOf('#');
  return `${s.key.slice(0, hash + 1)}${s.replica.group}`;
}

/** One state for a group: healthy when all are, else the state that most needs a look. */
export function groupState(states: ReadonlyArray<{ readonly state: EngineState }>): EngineState {
  const order: readonly EngineState[] = ['failed', 'unhealthy', 'starting', 'stopping', 'waiting', 'healthy', 'stopped'];
  const present = new Set(states.map((s) => s.state));
  if (present.size === 1) return states[0]?.state ?? 'stopped';
  return order.find((s) => present.has(s) && s !== 'healthy' && s !== 'stopped') ?? 'unhealthy';
}

/**
 * `engineGroup[.idle][.running]`: a group node's contextValue; `.idle` when one of its replicas can be
 * started, `.running` when one can be stopped (the engines' inline menus match the same words).
 */
export function groupContextValue(members: ReadonlyArray<RunInfo>): string {
  const parts = ['engineGroup'];
  if (members.some((m) => !isRunning(m))) parts.push('idle');
  if (members.some((m) => isRunning(m))) parts.push('running');
  return parts.join('.');
}

/** `6/8 healthy`: the summary of a group of replicas (or of any engines). */
export function healthySummary(states: ReadonlyArray<{ readonly state: EngineState }>): string {
  return `${states.filter((s) => s.state === 'healthy').length}/${states.length} healthy`;
}

/** The engine's base URL when it has a main port. */
export function engineUrl(s: Pick<EngineView, 'ports' | 'host'>): string | undefined {
  const port = s.ports.port;
  return port === undefined ? undefined : httpUrl(browsableHost(s.host), port);
}

/**
 * `engine.<state>.<running|idle>[.http]`: the `when` clauses of the tree's menus match on it
 * (`viewItem =~ /\.running\b/` shows Stop; `.http` shows Open in Browser).
 */
export function contextValue(s: Pick<EngineView, 'state' | 'pid' | 'nextRestartAt' | 'ports' | 'host' | 'probe'>): string {
  const parts = [`engine.${s.state}`, isRunning(s) ? 'running' : 'idle'];
  if (engineUrl(s) && s.probe === 'http') parts.push('http');
  return parts.join('.');
}
