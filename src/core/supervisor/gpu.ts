/** GPU memory of an engine's process tree, from one `nvidia-smi` sample. */
import { groupMembers } from '../platform';
import type { Runtime } from './runtime';

/** The MiB that the engine's tree (group, and workers that left it) uses in `byPid`, or undefined. */
export function treeGpuMemory(rt: Runtime, byPid: ReadonlyMap<number, number> | undefined): number | undefined {
  const pgid = rt.proc?.record.pgid ?? rt.external?.engine?.pgid;
  if (!byPid || pgid === undefined || byPid.size === 0) return undefined;
  const pids = new Set([pgid, ...groupMembers(pgid, 1000), ...(rt.proc?.knownDescendants().map((p) => p.pid) ?? [])]);
  let total: number | undefined;
  for (const [pid, mem] of byPid) if (pids.has(pid)) total = (total ?? 0) + mem;
  return total;
}
