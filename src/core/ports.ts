/**
 * Choosing ports inside the registry's critical section. The lease registry is the truth among engines
 * that Engine Room starts (a probe cannot see a socket that is bound but not yet listening); get-port is
 * only the filter against ports that other programs already use. Auto ports and blocks are placed below
 * the kernel's ephemeral range so that no program's port-0 bind can land in them.
 */
import type { PortRequest } from './model';
import { EngineRoomError } from './errors';
import { ephemeralPortRange } from './platform';
import { describeHolders, portHolders } from './portHolders';

export interface PortRanges {
  /** Where `"auto"` main ports are taken from. */
  readonly auto: readonly [number, number];
  /** Where port blocks are placed. */
  readonly blocks: readonly [number, number];
}

function parseRange(text: string | undefined): [number, number] | undefined {
  const m = text ? /^(\d+)\s*-\s*(\d+)$/.exec(text.trim()) : null;
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a >= 1 && b <= 65535 && a <= b ? [a, b] : undefined;
}

/**
 * Defaults: auto ports from 20000, blocks after them up to the start of the ephemeral range (Linux:
 * 20000-23999 and 24000-32767). `ENGINE_ROOM_PORT_RANGE` and `ENGINE_ROOM_BLOCK_RANGE` ("from-to")
 * override them.
 */
export function defaultPortRanges(env: NodeJS.ProcessEnv = process.env): PortRanges {
  const [ephLow, ephHigh] = ephemeralPortRange();
  let auto: [number, number];
  let blocks: [number, number];
  if (ephLow > 24000) {
    auto = [20000, 23999];
    blocks = [24000, ephLow - 1];
  } else if (ephHigh < 65535 - 2000) {
    // An unusual ephemeral range low down: use the space above it.
    const mid = ephHigh + 1 + Math.floor((65535 - ephHigh) / 4);
    auto = [ephHigh + 1, mid - 1];
    blocks = [mid, 65535];
  } else {
    auto = [10000, Math.max(10000, ephLow - 1)];
    blocks = auto;
  }
  return { auto: parseRange(env.ENGINE_ROOM_PORT_RANGE) ?? auto, blocks: parseRange(env.ENGINE_ROOM_BLOCK_RANGE) ?? blocks };
}

/** True when nothing on the host listens on `port` (checked on every local address by get-port). */
export async function isPortFree(port: number): Promise<boolean> {
  // Loaded by the first lease, not with this module (it brings node:net): `engine-room status` leases nothing.
  const { default: getPort, clearLockedPorts } = await import('get-port');
  // get-port remembers what it handed out for 15-30 s and then refuses it; our registry already does
  // that job across processes, and a remembered port would look busy on an engine's restart.
  clearLockedPorts();
  try {
    return (await getPort({ port: [port] })) === port;
  } catch {
    return false;
  }
}

async function firstFree(from: number, to: number, exclude: ReadonlySet<number>): Promise<number | undefined> {
  for (let p = from; p <= to; p++) {
    if (!exclude.has(p) && (await isPortFree(p))) return p;
  }
  return undefined;
}

export interface PortChoiceContext {
  readonly leased: ReadonlySet<number>;
  readonly ranges: PortRanges;
  /** Who holds a leased port, for messages: "engine api (owner pid 12)". */
  readonly leasedBy: (port: number) => string | undefined;
  readonly engineName: string;
  /** The port (or a block's first port) the engine had last: taken again when it is free. */
  readonly preferred?: number;
  /** Ports that other engines had last: a free choice avoids them while others are free. */
  readonly spare?: ReadonlySet<number>;
}

function union(a: ReadonlySet<number>, b: ReadonlySet<number> | undefined): ReadonlySet<number> {
  return b && b.size > 0 ? new Set([...a, ...b]) : a;
}

/** Picks the main port. Throws `port-leased`, `port-busy` or `no-free-port` with the holder named. */
export async function choosePort(req: PortRequest, ctx: PortChoiceContext): Promise<number> {
  switch (req.kind) {
    case 'fixed': {
      const by = ctx.leasedBy(req.port);
      if (by) {
        throw new EngineRoomError('port-leased', `Engine "${ctx.engineName}" wants port ${req.port}, which is leased to ${by}.`, { port: req.port });
      }
      if (!(await isPortFree(req.port))) {
        const holders = describeHolders(portHolders(req.port));
        throw new EngineRoomError(
          'port-busy',
          `Engine "${ctx.engineName}" wants port ${req.port}, which is in use${holders ? ` by ${holders}` : ' by another program'}.`,
          { port: req.port },
        );
      }
      return req.port;
    }
    case 'range':
    case 'auto': {
      const [from, to] = req.kind === 'range' ? [req.from, req.to] : ctx.ranges.auto;
      const pref = ctx.preferred;
      if (pref !== undefined && pref >= from && pref <= to && !ctx.leased.has(pref) && (await isPortFree(pref))) return pref;
      const port = (await firstFree(from, to, union(ctx.leased, ctx.spare))) ?? (ctx.spare?.size ? await firstFree(from, to, ctx.leased) : undefined);
      if (port === undefined) {
        throw new EngineRoomError('no-free-port', `No free port for engine "${ctx.engineName}" in ${from}-${to}.`);
      }
      return port;
    }
  }
}

/**
 * Places a block of `size` contiguous free ports that no lease overlaps, first fit at multiples of ten
 * (readable numbers, and stable across restarts).
 */
export async function chooseBlock(size: number, ctx: PortChoiceContext, extraExclude: ReadonlySet<number> = new Set()): Promise<[number, number]> {
  const [from, to] = ctx.ranges.blocks;
  const pref = ctx.preferred;
  if (pref !== undefined && pref >= from && pref + size - 1 <= to && (await firstBad(pref, size, ctx.leased, extraExclude)) < 0) return [pref, pref + size - 1];
  const found = (await firstFit(size, from, to, union(ctx.leased, ctx.spare), extraExclude)) ?? (ctx.spare?.size ? await firstFit(size, from, to, ctx.leased, extraExclude) : undefined);
  if (found) return found;
  throw new EngineRoomError('no-free-port', `No block of ${size} free ports for engine "${ctx.engineName}" in ${from}-${to}.`);
}

/** The first port of [start, start + size) that is excluded or in use, or -1 when all are free. */
async function firstBad(start: number, size: number, leased: ReadonlySet<number>, extraExclude: ReadonlySet<number>): Promise<number> {
  for (let p = start; p < start + size; p++) if (leased.has(p) || extraExclude.has(p)) return p;
  for (let p = start; p < start + size; p++) if (!(await isPortFree(p))) return p;
  return -1;
}

async function firstFit(size: number, from: number, to: number, leased: ReadonlySet<number>, extraExclude: ReadonlySet<number>): Promise<[number, number] | undefined> {
  const step = 10;
  let start = Math.ceil(from / step) * step;
  while (start + size - 1 <= to) {
    const bad = await firstBad(start, size, leased, extraExclude);
    if (bad < 0) return [start, start + size - 1];
    start = Math.ceil((bad + 1) / step) * step;
  }
  return undefined;
}
