/** The limits of a config file and the values of the fields it leaves out. */
import type { HealthSpec, RestartPolicy, StartLockMode } from '../model';

/** Larger files are refused before parsing: a config this big is a mistake, and parsing it would stall. */
export const MAX_CONFIG_BYTES = 5 * 1024 * 1024;

/** Longest duration: Node's timers fire at once for anything longer than a signed 32-bit millisecond count. */
export const MAX_DURATION_MS = 2_147_483_647;

/** The values used when a field is omitted; the schema's `default`s say the same (a test checks it). */
export const ENGINE_DEFAULTS = {
  shell: false,
  host: '127.0.0.1',
  startTimeout: 120_000,
  stopTimeout: 10_000,
  stopSignal: 'SIGTERM',
  stopSignalTo: 'group',
  startLock: 'untilHealthy',
  health: { interval: 5_000, timeout: 2_000, failureThreshold: 3 },
  restart: { policy: 'no', limit: 5, backoff: 1_000, maxBackoff: 30_000 },
} as const satisfies {
  shell: boolean;
  host: string;
  startTimeout: number;
  stopTimeout: number;
  stopSignal: NodeJS.Signals;
  stopSignalTo: 'group' | 'leader';
  startLock: StartLockMode;
  health: Omit<HealthSpec, 'probe'>;
  restart: RestartPolicy;
};

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a duration: a non-negative integer of milliseconds, or a string like `"500ms"`, `"30s"`,
 * `"5m"`, `"1h"`, `"1.5s"` (rounded to whole milliseconds). `undefined` when invalid or over
 * {@link MAX_DURATION_MS}.
 */
export function parseDuration(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return undefined;
    ms = value;
  } else if (typeof value === 'string') {
    const m = DURATION.exec(value);
    if (!m) return undefined;
    ms = Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN));
  } else {
    return undefined;
  }
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The problem message for a file over {@link MAX_CONFIG_BYTES}. */
export function tooLargeMessage(bytes: number): string {
  return `the file is ${(bytes / 1024 / 1024).toFixed(1)} MiB; config files larger than 5 MiB are refused`;
}
