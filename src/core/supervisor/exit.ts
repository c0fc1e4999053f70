/** The engine's main process exited: clean up the rest of its tree, release the lease, say why. */
import type { EngineProcess, ExitInfo } from '../engineProcess';
import { errorMessage } from '../errors';
import { appendLogNote } from '../logs';
import { describeHolders, portHoldersOf } from '../platform';
import type { SupervisorContext } from './context';
import { dropLease } from './leases';
import type { Runtime } from './runtime';
import { stopOwnTree } from './stop';

/**
 * Only a hint: Ray prints "Address already in use" for any GCS start failure. The evidence of a port
 * conflict is another process holding one of the engine's leased ports once its own tree is gone.
 */
const ADDR_IN_USE_TEXT = /EADDRINUSE|address already in use/i;

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
  await dropLease(ctx, rt).catch((e) => ctx.log('warn', `could not release the lease of ${rt.spec.name}: ${errorMessage(e)}`));
  if (rt.proc === proc) rt.proc = undefined;
  if (stopping || rt.run?.signal.aborted) {
    ctx.set(rt, { state: 'stopped', reason: stoppedBy ? `stopped by ${stoppedBy}` : 'stopped', exitCode: exit.exitCode, signal: exit.signal });
    return;
  }
  if (rt.state === 'failed') return; // health timeout: already reported
  const leased = [...Object.values(rt.ports), ...blockPorts(rt.portBlock)];
  // The engine's tree is gone: whoever holds one of its ports now is another program.
  const held = exit.exitCode !== null && exit.exitCode !== 0 ? [...portHoldersOf(leased)] : [];
  const addrInUse = held.length > 0;
  if (addrInUse) for (const p of leased) rt.avoid.add(p);
  const holders = held.map(([port, hs]) => `port ${port} is held by ${describeHolders(hs)}`).join('; ');
  const hintOnly = !addrInUse && lines.some((l) => ADDR_IN_USE_TEXT.test(l));
  ctx.set(rt, {
    state: 'failed',
    reason: addrInUse
      ? `${how} (a port was already in use: EADDRINUSE; ${holders})`
      : `${how}${hintOnly ? ' (its log says "address already in use", but no other program holds its ports: a failure of its own)' : ''}`,
    errorCode: addrInUse ? 'EADDRINUSE' : 'exited',
    exitCode: exit.exitCode,
    signal: exit.signal,
    lastLines: lines,
  });
  rt.lastExit = { exitCode: exit.exitCode, signal: exit.signal, reason: rt.reason ?? how, at: Date.now() };
  // A crash after the start (the start path handles its own retries): restart if the policy says so.
  if (!rt.starting && !ctx.disposed) ctx.crashed(rt);
}
