/**
 * Waiting in core: one sleep that an AbortSignal cuts short, one growing delay, one poll loop built on
 * the two (the start poll, the wait for another owner's engine, the restart backoff).
 */

/** Resolves after `ms`, or at once when `signal` fires (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A delay that starts at `first` and is multiplied by `factor` after each try, up to `max`. */
export interface Backoff {
  readonly first: number;
  readonly factor: number;
  readonly max: number;
}

/** The delay after try `n` (0-based). */
export function backoffDelay(b: Backoff, n: number): number {
  return Math.min(b.first * b.factor ** n, b.max);
}

export interface PollOptions {
  readonly signal?: AbortSignal;
  /** No sleep reaches past this time (epoch ms); `step` decides what the deadline means. */
  readonly until?: number;
}

/**
 * Calls `step` until it returns a value other than undefined, sleeping the backoff's delay between
 * calls. Returns that value, or undefined once the signal fired.
 */
export async function poll<T>(step: () => Promise<T | undefined>, b: Backoff, opts: PollOptions = {}): Promise<T | undefined> {
  for (let n = 0; ; n++) {
    const result = await step();
    if (result !== undefined) return result;
    if (opts.signal?.aborted) return undefined;
    await sleep(Math.min(backoffDelay(b, n), (opts.until ?? Infinity) - Date.now()), opts.signal);
    if (opts.signal?.aborted) return undefined;
  }
}
