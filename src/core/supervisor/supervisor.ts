/**
 * The supervisor of one configuration file: the state machine of each engine, the start order, the
 * sequential start under the host-wide start lock, health polling, restarts and stops. It knows about
 * engines of its configuration that other processes started (through the registry) and can stop them.
 * This class is the facade; each responsibility lives in its own file of this folder, around the
 * SupervisorContext.
 *
 * Events: `change` with an EngineSnapshot whenever one engine's state, health or ports change; `line`
 * with (name, line) for every log line of an engine this supervisor started.
 */
import { expandGroups } from '../engineGroups';
import { EngineRoomError, errorMessage } from '../errors';
import { lockState } from '../hostLock';
import { logFileFor } from '../logs';
import { sleep } from '../poll';
import type { ProcessIdentity } from '../platform';
import { processRow } from '../processEnv';
import type { EnginesConfig } from '../model';
import { leaseKey } from '../registry';
import { SupervisorContext } from './context';
import { ExternalEngines } from './external';
import { treeGpuMemory } from './gpu';
import { HealthMonitor } from './healthLoop';
import { markDetached } from './leases';
import { restartAfterCrash } from './restarts';
import { Runtime } from './runtime';
import { Starter } from './start';
import { StartQueue } from './startQueue';
import { stopOne } from './stop';
import type { EngineSnapshot, StartOutcome, SupervisorOptions } from './types';

/** The process runs (not exited, not a zombie waiting to be reaped). */
function runsNow(rec: ProcessIdentity): boolean {
  const row = processRow(rec.pid);
  return row !== undefined && (rec.startTime === '' || row.startTime === rec.startTime);
}

export type { EngineSnapshot, EngineState, OwnerInfo, StartOutcome, SupervisorOptions } from './types';

export class Supervisor {
  private readonly ctx: SupervisorContext;
  private readonly queue: StartQueue;
  private readonly external: ExternalEngines;
  private readonly starter: Starter;

  constructor(opts: SupervisorOptions) {
    const ctx = new SupervisorContext(opts, (rt) => restartAfterCrash(ctx, rt, (signal) => this.starter.startWithRestarts(rt, signal)));
    this.ctx = ctx;
    this.queue = new StartQueue(ctx);
    this.external = new ExternalEngines(ctx);
    this.starter = new Starter(ctx, this.queue, new HealthMonitor(ctx), this.external);
    this.setConfig(opts.config);
  }

  get configFile(): string {
    return this.ctx.config.file;
  }

  get stateDir(): string {
    return this.ctx.opts.stateDir;
  }

