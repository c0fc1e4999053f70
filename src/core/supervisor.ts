/**
 * The supervisor of one configuration file: the state machine of each engine, the start order, the
 * sequential start under the host-wide start lock, health polling, restarts and stops. It knows about
 * engines of its configuration that other processes started (through the registry) and can stop them.
 *
 * Events: `change` with an EngineSnapshot whenever one engine's state, health or ports change; `line`
 * with (name, line) for every log line of an engine this supervisor started.
 */
import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { EngineSpec, EnginesConfig } from './model';
import { EngineRoomError, errorMessage, isEngineRoomError, type EngineRoomErrorCode } from './errors';
import { EngineProcess } from './engineProcess';
import { engineIsLive, stopTree } from './processTree';
import { fetchModels, probeOnce, tcpProbe, type HealthResult } from './health';
import { StartLock, lockState, type LockWaitInfo } from './hostLock';
import { prepareLaunch, type Launch } from './launch';
import { appendLogNote, fileSize, LogFollower, logFileFor } from './logs';
import { chooseBlock, choosePort, defaultPortRanges, type PortRanges } from './ports';
import { describeHolders, gpuMemoryByPid, groupMembers, hostClockMs, isAlive, portHoldersOf, selfIdentity, type PortHolder } from './platform';
import { leaseKey, leasedPorts, Registry, type LeaseRecord, type OwnerRecord, type RegistryData } from './registry';
import { ensureStateDir } from './stateDir';
import { reaperArgv } from './reaper';

export type EngineState = 'stopped' | 'waiting' | 'starting' | 'healthy' | 'unhealthy' | 'failed' | 'stopping';

export interface OwnerInfo {
  readonly pid: number;
  readonly label: string;
  readonly kind: OwnerRecord['kind'];
  /** This supervisor started it. */
  readonly self: boolean;
  /** The owning process still runs (false: e.g. `up --detach` has returned). */
  readonly alive: boolean;
}

/** Everything the UI and the CLI show about one engine. Plain data, safe to post to a webview. */
export interface EngineSnapshot {
  readonly name: string;
  readonly key: string;
  readonly configFile: string;
  readonly description?: string;
  readonly command: readonly string[];
  /** Where the engine's ports are reached. */
  readonly host: string;
  /** The kind of health probe (`http` engines can be opened in a browser). */
  readonly probe: 'http' | 'tcp' | 'log' | 'command' | 'none';
  readonly state: EngineState;
  /** Why it is in this state, for people ("waiting for the start lock held by pid 12 (api)"). */
  readonly reason?: string;
  /** Why it failed, for programs. */
  readonly errorCode?: EngineRoomErrorCode;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly pid: number | null;
  readonly pgid: number | null;
  /** Port name to number; the main one is `port`. */
  readonly ports: Readonly<Record<string, number>>;
  readonly portBlock: readonly [number, number] | null;
  readonly health: HealthResult | null;
  /** Latencies (ms) of the recent probes, oldest first; failed probes are null. */
  readonly healthHistory: readonly (number | null)[];
  readonly owner: OwnerInfo | null;
  readonly restarts: number;
  readonly nextRestartAt: number | null;
  readonly startedAt: number | null;
  readonly healthyAt: number | null;
  readonly logFile: string;
  /** Set while the engine waits for the start lock. */
  readonly lockWait?: LockWaitInfo;
  /** The last log lines when it failed. */
  readonly lastLines?: readonly string[];
  /** It serves the OpenAI API under /v1 (from its preset). */
  readonly openai: boolean;
  /** The model ids it serves (`/v1/models`), once healthy; OpenAI-compatible engines only. */
  readonly models?: readonly string[];
  /** GPU memory (MiB) its process tree uses, where `nvidia-smi` exists. */
  readonly gpuMemoryMiB?: number;
}

export interface SupervisorOptions {
  readonly config: EnginesConfig;
  readonly stateDir: string;
  readonly ownerKind: OwnerRecord['kind'];
  readonly ownerLabel: string;
  /** The environment engines inherit; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly ranges?: PortRanges;
  /** Diagnostics for the output channel / stderr. */
  readonly log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * Engines of this config whose owner died without meaning to leave them (a crashed window, a CLI
   * killed by SIGKILL; not `up --detach`): `adopt` them (this supervisor becomes their owner and stops
   * them on dispose), `stop` them, or `leave` them as they are (default).
   */
  readonly orphans?: 'adopt' | 'stop' | 'leave';
  /**
   * Engines die with this supervisor's process even when it is killed (SIGKILL, a crash): a reaper
   * process (this script, run by `execPath`) stops them. Without it they stay running, adoptable.
   */
  readonly reaper?: { readonly script: string; readonly execPath?: string };
}

export interface StartOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly state: EngineState;
  readonly reason?: string;
  /** The start was cancelled (by the caller or a stop), which is not a failure to report. */
  readonly cancelled?: boolean;
}

/**
 * The health poll while starting: from 20 ms, growing by a fifth each time, up to 100 ms. A probe of a
 * port that is not listening yet is refused at once, so polling this often costs next to nothing, and
 * an engine is seen healthy within ~50 ms on average (the start slot is held until then).
 */
const START_POLL_MIN = 20;
const START_POLL_MAX = 100;
const START_POLL_GROWTH = 1.2;
const HISTORY = 30;
const NO_PROBE_GRACE = 500;
const EADDRINUSE_RETRIES = 3;
const EADDRINUSE_RE = /EADDRINUSE|address already in use/i;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One engine's live state inside the supervisor. */
class Runtime {
  state: EngineState = 'stopped';
  reason: string | undefined;
  errorCode: EngineRoomErrorCode | undefined;
  exitCode: number | null = null;
  signal: string | null = null;
  proc: EngineProcess | undefined;
  /** A lease of another owner (another window, the CLI, a detached start) that we watch. */
  external: LeaseRecord | undefined;
  ports: Record<string, number> = {};
  portBlock: [number, number] | null = null;
  launch: Launch | undefined;
  health: HealthResult | null = null;
  history: (number | null)[] = [];
  failures = 0;
  restarts = 0;
  nextRestartAt: number | null = null;
  startedAt: number | null = null;
  healthyAt: number | null = null;
  lockWait: LockWaitInfo | undefined;
  lastLines: string[] | undefined;
  follower: LogFollower | undefined;
  logMatched = false;
  /** Aborted by stop(): cancels a lock wait, a start, a restart backoff and the health loop. */
  run: AbortController | undefined;
  /** The promise of the current start (deduplicates concurrent start requests). */
  starting: Promise<StartOutcome> | undefined;
  /** Resolves when the current process's tree is gone and its lease released. */
  gone: Promise<void> | undefined;
  /** Ports that failed with EADDRINUSE in this start: avoid them on retry. */
  avoid = new Set<number>();
  /** Served model ids of an OpenAI-compatible engine, asked once it is healthy. */
  models: string[] | undefined;
  modelsAsked = false;
  gpuCache: { at: number; value: number | undefined } | undefined;

