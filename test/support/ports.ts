/**
 * Port ranges for tests, disjoint across every test process on this host: a test claims a run of
 * 100-port units below the ephemeral range and holds it until it releases it or its process dies.
 *
 * A unit is claimed by listening on a Linux abstract socket named after it: the kernel gives each name to
 * one socket at a time and frees it when the process dies, so a killed test leaves no stale claim and two
 * test files (or two checkouts) never get the same ports. Units with a port that another program holds
 * (any TCP socket in /proc/net/tcp, tcp6) are skipped.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { sleep } from './helpers';

const UNIT = 100;
// Below 10000 live the usual fixed service and dev-server ports.
const POOL_START = 10000;

/** A claimed, contiguous run of ports: [from, to], inclusive. */
export interface PortClaim {
  readonly from: number;
  readonly to: number;
  /** Gives the ports back (idempotent); a dying process gives them back by itself. */
  release(): Promise<void>;
}

/** The first port of the kernel's ephemeral range: ports from there on are handed out for outgoing connections. */
export function ephemeralLow(): number {
  const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return low!;
}

/** Local ports of every TCP socket on this host (listening, bound or connected). */
function heldPorts(): Set<number> {
  const held = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) held.add(parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return held;
}

function listen(name: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen(`\0engine-room-test-ports/${name}`, () => {
      server.unref(); // a claim must not keep the test process alive
      resolve(server);
    });
  });
}

function close(servers: readonly net.Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
}

/** Tries the units of [from, from + units * UNIT) in order; all or nothing. */
async function tryClaim(from: number, units: number): Promise<net.Server[] | undefined> {
  const servers: net.Server[] = [];
  for (let i = 0; i < units; i++) {
    const s = await listen(String(from + i * UNIT));
    if (!s) {
      await close(servers);
      return undefined;
    }
    servers.push(s);
  }
  return servers;
}

/**
 * Claims `count` contiguous ports (rounded up to whole units of 100) that no other test holds and no
 * program uses now. Waits up to `timeoutMs` while the pool is taken.
 */
export async function claimPorts(count: number, { timeoutMs = 60_000 } = {}): Promise<PortClaim> {
  const units = Math.ceil(count / UNIT);
  const end = ephemeralLow();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = heldPorts();
    for (let from = POOL_START; from + units * UNIT <= end; from += UNIT) {
      const to = from + units * UNIT - 1;
      let busy = false;
      for (let p = from; p <= to && !busy; p++) busy = held.has(p);
      if (busy) continue;
      const servers = await tryClaim(from, units);
      if (!servers) continue;
      let released: Promise<void> | undefined;
      return { from, to, release: () => (released ??= close(servers)) };
    }
    if (Date.now() > deadline) throw new Error(`no ${units * UNIT} free test ports in ${POOL_START}-${end - 1} within ${timeoutMs} ms`);
    await sleep(200);
  }
}
