/**
 * The reaper: a tiny separate process that stops an owner's engines when the owner dies without a
 * chance to do it itself (a window's extension host or a CLI killed with SIGKILL). Started only when the
 * user chose that engines die with their owner; otherwise they stay running and adoptable.
 *
 * It polls the owner's pid (and start time) and, once the owner is gone, stops every engine still leased
 * to that owner that was not left running on purpose, then exits. It also exits when the owner ends
 * normally, having stopped its engines itself.
 */
import { isAlive } from './platform';
import { stopTree } from './processTree';
import { Registry, sameLease } from './registry';
import { ensureStateDir } from './stateDir';

export interface ReaperArgs {
  readonly stateDir: string;
  readonly ownerId: string;
  readonly ownerPid: number;
  readonly ownerStartTime: string;
  readonly pollMs?: number;
}

export function reaperArgv(a: ReaperArgs): string[] {
  return [a.stateDir, a.ownerId, String(a.ownerPid), a.ownerStartTime];
}

export function parseReaperArgv(argv: readonly string[]): ReaperArgs | undefined {
  const [stateDir, ownerId, pid, startTime] = argv;
  if (!stateDir || !ownerId || !pid || startTime === undefined || !/^\d+$/.test(pid)) return undefined;
  return { stateDir, ownerId, ownerPid: Number(pid), ownerStartTime: startTime };
}

/** Waits for the owner to die, then stops what it left. Resolves with the number of engines stopped. */
export async function runReaper(a: ReaperArgs): Promise<number> {
  ensureStateDir(a.stateDir);
  const registry = new Registry(a.stateDir);
  const owner = { pid: a.ownerPid, startTime: a.ownerStartTime };
  while (isAlive(owner)) await new Promise((r) => setTimeout(r, a.pollMs ?? 250));
  // Also the engines whose pid the owner never recorded: their marker finds them.
  const left = registry.read().leases.filter((l) => l.owner.id === a.ownerId && !l.detached && (l.engine || l.marker));
  await Promise.all(left.map((l) => stopTree({ record: l.engine, marker: l.marker }, { signal: 'SIGTERM', timeoutMs: 10_000 }).catch(() => {})));
  if (left.length > 0) {
    await registry.update((data) => {
      data.leases = data.leases.filter((l) => !left.some((x) => sameLease(x, l)));
    });
  }
  return left.length;
}
