/**
 * Health once an engine of ours runs: one probe (and the bookkeeping of its workers), the check that
 * no other program holds its port, and the loop that probes a healthy engine at its interval.
 */
import type { EngineProcess } from '../engineProcess';
import { probeOnce, type HealthResult } from '../health';
import { sleep } from '../poll';
import { describeHolders, groupMembers, portHoldersOf, type PortHolder } from '../platform';
import type { SupervisorContext } from './context';
import type { Runtime } from './runtime';

export class HealthMonitor {
  /** Who held the engines' ports at the last /proc pass. */
  private ownership: { at: number; holders: Map<number, PortHolder[]> } | undefined;

  constructor(private readonly ctx: SupervisorContext) {}

  /** One probe of our engine; the result goes into its history. */
  async probe(rt: Runtime): Promise<HealthResult> {
    const launch = rt.launch;
    // Once started, keep track of the engine's workers (a /proc scan per health interval).
    if (rt.healthyAt) rt.proc?.noteDescendants();
    const result = await probeOnce(rt.spec.health.probe, {
      host: rt.spec.host,
      port: rt.ports.port,
      timeoutMs: rt.spec.health.timeout,
      logMatched: () => {
        rt.follower?.poll();
        return rt.logMatched;
      },
      httpTarget: launch?.httpTarget,
      command: launch?.healthCommand,
      cwd: launch?.cwd,
      env: launch?.env,
      signal: rt.run?.signal,
    });
    rt.record(result);
    return result;
  }

  /** The engine just became healthy: watch it at its interval, and look at once who else holds its port. */
  healthy(rt: Runtime, proc: EngineProcess, signal: AbortSignal): void {
    // After the slot went to the next engine: who else holds its port (a /proc scan).
    setImmediate(() => {
      if (rt.proc !== proc || rt.state !== 'healthy') return;
      proc.noteDescendants();
      const conflict = this.portConflict(rt, proc);
      if (conflict) this.ctx.set(rt, { state: 'unhealthy', reason: conflict, errorCode: 'port-conflict' });
    });
    this.loop(rt, proc, signal);
  }

  /**
   * A health 200 proves nothing if another program listens on the same port (SO_REUSEPORT, as older
   * vLLM sets it, splits requests between the two): the port must be held by the engine's own tree only.
   * Returns a message naming the other holder, or undefined. One /proc pass serves every engine for 1 s.
   */
  private portConflict(rt: Runtime, proc: EngineProcess): string | undefined {
    const port = rt.ports.port;
    if (port === undefined) return undefined;
    if (!this.ownership || Date.now() - this.ownership.at > 1000) {
      const ports = [...this.ctx.runtimes.values()].flatMap((r) => (r.proc && r.ports.port !== undefined ? [r.ports.port] : []));
      this.ownership = { at: Date.now(), holders: portHoldersOf(ports) };
    }
    const tree = new Set([proc.pid, ...groupMembers(proc.record.pgid, 1000), ...proc.knownDescendants().map((p) => p.pid)]);
    const foreign = (this.ownership.holders.get(port) ?? []).filter((h) => !tree.has(h.pid));
    return foreign.length > 0 ? `port ${port} is also held by ${describeHolders(foreign)}: requests may reach that program instead` : undefined;
  }

  /** Probes a healthy engine at its interval; flips between healthy and unhealthy. */
  private loop(rt: Runtime, proc: EngineProcess, signal: AbortSignal): void {
    const { ctx } = this;
    void (async () => {
      while (!signal.aborted && rt.proc === proc && !ctx.disposed) {
        await sleep(rt.spec.health.interval, signal);
        if (signal.aborted || rt.proc !== proc || ctx.disposed) return;
        const result = await this.probe(rt);
        if (rt.proc !== proc || signal.aborted) return;
        const conflict = result.ok ? this.portConflict(rt, proc) : undefined;
        if (conflict) {
          if (rt.reason !== conflict) ctx.set(rt, { state: 'unhealthy', reason: conflict, errorCode: 'port-conflict' });
          else ctx.emit(rt);
        } else if (result.ok) {
          rt.failures = 0;
          if (rt.state !== 'healthy') ctx.set(rt, { state: 'healthy', reason: 'healthy again', errorCode: undefined });
          else ctx.emit(rt);
        } else if (++rt.failures >= rt.spec.health.failureThreshold && rt.state === 'healthy') {
          ctx.set(rt, { state: 'unhealthy', reason: `${rt.failures} failed probes (last: ${result.detail})` });
        } else {
          ctx.emit(rt);
        }
      }
    })();
  }
}
