/** Durations and sizes as people read them, for the host and the webview alike. */

/** An uptime, to the second below a minute: `42s`, `3m 5s`, `2h 7m`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** A short delay or time taken, in seconds with `digits` decimals: `1.5 s`. */
export function formatSeconds(ms: number, digits = 1): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}

/** GPU memory, given in MiB: `1.5 GiB`. */
export function formatGiB(mib: number): string {
  return `${(mib / 1024).toFixed(1)} GiB`;
}
