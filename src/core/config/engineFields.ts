/**
 * Pass 3, field by field: the port request, durations, the health probe and timings, the restart policy and
 * the environment of one engine, each from its raw field with the defaults filled in.
 */
import { errorMessage } from '../errors';
import type { HealthProbe, HealthSpec, PortRequest, RestartPolicy } from '../model';
import { ENGINE_DEFAULTS, MAX_DURATION_MS, parseDuration } from './defaults';
import type { PathSegment } from './jsonTree';
import { allFieldsRead, type RawDuration, type RawEngine, type RawHealth, type RawPort } from './rawEngine';

/** Reports an error at a field of the engine being built, given by its keys below the engine. */
export type FieldError = (keys: PathSegment[], message: string) => void;

/** Milliseconds of a duration field, `fallback` when it is omitted (or, reported, too long). */
export type DurationOf = (keys: PathSegment[], value: RawDuration | undefined, fallback: number) => number;

export function durationReader(fieldError: FieldError): DurationOf {
  return (keys, v, fallback) => {
    if (v === undefined) return fallback;
    const ms = parseDuration(v);
    if (ms !== undefined) return ms;
    // The schema checked the syntax, so the value is too long for a timer.
    fieldError(keys, `is too long: durations are limited to ${MAX_DURATION_MS} ms (about 24 days); got ${JSON.stringify(v)}`);
    return fallback;
  };
}

export function toPortRequest(port: RawPort | undefined, fieldError: FieldError, keys: PathSegment[]): PortRequest | undefined {
  if (port === 'auto') return { kind: 'auto' };
  if (typeof port === 'number') return { kind: 'fixed', port };
  if (Array.isArray(port)) {
    const [from, to] = port;
    if (from > to) fieldError(keys, `the range [${from}, ${to}] is reversed; write [${to}, ${from}]`);
    return { kind: 'range', from, to };
  }
  return undefined;
}

/** The named ports of `ports`, in the order written. */
export function toNamedPorts(ports: RawEngine['ports'], fieldError: FieldError): Record<string, PortRequest> | undefined {
  if (ports === undefined) return undefined;
  const out: Record<string, PortRequest> = {};
  for (const [name, p] of Object.entries(ports)) {
    const request = toPortRequest(p, fieldError, ['ports', name]);
    if (request !== undefined) out[name] = request;
  }
  return out;
}

const NO_HEALTH: RawHealth = {};

/** The probe (tcp when omitted and the engine has a port, else none) and its timings. */
export function toHealthSpec(
  h: RawHealth | undefined,
  hasPort: boolean,
  fieldError: FieldError,
  duration: DurationOf,
): HealthSpec {
  const { http, expectStatus, tcp, log, command, interval, timeout, failureThreshold, ...unread } = h ?? NO_HEALTH;
  allFieldsRead(unread);
  let probe: HealthProbe;
  if (h === undefined) {
    probe = hasPort ? { kind: 'tcp' } : { kind: 'none' };
  } else if (http !== undefined) {
    if (http.startsWith('/') && !hasPort) {
      fieldError(
        ['health', 'http'],
        `a path probe needs a "port" on this engine; add "port" or give a full URL like "http://127.0.0.1:8080${http}"`,
      );
    }
    const codes = typeof expectStatus === 'number' ? [expectStatus] : expectStatus && [...expectStatus];
    probe = codes === undefined ? { kind: 'http', path: http } : { kind: 'http', path: http, expectStatus: codes };
  } else if (tcp) {
    if (!hasPort) fieldError(['health', 'tcp'], 'a tcp probe needs a "port" on this engine');
    probe = { kind: 'tcp' };
  } else if (log !== undefined) {
    try {
      new RegExp(log);
    } catch (e) {
      fieldError(['health', 'log'], `invalid regular expression: ${errorMessage(e).replace(/^Invalid regular expression: /, '')}`);
    }
    probe = { kind: 'log', pattern: log };
  } else {
    probe = command !== undefined ? { kind: 'command', command: [...command] } : { kind: 'none' };
  }
  const d = ENGINE_DEFAULTS.health;
  return {
    probe,
    interval: duration(['health', 'interval'], interval, d.interval),
    timeout: duration(['health', 'timeout'], timeout, d.timeout),
    failureThreshold: failureThreshold ?? d.failureThreshold,
  };
}

export function toRestartPolicy(r: RawEngine['restart'], duration: DurationOf): RestartPolicy {
  const d = ENGINE_DEFAULTS.restart;
  if (r === undefined || typeof r === 'string') return { ...d, policy: r ?? d.policy };
  const { policy, limit, backoff, maxBackoff, ...unread } = r;
  allFieldsRead(unread);
  return {
    policy,
    limit: limit ?? d.limit,
    backoff: duration(['restart', 'backoff'], backoff, d.backoff),
    maxBackoff: duration(['restart', 'maxBackoff'], maxBackoff, d.maxBackoff),
  };
}

/** Numbers and booleans become strings; `defineProperty` keeps a `__proto__` key a plain key. */
export function toEnvironment(raw: RawEngine['env']): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, v] of Object.entries(raw ?? {})) {
    Object.defineProperty(env, key, { value: String(v), enumerable: true, writable: true, configurable: true });
  }
  return env;
}
