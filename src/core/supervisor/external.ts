/**
 * Engines of this configuration that other processes started, seen through the registry: shown with
 * their owner, ports and a probe; adopted or stopped when their owner died; waited for by a start.
 */
import { errorMessage } from '../errors';
import { probeOnce } from '../health';
import { poll, type Backoff } from '../poll';
import { isAlive } from '../platform';
import type { EngineRoomErrorCode } from '../errors';
import { liveLeaseEngines, type LeaseRecord, type RegistryData } from '../registry';
import type { LastFailure } from '../runRecords';
import { lastRunOf } from './lastRuns';
import type { SupervisorContext } from './context';
import { adoptLease, isOrphan } from './leases';
import type { Runtime } from './runtime';
import { stopOne } from './stop';
import type { EngineState, StartOutcome } from './types';

/** No events come from another process: poll the registry, from 100 ms up to 1 s. */
const EXTERNAL_POLL: Backoff = { first: 100, factor: 1.5, max: 1000 };

/** The failure recorded for the engine's last run, if it came after `since` (epoch ms). */
function failureSince(data: RegistryData, rt: Runtime, since: number): LastFailure | undefined {
  const f = lastRunOf(data, rt.key)?.failure;
  return f && f.at > since ? f : undefined;
}

function showFailure(ctx: SupervisorContext, rt: Runtime, f: LastFailure): void {
  ctx.set(rt, {
    state: 'failed',
    reason: f.reason,
    errorCode: f.errorCode as EngineRoomErrorCode | undefined,
    exitCode: f.exitCode,
    signal: f.signal,
    lastLines: [...f.diagnosis.lines],
    failure: f.diagnosis,
  });
}

export class ExternalEngines {
  private watchTimer: NodeJS.Timeout | undefined;
  private watchGeneration = 0;

  constructor(private readonly ctx: SupervisorContext) {}

  /**
   * Re-reads the registry: engines of this configuration that another process holds are shown with
   * their owner, ports and a fresh health probe; engines whose lease vanished become stopped.
   */
  async refresh(probe = true): Promise<void> {
    const { ctx } = this;
    const others = [...ctx.runtimes.values()].filter((rt) => !rt.proc && !rt.starting);
    // Every engine is ours and running (a busy `up`): the registry has nothing to tell.
    if (others.length === 0) return;
    const data = ctx.registry.read();
    const probes: Promise<void>[] = [];
    const orphans = ctx.opts.orphans;
    // A lease whose recorded pid is gone (or was never recorded) may still run: found by its marker.
    const live = liveLeaseEngines(data.leases.filter((l) => others.some((rt) => rt.key === l.key)));
    for (const rt of others) {
      const found = [...live].find(([l]) => l.key === rt.key);
      const lease = found?.[1] ? { ...found[0], engine: found[1] } : undefined;
      if (lease) {
        rt.external = lease;
        rt.externalOwnerAlive = isAlive(lease.owner);
        // Adopting probes the engine: not on a registry-only refresh (an untrusted workspace).
        if (probe && isOrphan(lease) && orphans && orphans !== 'leave') {
          probes.push(this.reconcile(rt, lease, orphans));
          continue;
        }
        if (probe) probes.push(this.probe(rt, lease, data));
        else if (rt.state === 'stopped') ctx.set(rt, { state: 'unhealthy', reason: `started by ${lease.owner.label} (not probed)` });
      } else if (rt.external) {
        const failed = failureSince(data, rt, rt.external.leasedAt);
        rt.external = undefined;
        rt.health = null;
        if (failed) showFailure(ctx, rt, failed);
        else ctx.set(rt, { state: 'stopped', reason: 'stopped outside this window' });
      } else if (rt.state === 'stopped') {
        // Another process's run of it failed (a window, `up --detach`): say why, as that process does.
        const failed = failureSince(data, rt, rt.changedAt);
        if (failed) showFailure(ctx, rt, failed);
      }
    }
    await Promise.all(probes);
  }

  /** Polls the registry and probes other owners' engines every `intervalMs` until disposed. */
  watch(intervalMs = 2000, probe = true): void {
    this.unwatch();
    const generation = ++this.watchGeneration;
    const tick = () => {
      void this.refresh(probe)
        .catch((e) => this.ctx.log('warn', `refresh failed: ${errorMessage(e)}`))
        .finally(() => {
          if (!this.ctx.disposed && this.watchGeneration === generation) this.watchTimer = setTimeout(tick, intervalMs);
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

  /**
   * An engine that another process runs: wait (polling the registry and probing, since no events come
   * from there) until it is healthy, gone, or past its start timeout.
   */
  async waitFor(rt: Runtime, signal?: AbortSignal): Promise<StartOutcome> {
    const name = rt.spec.name;
    const deadline = Date.now() + rt.spec.startTimeout;
    let first = true;
    const settled = async (): Promise<StartOutcome | undefined> => {
      if (!first) await this.refresh();
      first = false;
      const lease = rt.external;
      if (!lease) return { name, ok: false, state: rt.state, reason: rt.reason ?? 'stopped elsewhere' };
      const by = `started by ${lease.owner.label}`;
      if (rt.state === 'healthy') return { name, ok: true, state: 'healthy', reason: `already running, ${by}` };
      if (signal?.aborted) return undefined;
      if (Date.now() > deadline) return { name, ok: false, state: rt.state, reason: `${rt.state}, ${by}, not healthy within ${rt.spec.startTimeout / 1000} s` };
      return undefined;
    };
    return (await poll(settled, EXTERNAL_POLL, { signal })) ?? { name, ok: false, state: rt.state, reason: 'start cancelled', cancelled: true };
  }

  /** Takes over (or stops) an engine whose owner died. */
  private async reconcile(rt: Runtime, lease: LeaseRecord, policy: 'adopt' | 'stop'): Promise<void> {
    const { ctx } = this;
    const was = `${lease.owner.label}, which exited`;
    if (policy === 'stop') {
      ctx.log('info', `${rt.spec.name}: stopping the engine left by ${was}`);
      await stopOne(ctx, rt);
      return;
    }
    const adopted = await adoptLease(ctx, lease);
    if (!adopted) return;
    ctx.log('info', `${rt.spec.name}: adopted the engine left by ${was} (pid ${lease.engine?.pid})`);
    rt.external = adopted;
    await this.probe(rt, adopted, ctx.registry.read());
    ctx.set(rt, { reason: `adopted from ${was}` });
  }

  private async probe(rt: Runtime, lease: LeaseRecord, data: RegistryData): Promise<void> {
    const inSlot = data.slot?.keys.includes(lease.key) ?? false;
    const result = await probeOnce(lease.probe, {
      host: lease.host,
      port: lease.ports.port,
      timeoutMs: rt.spec.health.timeout,
      // A log probe of someone else's engine: it is past its start if it is not in the start slot.
      logMatched: () => !inSlot,
      httpTarget: lease.probe.kind === 'http' ? this.launchOf(rt, lease)?.httpTarget : undefined,
      command: lease.probe.kind === 'command' ? this.launchOf(rt, lease)?.healthCommand : undefined,
    });
    rt.record(result);
    const state: EngineState = result.ok ? 'healthy' : inSlot ? 'starting' : 'unhealthy';
    this.ctx.set(rt, { state, reason: `started by ${lease.owner.label}` });
  }

  /** The other owner's engine's expanded probe target, as we would expand it. */
  private launchOf(rt: Runtime, lease: LeaseRecord) {
    try {
      return this.ctx.prepare(rt.spec, lease.ports, lease.portBlock ?? undefined, this.ctx.registry.read());
    } catch {
      return undefined;
    }
  }
}

