// `engine-room status`.
import { Registry, liveLeaseEngines } from '../../core/registry';
import { lockState } from '../../core/hostLock';
import { externalLeases } from '../../core/externalLeases';
import { defaultStateDir, ensureStateDir } from '../../core/stateDir';
import { gpuMemoryByPid, isAlive } from '../../core/platform';
import { engineJson, err, loadOrExit, makeSupervisor, out, portsText, printStatus, table, warnIfStateDirFull } from '../common';

export async function run(opts: { config?: string; all?: boolean; json?: boolean }): Promise<number> {
  if (opts.all) {
    const stateDir = ensureStateDir(defaultStateDir());
    const registry = new Registry(stateDir, (m) => err(`engine-room: ${m}`));
    const data = registry.read();
    const foreign = registry.readForeign();
    // Also engines whose pid never reached the registry (their owner was killed): found by their marker.
    const live = liveLeaseEngines(data.leases);
    const leases = data.leases.filter((l) => live.has(l));
    const pidOf = (l: (typeof leases)[number]) => live.get(l)?.pid ?? null;
    const lock = lockState(data);
    const others = externalLeases(data);
    if (opts.json) {
      out(
        JSON.stringify(
          {
            stateDir,
            leaseDir: registry.shared?.dir ?? null,
            foreignLeases: foreign.leases.map((f) => ({ uid: f.uid, ports: f.ports, portBlock: f.block, pids: f.holders.map((h) => h.pid) })),
            engines: leases.map((l) => ({
              name: l.name,
              configFile: l.configFile,
              state: live.get(l) ? 'running' : 'starting',
              pid: pidOf(l),
              ports: l.ports,
              portBlock: l.portBlock,
              health: null,
              owner: { pid: l.owner.pid, kind: l.owner.kind, label: l.owner.label, alive: isAlive(l.owner) },
              logFile: l.logFile,
            })),
            leases: others.map((x) => ({ id: x.id, label: x.label, port: x.port, portBlock: x.portBlock, pid: x.holder.pid, command: x.command })),
            lock: { holder: lock.holder ? { pid: lock.holder.owner.pid, label: lock.holder.owner.label, engines: lock.holder.names } : null, queue: lock.queue.map((w) => ({ pid: w.owner.pid, engine: w.name })) },
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const rows = [['NAME', 'PID', 'PORTS', 'OWNER', 'CONFIG']];
    for (const l of leases) rows.push([l.name, String(pidOf(l) ?? '-'), portsText(l), `${l.owner.label}${isAlive(l.owner) ? '' : ' (exited)'}`, l.configFile]);
    out(leases.length > 0 ? table(rows) : 'No engines are running on this host.');
    if (others.length > 0) {
      const lrows = [['LEASE', 'LABEL', 'PORTS', 'PID', 'COMMAND']];
      for (const x of others) lrows.push([x.id, x.label || '-', portsText({ ports: x.port !== null ? { port: x.port } : {}, portBlock: x.portBlock }), String(x.holder.pid), x.command.replace(/\s+/g, ' ').slice(0, 160)]);
      out(`\nPorts leased to other processes (engine-room lease, exec):\n${table(lrows)}`);
    }
    if (lock.holder) out(`\nStart lock held by ${lock.holder.owner.label} for ${lock.holder.names.join(', ')}; ${lock.queue.length} waiting.`);
    if (foreign.leases.length > 0) {
      const uids = [...new Set(foreign.leases.map((f) => f.uid))].join(', ');
      out(`\nOther registries on this host (uid ${uids}) lease ${foreign.leases.length} engine(s) or port(s): ${foreign.leases.map((f) => [...f.ports, ...(f.block ? [`block ${f.block[0]}-${f.block[1]}`] : [])].join(', ')).join('; ')}`);
    }
    out(`\nState directory: ${stateDir}${registry.shared ? ` (leases shared with other users in ${registry.shared.dir})` : ''}`);
    warnIfStateDirFull();
    return 0;
  }
  const config = await loadOrExit(opts.config);
  const sup = makeSupervisor(config, 'engine-room status');
  await sup.refresh();
  if (opts.json) sup.attachGpuMemory(gpuMemoryByPid());
  const snaps = sup.snapshots();
  if (opts.json) out(JSON.stringify({ configFile: config.file, engines: snaps.map(engineJson) }, null, 2));
  else printStatus(snaps);
  warnIfStateDirFull();
  return 0;
}
