/**
 * The only code that writes a lease to the registry: taken inside the start lock, completed with the
 * engine's pid after the spawn, handed over on adoption, marked as left on purpose, and released.
 */
import { EngineRoomError } from '../errors';
import { externalLeaseHolder } from '../externalLeases';
import { isAlive } from '../platform';
import { chooseBlock, choosePort } from '../ports';
import { newMarker } from '../processTree';
import { foreignLeaseHolder, leasedPorts, sameLease, type LeaseRecord, type RegistryData } from '../registry';
import type { LastFailure } from '../runRecords';
import { lastRunOf, othersLastPorts, rememberFailure, rememberPorts } from './lastRuns';
import type { EngineProcess } from '../engineProcess';
import type { SupervisorContext } from './context';
import type { Runtime } from './runtime';

export interface Leased {
  readonly port?: number;
  /** The main port as `port` and the named ports, as the lease holds them. */
  readonly ports?: Readonly<Record<string, number>>;
  readonly block?: [number, number];
  readonly error?: unknown;
}

/** An engine whose owner died without leaving it on purpose. */
export function isOrphan(l: LeaseRecord): boolean {
  return !l.detached && !isAlive(l.owner);
}

/** Inside the registry lock: choose ports and write the lease. Errors are kept per engine. */
export async function leaseInside(ctx: SupervisorContext, rt: Runtime, data: RegistryData): Promise<Leased> {
  try {
    const existing = data.leases.find((l) => l.key === rt.key);
    if (existing) {
      throw new EngineRoomError('port-leased', `Engine "${rt.spec.name}" is already running, started by ${existing.owner.label} (pid ${existing.owner.pid}).`);
    }
    const taken = leasedPorts(data);
    const leasedBy = (p: number) => {
      const l = data.leases.find((x) => Object.values(x.ports).includes(p) || (x.portBlock && p >= x.portBlock[0] && p <= x.portBlock[1]));
      return l ? `engine "${l.name}" of ${l.configFile} (${l.owner.label})` : (externalLeaseHolder(data, p) ?? foreignLeaseHolder(data, p));
    };
    const exclude = new Set([...taken, ...rt.avoid]);
    // The ports it had last, if they are free; a free choice keeps off the ports other engines had last.
    const last = lastRunOf(data, rt.key);
    const choice = { leased: exclude, ranges: ctx.ranges, leasedBy, engineName: rt.spec.name, spare: othersLastPorts(data, rt.key) };
    const port = rt.spec.port ? await choosePort(rt.spec.port, { ...choice, preferred: last?.ports.port }) : undefined;
    const ports: Record<string, number> = port !== undefined ? { port } : {};
    if (port !== undefined) exclude.add(port);
    // Named ports are leased like the main one, each apart from all the others.
    for (const [portName, request] of Object.entries(rt.spec.ports ?? {})) {
      const named = await choosePort(request, { ...choice, leased: exclude, engineName: `${rt.spec.name} (port "${portName}")`, preferred: last?.ports[portName] });
      ports[portName] = named;
      exclude.add(named);
    }
    const block = rt.spec.portBlock ? await chooseBlock(rt.spec.portBlock, { ...choice, leased: exclude, preferred: last?.portBlock?.[0] }) : undefined;
    // Expand now, so a variable that cannot be resolved fails before anything is leased or spawned.
    rt.launch = ctx.prepare(rt.spec, ports, block, data);
    // Known before the spawn: if we die before recording the pid, the marker still finds the engine.
    rt.marker = newMarker();
    data.leases.push({
      key: rt.key,
      name: rt.spec.name,
      configFile: ctx.config.file,
      workspaceFolder: ctx.config.workspaceFolder,
      owner: ctx.owner,
      engine: null,
      ports: { ...ports },
      portBlock: block ?? null,
      logFile: rt.logFile,
      host: rt.spec.host,
      probe: rt.spec.health.probe,
      leasedAt: Date.now(),
      spawnedAt: null,
      marker: rt.marker,
      ...(rt.restarts > 0 ? { restarts: rt.restarts } : {}),
      ...(rt.lastExit ? { lastExit: rt.lastExit } : {}),
      ...(rt.launch.pidFile !== undefined ? { pidFile: rt.launch.pidFile } : {}),
    });
    rt.ports = ports;
    rt.portBlock = block ?? null;
    rememberPorts(data, rt.key, rt.ports, rt.portBlock);
    return { port, ports, block };
  } catch (e) {
    return { error: e };
  }
}

/** Records the pids of freshly spawned engines in one registry write. */
export async function recordSpawned(ctx: SupervisorContext, list: ReadonlyArray<{ rt: Runtime; proc: EngineProcess }>): Promise<void> {
  if (list.length === 0) return;
  await ctx.registry.update((data) => {
    for (const { rt, proc } of list) {
      const lease = data.leases.find((l) => l.key === rt.key && l.owner.id === ctx.owner.id);
      if (lease) {
        lease.engine = proc.record;
        lease.spawnedAt = rt.startedAt;
      }
    }
  });
}

/** Our engine's leader exited and left a daemon: the lease follows it (one write, daemons only). */
export async function recordFollowed(ctx: SupervisorContext, rt: Runtime, proc: EngineProcess): Promise<void> {
  await ctx.registry.update((data) => {
    const lease = data.leases.find((l) => l.key === rt.key && l.owner.id === ctx.owner.id);
    if (lease && lease.marker === rt.marker) lease.engine = proc.record;
  });
}

/** Releases this supervisor's lease of the engine; a failure of its run is recorded in the same write. */
export async function dropLease(ctx: SupervisorContext, rt: Runtime, failure?: LastFailure): Promise<void> {
  await ctx.registry.update((data) => {
    data.leases = data.leases.filter((l) => !(l.key === rt.key && l.owner.id === ctx.owner.id));
    if (failure) rememberFailure(data, rt.key, failure);
  });
}

/** Releases another owner's lease of an engine that we stopped. */
export async function dropForeignLease(ctx: SupervisorContext, lease: LeaseRecord): Promise<void> {
  await ctx.registry.update((data) => {
    data.leases = data.leases.filter((l) => !sameLease(l, lease));
  });
}

/** Takes an orphan's lease over; undefined when someone else adopted it in the meantime. */
export function adoptLease(ctx: SupervisorContext, lease: LeaseRecord): Promise<LeaseRecord | undefined> {
  return ctx.registry.update((data) => {
    const l = data.leases.find((x) => sameLease(x, lease));
    if (!l || !isOrphan(l)) return undefined;
    l.owner = ctx.owner;
    // The engine as the caller found it: its owner may have died before recording the pid (then the
    // marker found it), or its leader may have left a daemon.
    l.engine = lease.engine ?? l.engine;
    return { ...l };
  });
}

/**
 * Marks our leases of these engines as left running on purpose, so no one takes them for orphans; an
 * engine of ours is recorded as it runs now (a daemon it left, rather than its exited leader).
 */
export async function markDetached(ctx: SupervisorContext, rts: readonly Runtime[]): Promise<void> {
  if (rts.length === 0) return;
  await ctx.registry.update((data) => {
    for (const l of data.leases) {
      const rt = rts.find((r) => r.key === l.key);
      if (!rt || l.owner.id !== ctx.owner.id) continue;
      l.detached = true;
      if (rt.proc && rt.marker === l.marker) l.engine = rt.proc.record;
    }
  });
}
