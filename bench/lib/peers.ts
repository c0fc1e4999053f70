/**
 * Peers in the same run (issue 15, target 4): PM2 and `concurrently` (the real packages, dev dependencies
 * of this repo) start the benchmark's fake vLLM-like engines as real processes, in two real-world
 * scenarios: one copy-pasted `VLLM_PORT` for every engine, and port-0 internal picks (the fake's
 * contention mode, a narrow shared range, as in every other strategy of the benchmark). The harness
 * probes every engine's `GET /health` every 10 ms until all are healthy or the cap is reached, then
 * kills the tool (PM2: `pm2 kill` of its private PM2_HOME; concurrently: its process group).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { execFile, spawn } from 'node:child_process';

export type PeerTool = 'pm2' | 'concurrently';
export type PeerScenario = 'vllmPort' | 'port0';

export interface PeerRun {
  readonly tool: PeerTool;
  readonly scenario: PeerScenario;
  readonly round: number;
  readonly engines: number;
  readonly capMs: number;
  readonly allHealthy: boolean;
  /** From the tool's command to the last engine seen healthy; null when they never all were within the cap. */
  readonly timeToAllHealthyMs: number | null;
  readonly healthyAtEnd: number;
  /** EADDRINUSE lines in the engines' output (one per failed start). */
  readonly collisions: number;
  /** Starts of engines beyond the first of each ("at ... start" lines - engines). */
  readonly restarts: number;
  /** Why the run ended before the cap: every engine healthy, or the tool gave up (no engine process left). */
  readonly ended: 'all healthy' | 'gave up' | 'cap';
  readonly error?: string;
}

export interface PeerSetup {
  readonly root: string;
  readonly dir: string;
  readonly python: string;
  readonly fake: string;
  readonly loads: readonly number[];
  readonly servingPorts: readonly number[];
  /** The one VLLM_PORT of the copy-pasted scenario. */
  readonly vllmPort: number;
  readonly contention: readonly [number, number];
  readonly internal: number;
  readonly capMs: number;
  /** The run's marker variable, so that the final sweep finds anything left behind. */
  readonly env: NodeJS.ProcessEnv;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 500, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

function fakeArgs(s: PeerSetup, i: number, scenario: PeerScenario): string[] {
  const args = [s.fake, '--port', String(s.servingPorts[i]), '--internal', String(s.internal), '--load', s.loads[i]!.toFixed(3), '--timestamps'];
  // Port-0 picks in the benchmark's contention range; with VLLM_PORT set the fake scans up from it, as vLLM.
  if (scenario === 'port0') args.push('--contention', `${s.contention[0]}-${s.contention[1]}`);
  return args;
}

function countLines(text: string): { collisions: number; starts: number } {
  return { collisions: (text.match(/EADDRINUSE/g) ?? []).length, starts: (text.match(/\] at [\d.]+ start$/gm) ?? []).length };
}

