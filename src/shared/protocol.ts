/**
 * Messages between the Engines panel (webview) and the extension host. Imported by both sides; plain
 * data only. The webview says `ready` first; the host then posts `state` on every change.
 */
import type { EngineState } from './engineState';
import type { FailureView } from './viewModel';

export interface PanelEngine {
  /** Stable id: `${configFile}#${name}`. */
  readonly key: string;
  readonly name: string;
  /** Workspace folder name, shown when there are several. */
  readonly folder: string;
  readonly state: EngineState;
  readonly reason: string | null;
  /** Why it failed (state `failed`): a known signature with a hint, or its last meaningful log lines. */
  readonly failure: FailureView | null;
  readonly pid: number | null;
  /** Port name to number; each gets a link. */
  readonly ports: Readonly<Record<string, number>>;
  readonly host: string;
  readonly portBlock: readonly [number, number] | null;
  readonly health: { readonly ok: boolean; readonly latencyMs: number; readonly detail: string } | null;
  /** Recent probe latencies in ms, oldest first; null for a failed probe. */
  readonly history: readonly (number | null)[];
  readonly startedAt: number | null;
  readonly restarts: number;
  /** How its previous run ended, once restarted ("exited with code 3"). */
  readonly previousExit: string | null;
  readonly owner: string | null;
  readonly ownedHere: boolean;
  /** Something to stop (isRunning in engineState.ts). */
  readonly running: boolean;
  /** Models served (OpenAI-compatible engines), when known. */
  readonly models: readonly string[] | null;
  /** GPU memory (MiB) of its processes, where nvidia-smi exists. */
  readonly gpuMemoryMiB: number | null;
  /**
   * The group of replicas it belongs to (`"replicas"` in the config): its name, and its key (`groupKey`),
   * which the group row's actions send to act on all the replicas.
   */
  readonly group: { readonly name: string; readonly key: string } | null;
}

export interface PanelLock {
  readonly holder: { readonly pid: number; readonly label: string; readonly engines: readonly string[] } | null;
  readonly queue: readonly { readonly pid: number; readonly label: string; readonly engine: string }[];
}

export type HostMessage = {
  readonly type: 'state';
  readonly engines: readonly PanelEngine[];
  readonly lock: PanelLock;
  readonly trusted: boolean;
  readonly multiFolder: boolean;
};

export type EngineAction = 'start' | 'stop' | 'restart' | 'showLog';

export type WebviewMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'action'; readonly action: EngineAction; readonly key: string }
  | { readonly type: 'openPort'; readonly key: string; readonly port: number };

const ACTIONS: readonly string[] = ['start', 'stop', 'restart', 'showLog'];

/** Validates a message that came from the webview (never trust its shape). */
export function isWebviewMessage(m: unknown): m is WebviewMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case 'ready':
      return true;
    case 'action':
      return typeof r.key === 'string' && typeof r.action === 'string' && ACTIONS.includes(r.action);
    case 'openPort':
      return typeof r.key === 'string' && typeof r.port === 'number' && Number.isInteger(r.port) && r.port > 0 && r.port < 65536;
    default:
      return false;
  }
}

export function isHostMessage(m: unknown): m is HostMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'state' && Array.isArray((m as { engines?: unknown }).engines);
}
