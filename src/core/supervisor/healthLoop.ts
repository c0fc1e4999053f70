/**
 * Health once an engine of ours runs: one probe, the check that no other program holds its port, and
 * the loop that probes healthy engines at their interval. That loop is one timer for every engine of
 * the supervisor: engines due at about the same time are probed in one tick, which reads the process
 * table once (their workers) and the port holders once (their ports), instead of once per engine.
 * That bookkeeping (two /proc passes) is done every BOOKKEEPING_EVERY-th probe of an engine, and at
 * once when it becomes healthy; every probe in between is one HTTP or TCP request.
 */
import type { EngineProcess } from '../engineProcess';
import { probeOnce, type HealthResult } from '../health';
import { groupMembers } from '../platform';
import { describeHolders, portHoldersOutside, type PortHolder } from '../portHolders';
import type { SupervisorContext } from './context';
import type { Runtime } from './runtime';

/** A healthy engine of ours that the loop probes. */
interface Watched {
  readonly rt: Runtime;
  readonly proc: EngineProcess;
  readonly signal: AbortSignal;
  /** When its next probe is due (Infinity while a probe runs). */
  due: number;
  /** Probes so far since it became healthy. */
  probes: number;
  /** What the last look at its port's holders found (a message), or undefined when it holds its port alone. */
  conflict: string | undefined;
}

/**
 * Workers and port holders are looked at every this many probes of a healthy engine (every 15 s at the
 * default 5 s interval): a worker forked or a foreign listener that appears is seen within that time.
 */
const BOOKKEEPING_EVERY = 3;

/** An engine due within this much of a tick is probed in it (then they stay in step). */
function slack(rt: Runtime): number {
  return Math.min(rt.spec.health.interval / 4, 1000);
}

/** Combined signals by process end, then run: one AbortSignal.any per run and process, not per probe. */
const combined = new WeakMap<AbortSignal, WeakMap<AbortSignal, AbortSignal>>();

/** The signal that ends a probe: the engine's run aborted, or its process ended. */
function probeSignal(run: AbortSignal | undefined, ended: AbortSignal | undefined): AbortSignal | undefined {
  if (!run || !ended) return run ?? ended;
  let byRun = combined.get(ended);
  if (!byRun) combined.set(ended, (byRun = new WeakMap()));
  let both = byRun.get(run);
  if (!both) byRun.set(run, (both = AbortSignal.any([run, ended])));
  return both;
}

export class HealthMonitor {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly ctx: SupervisorContext) {}

  /**
   * One probe of our engine; the result goes into its history. A probe under way is abandoned (a
   * `command` probe killed) when the engine exits or is stopped: its exit is reported at once, not
   * when a slow probe ends.
   */
  async probe(rt: Runtime): Promise<HealthResult> {
    const launch = rt.launch;
    const signal = probeSignal(rt.run?.signal, rt.proc?.ended);
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
      signal,
    });
    // An abandoned probe says nothing about the engine's health.
    if (!signal?.aborted) rt.record(result);
    return result;
  }

  /** The engine just became healthy: watch it at its interval, and look at once who else holds its port. */
  healthy(rt: Runtime, proc: EngineProcess, signal: AbortSignal): void {
    const w: Watched = { rt, proc, signal, due: Date.now() + rt.spec.health.interval, probes: 0, conflict: undefined };
    // After the slot went to the next engine: who else holds its port (a /proc scan).
    setImmediate(() => {
      if (rt.proc !== proc || rt.state !== 'healthy') return;
      proc.noteDescendants();
      w.conflict = this.portConflict(rt, foreignHolders([{ rt, proc }]));
      if (w.conflict) this.ctx.set(rt, { state: 'unhealthy', reason: w.conflict, errorCode: 'port-conflict' });
    });
    this.watched.add(w);
    signal.addEventListener('abort', () => this.unwatch(w), { once: true });
    this.schedule();
  }

  private unwatch(w: Watched): void {
    this.watched.delete(w);
    this.schedule();
  }

  /** One timer, at the earliest due probe. */
  private schedule(): void {
    let next = Infinity;
    for (const w of this.watched) next = Math.min(next, w.due);
    if (next === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - Date.now()));
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const due: Watched[] = [];
    for (const w of this.watched) {
      if (w.signal.aborted || w.rt.proc !== w.proc || this.ctx.disposed) this.watched.delete(w);
      else if (w.due - slack(w.rt) <= now) due.push(w);
    }
    // Keep track of the engines' workers: one process table serves every engine of this tick.
    const bookkeeping = new Set(due.filter((w) => w.probes++ % BOOKKEEPING_EVERY === BOOKKEEPING_EVERY - 1));
    for (const w of due) w.due = Infinity;
    for (const w of bookkeeping) w.proc.noteDescendants();
    // One look at the port holders, for the engines of this tick whose probe succeeds.
    let holders: Map<number, PortHolder[]> | undefined;
    const holdersOfTick = () => (holders ??= foreignHolders([...bookkeeping]));
    for (const w of due) {
      void this.check(w, bookkeeping.has(w) ? holdersOfTick : undefined).finally(() => {
        w.due = Date.now() + w.rt.spec.health.interval;
        this.schedule();
      });
    }
    this.schedule();
  }

  /**
   * One probe of a healthy engine; flips it between healthy and unhealthy. `holders` is given on the
   * rounds that look at the port's holders; on the others the last look's verdict stands.
   */
  private async check(w: Watched, holders: (() => Map<number, PortHolder[]>) | undefined): Promise<void> {
    const { ctx } = this;
    const { rt, proc, signal } = w;
    const result = await this.probe(rt);
    if (rt.proc !== proc || signal.aborted) return;
    if (result.ok && holders) w.conflict = this.portConflict(rt, holders());
    const conflict = result.ok ? w.conflict : undefined;
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

  /** A message naming the other holders of the engine's port (see foreignHolders), or undefined. */
  private portConflict(rt: Runtime, foreign: ReadonlyMap<number, readonly PortHolder[]>): string | undefined {
    const port = rt.ports.port;
    const others = port !== undefined ? foreign.get(port) : undefined;
    return others?.length ? `port ${port} is also held by ${describeHolders(others)}: requests may reach that program instead` : undefined;
  }
}

/**
 * A health 200 proves nothing if another program listens on the same port (SO_REUSEPORT, as older
 * vLLM sets it, splits requests between the two): the port must be held by the engine's own tree only.
 * The holders of these engines' ports outside their trees, in one look for all of them.
 */
function foreignHolders(engines: ReadonlyArray<{ readonly rt: Runtime; readonly proc: EngineProcess }>): Map<number, PortHolder[]> {
  const trees = new Map<number, () => Set<number>>();
  for (const { rt, proc } of engines) {
    const port = rt.ports.port;
    if (port === undefined) continue;
    trees.set(port, () => new Set([proc.pid, ...groupMembers(proc.record.pgid, 1000), ...proc.knownDescendants().map((p) => p.pid)]));
  }
  return portHoldersOutside(trees);
}
