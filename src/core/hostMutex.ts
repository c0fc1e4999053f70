/**
 * The host-wide lock of the port-allocation critical section, shared by every user: a Unix socket in
 * Linux's abstract namespace (`\0engine-room-<hash>`). Only one process can bind a name, and the kernel
 * frees it when that process exits, however it dies (SIGKILL included): no staleness to judge, no
 * timestamp, no file another user could delete or replace. The namespace belongs to the network
 * namespace, which is also the namespace of the ports it guards. Node has no flock(2) in core; a native
 * addon (fs-ext) would have to be built for every Electron ABI of VS Code, and a `flock(1)` child costs a
 * process per critical section.
 * Any local user can bind the name too and hold it: that denies service (our critical sections wait, then
 * fail with `lock-timeout`), nothing more, since the lock guards no data.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:net';
import { net } from './builtins';
import { sleep } from './poll';

/** Is the abstract namespace there (Linux only)? Elsewhere the per-user registry lock is all there is. */
export const hostMutexSupported = process.platform === 'linux';

/** The abstract socket name for the lease directory `leaseDir` (one lock per directory of leases). */
export function hostMutexName(leaseDir: string): string {
  return `\0engine-room-${createHash('sha256').update(leaseDir).digest('hex').slice(0, 16)}`;
}

export class HostMutexTimeout extends Error {}

function tryBind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net().createServer((conn) => conn.destroy());
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen({ path: name, exclusive: true }, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Waits (with backoff, up to `timeoutMs`) for the lock; returns its release. */
export async function lockHostMutex(name: string, timeoutMs: number): Promise<() => void> {
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const server = await tryBind(name);
    if (server) return () => void server.close();
    if (performance.now() - started > timeoutMs) {
      throw new HostMutexTimeout(`the host-wide lease lock (abstract socket @${name.slice(1)}) stayed taken for ${Math.round(timeoutMs / 1000)} s; \`ss -xlp | grep ${name.slice(1)}\` names its holder`);
    }
    await sleep(Math.min(20, 1 + attempt));
  }
}
