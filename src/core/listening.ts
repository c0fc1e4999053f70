/**
 * Waiting for a port to accept connections. No portable interface tells one process of another's
 * listen(), so this polls; on loopback a refused connection costs a few tens of microseconds, so it
 * polls often: every 2 ms at first, growing by a tenth a try to 10 ms (then about a hundred refused
 * connections a second, near 0.3% of a core, while an engine loads its model). A port that starts to
 * listen is seen within a few milliseconds; then the engine's own probe decides whether it is healthy.
 */
import { tcpProbe } from './health';
import { poll, type Backoff } from './poll';

export const LISTEN_POLL: Backoff = { first: 2, factor: 1.1, max: 10 };

export interface ListenWait {
  readonly signal?: AbortSignal;
  /** Give up at this time (epoch ms). */
  readonly until?: number;
  /** Give up once this says so (the engine exited, the wait is no longer needed). */
  readonly done?: () => boolean;
  /** Each try's connect timeout (a host that drops packets instead of refusing). */
  readonly timeoutMs?: number;
}

/** Resolves true once host:port accepts a connection; false when the wait ended first. */
export async function untilListening(host: string, port: number, w: ListenWait = {}): Promise<boolean> {
  const timeout = w.timeoutMs ?? 1000;
  const step = async (): Promise<boolean | undefined> => {
    if (w.done?.() || (w.until !== undefined && Date.now() >= w.until)) return false;
    return (await tcpProbe(host, port, timeout)) === true ? true : undefined;
  };
  return (await poll(step, LISTEN_POLL, { signal: w.signal, until: w.until })) ?? false;
}
