/**
 * The checks of pass 3 that look at more than one field or engine: names given twice, dependency cycles,
 * two engines on one fixed port or one GPU, and a preset's serving port that the command overrides.
 */
import type { EngineSpec } from '../model';
import { minBlockSize, presetBlockPorts } from '../presetPorts';
import { PRESETS, findFlag } from '../presets';
import { originNode, type Edge, type EngineEntry } from './engineEntry';
import { propertyNode, type PathSegment } from './jsonTree';
import type { RawEngine } from './rawEngine';
import type { Reporter } from './reporter';

/** A built engine with the entry it came from. */
export interface BuiltEngine {
  readonly entry: EngineEntry;
  readonly spec: EngineSpec;
}

/**
 * The engines by name, the first engine with a name owning it; a later one with that name is an error. A
 * group (`"replicas"`) owns its own name and each replica's, `NAME-0` ..: a replica name that another
 * engine has is an error at the later of the two (at `replicas` when that is the group).
 */
export function engineNames(reporter: Reporter, entries: readonly EngineEntry[]): Map<string, EngineEntry> {
  const byName = new Map<string, EngineEntry>();
  const claim = (name: string, entry: EngineEntry, key: 'name' | 'replicas'): void => {
    const first = byName.get(name);
    if (!first) {
      byName.set(name, entry);
      return;
    }
    const firstLine = reporter.line(propertyNode(first.node, first.replica ? 'replicas' : 'name') ?? first.node);
    const user = first.replica ? `replica "${name}" of engines[${first.index}] (line ${firstLine})` : `engines[${first.index}] on line ${firstLine}`;
    const message =
      key === 'name'
        ? `duplicate engine name "${name}"; ${user} already uses it`
        : `replica "${name}" has the name of ${user}; rename one of them`;
    reporter.error(['engines', entry.index, key], propertyNode(entry.node, key) ?? entry.node, message);
  };
  for (const entry of entries) {
    if (entry.name === undefined) continue;
    claim(entry.name, entry, 'name');
    for (const replica of entry.replicas ?? []) if (replica.name !== undefined) claim(replica.name, replica, 'replicas');
  }
  return byName;
}

/**
 * A preset's serving port must reach the engine: a command that sets the port flag to something else than
 * `${port}` (or the engine's fixed port) listens where Engine Room does not probe. Warned, not refused.
 */
export function checkPresetPort(reporter: Reporter, entry: EngineEntry, user: RawEngine): void {
  const preset = PRESETS[user.preset as keyof typeof PRESETS];
  const fixed = typeof user.port === 'number' ? String(user.port) : undefined;
  const fine = (value: string): boolean =>
    value.includes('${port}') || (fixed !== undefined && (value === fixed || value.endsWith(`:${fixed}`)));
  const fix = `write "\${port}" there, or set "port" to that number`;
  for (const f of preset.flags) {
    if (!f.value.includes('${port}') || !Array.isArray(user.command)) continue;
    const found = findFlag(user.command, [f.flag, ...(f.aliases ?? [])]);
    if (found?.value === undefined || fine(found.value)) continue;
    const keys: PathSegment[] = ['command', found.index + (user.command[found.index]?.includes('=') ? 0 : 1)];
    reporter.warning(
      ['engines', entry.index, ...keys],
      originNode(entry, keys),
      `the command sets ${f.flag} ${found.value} itself, but Engine Room leases and probes \${port}; ${fix}`,
    );
  }
  for (const [key, value] of Object.entries(preset.env)) {
    const own = user.env?.[key];
    if (!value.includes('${port}') || typeof own !== 'string' || fine(own)) continue;
    const keys: PathSegment[] = ['env', key];
    reporter.warning(
      ['engines', entry.index, ...keys],
      originNode(entry, keys),
      `${key}=${own} does not use \${port}, but Engine Room leases and probes \${port}; ${fix}`,
    );
  }
}

/** A `portBlock` of one's own too small for the ports the preset places in it (Ray's, vLLM's). */
export function checkPresetBlock(reporter: Reporter, entry: EngineEntry, user: RawEngine): void {
  const need = minBlockSize(presetBlockPorts(user.preset));
  if (typeof user.portBlock !== 'number' || user.portBlock >= need) return;
  reporter.error(
    ['engines', entry.index, 'portBlock'],
    originNode(entry, ['portBlock']),
    `the ${user.preset} preset places its ports in the block and needs at least ${need}; got ${user.portBlock}`,
  );
}

/**
 * Two engines given the same GPU (by `gpus` or a literal `env.CUDA_VISIBLE_DEVICES`) share its memory; that
 * can be meant (small models, `--gpu-memory-utilization`), so it is a warning at the later engine.
 */
