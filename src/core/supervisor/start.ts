/**
 * Starting: the requested engines and their dependencies in order, each through the start queue, with
 * retries on fresh ports after EADDRINUSE and restarts under the engine's policy.
 */
import { EngineRoomError, errorMessage, isEngineRoomError } from '../errors';
import { untilListening } from '../listening';
import { poll, sleep } from '../poll';
import { cancelled, type SupervisorContext } from './context';
import type { ExternalEngines } from './external';
import type { HealthMonitor } from './healthLoop';
import { recordFailure } from './lastRuns';
import { restartDelay, waitToRestart } from './restarts';
import type { Runtime } from './runtime';
import { START_POLL, type StartQueue, type SlotTurn } from './startQueue';
import { kill, stopOne } from './stop';
import type { EngineSnapshot, StartOutcome } from './types';

/** Without a probe, "healthy" means "still running" once this long has passed without an exit. */
const NO_PROBE_GRACE = 500;
const EADDRINUSE_RETRIES = 3;

type AttemptResult = 'healthy' | 'failed' | 'fatal';

export class Starter {
  constructor(
    private readonly ctx: SupervisorContext,
    private readonly queue: StartQueue,
    private readonly health: HealthMonitor,
    private readonly external: ExternalEngines,
  ) {}

  /**
   * Starts the named engines (all when empty) and their dependencies, each under the host-wide start
   * lock. Resolves when every one is healthy or has failed for good; never rejects for an engine's
   * failure (see the outcomes). Engines that run already (here or elsewhere) are left as they are.
   */
  async start(names: readonly string[], signal?: AbortSignal): Promise<StartOutcome[]> {
    const { ctx } = this;
    if (ctx.disposed) throw new EngineRoomError('stopped', 'Engine Room is shutting down.');
    const wanted = names.length > 0 ? names : ctx.names();
    for (const n of wanted) ctx.runtime(n);
    await this.external.refresh();
    const order = this.closure(wanted);
    const outcomes = await Promise.all(order.map((rt) => this.startOne(rt, signal)));
    return outcomes.filter((o) => wanted.includes(o.name) || !o.ok);
  }

  /** Starts again after the backoff of a restart; the attempts and their own restarts follow. */
  async startWithRestarts(rt: Runtime, signal: AbortSignal): Promise<StartOutcome> {
    const { ctx } = this;
    const name = rt.spec.name;
    // Dependencies first: each must be healthy (here or in another process).
    for (const dep of rt.spec.dependsOn) {
      const depRt = ctx.runtime(dep);
      ctx.set(rt, { state: 'waiting', reason: `waiting for ${dep} to be healthy`, errorCode: undefined });
      const outcome = await this.startOne(depRt, signal);
      if (!outcome.ok || !(await this.waitHealthy(depRt, signal))) {
        if (signal.aborted) return cancelled(ctx, rt);
        const why = `not started: it depends on ${dep}, which ${depRt.state === 'failed' ? 'failed' : `is ${depRt.state}`}`;
        ctx.set(rt, { state: 'failed', reason: why, errorCode: 'dependency-failed', exitCode: null, signal: null });
        this.record(rt);
        return { name, ok: false, state: 'failed', reason: why };
      }
    }
    for (;;) {
      const result = await this.attempt(rt, signal);
      if (result === 'healthy') return { name, ok: true, state: 'healthy' };
      if (signal.aborted) return cancelled(ctx, rt);
      const delay = result === 'fatal' ? undefined : restartDelay(rt);
      if (delay === undefined) return { name, ok: false, state: rt.state, reason: rt.reason };
      await waitToRestart(ctx, rt, delay, signal);
      if (signal.aborted) return cancelled(ctx, rt);
    }
  }

  /** A failure without a lease to release: recorded for other processes' `status` (best effort). */
  private record(rt: Runtime): void {
    void recordFailure(this.ctx, rt).catch((e) => this.ctx.log('warn', `could not record the failure of ${rt.spec.name}: ${errorMessage(e)}`));
  }

  /**
   * The engines that start(names) would start or wait for while they start: the requested ones and
   * their dependencies, less those that run already (here or elsewhere) and are not starting.
   */
  plan(names: readonly string[]): string[] {
    const wanted = names.length > 0 ? names : this.ctx.names();
    return this.closure(wanted)
      .filter((rt) => rt.starting || !(rt.proc || rt.external))
      .map((rt) => rt.spec.name);
  }

  /** The requested engines and everything they depend on, in dependency order. */
  private closure(names: readonly string[]): Runtime[] {
    const out: Runtime[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const rt = this.ctx.runtime(name);
      for (const d of rt.spec.dependsOn) visit(d);
      out.push(rt);
    };
    for (const n of names) visit(n);
    return out;
  }

  private startOne(rt: Runtime, signal?: AbortSignal): Promise<StartOutcome> {
    if (rt.starting) return rt.starting;
    if (rt.external) return this.external.waitFor(rt, signal);
    if (rt.proc) return Promise.resolve({ name: rt.spec.name, ok: rt.state === 'healthy', state: rt.state, reason: 'already running' });
    const run = new AbortController();
    rt.run = run;
    // The caller gave up (a cancelled progress notification): stop what was started so far.
    const onAbort = () => void stopOne(this.ctx, rt);
    signal?.addEventListener('abort', onAbort, { once: true });
    rt.restarts = 0;
    rt.lastExit = undefined;
    rt.starting = this.startWithRestarts(rt, run.signal).finally(() => {
      rt.starting = undefined;
      signal?.removeEventListener('abort', onAbort);
    });
    return rt.starting;
  }

