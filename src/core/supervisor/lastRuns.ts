/**
 * What the registry remembers of an engine between its runs: the ports it last had (a restart, or a
 * start later by the same config, gets them again while they are free, so open URLs and bookmarks keep
 * working) and why its last run failed (so `status` in another process says why). The only writer of
 * `lastRuns`; every function here runs inside a registry critical section or is one.
 */
import type { RegistryData } from '../registry';
import type { LastFailure, LastRunRecord } from '../runRecords';
import type { SupervisorContext } from './context';
import type { Runtime } from './runtime';

/** Enough for every engine of a host's configs; the oldest are forgotten first. */
const KEEP = 128;

/** The engine's record, if it has one. */
export function lastRunOf(data: RegistryData, key: string): LastRunRecord | undefined {
  return data.lastRuns?.find((r) => r.key === key);
}

/**
 * Ports that other engines had last (not running now): a free choice avoids them while it can, so that
 * each engine finds its own ports free when it comes back.
 */
export function othersLastPorts(data: RegistryData, key: string): Set<number> {
  const out = new Set<number>();
  for (const r of data.lastRuns ?? []) {
    if (r.key === key) continue;
    for (const p of Object.values(r.ports)) out.add(p);
    if (r.portBlock) for (let p = r.portBlock[0]; p <= r.portBlock[1]; p++) out.add(p);
  }
  return out;
}

/** Inside the lease's critical section: these are the engine's ports now; its last failure is over. */
export function rememberPorts(data: RegistryData, key: string, ports: Record<string, number>, portBlock: [number, number] | null): void {
  const list = (data.lastRuns ??= []);
  const rec = list.find((r) => r.key === key);
  const at = Date.now();
  if (rec) {
    rec.ports = { ...ports };
    rec.portBlock = portBlock;
    rec.at = at;
    delete rec.failure;
  } else {
    list.push({ key, ports: { ...ports }, portBlock, at });
  }
  if (list.length > KEEP) {
    list.sort((a, b) => b.at - a.at);
    list.length = KEEP;
  }
}

/** The failure of the engine as it stands, for the record. */
export function failureOf(rt: Pick<Runtime, 'state' | 'failure' | 'reason' | 'errorCode' | 'exitCode' | 'signal'>): LastFailure | undefined {
  if (rt.state !== 'failed' || !rt.failure) return undefined;
  return { reason: rt.reason ?? 'failed', errorCode: rt.errorCode, exitCode: rt.exitCode, signal: rt.signal, diagnosis: rt.failure, at: Date.now() };
}

/** Inside a critical section: records why the engine's last run failed. */
export function rememberFailure(data: RegistryData, key: string, failure: LastFailure): void {
  const list = (data.lastRuns ??= []);
  let rec = list.find((r) => r.key === key);
  if (!rec) {
    rec = { key, ports: {}, portBlock: null, at: failure.at };
    list.push(rec);
  }
  rec.failure = failure;
}

/** A failure that came without a lease to release (a spawn error, a dependency): its own short write. */
export async function recordFailure(ctx: SupervisorContext, rt: Runtime): Promise<void> {
  const failure = failureOf(rt);
  if (!failure) return;
  await ctx.registry.update((data) => rememberFailure(data, rt.key, failure));
}
