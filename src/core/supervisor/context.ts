/**
 * What every part of a supervisor shares: its registry and start lock, its owner record, options,
 * log, events and the engines' runtimes. The parts (start queue, leases, health loop, ...) are
 * functions of this context; none of them imports the facade or another part that imports it back.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { EngineSpec, EnginesConfig } from '../model';
import { EngineRoomError } from '../errors';
import { diagnoseFailure } from '../failure';
import { fetchModels } from '../health';
import { StartLock } from '../hostLock';
import { prepareLaunch, type Launch } from '../launch';
import { defaultPortRanges, type PortRanges } from '../ports';
import { selfIdentity } from '../platform';
import { Registry, type OwnerRecord, type RegistryData } from '../registry';
import { ensureStateDir } from '../stateDir';
import type { Runtime, RuntimePatch } from './runtime';
import { buildSnapshot } from './snapshot';
import type { EngineSnapshot, StartOutcome, SupervisorOptions } from './types';

export type LogLevel = 'info' | 'warn' | 'error';

export class SupervisorContext {
  readonly events = new EventEmitter();
  readonly registry: Registry;
  readonly lock: StartLock;
  readonly owner: OwnerRecord;
  readonly ranges: PortRanges;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly runtimes = new Map<string, Runtime>();
  config: EnginesConfig;
  /** Set by detach() and dispose(): no more events, starts or restarts. */
  disposed = false;
  /** The reaper process runs (started with the first spawn, when asked for). */
  reaperStarted = false;

  constructor(
    readonly opts: SupervisorOptions,
    /** An engine of ours crashed after its start: the facade restarts it if its policy says so. */
    private readonly onCrash: (rt: Runtime) => void,
  ) {
    ensureStateDir(opts.stateDir);
    this.config = opts.config;
    this.registry = new Registry(opts.stateDir, (m) => this.log('warn', m));
    this.lock = new StartLock(this.registry);
    this.owner = { ...selfIdentity(), id: randomUUID(), kind: opts.ownerKind, label: opts.ownerLabel };
    this.ranges = opts.ranges ?? defaultPortRanges();
    this.env = opts.env ?? process.env;
    this.events.setMaxListeners(0);
  }

  log(level: LogLevel, message: string): void {
    this.opts.log?.(level, message);
  }

  /** The engines of the config (and those still running from an earlier version), in order. */
  names(): string[] {
    return [...this.runtimes].filter(([, rt]) => !rt.removed).map(([name]) => name);
  }

  runtime(name: string): Runtime {
    const rt = this.runtimes.get(name);
    if (!rt || rt.removed) throw new EngineRoomError('unknown-engine', `No engine named "${name}" in ${this.config.file}.`);
    return rt;
  }

  snapshot(rt: Runtime): EngineSnapshot {
    return buildSnapshot(rt, { owner: this.owner, configFile: this.config.file });
  }

  /** Changes an engine's state and tells the listeners. */
  set(rt: Runtime, patch: RuntimePatch): void {
    Object.assign(rt, patch);
    if (patch.state !== undefined) rt.changedAt = Date.now();
    // A failure says why, from its log (or the reason: a spawn or lease error); any other state has none.
    if (patch.state === 'failed' && !patch.failure) rt.failure = diagnoseFailure(rt.lastLines ?? [], rt.reason);
    else if (patch.state !== undefined && patch.state !== 'failed') rt.failure = undefined;
    if ('state' in patch && patch.state !== 'waiting') rt.lockWait = undefined;
    this.emit(rt);
  }

  /** Tells the listeners about one engine (its health, ports or models changed). */
  emit(rt: Runtime): void {
    if (this.disposed || rt.removed) return;
    if (rt.state === 'healthy') this.askModels(rt);
    else if (rt.state === 'stopped' || rt.state === 'failed') {
      rt.models = undefined;
      rt.modelsAsked = false;
    }
    this.events.emit('change', this.snapshot(rt));
  }

  /** The engine's main process exited on its own after its start. */
  crashed(rt: Runtime): void {
    this.onCrash(rt);
  }

  /** Expands an engine's command, environment and probe for these ports. */
  prepare(spec: EngineSpec, ports: Readonly<Record<string, number>>, block: readonly [number, number] | undefined, data: RegistryData): Launch {
    const portOf = (name: string, portName = 'port') => {
      const other = this.runtimes.get(name);
      const lease = other ? data.leases.find((l) => l.key === other.key) : undefined;
      return lease?.ports[portName];
    };
    const { port, ...named } = ports;
    return prepareLaunch({ spec, workspaceFolder: this.config.workspaceFolder, port, ports: named, portBlock: block, portOf, baseEnv: this.env });
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
}

/** A start that was cancelled (by the caller or a stop): stopped, not failed. */
export function cancelled(ctx: SupervisorContext, rt: Runtime): StartOutcome {
  if (rt.state !== 'stopped' && rt.state !== 'stopping') ctx.set(rt, { state: 'stopped', reason: 'start cancelled' });
  return { name: rt.spec.name, ok: false, state: rt.state, reason: 'start cancelled', cancelled: true };
}
