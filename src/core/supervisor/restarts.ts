/**
 * Restarts under `restart: "on-failure"`: one doubling backoff for a start that failed and for a
 * crash after the start. A waiting restart never holds the start lock.
 */
import { backoffDelay, sleep } from '../poll';
import { cancelled, type SupervisorContext } from './context';
import type { Runtime } from './runtime';
import type { StartOutcome } from './types';

/** How long to wait before the next restart, or undefined when the policy allows none. */
export function restartDelay(rt: Runtime): number | undefined {
  const policy = rt.spec.restart;
  if (policy.policy !== 'on-failure' || rt.restarts >= policy.limit) return undefined;
  return backoffDelay({ first: policy.backoff, factor: 2, max: policy.maxBackoff }, rt.restarts);
}

/** Counts the restart, says when it comes, and waits for it (cut short by `signal`). */
export async function waitToRestart(ctx: SupervisorContext, rt: Runtime, delay: number, signal: AbortSignal): Promise<void> {
  rt.restarts++;
  ctx.set(rt, { nextRestartAt: Date.now() + delay, reason: `${rt.reason}; restart ${rt.restarts}/${rt.spec.restart.limit} in ${(delay / 1000).toFixed(1)} s` });
  await sleep(delay, signal);
  ctx.set(rt, { nextRestartAt: null });
}

/** A crash after the start: restart with the backoff if the policy says so; `start` runs the new start. */
export function restartAfterCrash(ctx: SupervisorContext, rt: Runtime, start: (signal: AbortSignal) => Promise<StartOutcome>): void {
  const delay = restartDelay(rt);
  if (delay === undefined) return;
  const run = new AbortController();
  rt.run = run;
  rt.starting = (async (): Promise<StartOutcome> => {
    await waitToRestart(ctx, rt, delay, run.signal);
    if (run.signal.aborted || ctx.disposed) return cancelled(ctx, rt);
    return start(run.signal);
  })().finally(() => {
    rt.starting = undefined;
  });
}