  constructor(
    public spec: EngineSpec,
    readonly key: string,
    readonly logFile: string,
  ) {}

  get pid(): number | null {
    return this.proc?.pid ?? this.external?.engine?.pid ?? null;
  }
}

export class Supervisor {
  private readonly events = new EventEmitter();
  private readonly registry: Registry;
  private readonly lock: StartLock;
  private readonly owner: OwnerRecord;
  private readonly ranges: PortRanges;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly runtimes = new Map<string, Runtime>();
  private config: EnginesConfig;
  /** Engines whose dependencies are satisfied, waiting for this supervisor's turn at the start lock. */
  private readonly pending: Array<{ rt: Runtime; resolve: () => void; reject: (e: unknown) => void }> = [];
  private pumping = false;
  private disposed = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private watchGeneration = 0;
  /** nvidia-smi's last answer. */
  private gpu: { at: number; byPid: Map<number, number> | undefined } | undefined;
  /** Who held the engines' ports at the last /proc pass. */
  private ownership: { at: number; holders: Map<number, PortHolder[]> } | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    ensureStateDir(opts.stateDir);
    this.config = opts.config;
    this.registry = new Registry(opts.stateDir, (m) => this.log('warn', m));
    this.lock = new StartLock(this.registry);
    const me = selfIdentity();
    this.owner = { ...me, id: randomUUID(), kind: opts.ownerKind, label: opts.ownerLabel };
    this.ranges = opts.ranges ?? defaultPortRanges();
    this.env = opts.env ?? process.env;
    this.events.setMaxListeners(0);
    this.setConfig(opts.config);
  }

  get configFile(): string {
    return this.config.file;
  }

  get stateDir(): string {
    return this.opts.stateDir;
  }

  on(event: 'change', listener: (s: EngineSnapshot) => void): () => void;
  on(event: 'line', listener: (name: string, line: string) => void): () => void;
  on(event: string, listener: (...args: any[]) => void): () => void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.on(event, listener);
    return () => this.events.off(event, listener);
  }

  /** Takes a new version of the configuration; running engines keep running until stopped. */
  setConfig(config: EnginesConfig): void {
    this.config = config;
    for (const spec of config.engines) {
      const existing = this.runtimes.get(spec.name);
      if (existing) existing.spec = spec;
      else {
        const key = leaseKey(config.file, spec.name);
        this.runtimes.set(spec.name, new Runtime(spec, key, logFileFor(this.opts.stateDir, config.file, spec.name)));
      }
    }
    for (const [name, rt] of this.runtimes) {
      if (!config.engines.some((e) => e.name === name) && rt.state === 'stopped' && !rt.proc) this.runtimes.delete(name);
    }
  }

  names(): string[] {
    return [...this.runtimes.keys()];
  }

  snapshot(name: string): EngineSnapshot {
    const rt = this.runtime(name);
    const ext = rt.external;
    const ownerRec = rt.proc ? this.owner : ext?.owner;
    return {
      name,
      key: rt.key,
      configFile: this.config.file,
      description: rt.spec.description,
      command: rt.launch?.command ?? rt.spec.command,
      host: rt.spec.host,
      probe: rt.spec.health.probe.kind,
      state: rt.state,
      reason: rt.reason,
      errorCode: rt.errorCode,
      exitCode: rt.exitCode,
      signal: rt.signal,
      pid: rt.pid,
      pgid: rt.proc?.record.pgid ?? ext?.engine?.pgid ?? null,
      // Ports belong to a running engine: a stopped or failed one has none to show or open.
      ports: ext ? { ...ext.ports } : rt.proc ? { ...rt.ports } : {},
      portBlock: ext ? ext.portBlock : rt.proc ? rt.portBlock : null,
      health: rt.health,
      healthHistory: [...rt.history],
      owner: ownerRec
        ? { pid: ownerRec.pid, label: ownerRec.label, kind: ownerRec.kind, self: ownerRec.id === this.owner.id, alive: ownerRec.id === this.owner.id || isAlive(ownerRec) }
        : null,
      restarts: rt.restarts,
      nextRestartAt: rt.nextRestartAt,
      startedAt: rt.startedAt,
      healthyAt: rt.healthyAt,
      logFile: ext?.logFile ?? rt.logFile,
      lockWait: rt.lockWait,
      lastLines: rt.lastLines,
      openai: rt.spec.openai ?? false,
      models: rt.models,
      gpuMemoryMiB: rt.pid !== null ? this.gpuMemory(rt) : undefined,
    };
  }

  snapshots(): EngineSnapshot[] {
    return this.names().map((n) => this.snapshot(n));
  }

  /** Who holds the host-wide start lock and who waits, for the panel. */
  lockStatus(): ReturnType<typeof lockState> {
    return lockState(this.registry.read());
  }

  /** The in-memory tail of an engine's log (own engines; others: read the log file). */
  tail(name: string, n?: number): string[] {
    return this.runtime(name).follower?.tail(n) ?? [];
  }

  private runtime(name: string): Runtime {
    const rt = this.runtimes.get(name);
    if (!rt) throw new EngineRoomError('unknown-engine', `No engine named "${name}" in ${this.config.file}.`);
    return rt;
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.opts.log?.(level, message);
  }

  private set(rt: Runtime, patch: Partial<Pick<Runtime, 'state' | 'reason' | 'errorCode' | 'lockWait' | 'exitCode' | 'signal' | 'lastLines' | 'nextRestartAt'>>): void {
    Object.assign(rt, patch);
    if ('state' in patch && patch.state !== 'waiting') rt.lockWait = undefined;
    this.emit(rt);
  }

  private emit(rt: Runtime): void {
    if (this.disposed) return;
    if (rt.state === 'healthy') this.askModels(rt);
    else if (rt.state === 'stopped' || rt.state === 'failed') {
      rt.models = undefined;
      rt.modelsAsked = false;
    }
    this.events.emit('change', this.snapshot(rt.spec.name));
  }

  /** GPU memory of the engine's tree: one nvidia-smi call serves every engine for 2 s. */
  private gpuMemory(rt: Runtime): number | undefined {
    if (rt.gpuCache && Date.now() - rt.gpuCache.at < 2000) return rt.gpuCache.value;
    if (!this.gpu || Date.now() - this.gpu.at > 2000) this.gpu = { at: Date.now(), byPid: gpuMemoryByPid() };
    const value = this.treeGpuMemory(rt, this.gpu.byPid);
    rt.gpuCache = { at: Date.now(), value };
    return value;
  }

  private treeGpuMemory(rt: Runtime, byPid: Map<number, number> | undefined): number | undefined {
    const pgid = rt.proc?.record.pgid ?? rt.external?.engine?.pgid;
    if (!byPid || pgid === undefined || byPid.size === 0) return undefined;
    const pids = new Set([pgid, ...groupMembers(pgid, 1000), ...(rt.proc?.knownDescendants().map((p) => p.pid) ?? [])]);
    let total: number | undefined;
    for (const [pid, mem] of byPid) if (pids.has(pid)) total = (total ?? 0) + mem;
    return total;
  }

  /** Once per run of a healthy OpenAI-compatible engine: which models it serves. */
  private askModels(rt: Runtime): void {
    const port = rt.external?.ports.port ?? rt.ports.port;
    if (!rt.spec.openai || rt.modelsAsked || port === undefined) return;
    rt.modelsAsked = true;
    void fetchModels(rt.spec.host, port, rt.spec.health.timeout).then((models) => {
      if (!models || rt.state === 'stopped' || rt.state === 'failed') return;
      rt.models = models;
      this.emit(rt);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Observing engines of this config that other processes started.

  /**
   * Re-reads the registry: engines of this configuration that another process holds are shown with
   * their owner, ports and a fresh health probe; engines whose lease vanished become stopped.
   */
  async refresh(probe = true): Promise<void> {
    const data = this.registry.read();
    const probes: Promise<void>[] = [];
    for (const rt of this.runtimes.values()) {
      if (rt.proc || rt.starting) continue;
      const lease = data.leases.find((l) => l.key === rt.key && l.engine !== null);
      if (lease?.engine && engineIsLive(lease.engine)) {
        rt.external = lease;
        // Adopting probes the engine: not on a registry-only refresh (an untrusted workspace).
        if (probe && isOrphan(lease) && this.opts.orphans && this.opts.orphans !== 'leave') {
          probes.push(this.reconcile(rt, lease, this.opts.orphans));
          continue;
        }
        if (probe) probes.push(this.probeExternal(rt, lease, data));
        else if (rt.state === 'stopped') this.set(rt, { state: 'unhealthy', reason: `started by ${lease.owner.label} (not probed)` });
      } else if (rt.external) {
        rt.external = undefined;
        rt.health = null;
        this.set(rt, { state: 'stopped', reason: 'stopped outside this window' });
      }
    }
    await Promise.all(probes);
  }

  /** Takes over (or stops) an engine whose owner died. */
  private async reconcile(rt: Runtime, lease: LeaseRecord, policy: 'adopt' | 'stop'): Promise<void> {
    const was = `${lease.owner.label}, which exited`;
    if (policy === 'stop') {
      this.log('info', `${rt.spec.name}: stopping the engine left by ${was}`);
      await this.stopOne(rt);
      return;
    }
    const adopted = await this.registry.update((data) => {
      const l = data.leases.find((x) => x.key === lease.key && x.engine?.pid === lease.engine?.pid);
      // Someone else may have adopted it in the meantime.
      if (!l || !isOrphan(l)) return undefined;
      l.owner = this.owner;
      return { ...l };
    });
    if (!adopted) return;
    this.log('info', `${rt.spec.name}: adopted the engine left by ${was} (pid ${lease.engine?.pid})`);
    rt.external = adopted;
    await this.probeExternal(rt, adopted, this.registry.read());
    this.set(rt, { reason: `adopted from ${was}` });
  }

  private async probeExternal(rt: Runtime, lease: LeaseRecord, data: RegistryData): Promise<void> {
    const result = await probeOnce(lease.probe, {
      host: lease.host,
      port: lease.ports.port,
      timeoutMs: rt.spec.health.timeout,
      // A log probe of someone else's engine: it is past its start if it is not in the start slot.
      logMatched: () => !(data.slot?.keys.includes(lease.key) ?? false),
      httpTarget: lease.probe.kind === 'http' ? this.externalHttpTarget(rt, lease) : undefined,
      command: lease.probe.kind === 'command' ? this.externalCommand(rt, lease) : undefined,
    });
    this.record(rt, result);
    const inSlot = data.slot?.keys.includes(lease.key) ?? false;
    const state: EngineState = result.ok ? 'healthy' : inSlot ? 'starting' : 'unhealthy';
    this.set(rt, { state, reason: `started by ${lease.owner.label}` });
  }

  private externalHttpTarget(rt: Runtime, lease: LeaseRecord): string | undefined {
    try {
      return this.prepare(rt.spec, lease.ports.port, lease.portBlock ?? undefined, this.registry.read()).httpTarget;
    } catch {
      return undefined;
    }
  }

  private externalCommand(rt: Runtime, lease: LeaseRecord): string[] | undefined {
    try {
      return this.prepare(rt.spec, lease.ports.port, lease.portBlock ?? undefined, this.registry.read()).healthCommand;
    } catch {
      return undefined;
    }
  }

  /** Polls the registry and probes other owners' engines every `intervalMs` until disposed. */
  watch(intervalMs = 2000, probe = true): void {
    this.unwatch();
    const generation = ++this.watchGeneration;
    const tick = () => {
      void this.refresh(probe)
        .catch((e) => this.log('warn', `refresh failed: ${errorMessage(e)}`))
        .finally(() => {
          if (!this.disposed && this.watchGeneration === generation) this.watchTimer = setTimeout(tick, intervalMs);
        });
    };
    this.watchTimer = setTimeout(tick, 0);
  }

  /** Stops the polling of watch(). */
  unwatch(): void {
    this.watchGeneration++;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Starting

  /** The requested engines and everything they depend on, in dependency order. */
  private closure(names: readonly string[]): Runtime[] {
    const out: Runtime[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const rt = this.runtime(name);
      for (const d of rt.spec.dependsOn) visit(d);
      out.push(rt);
    };
    for (const n of names) visit(n);
    return out;
  }

  /**
   * Starts the named engines (all when empty) and their dependencies, each under the host-wide start
   * lock. Resolves when every one is healthy or has failed for good; never rejects for an engine's
   * failure (see the outcomes). Engines that run already (here or elsewhere) are left as they are.
   */
  async start(names: readonly string[] = [], signal?: AbortSignal): Promise<StartOutcome[]> {
    if (this.disposed) throw new EngineRoomError('stopped', 'Engine Room is shutting down.');
    const wanted = names.length > 0 ? names : this.names();
    for (const n of wanted) this.runtime(n);
    await this.refresh();
    const order = this.closure(wanted);
    const outcomes = await Promise.all(order.map((rt) => this.startOne(rt, signal)));
    return outcomes.filter((o) => wanted.includes(o.name) || !o.ok);
  }

  private startOne(rt: Runtime, signal?: AbortSignal): Promise<StartOutcome> {
    if (rt.starting) return rt.starting;
    if (rt.external) return this.waitForExternal(rt, signal);
    if (rt.proc) return Promise.resolve({ name: rt.spec.name, ok: rt.state === 'healthy', state: rt.state, reason: 'already running' });
    const run = new AbortController();
    rt.run = run;
    // The caller gave up (a cancelled progress notification): stop what was started so far.
    const onAbort = () => void this.stopOne(rt);
    signal?.addEventListener('abort', onAbort, { once: true });
    rt.restarts = 0;
    rt.starting = this.startWithRestarts(rt, run.signal).finally(() => {
      rt.starting = undefined;
      signal?.removeEventListener('abort', onAbort);
    });
    return rt.starting;
  }

  /**
   * An engine that another process runs: wait (polling the registry and probing, since no events come
   * from there) until it is healthy, gone, or past its start timeout.
   */
  private async waitForExternal(rt: Runtime, signal?: AbortSignal): Promise<StartOutcome> {
    const name = rt.spec.name;
    const deadline = Date.now() + rt.spec.startTimeout;
    let delay = START_POLL_MIN * 5;
    for (;;) {
      const lease = rt.external;
      if (!lease) return { name, ok: false, state: rt.state, reason: rt.reason ?? 'stopped elsewhere' };
      const by = `started by ${lease.owner.label}`;
      if (rt.state === 'healthy') return { name, ok: true, state: 'healthy', reason: `already running, ${by}` };
      if (signal?.aborted) return { name, ok: false, state: rt.state, reason: 'start cancelled', cancelled: true };
      if (Date.now() > deadline) return { name, ok: false, state: rt.state, reason: `${rt.state}, ${by}, not healthy within ${rt.spec.startTimeout / 1000} s` };
      await sleep(delay, signal);
      delay = Math.min(delay * 1.5, 1000);
      await this.refresh();
    }
  }

  private async startWithRestarts(rt: Runtime, signal: AbortSignal): Promise<StartOutcome> {
    const name = rt.spec.name;
    // Dependencies first: each must be healthy (here or in another process).
    for (const dep of rt.spec.dependsOn) {
      const depRt = this.runtime(dep);
      this.set(rt, { state: 'waiting', reason: `waiting for ${dep} to be healthy`, errorCode: undefined });
      const outcome = await this.startOne(depRt, signal);
      if (!outcome.ok || !(await this.waitHealthy(depRt, signal))) {
        if (signal.aborted) return this.cancelled(rt);
        const why = `not started: it depends on ${dep}, which ${depRt.state === 'failed' ? 'failed' : `is ${depRt.state}`}`;
        this.set(rt, { state: 'failed', reason: why, errorCode: 'dependency-failed', exitCode: null, signal: null });
        return { name, ok: false, state: 'failed', reason: why };
      }
    }
    for (;;) {
      const result = await this.attempt(rt, signal);
      if (result === 'healthy') return { name, ok: true, state: 'healthy' };
      if (signal.aborted) return this.cancelled(rt);
      const policy = rt.spec.restart;
      if (result === 'fatal' || policy.policy !== 'on-failure' || rt.restarts >= policy.limit) {
        return { name, ok: false, state: rt.state, reason: rt.reason };
      }
      const delay = Math.min(policy.backoff * 2 ** rt.restarts, policy.maxBackoff);
      rt.restarts++;
      const reason = rt.reason;
      this.set(rt, { nextRestartAt: Date.now() + delay, reason: `${reason}; restart ${rt.restarts}/${policy.limit} in ${(delay / 1000).toFixed(1)} s` });
      await sleep(delay, signal);
      this.set(rt, { nextRestartAt: null });
      if (signal.aborted) return this.cancelled(rt);
    }
  }

  private cancelled(rt: Runtime): StartOutcome {
    if (rt.state !== 'stopped' && rt.state !== 'stopping') this.set(rt, { state: 'stopped', reason: 'start cancelled' });
    return { name: rt.spec.name, ok: false, state: rt.state, reason: 'start cancelled', cancelled: true };
  }

  /** Resolves true once the engine is healthy, false if it fails, stops or the signal fires. */
  private waitHealthy(rt: Runtime, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (s?: EngineSnapshot) => {
        if (s && s.name !== rt.spec.name) return;
        const st = rt.state;
        if (st === 'healthy') finish(true);
        else if (st === 'failed' || st === 'stopped' || signal.aborted) finish(false);
      };
      const off = this.on('change', check);
      const onAbort = () => finish(false);
      signal.addEventListener('abort', onAbort, { once: true });
      function finish(v: boolean) {
        off();
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      }
      check();
    });
  }

  /**
   * One start attempt: queue for the lock, lease, spawn, wait for health. Returns 'healthy', 'failed'
   * (a restart may help) or 'fatal' (bad config, cancelled: a restart will not help).
   */
  private async attempt(rt: Runtime, signal: AbortSignal): Promise<'healthy' | 'failed' | 'fatal'> {
    rt.avoid.clear();
    for (let addrRetry = 0; ; addrRetry++) {
      rt.health = null;
      rt.history = [];
      rt.failures = 0;
      rt.logMatched = false;
      rt.lastLines = undefined;
      rt.healthyAt = null;
      this.set(rt, { state: 'waiting', reason: 'waiting for the start lock', errorCode: undefined, exitCode: null, signal: null });
      try {
        await this.queueForSlot(rt, signal);
      } catch (e) {
        if (signal.aborted || isEngineRoomError(e, 'lock-cancelled')) return 'fatal';
        const code = isEngineRoomError(e) ? e.code : 'spawn-failed';
        this.set(rt, { state: 'failed', reason: errorMessage(e), errorCode: code });
        return code === 'bad-config' ? 'fatal' : 'failed';
      }
      const result = await this.untilHealthy(rt, signal);
      if (result !== 'addr-in-use') return result;
      if (addrRetry >= EADDRINUSE_RETRIES) {
        this.set(rt, { reason: `${rt.reason} (gave up after ${EADDRINUSE_RETRIES} retries with fresh ports)` });
        return 'failed';
      }
      this.log('warn', `${rt.spec.name}: a port was taken (EADDRINUSE); retrying with fresh ports`);
    }
  }

  /** Waits for this supervisor's turn, then for the host-wide slot; leases and spawns. */
  private queueForSlot(rt: Runtime, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const item = { rt, resolve, reject };
      this.pending.push(item);
      const onAbort = () => {
        const i = this.pending.indexOf(item);
        if (i >= 0) {
          this.pending.splice(i, 1);
          reject(new EngineRoomError('lock-cancelled', 'Start cancelled.'));
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void this.pump();
    });
  }

  /**
   * Takes pending engines one at a time (a batch for `leaseOnly` engines) through the host-wide start
   * lock. An `untilHealthy` engine keeps the slot until healthy; others start in parallel once past it.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0 && !this.disposed) {
        const head = this.pending[0]!;
        const batch = head.rt.spec.startLock === 'leaseOnly' ? this.pending.filter((p) => p.rt.spec.startLock === 'leaseOnly') : [head];
        for (const b of batch) this.pending.splice(this.pending.indexOf(b), 1);
        await this.startBatch(batch);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async startBatch(batch: Array<{ rt: Runtime; resolve: () => void; reject: (e: unknown) => void }>): Promise<void> {
    const rts = batch.map((b) => b.rt);
    const live = batch.filter((b) => !b.rt.run?.signal.aborted);
    for (const b of batch) if (b.rt.run?.signal.aborted) b.reject(new EngineRoomError('lock-cancelled', 'Start cancelled.'));
    if (live.length === 0) return;
    const abort = new AbortController();
    const offs = live.map((b) => {
      const s = b.rt.run?.signal;
      const f = () => {
        // Cancel the wait only if every engine of the batch was cancelled.
        if (live.every((x) => x.rt.run?.signal.aborted)) abort.abort();
      };
      s?.addEventListener('abort', f, { once: true });
      return () => s?.removeEventListener('abort', f);
    });
    const holdFor = Math.max(...rts.map((rt) => (rt.spec.startLock === 'leaseOnly' ? 30_000 : rt.spec.startTimeout + 10_000)));
    const leased = new Map<Runtime, { port?: number; block?: [number, number]; error?: unknown }>();
    let held;
    try {
      held = await this.lock.acquire({
        owner: this.owner,
        keys: live.map((b) => b.rt.key),
        names: live.map((b) => b.rt.spec.name),
        holdFor,
        signal: abort.signal,
        onWait: (info) => {
          for (const b of live) {
            const who = info.holder ? `pid ${info.holder.pid} (${info.holder.names.join(', ')})` : undefined;
            const reason = who ? `waiting for the start lock held by ${who}` : `waiting for the start lock (${info.ahead} ahead)`;
            this.set(b.rt, { state: 'waiting', reason, lockWait: info });
          }
        },
        inside: async (data) => {
          for (const b of live) leased.set(b.rt, await this.leaseInside(b.rt, data));
        },
      });
    } catch (e) {
      offs.forEach((f) => f());
      for (const b of live) b.reject(e);
      return;
    }
    offs.forEach((f) => f());
    // Spawn every engine of the batch at once, record their pids in one registry write; each then
    // waits for its own health.
    const spawned: Array<{ b: (typeof live)[number]; proc: EngineProcess }> = [];
    await Promise.all(
      live.map(async (b) => {
        const l = leased.get(b.rt);
        if (!l || l.error || b.rt.run?.signal.aborted) {
          if (l && !l.error) await this.dropLease(b.rt).catch(() => {});
          b.reject(l?.error ?? new EngineRoomError('lock-cancelled', 'Start cancelled.'));
          return;
        }
        try {
          spawned.push({ b, proc: await this.spawn(b.rt, l.port, l.block) });
        } catch (e) {
          await this.dropLease(b.rt).catch(() => {});
          b.reject(e);
        }
      }),
    );
    try {
      await this.recordSpawned(spawned.map((x) => ({ rt: x.b.rt, proc: x.proc })));
    } catch (e) {
      for (const x of spawned) x.b.reject(e);
      spawned.length = 0;
    }
    const releaseWhen = spawned.map((x) => this.slotReleaseCondition(x.b.rt));
    for (const x of spawned) x.b.resolve();
    await Promise.all(releaseWhen);
    await held.release().catch((e) => this.log('warn', `could not release the start lock: ${errorMessage(e)}`));
  }

  /** Inside the registry lock: choose ports and write the lease. Errors are kept per engine. */
  private async leaseInside(rt: Runtime, data: RegistryData): Promise<{ port?: number; block?: [number, number]; error?: unknown }> {
    try {
      const existing = data.leases.find((l) => l.key === rt.key);
      if (existing) {
        throw new EngineRoomError('port-leased', `Engine "${rt.spec.name}" is already running, started by ${existing.owner.label} (pid ${existing.owner.pid}).`);
      }
      const taken = leasedPorts(data);
      const leasedBy = (p: number) => {
        const l = data.leases.find((x) => Object.values(x.ports).includes(p) || (x.portBlock && p >= x.portBlock[0] && p <= x.portBlock[1]));
        return l ? `engine "${l.name}" of ${l.configFile} (${l.owner.label})` : undefined;
      };
      const exclude = new Set([...taken, ...rt.avoid]);
      const ctx = { leased: exclude, ranges: this.ranges, leasedBy, engineName: rt.spec.name };
      const port = rt.spec.port ? await choosePort(rt.spec.port, ctx) : undefined;
      if (port !== undefined) exclude.add(port);
      const block = rt.spec.portBlock ? await chooseBlock(rt.spec.portBlock, { ...ctx, leased: exclude }) : undefined;
      // Expand now, so a variable that cannot be resolved fails before anything is leased or spawned.
      rt.launch = this.prepare(rt.spec, port, block, data);
      const now = Date.now();
      data.leases.push({
        key: rt.key,
        name: rt.spec.name,
        configFile: this.config.file,
        workspaceFolder: this.config.workspaceFolder,
        owner: this.owner,
        engine: null,
        ports: port !== undefined ? { port } : {},
        portBlock: block ?? null,
        logFile: rt.logFile,
        host: rt.spec.host,
        probe: rt.spec.health.probe,
        leasedAt: now,
        spawnedAt: null,
      });
      rt.ports = port !== undefined ? { port } : {};
      rt.portBlock = block ?? null;
      return { port, block };
    } catch (e) {
      return { error: e };
    }
  }

  private prepare(spec: EngineSpec, port: number | undefined, block: readonly [number, number] | undefined, data: RegistryData): Launch {
    const portOf = (name: string) => {
      const other = this.runtimes.get(name);
      const lease = other ? data.leases.find((l) => l.key === other.key) : undefined;
      return lease?.ports.port;
    };
    return prepareLaunch({ spec, workspaceFolder: this.config.workspaceFolder, port, portBlock: block, portOf, baseEnv: this.env });
  }

  private async spawn(rt: Runtime, port: number | undefined, block: [number, number] | undefined): Promise<EngineProcess> {
    const launch = rt.launch as Launch;
    const ports = [port !== undefined ? `port ${port}` : '', block ? `block ${block[0]}-${block[1]}` : ''].filter(Boolean).join(', ');
    appendLogNote(rt.logFile, `starting ${rt.spec.name}: ${JSON.stringify(launch.command)} in ${launch.cwd}${ports ? ` (${ports})` : ''}`);
    const from = fileSize(rt.logFile);
    let proc: EngineProcess;
    try {
      proc = await EngineProcess.spawn({ command: launch.command, shell: rt.spec.shell, cwd: launch.cwd, env: launch.env, logFile: rt.logFile });
    } catch (e) {
      appendLogNote(rt.logFile, errorMessage(e));
      throw e;
    }
    rt.proc = proc;
    rt.startedAt = Date.now();
    this.ensureReaper();
    // Attached at once: a stop during the registry update below must find it to wait on.
    rt.gone = proc.exited.then((exit) => this.onExit(rt, proc, exit));
    rt.follower?.close();
    const pattern = rt.spec.health.probe.kind === 'log' ? new RegExp(rt.spec.health.probe.pattern) : undefined;
    rt.follower = new LogFollower(rt.logFile, from, (lines) => {
      for (const line of lines) {
        if (pattern && !rt.logMatched && pattern.test(line)) rt.logMatched = true;
        this.events.emit('line', rt.spec.name, line);
      }
    });
    return proc;
  }

  /** Records the pids of freshly spawned engines in one registry write, and says they are starting. */
  private async recordSpawned(list: ReadonlyArray<{ rt: Runtime; proc: EngineProcess }>): Promise<void> {
    if (list.length === 0) return;
    try {
      await this.registry.update((data) => {
        for (const { rt, proc } of list) {
          const lease = data.leases.find((l) => l.key === rt.key && l.owner.id === this.owner.id);
          if (lease) {
            lease.engine = proc.record;
            lease.spawnedAt = rt.startedAt;
          }
        }
      });
    } catch (e) {
      // Unrecorded, nobody could stop them: do not leave them running.
      await Promise.all(list.map(({ rt, proc }) => this.kill(rt, proc)));
      throw e;
    }
    for (const { rt, proc } of list) {
      if (!rt.run?.signal.aborted && rt.proc === proc && rt.state !== 'stopping') {
        this.set(rt, { state: 'starting', reason: `started (pid ${proc.pid})` });
      }
    }
  }

  private reaperStarted = false;

  /** Starts the reaper once, with the first engine this supervisor spawns (if asked for). */
  private ensureReaper(): void {
    const r = this.opts.reaper;
    if (!r || this.reaperStarted) return;
    this.reaperStarted = true;
    try {
      const child = spawn(r.execPath ?? process.execPath, [r.script, ...reaperArgv({ stateDir: this.opts.stateDir, ownerId: this.owner.id, ownerPid: this.owner.pid, ownerStartTime: this.owner.startTime })], {
        detached: true,
        stdio: 'ignore',
        // VS Code's extension host runs on Electron: make it behave as plain Node for this script.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      });
      child.on('error', (e) => this.log('warn', `could not start the reaper: ${errorMessage(e)}`));
      child.unref();
    } catch (e) {
      this.log('warn', `could not start the reaper: ${errorMessage(e)}`);
    }
  }

  /** When the start slot may go to the next engine. */
  private async slotReleaseCondition(rt: Runtime): Promise<void> {
    const mode = rt.spec.startLock;
    if (mode === 'leaseOnly') return;
    const signal = rt.run?.signal;
    if (mode === 'untilListening' && rt.ports.port !== undefined) {
      const deadline = (rt.startedAt ?? Date.now()) + rt.spec.startTimeout;
      let delay = START_POLL_MIN;
      while (rt.state === 'starting' && Date.now() < deadline && !signal?.aborted) {
        if ((await tcpProbe(rt.spec.host, rt.ports.port, 1000)) === true) return;
        await sleep(delay, signal);
        delay = Math.min(delay * START_POLL_GROWTH, START_POLL_MAX);
      }
      return;
    }
    // untilHealthy: wait until it leaves 'starting' (healthy, failed or stopped).
    await new Promise<void>((resolve) => {
      const check = () => {
        if (rt.state !== 'starting' || rt.proc === undefined) {
          off();
          resolve();
        }
      };
      const off = this.on('change', (s) => s.name === rt.spec.name && check());
      check();
    });
  }

  /** Polls health fast until healthy, the start timeout, an exit or a stop. */
  private async untilHealthy(rt: Runtime, signal: AbortSignal): Promise<'healthy' | 'failed' | 'fatal' | 'addr-in-use'> {
    const proc = rt.proc;
    if (!proc) return 'failed';
    const started = rt.startedAt ?? Date.now();
    const deadline = started + rt.spec.startTimeout;
    let delay = START_POLL_MIN;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    while (!signal.aborted && !exited && rt.proc === proc) {
      const result = await this.probe(rt);
      if (exited || rt.proc !== proc || signal.aborted) break;
      // Without a probe, "healthy" means "still running": give an immediate crash (a bad flag, a
      // missing module) the time to show before we say so.
      const graceLeft = rt.spec.health.probe.kind === 'none' ? started + NO_PROBE_GRACE - Date.now() : 0;
      if (result.ok && graceLeft > 0) {
        await sleep(graceLeft, signal);
        continue;
      }
      if (result.ok) {
        rt.healthyAt = Date.now();
        this.set(rt, { state: 'healthy', reason: `healthy after ${((rt.healthyAt - started) / 1000).toFixed(2)} s` });
        // After the slot went to the next engine: who else holds its port (a /proc scan).
        setImmediate(() => {
          if (rt.proc !== proc || rt.state !== 'healthy') return;
          proc.noteDescendants();
          const conflict = this.portConflict(rt, proc);
          if (conflict) this.set(rt, { state: 'unhealthy', reason: conflict, errorCode: 'port-conflict' });
        });
        this.healthLoop(rt, proc, signal);
        return 'healthy';
      }
      if (Date.now() >= deadline) {
        const reason = `not healthy within ${rt.spec.startTimeout / 1000} s (last probe: ${result.detail})`;
        rt.lastLines = rt.follower?.tail(20);
        this.set(rt, { state: 'failed', reason, errorCode: 'health-timeout', lastLines: rt.lastLines });
        await this.kill(rt, proc);
        return 'failed';
      }
      await sleep(Math.min(delay, deadline - Date.now()), signal);
      delay = Math.min(delay * START_POLL_GROWTH, START_POLL_MAX);
    }
    if (signal.aborted) return 'fatal';
    // It exited while starting.
    await rt.gone;
    return rt.errorCode === 'EADDRINUSE' ? 'addr-in-use' : 'failed';
  }

  private async probe(rt: Runtime): Promise<HealthResult> {
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
    this.record(rt, result);
    return result;
  }

  private record(rt: Runtime, result: HealthResult): void {
    rt.health = result;
    // The fast polls of a start fail until the engine is up: history starts with the first success.
    if (!result.ok && rt.history.length === 0) return;
    rt.history.push(result.ok ? result.latencyMs : null);
    if (rt.history.length > HISTORY) rt.history.splice(0, rt.history.length - HISTORY);
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
      const ports = [...this.runtimes.values()].flatMap((r) => (r.proc && r.ports.port !== undefined ? [r.ports.port] : []));
      this.ownership = { at: Date.now(), holders: portHoldersOf(ports) };
    }
    const tree = new Set([proc.pid, ...groupMembers(proc.record.pgid, 1000), ...proc.knownDescendants().map((p) => p.pid)]);
    const foreign = (this.ownership.holders.get(port) ?? []).filter((h) => !tree.has(h.pid));
    return foreign.length > 0 ? `port ${port} is also held by ${describeHolders(foreign)}: requests may reach that program instead` : undefined;
  }

  /** Probes a healthy engine at its interval; flips between healthy and unhealthy. */
  private healthLoop(rt: Runtime, proc: EngineProcess, signal: AbortSignal): void {
    void (async () => {
      while (!signal.aborted && rt.proc === proc && !this.disposed) {
        await sleep(rt.spec.health.interval, signal);
        if (signal.aborted || rt.proc !== proc || this.disposed) return;
        const result = await this.probe(rt);
        if (rt.proc !== proc || signal.aborted) return;
        const conflict = result.ok ? this.portConflict(rt, proc) : undefined;
        if (conflict) {
          if (rt.reason !== conflict) this.set(rt, { state: 'unhealthy', reason: conflict, errorCode: 'port-conflict' });
          else this.emit(rt);
        } else if (result.ok) {
          rt.failures = 0;
          if (rt.state !== 'healthy') this.set(rt, { state: 'healthy', reason: 'healthy again', errorCode: undefined });
          else this.emit(rt);
        } else if (++rt.failures >= rt.spec.health.failureThreshold && rt.state === 'healthy') {
          this.set(rt, { state: 'unhealthy', reason: `${rt.failures} failed probes (last: ${result.detail})` });
        } else {
          this.emit(rt);
        }
      }
    })();
  }

  /** The engine's main process exited: clean up the rest of its tree, release the lease, say why. */
  private async onExit(rt: Runtime, proc: EngineProcess, exit: { exitCode: number | null; signal: string | null }): Promise<void> {
    let stoppedBy: string | undefined;
    try {
      stoppedBy = this.registry.read().stops.find((x) => x.key === rt.key && x.enginePid === proc.pid)?.by;
    } catch {
      stoppedBy = undefined;
    }
    if (stoppedBy) rt.run?.abort();
    const stopping = rt.state === 'stopping' || stoppedBy !== undefined;
    // Workers that outlive their parent would keep the ports: take the whole group down.
    await stopTree(proc.record, rt.spec.stopSignal, rt.spec.stopTimeout, proc.knownDescendants()).catch((e) => this.log('error', errorMessage(e)));
    rt.follower?.close();
    const lines = rt.follower?.tail(20) ?? [];
    const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
    appendLogNote(rt.logFile, `${rt.spec.name} ${how}`);
    await this.dropLease(rt).catch((e) => this.log('warn', `could not release the lease of ${rt.spec.name}: ${errorMessage(e)}`));
    if (rt.proc === proc) rt.proc = undefined;
    if (stopping || rt.run?.signal.aborted) {
      this.set(rt, { state: 'stopped', reason: stoppedBy ? `stopped by ${stoppedBy}` : 'stopped', exitCode: exit.exitCode, signal: exit.signal });
      return;
    }
    if (rt.state === 'failed') return; // health timeout: already reported
    const addrInUse = lines.some((l) => EADDRINUSE_RE.test(l));
    let holders = '';
    if (addrInUse) {
      const leased = [...Object.values(rt.ports), ...blockPorts(rt.portBlock)];
      for (const p of leased) rt.avoid.add(p);
      // The engine's tree is gone: whoever holds one of its ports now is another program.
      holders = [...portHoldersOf(leased)].map(([port, hs]) => `port ${port} is held by ${describeHolders(hs)}`).join('; ');
    }
    this.set(rt, {
      state: 'failed',
      reason: `${how}${addrInUse ? ` (a port was already in use: EADDRINUSE${holders ? `; ${holders}` : ''})` : ''}`,
      errorCode: addrInUse ? 'EADDRINUSE' : 'exited',
      exitCode: exit.exitCode,
      signal: exit.signal,
      lastLines: lines,
    });
    // A crash after the start (the start path handles its own retries): restart if the policy says so.
    if (!rt.starting && !this.disposed) this.restartAfterCrash(rt);
  }

  private restartAfterCrash(rt: Runtime): void {
    const policy = rt.spec.restart;
    if (policy.policy !== 'on-failure' || rt.restarts >= policy.limit) return;
    const delay = Math.min(policy.backoff * 2 ** rt.restarts, policy.maxBackoff);
    rt.restarts++;
    const run = new AbortController();
    rt.run = run;
    this.set(rt, { nextRestartAt: Date.now() + delay, reason: `${rt.reason}; restart ${rt.restarts}/${policy.limit} in ${(delay / 1000).toFixed(1)} s` });
    rt.starting = (async (): Promise<StartOutcome> => {
      await sleep(delay, run.signal);
      this.set(rt, { nextRestartAt: null });
      if (run.signal.aborted || this.disposed) return this.cancelled(rt);
      return this.startWithRestarts(rt, run.signal);
    })().finally(() => {
      rt.starting = undefined;
    });
  }

  private async dropLease(rt: Runtime): Promise<void> {
    await this.registry.update((data) => {
      data.leases = data.leases.filter((l) => !(l.key === rt.key && l.owner.id === this.owner.id));
    });
  }

  private async kill(rt: Runtime, proc: EngineProcess): Promise<void> {
    await stopTree(proc.record, rt.spec.stopSignal, rt.spec.stopTimeout, proc.knownDescendants()).catch((e) => this.log('error', errorMessage(e)));
    await rt.gone;
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  /**
   * Stops the named engines (all when empty), whoever started them, and resolves once their process
   * trees are gone. Engines that depend on a stopped one are not stopped.
   */
  async stop(names: readonly string[] = []): Promise<void> {
    const wanted = names.length > 0 ? names : this.names();
    // Only which engines others run matters here: no health probes (they may run workspace commands).
    await this.refresh(false).catch(() => {});
    await Promise.all(wanted.map((n) => this.stopOne(this.runtime(n))));
  }

  private async stopOne(rt: Runtime): Promise<void> {
    rt.run?.abort();
    const proc = rt.proc;
    if (proc) {
      this.set(rt, { state: 'stopping', reason: 'stopping' });
      await stopTree(proc.record, rt.spec.stopSignal, rt.spec.stopTimeout, proc.knownDescendants()).catch((e) => this.log('error', errorMessage(e)));
      await rt.gone;
    } else if (rt.external?.engine) {
      const lease = rt.external;
      this.set(rt, { state: 'stopping', reason: `stopping (started by ${lease.owner.label})` });
      // Tell the owner that this exit is a stop, not a crash to report or restart.
      await this.registry.update((data) => {
        if (lease.engine) data.stops.push({ key: lease.key, enginePid: lease.engine.pid, by: this.owner.label, at: hostClockMs() });
      });
      await stopTree(lease.engine as NonNullable<LeaseRecord['engine']>, rt.spec.stopSignal, rt.spec.stopTimeout).catch((e) => this.log('error', errorMessage(e)));
      await this.registry.update((data) => {
        data.leases = data.leases.filter((l) => !(l.key === lease.key && l.engine?.pid === lease.engine?.pid));
      });
      rt.external = undefined;
      rt.health = null;
      this.set(rt, { state: 'stopped', reason: 'stopped' });
    } else if (rt.state !== 'stopped') {
      await rt.starting?.catch(() => {});
      this.set(rt, { state: 'stopped', reason: rt.state === 'failed' ? rt.reason : 'stopped' });
    }
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
    // Leaving them on purpose: mark the leases, so no one takes them for orphans and adopts or stops them.
    const own = [...this.runtimes.values()].filter((rt) => rt.proc || rt.external?.owner.id === this.owner.id).map((rt) => rt.key);
    if (own.length > 0) {
      await this.registry
        .update((data) => {
          for (const l of data.leases) if (own.includes(l.key) && l.owner.id === this.owner.id) l.detached = true;
        })
        .catch((e) => this.log('warn', `could not mark engines as detached: ${errorMessage(e)}`));
    }
    this.disposed = true;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    for (const rt of this.runtimes.values()) rt.follower?.close();
  }

  /** Stops every engine this supervisor started and resolves once they are gone. */
  async dispose(): Promise<void> {
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    for (const p of this.pending.splice(0)) p.reject(new EngineRoomError('stopped', 'Engine Room is shutting down.'));
    const own = [...this.runtimes.values()].filter((rt) => rt.proc || rt.starting || rt.external?.owner.id === this.owner.id);
    await Promise.all(own.map((rt) => this.stopOne(rt)));
    this.disposed = true;
    for (const rt of this.runtimes.values()) rt.follower?.close();
  }
}

/** An engine whose owner died without leaving it on purpose. */
function isOrphan(l: LeaseRecord): boolean {
  return !l.detached && !isAlive(l.owner);
}

function blockPorts(block: readonly [number, number] | null): number[] {
  if (!block) return [];
  const out: number[] = [];
  for (let p = block[0]; p <= block[1]; p++) out.push(p);
  return out;
}
