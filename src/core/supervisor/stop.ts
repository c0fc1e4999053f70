/** Stopping one engine, ours or another owner's, and waiting until its process tree is gone. */
import type { EngineProcess } from '../engineProcess';
import { errorMessage } from '../errors';
import { hostClockMs } from '../platform';
import { describeKilled, stopTree, type EngineProcessRecord, type StopTarget } from '../processTree';
import type { SupervisorContext } from './context';
import { dropForeignLease } from './leases';
import type { Runtime } from './runtime';

/** Stops a tree as the engine's spec says; says whom it had to kill; errors are logged. */
async function stopAs(ctx: SupervisorContext, rt: Runtime, target: StopTarget): Promise<void> {
  const { stopSignal: signal, stopTimeout: timeoutMs, stopSignalTo: to } = rt.spec;
  try {
    const { killed } = await stopTree(target, { signal, timeoutMs, to });
    if (killed.length > 0) ctx.log('warn', `${rt.spec.name} was still running ${timeoutMs / 1000} s after ${signal}: killed ${describeKilled(killed)} with SIGKILL`);
  } catch (e) {
    ctx.log('error', errorMessage(e));
  }
}

/** Stops our engine's whole tree (its group, workers seen to leave it, every process with its marker). */
export async function stopOwnTree(ctx: SupervisorContext, rt: Runtime, proc: EngineProcess): Promise<void> {
  await stopAs(ctx, rt, { record: proc.record, marker: proc.marker, known: proc.knownDescendants() });
  // A daemon we follow is gone now: its exit need not wait for the next poll.
  proc.wake();
}

/** Stops our engine and waits until its exit is handled (lease released, state reported). */
export async function kill(ctx: SupervisorContext, rt: Runtime, proc: EngineProcess): Promise<void> {
  await stopOwnTree(ctx, rt, proc);
  await rt.gone;
}

export async function stopOne(ctx: SupervisorContext, rt: Runtime): Promise<void> {
  rt.run?.abort();
  const proc = rt.proc;
  if (proc) {
    ctx.set(rt, { state: 'stopping', reason: 'stopping' });
    await kill(ctx, rt, proc);
  } else if (rt.external?.engine) {
    const lease = rt.external;
    const engine: EngineProcessRecord = rt.external.engine;
    ctx.set(rt, { state: 'stopping', reason: `stopping (started by ${lease.owner.label})` });
    // Tell the owner that this exit is a stop, not a crash to report or restart. A stop never needs
    // this write (a full disk): without it the owner reports an exit, and the lease of a dead engine is
    // pruned by the next update that can write.
    const unrecorded = (what: string) => (e: unknown) => ctx.log('warn', `${rt.spec.name}: ${what}: ${errorMessage(e)}`);
    await ctx.registry
      .update((data) => {
        data.stops.push({ key: lease.key, enginePid: engine.pid, by: ctx.owner.label, at: hostClockMs() });
      })
      .catch(unrecorded('the stop was not recorded'));
    await stopAs(ctx, rt, { record: engine, marker: lease.marker });
    await dropForeignLease(ctx, lease).catch(unrecorded('its lease was not released'));
    rt.external = undefined;
    rt.health = null;
    ctx.set(rt, { state: 'stopped', reason: 'stopped' });
  } else if (rt.state !== 'stopped') {
    await rt.starting?.catch(() => {});
    ctx.set(rt, { state: 'stopped', reason: rt.state === 'failed' ? rt.reason : 'stopped' });
  }
}