export function checkSharedGpus(reporter: Reporter, engines: readonly BuiltEngine[]): void {
  const seen: Array<{ entry: EngineEntry; gpus: Set<string>; line: number }> = [];
  for (const { entry, spec } of engines) {
    const visible = spec.env.CUDA_VISIBLE_DEVICES;
    if (visible === undefined || visible.includes('${')) continue;
    const gpus = new Set(visible.split(',').map((g) => g.trim()).filter((g) => g !== ''));
    if (gpus.size === 0) continue;
    const keys: PathSegment[] = ['env', 'CUDA_VISIBLE_DEVICES'];
    const node = originNode(entry, keys);
    const gpusKey = (['gpus', 'gpusPerReplica'] as const).find((k) => node === propertyNode(entry.node, k));
    const field: PathSegment[] = gpusKey ? [gpusKey] : keys;
    for (const other of seen) {
      const shared = [...gpus].filter((g) => other.gpus.has(g));
      if (shared.length === 0) continue;
      const what = shared.length === 1 ? `GPU ${shared[0]} is` : `GPUs ${shared.join(', ')} are`;
      reporter.warning(
        ['engines', entry.index, ...field],
        node,
        `${what} also given to engine "${other.entry.name ?? ''}" (line ${other.line}); the two share its memory (for vLLM, lower --gpu-memory-utilization)`,
      );
    }
    seen.push({ entry, gpus, line: reporter.line(node) });
  }
}

/**
 * Reports each dependency cycle once, at the engine of the cycle that comes first in the file. Iterative
 * (no recursion) so that long chains cannot overflow the stack.
 */
export function checkCycles(reporter: Reporter, entries: readonly EngineEntry[], edges: ReadonlyMap<number, Edge[]>): void {
  const outgoing = (v: number): Edge[] => edges.get(v) ?? [];
  const alive = new Set(edges.keys());
  const outCount = new Map<number, number>();
  const incoming = new Map<number, number[]>();
  for (const [from, list] of edges) {
    const targets = new Set(list.map((e) => e.to));
    outCount.set(from, [...targets].filter((t) => alive.has(t)).length);
    for (const t of targets) {
      const list = incoming.get(t);
      if (list) list.push(from);
      else incoming.set(t, [from]);
    }
  }
  // Engines that depend on nothing in a cycle are peeled off; what remains each lies on or leads to a cycle.
  const queue = [...alive].filter((v) => outCount.get(v) === 0);
  const remove = (v: number): void => {
    if (!alive.delete(v)) return;
    for (const u of incoming.get(v) ?? []) {
      if (!alive.has(u)) continue;
      const left = (outCount.get(u) ?? 0) - 1;
      outCount.set(u, left);
      if (left === 0) queue.push(u);
    }
  };
  for (;;) {
    for (let v = queue.pop(); v !== undefined; v = queue.pop()) remove(v);
    if (alive.size === 0) return;
    // Follow dependencies from the first remaining engine until one repeats: that closes a cycle.
    const trail: number[] = [];
    const position = new Map<number, number>();
    let v = smallest(alive);
    while (!position.has(v)) {
      position.set(v, trail.length);
      trail.push(v);
      v = outgoing(v).find((e) => alive.has(e.to))?.to ?? v;
    }
    const cycle = trail.slice(position.get(v));
    const start = cycle.indexOf(smallest(cycle));
    const ordered = [...cycle.slice(start), ...cycle.slice(0, start)];
    let names = [...ordered, ordered[0] ?? 0].map((i) => entries[i]?.name ?? `engines[${i}]`);
    if (names.length > 12) names = [...names.slice(0, 6), `… ${names.length - 9} more`, ...names.slice(-3)];
    const first = ordered[0] ?? 0;
    const next = ordered[1] ?? first;
    const edge = outgoing(first).find((e) => e.to === next);
    if (edge) reporter.error(edge.segments, edge.node, `dependency cycle: ${names.join(' -> ')}`);
    for (const c of cycle) remove(c);
  }
}

/**
 * Two engines (or two ports of one engine) cannot both insist on the same port; ranges and "auto" are
 * leased apart at start time. The replicas of a group share their fields, so a fixed port there is an error.
 */
export function checkFixedPorts(reporter: Reporter, engines: readonly BuiltEngine[]): void {
  const owners = new Map<number, { entry: EngineEntry; keys: PathSegment[] }>();
  for (const { entry, spec } of engines) {
    const fixed: Array<{ keys: PathSegment[]; port: number }> = [];
    if (spec.port?.kind === 'fixed') fixed.push({ keys: ['port'], port: spec.port.port });
    for (const [name, p] of Object.entries(spec.ports ?? {})) if (p.kind === 'fixed') fixed.push({ keys: ['ports', name], port: p.port });
    for (const { keys, port } of fixed) {
      const owner = owners.get(port);
      if (!owner) {
        owners.set(port, { entry, keys });
        continue;
      }
      const ownerLine = reporter.line(originNode(owner.entry, owner.keys));
      const what = owner.keys.length > 1 ? `port "${String(owner.keys[1])}"` : 'port';
      const message =
        owner.entry.index === entry.index && entry.replica && owner.entry !== entry
          ? `port ${port} is fixed, but the ${entry.replica.count} replicas cannot all have it; use "auto" or a range`
          : `port ${port} is already the ${what} of engine "${owner.entry.name ?? ''}" (line ${ownerLine})`;
      reporter.error(['engines', entry.index, ...keys], originNode(entry, keys), message);
    }
  }
}

function smallest(values: Iterable<number>): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}