  on(event: 'change', listener: (s: EngineSnapshot) => void): () => void;
  on(event: 'line', listener: (name: string, line: string) => void): () => void;
  on(event: string, listener: (...args: any[]) => void): () => void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.ctx.events.on(event, listener);
    return () => this.ctx.events.off(event, listener);
  }

  /** Takes a new version of the configuration; running engines keep running until stopped. */
  setConfig(config: EnginesConfig): void {
    const { ctx } = this;
    ctx.config = config;
    for (const spec of config.engines) {
      const existing = ctx.runtimes.get(spec.name);
      if (existing) existing.spec = spec;
      else ctx.runtimes.set(spec.name, new Runtime(spec, leaseKey(config.file, spec.name), logFileFor(ctx.opts.stateDir, config.file, spec.name)));
    }
    // An engine removed from the config leaves every view and count at once, whatever its state; one of
    // ours that runs is stopped (another owner's is only forgotten here).
    for (const [name, rt] of ctx.runtimes) {
      if (config.engines.some((e) => e.name === name)) {
        rt.removed = false;
      } else if (!rt.proc && !rt.starting) {
        rt.run?.abort();
        ctx.runtimes.delete(name);
      } else if (!rt.removed) {
        rt.removed = true;
        ctx.log('info', `${name} was removed from ${config.file}: stopping it`);
        void stopOne(ctx, rt).finally(() => {
          if (rt.removed && ctx.runtimes.get(name) === rt) ctx.runtimes.delete(name);
        });
      }
    }
  }

  names(): string[] {
    return this.ctx.names();
  }

  /** The engines that start(names) would start (or wait for while they start): for a progress report. */
  plan(names: readonly string[] = []): string[] {
    return this.starter.plan(names);
  }

  snapshot(name: string): EngineSnapshot {
    return this.ctx.snapshot(this.ctx.runtime(name));
  }

  snapshots(): EngineSnapshot[] {
    return this.names().map((n) => this.snapshot(n));
  }

  /**
   * Takes one `nvidia-smi` sample (gpuMemoryByPid() of core/platform, taken once for every supervisor
   * of a window) and sets the GPU memory of each running engine's process tree from it; emits `change`
   * only for the engines whose value changed. Snapshots never sample by themselves.
   */
  attachGpuMemory(byPid: ReadonlyMap<number, number> | undefined): void {
    for (const rt of this.ctx.runtimes.values()) {
      const value = rt.pid !== null ? treeGpuMemory(rt, byPid) : undefined;
      if (value === rt.gpuMemoryMiB) continue;
      rt.gpuMemoryMiB = value;
      if (rt.pid !== null) this.ctx.emit(rt);
    }
  }

  /** Who holds the host-wide start lock and who waits, for the panel. */
  lockStatus(): ReturnType<typeof lockState> {
    return lockState(this.ctx.registry.read());
  }

  /** The in-memory tail of an engine's log (own engines; others: read the log file). */
  tail(name: string, n?: number): string[] {
    return this.ctx.runtime(name).follower?.tail(n) ?? [];
  }

  /**
   * Re-reads the registry: engines of this configuration that another process holds are shown with
   * their owner, ports and a fresh health probe; engines whose lease vanished become stopped.
   */
  refresh(probe = true): Promise<void> {
    return this.external.refresh(probe);
  }

  /** Polls the registry and probes other owners' engines every `intervalMs` until disposed. */
  watch(intervalMs = 2000, probe = true): void {
    this.external.watch(intervalMs, probe);
  }

  /** Stops the polling of watch(). */
  unwatch(): void {
    this.external.unwatch();
  }

  /**
   * Starts the named engines (all when empty) and their dependencies, each under the host-wide start
   * lock. Resolves when every one is healthy or has failed for good; never rejects for an engine's
   * failure (see the outcomes). Engines that run already (here or elsewhere) are left as they are.
   */
  start(names: readonly string[] = [], signal?: AbortSignal): Promise<StartOutcome[]> {
    return this.starter.start(this.expand(names), signal);
  }

  /**
   * The outcomes of a start as they stand now: an engine that was healthy and has exited since (or
   * is no longer healthy) is not ok, with its reason. An exit that happened but is not yet reported is
   * waited for, so that the reason is known. For `up --detach`, whose exit code must hold when it returns.
   */
  async settle(outcomes: readonly StartOutcome[]): Promise<StartOutcome[]> {
    return Promise.all(
      outcomes.map(async (o) => {
        if (!o.ok) return o;
        const rt = this.ctx.runtime(o.name);
        const proc = rt.proc;
        if (proc && !runsNow(proc.record)) {
          // A leader that exited 0 may have left a daemon, followed from now on: wait for that or for the exit.
          let gone = false;
          void rt.gone?.then(() => (gone = true));
          while (!gone && !(runsNow(proc.record) && !proc.settling)) await sleep(50);
        }
        if (rt.state === 'healthy' && (rt.proc || rt.external)) return o;
        return { name: o.name, ok: false, state: rt.state, reason: rt.reason ?? rt.state };
      }),
    );
  }

  /**
   * Stops the named engines (all when empty), whoever started them, and resolves once their process
   * trees are gone. Engines that depend on a stopped one are not stopped.
   */
  async stop(names: readonly string[] = []): Promise<void> {
    const wanted = names.length > 0 ? this.expand(names) : this.names();
    // Only which engines others run matters here: no health probes (they may run workspace commands).
    await this.refresh(false).catch(() => {});
    await Promise.all(wanted.map((n) => stopOne(this.ctx, this.ctx.runtime(n))));
  }

  /** The names with each group of replicas (its entry's `name`) replaced by the replicas. */
  expand(names: readonly string[]): string[] {
    return expandGroups(this.ctx.config.engines, names);
  }

  /** Stops and starts again. */
  async restart(names: readonly string[]): Promise<StartOutcome[]> {
    await this.stop(names);
    return this.start(names);
  }

  /**
   * Leaves the engines this supervisor started running (their leases stay in the registry, for `down`
   * and for other windows) and stops watching them. For `up --detach`.
   */
  async detach(): Promise<void> {
    const { ctx } = this;
    // Leaving them on purpose: mark the leases, so no one takes them for orphans and adopts or stops them.
    const own = [...ctx.runtimes.values()].filter((rt) => rt.proc || rt.external?.owner.id === ctx.owner.id);
    // A daemon's record may still be on its way to the registry: no write may outlive this process.
    await Promise.all(own.map((rt) => rt.recording));
    await markDetached(ctx, own).catch((e) => ctx.log('warn', `could not mark engines as detached: ${errorMessage(e)}`));
    ctx.disposed = true;
    this.external.unwatch();
    for (const rt of ctx.runtimes.values()) rt.follower?.close();
  }

  /** An engine of ours runs, starts, or waits for its restart. */
  busy(): boolean {
    const { ctx } = this;
    return [...ctx.runtimes.values()].some((rt) => rt.proc !== undefined || rt.starting !== undefined || rt.external?.owner.id === ctx.owner.id);
  }

  /** Stops every engine this supervisor started and resolves once they are gone. */
  async dispose(): Promise<void> {
    const { ctx } = this;
    this.external.unwatch();
    this.queue.cancelAll(new EngineRoomError('stopped', 'Engine Room is shutting down.'));
    const own = [...ctx.runtimes.values()].filter((rt) => rt.proc || rt.starting || rt.external?.owner.id === ctx.owner.id);
    await Promise.all(own.map((rt) => stopOne(ctx, rt)));
    ctx.disposed = true;
    for (const rt of ctx.runtimes.values()) rt.follower?.close();
  }
}
