/**
 * The `engine-room` task type without the vscode API (tested in plain Node): what a task definition
 * asks for, the name a provided task gets, and the lines its terminal shows. engineTasks.ts runs it.
 */
import type { EngineSnapshot, StartOutcome } from '../core/supervisor/supervisor';
import { engineUrl, portsText } from '../shared/viewModel';

export const TASK_TYPE = 'engine-room';

/** What one task does: start (and wait for health) or stop some engines of one workspace folder. */
export interface EngineTaskSpec {
  readonly action: 'up' | 'down';
  /** Empty: every engine of the folder. */
  readonly engines: readonly string[];
  /** A workspace folder's name (multi-root workspaces); absent: the task's own folder, or any folder. */
  readonly folder?: string;
}

/** A task definition as tasks.json or a provider gives it: `{ type, action?, engines?, folder? }`. */
export type EngineTaskDefinition = { readonly type: string } & Readonly<Record<string, unknown>>;

/** Reads a definition; a bad field is an error naming it (the task then fails and says why). */
export function parseTaskDefinition(def: EngineTaskDefinition): EngineTaskSpec | { error: string } {
  const action = def.action ?? 'up';
  if (action !== 'up' && action !== 'down') return { error: `"action" must be "up" or "down", not ${JSON.stringify(action)}` };
  const engines = def.engines ?? [];
  if (!Array.isArray(engines) || engines.some((e) => typeof e !== 'string' || e === '')) {
    return { error: `"engines" must be a list of engine names, not ${JSON.stringify(engines)}` };
  }
  if (def.folder !== undefined && typeof def.folder !== 'string') return { error: `"folder" must be a workspace folder's name, not ${JSON.stringify(def.folder)}` };
  return { action, engines: [...new Set(engines as string[])], ...(def.folder !== undefined ? { folder: def.folder } : {}) };
}

/** The definition of a spec, as a provided task carries it (tasks.json may name it back). */
export function taskDefinition(spec: EngineTaskSpec): EngineTaskDefinition {
  return { type: TASK_TYPE, action: spec.action, engines: [...spec.engines], ...(spec.folder !== undefined ? { folder: spec.folder } : {}) };
}

/** "up policy", "up" (all engines), "down policy cache": VS Code shows it as "engine-room: up policy". */
export function taskName(spec: Pick<EngineTaskSpec, 'action' | 'engines'>): string {
  return [spec.action, ...spec.engines].join(' ');
}

/** The specs a folder's engines offer: `up <name>` for each, `up` and `down` for all of them. */
export function providedSpecs(engineNames: readonly string[], folder?: string): EngineTaskSpec[] {
  const f = folder !== undefined ? { folder } : {};
  return [
    ...engineNames.map((n): EngineTaskSpec => ({ action: 'up', engines: [n], ...f })),
    ...(engineNames.length > 1 ? [{ action: 'up' as const, engines: [], ...f }] : []),
    { action: 'down', engines: [], ...f },
  ];
}

const DIM = '\x1b[2m';
const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

type ProgressView = Pick<EngineSnapshot, 'name' | 'state' | 'reason' | 'pid' | 'ports' | 'portBlock' | 'host'>;

/**
 * The terminal line for an engine's new snapshot, or undefined when nothing worth a line changed since
 * `previous` (health probes repeat the same state many times).
 */
export function progressLine(s: ProgressView, previous: ProgressView | undefined): string | undefined {
  if (previous && previous.state === s.state && previous.reason === s.reason && previous.pid === s.pid) return undefined;
  switch (s.state) {
    case 'healthy': {
      const url = engineUrl(s);
      return `${GREEN}${s.name} is healthy${RESET}${url ? ` at ${url}` : ''}${s.portBlock ? ` ${DIM}(${portsText({ ports: {}, portBlock: s.portBlock })})${RESET}` : ''}`;
    }
    case 'failed':
      return `${RED}${s.name} failed${s.reason ? `: ${s.reason}` : ''}${RESET}`;
    case 'starting':
      // The supervisor's reason names the pid already ("started (pid 12)").
      return `${s.name}: ${s.reason ?? `starting${s.pid !== null ? ` (pid ${s.pid})` : ''}`}`;
    default:
      return `${s.name}: ${s.reason ?? s.state}`;
  }
}

/** The task's last line and exit code from the start's outcomes: 0 only when every engine is healthy. */
export function startSummary(outcomes: readonly StartOutcome[]): { exitCode: number; line: string } {
  const bad = outcomes.filter((o) => !o.ok);
  if (bad.length === 0) return { exitCode: 0, line: `${GREEN}${outcomes.map((o) => o.name).join(', ') || 'no engine'}: healthy${RESET}` };
  const what = bad.map((o) => `${o.name} ${o.cancelled ? 'was cancelled' : `failed${o.reason ? ` (${o.reason})` : ''}`}`);
  return { exitCode: 1, line: `${RED}${what.join('; ')}${RESET}` };
}
