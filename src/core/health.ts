/**
 * Health probes. Each result carries its latency. The timing policy (fast while starting, the configured
 * interval once healthy) lives in the supervisor; this module runs one probe.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { execa } from 'execa';
import type { HealthProbe } from './model';
import { errorMessage } from './errors';
import { httpUrl } from '../shared/url';
import { httpProbe } from './httpProbe';

export interface HealthResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Epoch ms when the probe finished. */
  readonly at: number;
  /** "HTTP 200", "connection refused", "exit 1", ... */
  readonly detail: string;
}

export interface ProbeContext {
  readonly host: string;
  readonly port?: number;
  readonly timeoutMs: number;
  /** For `log` probes: has a line matched since this start? */
  readonly logMatched?: () => boolean;
  /** For `command` probes: the expanded argv, cwd and environment. */
  readonly command?: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** For `http` probes: the expanded path or URL. */
  readonly httpTarget?: string;
  readonly signal?: AbortSignal;
}

/** The URL an http probe asks: its target when that is a whole URL, else the target as a path on the engine's port. */
function probeUrl(host: string, port: number | undefined, target: string): string | undefined {
  if (/^https?:\/\//i.test(target)) return target;
  return port === undefined ? undefined : httpUrl(host, port, target.startsWith('/') ? target : `/${target}`);
}

/** Resolves true once a TCP connection to host:port succeeds. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | true> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (v: string | true) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer in ${timeoutMs} ms`));
    socket.once('connect', () => done(true));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'connection refused' : errorMessage(e)));
  });
}

async function commandProbe(ctx: ProbeContext): Promise<string | true> {
  const [file, ...args] = ctx.command ?? [];
  if (!file) return 'no command';
  const r = await execa(file, args, {
    cwd: ctx.cwd,
    env: ctx.env ? { ...ctx.env } : undefined,
    extendEnv: ctx.env === undefined,
    timeout: ctx.timeoutMs,
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
    cancelSignal: ctx.signal,
  });
  if (r.timedOut) return `no answer in ${ctx.timeoutMs} ms`;
  return r.exitCode === 0 ? true : r.exitCode === undefined ? (r.shortMessage ?? 'failed') : `exit ${r.exitCode}`;
}

/** Runs one probe; never throws. */
export async function probeOnce(probe: HealthProbe, ctx: ProbeContext): Promise<HealthResult> {
  const t0 = performance.now();
  let outcome: string | true;
  try {
    switch (probe.kind) {
      case 'http': {
        const url = probeUrl(ctx.host, ctx.port, ctx.httpTarget ?? probe.path);
        outcome = url === undefined ? 'no port' : await httpProbe(url, probe.expectStatus, ctx.timeoutMs);
        break;
      }
      case 'tcp':
        outcome = ctx.port === undefined ? 'no port' : await tcpProbe(ctx.host, ctx.port, ctx.timeoutMs);
        break;
      case 'log':
        outcome = ctx.logMatched?.() ? true : 'log line not seen yet';
        break;
      case 'command':
        outcome = await commandProbe(ctx);
        break;
      case 'none':
        outcome = true;
        break;
    }
  } catch (e) {
    outcome = errorMessage(e);
  }
  const latencyMs = Math.round((performance.now() - t0) * 10) / 10;
  const detail = outcome === true ? (probe.kind === 'http' ? 'HTTP ok' : 'ok') : outcome;
  return { ok: outcome === true, latencyMs, at: Date.now(), detail };
}

/**
 * The model ids an OpenAI-compatible server serves (`GET /v1/models`), or undefined when it does not
 * answer that way. Never throws.
 */
export function fetchModels(host: string, port: number, timeoutMs: number): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const req = http.get(httpUrl(host, port, '/v1/models'), { timeout: timeoutMs, agent: false }, (res) => {
      if ((res.statusCode ?? 0) !== 200) {
        res.resume();
        return resolve(undefined);
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 1 << 20) req.destroy();
      });
      res.on('end', () => {
        try {
          const data = (JSON.parse(body) as { data?: unknown }).data;
          resolve(Array.isArray(data) ? data.map((m) => (m as { id?: unknown }).id).filter((id): id is string => typeof id === 'string') : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.on('error', () => resolve(undefined));
  });
}
