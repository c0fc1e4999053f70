/** Gathering bursts of calls into one, for the host and the webview alike. */

/** A function whose calls debounce() gathers. */
export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Drops the pending call, if any (on dispose). */
  cancel(): void;
}

/**
 * Gathers a burst of calls into one call of `fn`, with the last call's arguments. `from: 'last'` (the
 * default) runs it `ms` after the last call, so a steady stream of calls waits until it settles (saves
 * of a file); `from: 'first'` runs it `ms` after the first, so a steady stream still runs it every `ms`
 * (a redraw on engine events).
 */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number, from: 'first' | 'last' = 'last'): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: A;
  const run = () => {
    timer = undefined;
    fn(...last);
  };
  const debounced = (...args: A): void => {
    last = args;
    if (timer !== undefined) {
      if (from === 'first') return;
      clearTimeout(timer);
    }
    timer = setTimeout(run, ms);
  };
  debounced.cancel = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  return debounced;
}