  /** Resolves true once the engine is healthy, false if it fails, stops or the signal fires. */
  private waitHealthy(rt: Runtime, signal: AbortSignal): Promise<boolean> {
    const { events } = this.ctx;
    return new Promise((resolve) => {
      const check = (s?: EngineSnapshot) => {
        if (s && s.name !== rt.spec.name) return;
        const st = rt.state;
        if (st === 'healthy') finish(true);
        else if (st === 'failed' || st === 'stopped' || signal.aborted) finish(false);
      };
      events.on('change', check);
      const onAbort = () => finish(false);
      signal.addEventListener('abort', onAbort, { once: true });
      function finish(v: boolean) {
        events.off('change', check);
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
  private async attempt(rt: Runtime, signal: AbortSignal): Promise<AttemptResult> {
    const { ctx } = this;
    rt.avoid.clear();
    for (let addrRetry = 0; ; addrRetry++) {
      rt.health = null;
      rt.history = [];
      rt.failures = 0;
      rt.logMatched = false;
      rt.lastLines = undefined;
      rt.healthyAt = null;
      ctx.set(rt, { state: 'waiting', reason: 'waiting for the start lock', errorCode: undefined, exitCode: null, signal: null });
      let turn: SlotTurn;
      try {
        turn = await this.queue.take(rt, signal);
      } catch (e) {
        if (signal.aborted || isEngineRoomError(e, 'lock-cancelled')) return 'fatal';
        const code = isEngineRoomError(e) ? e.code : 'spawn-failed';
        ctx.set(rt, { state: 'failed', reason: errorMessage(e), errorCode: code });
        this.record(rt);
        return code === 'bad-config' ? 'fatal' : 'failed';
      }
      let result;
      try {
        result = await this.untilHealthy(rt, signal, turn);
      } finally {
        turn.passed();
      }
      if (result !== 'addr-in-use') return result;
      if (addrRetry >= EADDRINUSE_RETRIES) {
        ctx.set(rt, { reason: `${rt.reason} (gave up after ${EADDRINUSE_RETRIES} retries with fresh ports)` });
        return 'failed';
      }
      ctx.log('warn', `${rt.spec.name}: a port was taken (EADDRINUSE); retrying with fresh ports`);
    }
  }

  /** Polls health fast until healthy, the start timeout, an exit or a stop. */
  private async untilHealthy(rt: Runtime, signal: AbortSignal, turn: SlotTurn): Promise<AttemptResult | 'addr-in-use'> {
    const { ctx } = this;
    const proc = rt.proc;
    if (!proc) return 'failed';
    const started = rt.startedAt ?? Date.now();
    const deadline = started + rt.spec.startTimeout;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    const gone = () => exited || rt.proc !== proc || signal.aborted;
    const step = async (): Promise<'healthy' | 'failed' | 'gone' | undefined> => {
      for (;;) {
        if (gone()) return 'gone';
        const result = await this.health.probe(rt);
        if (gone()) return 'gone';
        // Its leader exited 0: not healthy before we know whether it left a daemon (that we follow).
        if (proc.settling) return undefined;
        // Without a probe, "healthy" means "still running": give an immediate crash (a bad flag, a
        // missing module) the time to show before we say so.
        const graceLeft = rt.spec.health.probe.kind === 'none' ? started + NO_PROBE_GRACE - Date.now() : 0;
        if (result.ok && graceLeft > 0) {
          await sleep(graceLeft, signal);
          continue;
        }
        if (result.ok) {
          rt.healthyAt = Date.now();
          ctx.set(rt, { state: 'healthy', reason: `healthy after ${((rt.healthyAt - started) / 1000).toFixed(2)} s` });
          turn.passed();
          this.health.healthy(rt, proc, signal);
          return 'healthy';
        }
        if (Date.now() >= deadline) {
          const reason = `not healthy within ${rt.spec.startTimeout / 1000} s (last probe: ${result.detail})`;
          rt.lastLines = rt.follower?.tail(20);
          ctx.set(rt, { state: 'failed', reason, errorCode: 'health-timeout', lastLines: rt.lastLines });
          turn.passed();
          await kill(ctx, rt, proc);
          return 'failed';
        }
        return undefined;
      }
    };
    // A probe of the engine's own port waits first for the port to listen, which is seen within a few
    // milliseconds (src/core/listening.ts); the probe itself then runs at once.
    const port = rt.ports.port;
    const probe = rt.spec.health.probe;
    const ownPort = probe.kind === 'tcp' || (probe.kind === 'http' && !/^https?:\/\//i.test(rt.launch?.httpTarget ?? probe.path));
    if (ownPort && port !== undefined) {
      await untilListening(rt.spec.host, port, { signal, until: deadline, done: gone, timeoutMs: rt.spec.health.timeout });
    }
    const outcome = await poll(step, START_POLL, { signal, until: deadline });
    if (outcome === 'healthy' || outcome === 'failed') return outcome;
    if (signal.aborted) return 'fatal';
    // It exited while starting.
    await rt.gone;
    return rt.errorCode === 'EADDRINUSE' ? 'addr-in-use' : 'failed';
  }
}
