/**
 * A benchmark worker: one OS process that starts engines with one strategy when the orchestrator
 * (bench/run.ts) says go, like one VS Code window or one terminal would. Three of them run at once for
 * the "three processes" figures. It also hosts the supervisor whose costs are measured (64 idle engines,
 * a log flood), so that the orchestrator can read its CPU time and memory from /proc.
 *
 * Baselines (unprotected, random sleep, file lock) are what users script by hand: pick a serving port
 * port-0 style just before the spawn, spawn in a new process group with the output going to a log file,
 * poll GET /health. The poll schedule is the core's own (20 ms, growing by a fifth up to 100 ms), so that
 * the wall times compare the strategies and not the polling.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import lockfile from 'proper-lockfile';
import { parseConfig, formatProblem } from '../src/core/config';
import { Supervisor } from '../src/core/supervisor/supervisor';
import { START_POLL } from '../src/core/supervisor/startQueue';
import { untilListening } from '../src/core/listening';
import { backoffDelay } from '../src/core/poll';
import type { EngineOutcome, FloodRequest, FromWorker, IdleRequest, LongLineRequest, ToWorker, TrialRequest } from './lib/protocol';

/** proper-lockfile retry settings of the file-lock baseline: a waiter re-tries every 10-100 ms. */
const FILELOCK_RETRIES = { retries: 100_000, factor: 1.5, minTimeout: 10, maxTimeout: 100 };

const send = (m: FromWorker) => process.send?.(m);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

// ---------------------------------------------------------------------------------------------------
// Baselines

/** The serving port, picked the way users do: bind port 0, read the number, close. */
function pickPort0(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function httpOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
  });
}

interface Spawned {
  readonly child: ChildProcess;
  exited: boolean;
  readonly exit: Promise<void>;
}

class BaselineRun {
  private readonly children: Spawned[] = [];
  private aborted = false;

  constructor(private readonly req: TrialRequest) {}

  async start(): Promise<EngineOutcome[]> {
    return Promise.all(
      this.req.engines.map((e) =>
        this.one(e.name, e.load).catch((err: unknown): EngineOutcome => ({
          name: e.name,
          worker: this.req.worker,
          ok: false,
          state: 'failed',
          reason: `harness error: ${errorText(err)}`,
          spawnAt: null,
          healthyAt: null,
          settledAt: Date.now(),
          spawns: 0,
          logFile: path.join(this.req.dir, `${e.name}.log`),
        })),
      ),
    );
  }

