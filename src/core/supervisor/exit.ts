/** The engine's main process exited: clean up the rest of its tree, release the lease, say why. */
import type { EngineProcess, ExitInfo } from '../engineProcess';
import { errorMessage } from '../errors';
import { diagnoseFailure } from '../failure';
import { appendLogNote } from '../logs';
import { describeHolders, portHoldersOf } from '../portHolders';
import type { SupervisorContext } from './context';
import { failureOf } from './lastRuns';
import { dropLease } from './leases';
import type { Runtime, RuntimePatch } from './runtime';
import { stopOwnTree } from './stop';

function blockPorts(block: readonly [number, number] | null): number[] {
  if (!block) return [];
  const out: number[] = [];
  for (let p = block[0]; p <= block[1]; p++) out.push(p);
  return out;
}

export async function onExit(ctx: SupervisorContext, rt: Runtime, proc: EngineProcess, exit: ExitInfo): Promise<void> {
  let stoppedBy: string | undefined;
  try {
    stoppedBy = ctx.registry.read().stops.find((x) => x.key === rt.key && x.enginePid === proc.pid)?.by;
  } catch {
    stoppedBy = undefined;
  }
  if (stoppedBy) rt.run?.abort();
  const stopping = rt.state === 'stopping' || stoppedBy !== undefined;
  // Workers that outlive their parent would keep the ports: take the whole group down.
  await stopOwnTree(ctx, rt, proc);
  rt.follower?.close();
  const lines = rt.follower?.tail(20) ?? [];
  const how = exit.daemon !== undefined ? `its daemon (pid ${exit.daemon}) exited` : exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  appendLogNote(rt.logFile, `${rt.spec.name} ${how}`, (m) => ctx.log('warn', m));
  const stopped = stopping || rt.run?.signal.aborted === true;
  // A health timeout failed it already (and killed it): that failure is recorded with the release.
  const patch = stopped || rt.state === 'failed' ? undefined : failurePatch(rt, exit, how, lines);
  const failure = failureOf(patch ? { ...rt, ...patch } : rt);
  await dropLease(ctx, rt, stopped ? undefined : failure).catch((e) => ctx.log('warn', `could not release the lease of ${rt.spec.name}: ${errorMessage(e)}`));
  if (rt.proc === proc) rt.proc = undefined;
  if (stopped) {
    ctx.set(rt, { state: 'stopped', reason: stoppedBy ? `stopped by ${stoppedBy}` : 'stopped', exitCode: exit.exitCode, signal: exit.signal });
    return;
  }
  if (!patch) return; // health timeout: already reported
  ctx.set(rt, patch);
  rt.lastExit = { exitCode: exit.exitCode, signal: exit.signal, reason: rt.reason ?? how, at: Date.now() };
  // A crash after the start (the start path handles its own retries): restart if the policy says so.
  if (!rt.starting && !ctx.disposed) ctx.crashed(rt);
}

/**
 * Why it exited. EADDRINUSE from evidence: the engine's tree is gone, so whoever holds one of its leased
 * ports now is another program (it is started again on fresh ports). Else its log names the failure.
 */
function failurePatch(rt: Runtime, exit: ExitInfo, how: string, lines: string[]): RuntimePatch {
  const leased = [...Object.values(rt.ports), ...blockPorts(rt.portBlock)];
  const held = exit.exitCode !== null && exit.exitCode !== 0 ? [...portHoldersOf(leased)] : [];
  const diagnosis = diagnoseFailure(lines);
  const base = { state: 'failed', exitCode: exit.exitCode, signal: exit.signal, lastLines: lines } as const;
  if (held.length === 0) {
    const summary = diagnosis.kind === 'unknown' ? '' : `: ${diagnosis.summary}`;
    return { ...base, reason: `${how}${summary}`, errorCode: 'exited', failure: diagnosis };
  }
  for (const p of leased) rt.avoid.add(p);
  const holders = held.map(([port, hs]) => `port ${port} is held by ${describeHolders(hs)}`).join('; ');
  return {
    ...base,
    reason: `${how} (a port was already in use: EADDRINUSE; ${holders})`,
    errorCode: 'EADDRINUSE',
    failure: { ...diagnosis, kind: 'address-in-use', summary: `a port was already in use (EADDRINUSE): ${holders}`, hint: 'Another program took a port leased to this engine: it is started again on fresh ports.' },
  };
}
