/**
 * Leases for processes that Engine Room does not start: a trainer's engine actors, a script run by
 * `engine-room exec`. They come from the same registry, in the same kind of critical section as the
 * supervisor's leases (registry.update, see supervisor/leases.ts), so they never overlap an engine's
 * lease or each other. Each lives as long as its holder process (pid and start time) and is pruned
 * with the other records of dead processes; `release` ends one early.
 */
import { randomBytes } from 'node:crypto';
import { EngineRoomError } from './errors';
import { commandLine, isAlive, processStartTime, type ProcessIdentity } from './platform';
import { chooseBlock, choosePort, type PortRanges } from './ports';
import { foreignLeaseHolder, leasedPorts, type ExternalLeaseRecord, type Registry, type RegistryData } from './registry';

export interface ExternalLeaseRequest {
  /** Lease a main port from the auto range. */
  readonly port: boolean;
  /** Lease a block of this many contiguous ports. */
  readonly block?: number;
  readonly label?: string;
  /** The process the lease lives with. */
  readonly pid: number;
}

/** The lease as `engine-room lease --json` prints it. */
export interface ExternalLease {
  readonly id: string;
  readonly port: number | null;
  readonly portBlock: [number, number] | null;
}

/** The largest block one lease may take (a Ray head's worker range fits; half the block range does not). */
export const MAX_BLOCK = 10_000;

/** Who holds a leased port among external leases, for messages: `lease 3fa2 "actor 1" (pid 12: python ...)`. */
export function externalLeaseHolder(data: RegistryData, port: number): string | undefined {
  const x = (data.external ?? []).find((l) => l.port === port || (l.portBlock && port >= l.portBlock[0] && port <= l.portBlock[1]));
  return x ? `lease ${x.id}${x.label ? ` "${x.label}"` : ''} (pid ${x.holder.pid}: ${x.command.slice(0, 80)})` : undefined;
}

/** Live external leases of the registry, oldest first. */
export function externalLeases(data: RegistryData): ExternalLeaseRecord[] {
  return (data.external ?? []).filter((x) => isAlive(x.holder));
}

/**
 * Leases a port and/or a block for process `req.pid`, in one critical section of the registry. Throws
 * `no-such-process` when that process does not run, `no-free-port` when nothing fits.
 */
export async function leaseExternal(registry: Registry, ranges: PortRanges, req: ExternalLeaseRequest): Promise<ExternalLease> {
  if (req.block !== undefined && (!Number.isInteger(req.block) || req.block < 1 || req.block > MAX_BLOCK)) {
    throw new EngineRoomError('bad-config', `A block is 1 to ${MAX_BLOCK} ports; got ${req.block}.`);
  }
  const startTime = processStartTime(req.pid);
  if (startTime === undefined) throw new EngineRoomError('no-such-process', `No process with pid ${req.pid} runs: a lease needs a live holder.`);
  const holder: ProcessIdentity = { pid: req.pid, startTime };
  const command = commandLine(req.pid);
  const label = req.label ?? '';
  const name = label || `pid ${req.pid}`;
  return registry.update(async (data) => {
    const exclude = new Set(leasedPorts(data));
    const ctx = { leased: exclude, ranges, leasedBy: (p: number) => externalLeaseHolder(data, p) ?? foreignLeaseHolder(data, p), engineName: name };
    const port = req.port ? await choosePort({ kind: 'auto' }, ctx) : null;
    if (port !== null) exclude.add(port);
    const portBlock = req.block !== undefined ? await chooseBlock(req.block, ctx) : null;
    const id = randomBytes(6).toString('hex');
    const record: ExternalLeaseRecord = { id, holder, command, label, port, portBlock, leasedAt: Date.now() };
    (data.external ??= []).push(record);
    return { id, port, portBlock };
  });
}

/** Ends a lease early; false when no live lease has this id. */
export function releaseExternal(registry: Registry, id: string): Promise<boolean> {
  return registry.update((data) => {
    const before = data.external?.length ?? 0;
    if (data.external) data.external = data.external.filter((x) => x.id !== id);
    return (data.external?.length ?? 0) < before;
  });
}
