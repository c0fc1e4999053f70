/**
 * Scale (issue 15, target 5): N tiny idle engines in one config, and P processes x M engines at once
 * (each process a benchmark worker hosting one supervisor, all sharing one state directory): start
 * (`leaseOnly`), show (`engine-room status --json` on one config, and `status --all --json`, as whole
 * processes) and stop; and the cost of one registry update with 10, 100 and 1,000 leases recorded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Registry, type LeaseRecord } from '../../src/core/registry';
import { selfIdentity } from '../../src/core/platform';
import { summarize, type Summary } from './stats';

export interface ScaleCase {
  readonly label: string;
  readonly processes: number;
  readonly enginesPerProcess: number;
  readonly healthy: number;
  readonly failed: number;
  /** From the start message to the last process's "started" (every engine healthy or failed). */
  readonly startWallMs: number;
  /** Each process's own start wall time. */
  readonly startPerProcessMs: number[];
  readonly statusConfigMs: number;
  readonly statusConfigExit: number;
  readonly statusAllMs: number;
  readonly statusAllExit: number;
  readonly statusAllEngines: number;
  readonly stopWallMs: number;
  readonly notes: string[];
  readonly error?: string;
}

export interface RegistryUpdateCost {
  readonly leases: number;
  readonly fileKiB: number;
  readonly updates: number;
  readonly updateMs: Summary;
}

export interface ScaleFigures {
  readonly cases: ScaleCase[];
  readonly registry: RegistryUpdateCost[];
  readonly sizesNote: string;
}

/** What the orchestrator lends: a fresh worker that runs the idle message, and its close. */
export interface ScaleWorker {
  startIdle(n: number, dir: string): void;
  started(timeoutMs: number): Promise<{ ok: number; failed: number; wallMs: number; notes: string[] } | { error: string }>;
  close(): Promise<void>;
}

function timeCli(cli: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; code: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, code: r.status ?? -1, out: r.stdout ?? '' };
}

export async function scaleCase(args: {
  label: string;
  processes: number;
  enginesPerProcess: number;
  dir: string;
  stateDir: string;
  cli: string;
  newWorker: () => Promise<ScaleWorker>;
}): Promise<ScaleCase> {
  const workers = await Promise.all(Array.from({ length: args.processes }, () => args.newWorker()));
  const dirs = workers.map((_, i) => path.join(args.dir, `p${i}`));
  const t0 = Date.now();
  workers.forEach((w, i) => w.startIdle(args.enginesPerProcess, dirs[i]!));
  const results = await Promise.all(workers.map((w) => w.started(300_000)));
  const startWallMs = Date.now() - t0;
  const base = { label: args.label, processes: args.processes, enginesPerProcess: args.enginesPerProcess };
  const errors = results.filter((r): r is { error: string } => 'error' in r);
  const ok = results.filter((r): r is Exclude<typeof r, { error: string }> => !('error' in r));
  const env = { ...process.env, ENGINE_ROOM_STATE_DIR: args.stateDir };
  const config = path.join(dirs[0]!, 'workspace', '.vscode', 'engines.json');
  const sc = timeCli(args.cli, ['status', '--json', '--config', config], env);
  const sa = timeCli(args.cli, ['status', '--all', '--json'], env);
  let statusAllEngines: number;
  try {
    statusAllEngines = (JSON.parse(sa.out) as { engines: unknown[] }).engines.length;
  } catch {
    statusAllEngines = -1;
  }
  const s0 = Date.now();
  await Promise.all(workers.map((w) => w.close()));
  const stopWallMs = Date.now() - s0;
  return {
    ...base,
    healthy: ok.reduce((a, r) => a + r.ok, 0),
    failed: ok.reduce((a, r) => a + r.failed, 0) + errors.length * args.enginesPerProcess,
    startWallMs,
    startPerProcessMs: ok.map((r) => r.wallMs),
    statusConfigMs: sc.ms,
    statusConfigExit: sc.code,
    statusAllMs: sa.ms,
    statusAllExit: sa.code,
    statusAllEngines,
    stopWallMs,
    notes: ok.flatMap((r) => r.notes).slice(0, 5),
    ...(errors.length ? { error: errors.map((e) => e.error).join('; ') } : {}),
  };
}

/** One registry update (lock, read, prune, change one lease, write) with `n` live leases recorded. */
export async function registryUpdateCost(dir: string, sizes: readonly number[], updates: number): Promise<RegistryUpdateCost[]> {
  const out: RegistryUpdateCost[] = [];
  for (const n of sizes) {
    const stateDir = path.join(dir, `registry-${n}`);
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const reg = new Registry(stateDir);
    const owner = { ...selfIdentity(), id: 'bench', kind: 'other' as const, label: 'bench registry cost' };
    await reg.update((d) => {
      for (let i = 0; i < n; i++) {
        const configFile = `/bench/ws${Math.floor(i / 64)}/.vscode/engines.json`;
        const lease: LeaseRecord = {
          key: `${configFile}#e${i}`,
          name: `e${i}`,
          configFile,
          workspaceFolder: path.dirname(path.dirname(configFile)),
          owner,
          engine: null,
          ports: { port: 20000 + i },
          portBlock: [30000 + 4 * i, 30003 + 4 * i],
          logFile: `/bench/logs/e${i}.log`,
          host: '127.0.0.1',
          probe: { kind: 'http', path: '/health' },
          leasedAt: Date.now(),
          spawnedAt: null,
        };
        d.leases.push(lease);
      }
    });
    const times: number[] = [];
    for (let k = 0; k < updates; k++) {
      const t0 = performance.now();
      await reg.update((d) => {
        const l = d.leases[k % d.leases.length];
        if (l) l.spawnedAt = Date.now();
      });
      times.push(performance.now() - t0);
    }
    const leases = reg.read().leases.length;
    out.push({ leases, fileKiB: fs.statSync(reg.file).size / 1024, updates, updateMs: summarize(times) });
  }
  return out;
}