  private async one(name: string, load: number): Promise<EngineOutcome> {
    const { req } = this;
    const logFile = path.join(req.dir, `${name}.log`);
    const base = { name, worker: req.worker, logFile, spawns: 0 };
    if (req.strategy === 'sleep') await sleep(1500 + Math.random() * 1500);
    let release: (() => Promise<void>) | undefined;
    if (req.strategy === 'filelock') {
      release = await lockfile.lock(req.lockFile, {
        realpath: false,
        retries: FILELOCK_RETRIES,
        onCompromised: () => {},
      });
    }
    try {
      if (this.aborted) return { ...base, ok: false, state: 'stopped', spawnAt: null, healthyAt: null, settledAt: Date.now() };
      const port = await pickPort0();
      const fd = fs.openSync(logFile, 'a', 0o600);
      let child: ChildProcess;
      try {
        const args = [req.fake, '--port', String(port), '--internal', String(req.internal), '--load', load.toFixed(3), '--contention', `${req.contention[0]}-${req.contention[1]}`, '--timestamps'];
        child = spawn(req.python, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
      } finally {
        fs.closeSync(fd);
      }
      const spawnAt = Date.now();
      const sp: Spawned = {
        child,
        exited: false,
        exit: new Promise<void>((resolve) => {
          child.once('exit', () => {
            sp.exited = true;
            resolve();
          });
          child.once('error', () => {
            sp.exited = true;
            resolve();
          });
        }),
      };
      this.children.push(sp);
      const deadline = spawnAt + req.startTimeoutMs;
      // The core's readiness detection, so that the baselines are seen ready as soon as Engine Room would.
      await untilListening('127.0.0.1', port, { until: deadline, done: () => sp.exited || this.aborted });
      for (let n = 0; !sp.exited && !this.aborted && Date.now() < deadline; n++) {
        const ok = await httpOk(port);
        if (ok && !sp.exited) {
          const t = Date.now();
          return { ...base, spawns: 1, ok: true, state: 'healthy', spawnAt, healthyAt: t, settledAt: t };
        }
        await Promise.race([sleep(backoffDelay(START_POLL, n)), sp.exit]);
      }
      const reason = sp.exited ? `exited with code ${child.exitCode}` : this.aborted ? 'stopped' : 'start timeout';
      return { ...base, spawns: 1, ok: false, state: 'failed', reason, spawnAt, healthyAt: null, settledAt: Date.now() };
    } finally {
      await release?.().catch(() => {});
    }
  }

  async stop(): Promise<number[]> {
    this.aborted = true;
    await Promise.all(
      this.children.map(async (sp) => {
        const pid = sp.child.pid;
        if (pid === undefined || sp.exited) return;
        try {
          process.kill(-pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await Promise.race([sp.exit, sleep(3000)]);
        if (!sp.exited) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await Promise.race([sp.exit, sleep(2000)]);
        }
      }),
    );
    return this.children.filter((sp) => sp.child.pid !== undefined && groupAlive(sp.child.pid)).map((sp) => sp.child.pid as number);
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Engine Room

function makeSupervisor(file: string, config: unknown, stateDir: string, ranges: TrialRequest['ranges'], label: string): Supervisor {
  const text = JSON.stringify(config, null, 2);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const loaded = parseConfig(text, file, path.dirname(path.dirname(file)));
  if (!loaded.config) throw new Error(`bad benchmark config: ${loaded.problems.map(formatProblem).join('\n')}`);
  return new Supervisor({ config: loaded.config, stateDir, ownerKind: 'other', ownerLabel: label, ranges: { auto: ranges.auto, blocks: ranges.blocks } });
}

class EngineRoomRun {
  readonly sup: Supervisor;
  private readonly settledAt = new Map<string, number>();
  private readonly pids = new Map<string, Set<number>>();

  constructor(private readonly req: TrialRequest) {
    const untilHealthy = req.strategy === 'er-untilHealthy';
    const engines = req.engines.map((e) => ({
      name: e.name,
      // The same engine as the baselines' (contention mode included); in leaseOnly mode VLLM_PORT takes
      // precedence over it, as in vLLM's get_open_port().
      command: [req.python, req.fake, '--port', '${port}', '--internal', String(req.internal), '--load', e.load.toFixed(3), '--contention', `${req.contention[0]}-${req.contention[1]}`, '--timestamps'],
      ...(untilHealthy ? {} : { env: { VLLM_PORT: '${portBlock}' }, portBlock: req.internal }),
      port: 'auto',
      health: { http: '/health' },
      startLock: untilHealthy ? 'untilHealthy' : 'leaseOnly',
      startTimeout: req.startTimeoutMs,
      stopTimeout: 3000,
    }));
    const file = path.join(req.dir, 'workspace', '.vscode', 'engines.json');
    this.sup = makeSupervisor(file, { engines }, req.stateDir, req.ranges, `bench worker ${req.worker}`);
    this.sup.on('change', (s) => {
      if (s.state === 'healthy' || s.state === 'failed') this.settledAt.set(s.name, Date.now());
      if (s.pid !== null) {
        const set = this.pids.get(s.name) ?? new Set<number>();
        set.add(s.pid);
        this.pids.set(s.name, set);
      }
    });
  }

  async start(): Promise<EngineOutcome[]> {
    await this.sup.start();
    return this.sup.snapshots().map((s) => ({
      name: s.name,
      worker: this.req.worker,
      ok: s.state === 'healthy',
      state: s.state,
      reason: s.reason,
      spawnAt: s.startedAt,
      healthyAt: s.healthyAt,
      settledAt: s.state === 'healthy' ? s.healthyAt : (this.settledAt.get(s.name) ?? Date.now()),
      spawns: this.pids.get(s.name)?.size ?? 0,
      logFile: s.logFile,
    }));
  }

  async stop(): Promise<number[]> {
    const pids = this.sup.snapshots().map((s) => s.pid).filter((p): p is number => p !== null);
    await this.sup.dispose();
    return pids.filter(groupAlive);
  }
}

// ---------------------------------------------------------------------------------------------------
// The message loop

interface Current {
  start(): Promise<unknown>;
  stop(): Promise<number[]>;
}

let current: { run: Current; req: TrialRequest | IdleRequest | FloodRequest | LongLineRequest } | undefined;

function rss(): number {
  return process.memoryUsage().rss;
}

async function prepareTrial(req: TrialRequest): Promise<void> {
  fs.mkdirSync(req.dir, { recursive: true, mode: 0o700 });
  const run = req.strategy.startsWith('er-') ? new EngineRoomRun(req) : new BaselineRun(req);
  current = { run, req };
  send({ type: 'prepared', trialId: req.trialId });
}

async function go(goAt: number): Promise<void> {
  const cur = current;
  if (!cur || !('strategy' in cur.req)) throw new Error('go without a prepared trial');
  await sleep(goAt - Date.now());
  const startLateMs = Date.now() - goAt;
  const engines = (await cur.run.start()) as EngineOutcome[];
  send({ type: 'settled', trialId: cur.req.trialId, engines, startLateMs, notes: [] });
}

/** 64 (n) tiny idle engines under one supervisor, leaseOnly so that they come up together. */
async function idle(req: IdleRequest): Promise<void> {
  fs.mkdirSync(req.dir, { recursive: true, mode: 0o700 });
  const engines = Array.from({ length: req.n }, (_, i) => ({
    name: `idle${i}`,
    command: [req.python, req.idleEngine, '${port}'],
    port: 'auto',
    health: { http: '/health' },
    startLock: 'leaseOnly',
    stopTimeout: 3000,
  }));
  const sup = makeSupervisor(path.join(req.dir, 'workspace', '.vscode', 'engines.json'), { engines }, req.stateDir, req.ranges, 'bench idle supervisor');
  current = { run: { start: async () => undefined, stop: async () => {
    const pids = sup.snapshots().map((s) => s.pid).filter((p): p is number => p !== null);
    await sup.dispose();
    return pids.filter(groupAlive);
  } }, req };
  const rssBefore = rss();
  const t0 = Date.now();
  const outcomes = await sup.start();
  // Like `engine-room up` in the foreground: the registry is watched for other owners' engines.
  sup.watch();
  const ok = outcomes.filter((o) => o.ok).length;
  send({ type: 'started', ok, failed: outcomes.length - ok, wallMs: Date.now() - t0, rssBefore, notes: outcomes.filter((o) => !o.ok).map((o) => `${o.name}: ${o.reason}`).slice(0, 5) });
}

/** One engine that floods its log; the orchestrator samples our memory meanwhile. */
async function flood(req: FloodRequest): Promise<void> {
  fs.mkdirSync(req.dir, { recursive: true, mode: 0o700 });
  const engines = [{
    name: 'flood',
    command: [process.execPath, req.flood, '--seconds', String(req.seconds), '--count-file', req.countFile],
    stopTimeout: 3000,
  }];
  const sup = makeSupervisor(path.join(req.dir, 'workspace', '.vscode', 'engines.json'), { engines }, req.stateDir, { auto: [10000, 10001], blocks: [10002, 10003] }, 'bench flood supervisor');
  let linesSeen = 0;
  // Like `engine-room up` in the foreground or the extension's log view: someone listens to the lines.
  sup.on('line', () => linesSeen++);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  current = { run: { start: async () => undefined, stop: async () => {
    const pids = sup.snapshots().map((s) => s.pid).filter((p): p is number => p !== null);
    await sup.dispose();
    return pids.filter(groupAlive);
  } }, req };
  const heapBefore = process.memoryUsage().heapUsed;
  const outcomes = await sup.start();
  // Report once the flood has ended (the count file exists) and the supervisor's follower caught up.
  while (!fs.existsSync(req.countFile)) await sleep(100);
  const written = Number(fs.readFileSync(req.countFile, 'utf8'));
  const deadline = Date.now() + 60_000;
  while (linesSeen < written && Date.now() < deadline) await sleep(100);
  delay.disable();
  send({
    type: 'floodDone',
    linesSeen,
    state: `${outcomes[0]?.state}: ${outcomes[0]?.reason ?? ''}`,
    logFile: sup.snapshot('flood').logFile,
    loopDelayMaxMs: delay.max / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    heapBefore,
    heapAfter: process.memoryUsage().heapUsed,
  });
}

/** One engine that writes one huge line once told to; reports when its supervisor has followed it to the end. */
async function longline(req: LongLineRequest): Promise<void> {
  fs.mkdirSync(req.dir, { recursive: true, mode: 0o700 });
  const engines = [{
    name: 'bar',
    command: [process.execPath, req.engine, '--port', '${port}', '--mb', String(req.mb), '--cr', '--go', req.go],
    port: 'auto',
    health: { http: '/', interval: 200 },
    stopTimeout: 3000,
  }];
  const sup = makeSupervisor(path.join(req.dir, 'workspace', '.vscode', 'engines.json'), { engines }, req.stateDir, { auto: [10000, 10001], blocks: [10002, 10003] }, 'bench longline supervisor');
  let done = false;
  let unhealthy = 0;
  sup.on('line', (_name, line) => {
    if (line === 'flood done') done = true;
  });
  sup.on('change', (s) => {
    if (s.state !== 'healthy') unhealthy++;
  });
  current = { run: { start: async () => undefined, stop: async () => {
    const pids = sup.snapshots().map((s) => s.pid).filter((p): p is number => p !== null);
    await sup.dispose();
    return pids.filter(groupAlive);
  } }, req };
  const [outcome] = await sup.start();
  unhealthy = 0;
  send({ type: 'longlineReady', state: `${outcome?.state}: ${outcome?.reason ?? ''}` });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const deadline = Date.now() + 120_000;
  while (!done && Date.now() < deadline) await sleep(50);
  delay.disable();
  const snap = sup.snapshot('bar');
  send({ type: 'longlineDone', state: done ? snap.state : `not followed to the end in 120 s (${snap.state})`, unhealthy, logFile: snap.logFile, loopDelayMaxMs: delay.max / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6 });
}

async function stop(): Promise<void> {
  const cur = current;
  current = undefined;
  const leftover = cur ? await cur.run.stop() : [];
  send({ type: 'stopped', leftover });
}

process.on('message', (m: ToWorker) => {
  const fail = (e: unknown) => send({ type: 'error', message: errorText(e) });
  switch (m.type) {
    case 'trial':
      prepareTrial(m).catch(fail);
      break;
    case 'go':
      go(m.goAt).catch(fail);
      break;
    case 'idle':
      idle(m).catch(fail);
      break;
    case 'flood':
      flood(m).catch(fail);
      break;
    case 'longline':
      longline(m).catch(fail);
      break;
    case 'stop':
      stop().catch(fail);
      break;
    case 'exit':
      process.exit(0);
  }
});

// The orchestrator died: take our engines down with us.
process.on('disconnect', () => {
  void (current?.run.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});

send({ type: 'ready' });
