/**
 * An engine's snapshot: the plain data that the UI and the CLI show, built from its runtime. Building
 * one runs no process and reads no file: what needs /proc or nvidia-smi was sampled before.
 */
import type { OwnerRecord } from '../registry';
import type { Runtime } from './runtime';
import type { EngineSnapshot, OwnerInfo } from './types';

export interface SnapshotSource {
  /** This supervisor's owner record (an engine it started is "self"). */
  readonly owner: OwnerRecord;
  readonly configFile: string;
}

function ownerInfo(rec: OwnerRecord, self: OwnerRecord, alive: boolean): OwnerInfo {
  const mine = rec.id === self.id;
  return { pid: rec.pid, label: rec.label, kind: rec.kind, self: mine, alive: mine || alive };
}

export function buildSnapshot(rt: Runtime, src: SnapshotSource): EngineSnapshot {
  const ext = rt.external;
  const ownerRec = rt.proc ? src.owner : ext?.owner;
  // Health belongs to a run: a stopped or failed engine shows none of its last run's probes.
  const live = rt.proc !== undefined || ext !== undefined;
  return {
    name: rt.spec.name,
    key: rt.key,
    configFile: src.configFile,
    description: rt.spec.description,
    command: rt.launch?.command ?? rt.spec.command,
    host: rt.spec.host,
    probe: rt.spec.health.probe.kind,
    state: rt.state,
    reason: rt.reason,
    errorCode: rt.errorCode,
    exitCode: rt.exitCode,
    signal: rt.signal,
    pid: rt.pid,
    pgid: rt.proc?.record.pgid ?? ext?.engine?.pgid ?? null,
    // Ports belong to a running engine: a stopped or failed one has none to show or open.
    ports: ext ? { ...ext.ports } : rt.proc ? { ...rt.ports } : {},
    portBlock: ext ? ext.portBlock : rt.proc ? rt.portBlock : null,
    health: live ? rt.health : null,
    healthHistory: live ? [...rt.history] : [],
    owner: ownerRec ? ownerInfo(ownerRec, src.owner, rt.externalOwnerAlive) : null,
    restarts: ext ? (ext.restarts ?? 0) : rt.restarts,
    lastExit: ext ? (ext.lastExit ?? null) : (rt.lastExit ?? null),
    nextRestartAt: rt.nextRestartAt,
    startedAt: rt.startedAt,
    healthyAt: rt.healthyAt,
    logFile: ext?.logFile ?? rt.logFile,
    lockWait: rt.lockWait,
    lastLines: rt.lastLines,
    failure: rt.state === 'failed' ? rt.failure : undefined,
    openai: rt.spec.openai ?? false,
    ...(rt.spec.preset !== undefined ? { preset: rt.spec.preset } : {}),
    models: rt.models,
    gpuMemoryMiB: rt.pid !== null ? rt.gpuMemoryMiB : undefined,
    ...(rt.spec.replica ? { replica: rt.spec.replica } : {}),
  };
}