function readAll(files: readonly string[]): string {
  return files.map((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')).join('\n');
}

/** Probes every serving port until all are healthy, `gaveUp()` says the tool has no engine left, or the cap. */
async function watch(ports: readonly number[], t0: number, capMs: number, gaveUp: () => boolean | Promise<boolean>) {
  const firstHealthy: Array<number | null> = ports.map(() => null);
  let lastGaveUpCheck = 0;
  for (;;) {
    const now = Date.now();
    const up = await Promise.all(ports.map((p, i) => (firstHealthy[i] !== null ? true : healthy(p))));
    up.forEach((ok, i) => {
      if (ok && firstHealthy[i] === null) firstHealthy[i] = Date.now();
    });
    if (firstHealthy.every((t) => t !== null)) return { ended: 'all healthy' as const, at: Math.max(...(firstHealthy as number[])) - t0 };
    if (now - t0 > capMs) return { ended: 'cap' as const, at: null };
    if (now - lastGaveUpCheck > 1000) {
      lastGaveUpCheck = now;
      if (await gaveUp()) return { ended: 'gave up' as const, at: null };
    }
    await sleep(10);
  }
}

async function finalHealthy(ports: readonly number[]): Promise<number> {
  return (await Promise.all(ports.map(healthy))).filter(Boolean).length;
}

/** PM2: an ecosystem file, `pm2 start` under a private PM2_HOME (its defaults: autorestart, max 16 unstable restarts). */
export async function pm2Run(s: PeerSetup, scenario: PeerScenario, round: number): Promise<PeerRun> {
  const dir = path.join(s.dir, `pm2-${scenario}-${round}`);
  fs.mkdirSync(dir, { recursive: true });
  const home = path.join(dir, 'pm2home');
  const env = { ...s.env, PM2_HOME: home };
  const logs: string[] = [];
  const apps = s.loads.map((_, i) => {
    const out = path.join(dir, `e${i}.out.log`);
    const err = path.join(dir, `e${i}.err.log`);
    logs.push(out, err);
    return {
      name: `e${i}`,
      script: s.python,
      args: fakeArgs(s, i, scenario),
      interpreter: 'none',
      autorestart: true,
      out_file: out,
      error_file: err,
      env: scenario === 'vllmPort' ? { VLLM_PORT: String(s.vllmPort) } : {},
    };
  });
  const eco = path.join(dir, 'ecosystem.json');
  fs.writeFileSync(eco, JSON.stringify({ apps }, null, 1));
  const pm2 = path.join(s.root, 'node_modules', 'pm2', 'bin', 'pm2');
  const base = { tool: 'pm2' as const, scenario, round, engines: s.loads.length, capMs: s.capMs };
  const t0 = Date.now();
  try {
    const started = await run(process.execPath, [pm2, 'start', eco], env);
    if (started.code !== 0) return { ...base, allHealthy: false, timeToAllHealthyMs: null, healthyAtEnd: 0, collisions: 0, restarts: 0, ended: 'cap', error: `pm2 start: ${started.out.slice(-300)}` };
    const gaveUp = async () => {
      const l = await run(process.execPath, [pm2, 'jlist'], env, 20_000);
      try {
        const list = JSON.parse(l.out.slice(l.out.indexOf('['))) as Array<{ pm2_env?: { status?: string } }>;
        return list.length > 0 && list.some((p) => p.pm2_env?.status === 'errored') && list.every((p) => p.pm2_env?.status === 'errored' || p.pm2_env?.status === 'online');
      } catch {
        return false;
      }
    };
    const w = await watch(s.servingPorts, t0, s.capMs, async () => (await gaveUp()) && (await finalHealthy(s.servingPorts)) < s.servingPorts.length);
    const healthyAtEnd = await finalHealthy(s.servingPorts);
    const c = countLines(readAll(logs));
    return { ...base, allHealthy: w.ended === 'all healthy', timeToAllHealthyMs: w.at, healthyAtEnd, collisions: c.collisions, restarts: Math.max(0, c.starts - s.loads.length), ended: w.ended };
  } finally {
    await run(process.execPath, [pm2, 'kill'], env, 30_000);
  }
}

/** concurrently: its CLI with one command per engine (its defaults: no restart). */
export async function concurrentlyRun(s: PeerSetup, scenario: PeerScenario, round: number): Promise<PeerRun> {
  const dir = path.join(s.dir, `concurrently-${scenario}-${round}`);
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'out.log');
  const fd = fs.openSync(log, 'w');
  const bin = path.join(s.root, 'node_modules', 'concurrently', 'dist', 'bin', 'concurrently.js');
  // concurrently strips quotes around a whole command, so a word is quoted only when it needs to be.
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const commands = s.loads.map((_, i) => [s.python, ...fakeArgs(s, i, scenario)].map(quote).join(' '));
  const env = { ...s.env, ...(scenario === 'vllmPort' ? { VLLM_PORT: String(s.vllmPort) } : {}) };
  const base = { tool: 'concurrently' as const, scenario, round, engines: s.loads.length, capMs: s.capMs };
  const t0 = Date.now();
  const child = spawn(process.execPath, [bin, '--names', s.loads.map((_, i) => `e${i}`).join(','), ...commands], { env, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('error', () => (exited = true));
  try {
    const w = await watch(s.servingPorts, t0, s.capMs, () => exited || /exited with code [1-9]/.test(fs.readFileSync(log, 'utf8')));
    const healthyAtEnd = await finalHealthy(s.servingPorts);
    const c = countLines(fs.readFileSync(log, 'utf8'));
    return { ...base, allHealthy: w.ended === 'all healthy', timeToAllHealthyMs: w.at, healthyAtEnd, collisions: c.collisions, restarts: Math.max(0, c.starts - s.loads.length), ended: w.ended };
  } finally {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // gone
      }
      if (sig === 'SIGTERM') await sleep(1500);
    }
  }
}
