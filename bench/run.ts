/**
 * `npm run bench` (quick, a few minutes) and `npm run bench -- --full`: starts fake vLLM-like engines with
 * five strategies, interleaved in one run on the same engines, and measures collisions and wall times;
 * then Engine Room's own costs (lock handover, probe detection latency, 64 idle engines, a log flood)
 * and the extension's bundle size. Writes bench/results/<date>/report.md, chart.svg and results.json.
 *
 * It is a benchmark, not a test: it never fails on a figure (exit 0 unless it crashed). See
 * bench/README.md for what is measured and how.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { analyzeTrial, allCellFigures, type TrialResult } from './lib/analyze';
import { STRATEGIES, type EngineDef, type EngineOutcome, type FromWorker, type Strategy, type ToWorker, type TrialRequest } from './lib/protocol';
import { rng, summarize } from './lib/stats';
import { chartSvg } from './lib/svg';
import { writeReport, type CostFigures, type RunInfo } from './lib/report';
import { cliCost } from './lib/cli';
import { concurrentlyRun, pm2Run, type PeerRun, type PeerSetup } from './lib/peers';
import { realServersCost } from './lib/realServers';
import { registryUpdateCost, scaleCase, type ScaleFigures, type ScaleWorker } from './lib/scale';
import type { PeerErRun, PeerFigures } from './lib/reportPeers';

const ROOT = path.resolve(import.meta.dirname, '..');
const FAKE = path.join(ROOT, 'test', 'fixtures', 'engines', 'fake_vllm.py');
const IDLE_ENGINE = path.join(ROOT, 'bench', 'fixtures', 'idle_engine.py');
const FLOOD = path.join(ROOT, 'bench', 'fixtures', 'flood_for.cjs');
const LONGLINE = path.join(ROOT, 'test', 'fixtures', 'engines', 'longline.cjs');

// Every port the benchmark uses is in 10000-19999 (below the ephemeral range, away from the tests' ranges).
const CONTENTION: [number, number] = [10000, 10799];
const RANGES = { auto: [11000, 11999] as [number, number], blocks: [12000, 19999] as [number, number] };
const IDLE_RANGES = { auto: [11000, 11999] as [number, number], blocks: [12000, 19999] as [number, number] };

const { values: opts } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    cells: { type: 'string' },
    load: { type: 'string' },
    internal: { type: 'string' },
    out: { type: 'string' },
    'skip-costs': { type: 'boolean', default: false },
    'only-costs': { type: 'boolean', default: false },
    only: { type: 'string' },
    'idle-seconds': { type: 'string' },
    'cli-runs': { type: 'string' },
    render: { type: 'string' },
  },
  allowPositionals: false,
});

const FULL = opts.full === true;
const MODE = FULL ? 'full' : 'quick';
const [LOAD_MIN, LOAD_MAX] = (opts.load ?? '0.3-0.5').split('-').map(Number) as [number, number];
const INTERNAL = Number(opts.internal ?? '2');
/** `--only idle` / `--only flood` / `--only cli` / `--only longline`: that cost alone (no strategy trials, no other cost). */
const ONLY = opts.only;
const ONLY_CHOICES = ['idle', 'flood', 'cli', 'longline', 'peers', 'scale', 'real'];
if (ONLY !== undefined && !ONLY_CHOICES.includes(ONLY)) throw new Error(`--only takes ${ONLY_CHOICES.join(', ')}, not "${ONLY}"`);
/** Pairs (command, `node -e 0`) per CLI command. */
const CLI_RUNS = Number(opts['cli-runs'] ?? (FULL ? 40 : 15));
/** The idle figure's target is over 60 s; the quick mode keeps 10 s unless asked. */
const IDLE_SECONDS = Number(opts['idle-seconds'] ?? (FULL || ONLY === 'idle' ? 60 : 10));

/** The cells and how many rounds of each (a round = the five strategies, in a rotated order, on the same engines). */
function plan(): Array<{ K: number; P: number; rounds: number }> {
  const r = opts.rounds ? Number(opts.rounds) : undefined;
  if (opts.cells) {
    // e.g. --cells 4x1,16x3 (K engines x P processes), for trying things out.
    return opts.cells.split(',').map((c) => {
      const [K, P] = c.split('x').map(Number) as [number, number];
      return { K, P, rounds: r ?? 1 };
    });
  }
  if (FULL) {
    return [
      { K: 4, P: 1, rounds: r ?? 10 },
      { K: 8, P: 1, rounds: r ?? 8 },
      { K: 16, P: 1, rounds: r ?? 6 },
      { K: 4, P: 3, rounds: r ?? 6 },
      { K: 8, P: 3, rounds: r ?? 4 },
      { K: 16, P: 3, rounds: r ?? 3 },
    ];
  }
  return [
    { K: 4, P: 1, rounds: r ?? 2 },
    { K: 8, P: 1, rounds: r ?? 2 },
    { K: 16, P: 1, rounds: r ?? 1 },
    { K: 4, P: 3, rounds: r ?? 1 },
    { K: 8, P: 3, rounds: r ?? 1 },
    { K: 16, P: 3, rounds: r ?? 1 },
  ];
}

/** Quick mode: later rounds start only while the run is younger than this. */
const QUICK_TRIAL_BUDGET_MS = 150_000;
const skippedRounds: Array<{ round: number; K: number; P: number }> = [];

const say = (s: string) => process.stdout.write(`[bench] ${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Setup

const started = new Date();
const stamp = started.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
const runId = `${process.pid}-${Date.now().toString(36)}`;
const outDir = path.resolve(opts.out ?? path.join(ROOT, 'bench', 'results', stamp));
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-bench-'));
fs.chmodSync(runDir, 0o700);
const stateDir = path.join(runDir, 'state');
fs.mkdirSync(stateDir, { mode: 0o700 });
const lockFile = path.join(runDir, 'filelock');
fs.writeFileSync(lockFile, '');
/** Every engine inherits this marker, so that the final sweep can find strays of this run and of nothing else. */
const MARKER = `ENGINE_ROOM_BENCH_RUN=${runId}`;

const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

/** The worker, bundled like dist/cli.js (CommonJS, dependencies inlined), so its memory is the core's, not tsx's. */
async function bundleWorker(): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = path.join(runDir, 'worker.cjs');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'bench', 'worker.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return outfile;
}

// ---------------------------------------------------------------------------------------------------
// Workers

class Worker {
  readonly child: ChildProcess;
  private readonly inbox: FromWorker[] = [];
  private waiters: Array<() => void> = [];
  dead = false;

  constructor(script: string) {
    this.child = fork(script, [], {
      // The worker is a built bundle, run as `engine-room up` runs: without the bench's own `--import
      // tsx`, whose loader alone costs an idle process about 1% of a core.
      execArgv: [],
      env: { ...process.env, ENGINE_ROOM_BENCH_RUN: runId },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (m: FromWorker) => {
      if (m.type === 'error') process.stderr.write(`[bench] worker ${this.child.pid} error: ${m.message}\n`);
      this.inbox.push(m);
      this.wake();
    });
    this.child.on('exit', () => {
      this.dead = true;
      this.wake();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  send(m: ToWorker): void {
    // A worker that is exiting (a slow stop on a loaded machine) has closed its channel already.
    if (!this.dead && this.child.connected) this.child.send(m, (e) => e && process.stderr.write(`[bench] worker ${this.child.pid}: ${e.message}\n`));
  }

  /** The next message matching `pred` (skipping stale ones), or an error message, or undefined on timeout. */
  async next(pred: (m: FromWorker) => boolean, timeoutMs: number): Promise<FromWorker | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => pred(m) || m.type === 'error');
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (this.dead || Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.send({ type: 'stop' });
    await this.next((m) => m.type === 'stopped', 15_000);
    this.send({ type: 'exit' });
    const deadline = Date.now() + 3000;
    while (!this.dead && Date.now() < deadline) await sleep(20);
    if (!this.dead) this.child.kill('SIGKILL');
  }
}

let workerScript = '';
const pool: Worker[] = [];
const allWorkers: Worker[] = [];

async function newWorker(): Promise<Worker> {
  const w = new Worker(workerScript);
  allWorkers.push(w);
  const ready = await w.next((m) => m.type === 'ready', 30_000);
  if (!ready || ready.type !== 'ready') throw new Error('a benchmark worker did not start');
  return w;
}

async function poolWorker(i: number): Promise<Worker> {
  if (!pool[i] || pool[i].dead) pool[i] = await newWorker();
  return pool[i];
}

// ---------------------------------------------------------------------------------------------------
// Trials

interface PlannedTrial {
  readonly round: number;
  readonly K: number;
  readonly P: number;
  readonly strategy: Strategy;
  /** engines[worker] */
  readonly engines: EngineDef[][];
}

function planTrials(): PlannedTrial[] {
  const random = rng(20260427);
  const cells = plan();
  const maxRounds = Math.max(...cells.map((c) => c.rounds));
  const out: PlannedTrial[] = [];
  for (let round = 0; round < maxRounds; round++) {
    cells.forEach((c, ci) => {
      if (round >= c.rounds) return;
      // The same engines (names, load times) for every strategy of this round and cell.
      const engines = Array.from({ length: c.P }, () =>
        Array.from({ length: c.K }, (_, i) => ({ name: `e${i}`, load: Math.round((LOAD_MIN + random() * (LOAD_MAX - LOAD_MIN)) * 1000) / 1000 })),
      );
      // Interleaved: the order of the strategies rotates from round to round and cell to cell.
      const shift = (round + ci) % STRATEGIES.length;
      const order = [...STRATEGIES.slice(shift), ...STRATEGIES.slice(0, shift)];
      for (const strategy of order) out.push({ round, K: c.K, P: c.P, strategy, engines });
    });
  }
  return out;
}

let trialSeq = 0;

async function runTrial(t: PlannedTrial): Promise<TrialResult> {
  const trialId = `t${++trialSeq}`;
  const workers = await Promise.all(Array.from({ length: t.P }, (_, i) => poolWorker(i)));
  const startTimeoutMs = 60_000;
  workers.forEach((w, i) => {
    const req: TrialRequest = {
      type: 'trial',
      trialId,
      worker: i,
      strategy: t.strategy,
      engines: t.engines[i]!,
      dir: path.join(runDir, 'trials', trialId, `w${i}`),
      stateDir,
      lockFile,
      ranges: RANGES,
      contention: CONTENTION,
      internal: INTERNAL,
      python,
      fake: FAKE,
      startTimeoutMs,
    };
    w.send(req);
  });
  let error: string | undefined;
  const prepared = await Promise.all(workers.map((w) => w.next((m) => m.type === 'prepared' && m.trialId === trialId, 30_000)));
  if (prepared.some((m) => m?.type !== 'prepared')) error = `not prepared: ${JSON.stringify(prepared.find((m) => m?.type !== 'prepared') ?? 'timeout')}`;
  const goAt = Date.now() + 50;
  let timedOut = false;
  const outcomes: EngineOutcome[] = [];
  let startLateMs = 0;
  if (!error) {
    workers.forEach((w) => w.send({ type: 'go', goAt }));
    // Generous: a serial start of every engine, three times over.
    const timeoutMs = 30_000 + t.K * t.P * (LOAD_MAX + 0.5) * 3000;
    const settled = await Promise.all(workers.map((w) => w.next((m) => m.type === 'settled' && m.trialId === trialId, Math.max(0, goAt + timeoutMs - Date.now()))));
    for (const m of settled) {
      if (m?.type === 'settled') {
        outcomes.push(...m.engines);
        startLateMs = Math.max(startLateMs, m.startLateMs);
      } else if (m?.type === 'error') error = m.message;
      else timedOut = true;
    }
  }
  const stopped = await Promise.all(
    workers.map(async (w) => {
      w.send({ type: 'stop' });
      return w.next((m) => m.type === 'stopped', 30_000);
    }),
  );
  for (const m of stopped) {
    if (m?.type === 'stopped' && m.leftover.length > 0) say(`warning: engines ${m.leftover.join(', ')} outlived the stop of ${trialId}`);
  }
  for (const [i, w] of workers.entries()) {
    if (w.dead) {
      say(`worker ${i} died during ${trialId}; starting a new one`);
      error ??= 'worker died';
    }
  }
  const result = analyzeTrial({ trialId, round: t.round, K: t.K, P: t.P, strategy: t.strategy, goAt, timedOut, error, startLateMs, outcomes });
  // The logs are parsed; drop the trial's files (Engine Room's logs are in the state dir, by workspace).
  fs.rmSync(path.join(runDir, 'trials', trialId), { recursive: true, force: true });
  fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Engine Room's costs: 64 idle engines, a log flood

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command.
  return Number(fields[11]) + Number(fields[12]);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function idleCost(n: number, seconds: number): Promise<CostFigures['idle']> {
  // For scale: the RSS of a bare Node process on this machine.
  const rssBareNode = Number(execFileSync(process.execPath, ['-e', 'setTimeout(() => console.log(process.memoryUsage().rss), 300)'], { encoding: 'utf8' }).trim());
  const w = await newWorker();
  const rssFresh = rssBytes(w.pid);
  w.send({ type: 'idle', n, dir: path.join(runDir, 'idle'), stateDir, ranges: IDLE_RANGES, python, idleEngine: IDLE_ENGINE });
  const started = await w.next((m) => m.type === 'started', 120_000);
  if (started?.type !== 'started') {
    await w.close();
    return { error: started?.type === 'error' ? started.message : 'the idle engines did not start in 120 s' };
  }
  await sleep(1000);
  const rssSamples: number[] = [];
  const t0 = performance.now();
  const c0 = cpuTicks(w.pid);
  while (performance.now() - t0 < seconds * 1000) {
    rssSamples.push(rssBytes(w.pid));
    await sleep(500);
  }
  const c1 = cpuTicks(w.pid);
  const elapsed = (performance.now() - t0) / 1000;
  await w.close();
  return {
    engines: n,
    healthy: started.ok,
    failed: started.failed,
    startWallMs: started.wallMs,
    seconds: Math.round(elapsed * 10) / 10,
    cpuPercent: (((c1 - c0) / CLK_TCK) / elapsed) * 100,
    cpuSeconds: (c1 - c0) / CLK_TCK,
    rssBareNodeMB: rssBareNode / 2 ** 20,
    rssFreshMB: rssFresh / 2 ** 20,
    rssBeforeStartMB: started.rssBefore / 2 ** 20,
    rssMedianMB: summarize(rssSamples).median / 2 ** 20,
    rssMaxMB: Math.max(...rssSamples) / 2 ** 20,
    notes: started.notes,
  };
}

/** Counts the flood's lines in the log file, and which of 1..written are missing. */
async function countFloodLines(file: string, written: number): Promise<{ lines: number; missing: number; bytes: number }> {
  const seen = new Uint8Array(written + 2);
  let lines = 0;
  let rest = '';
  const re = /^flood (\d+) /;
  const handle = (line: string) => {
    const m = re.exec(line);
    if (!m) return;
    lines++;
    const k = Number(m[1]);
    if (k >= 1 && k <= written) seen[k] = 1;
  };
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    const parts = (rest + (chunk as string)).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) handle(p);
  }
  if (rest) handle(rest);
  let missing = 0;
  for (let k = 1; k <= written; k++) if (!seen[k]) missing++;
  return { lines, missing, bytes: fs.statSync(file).size };
}

async function floodCost(seconds: number): Promise<CostFigures['flood']> {
  const w = await newWorker();
  const countFile = path.join(runDir, 'flood-count');
  fs.rmSync(countFile, { force: true });
  await sleep(300);
  const rssBefore = rssBytes(w.pid);
  const c0 = cpuTicks(w.pid);
  w.send({ type: 'flood', seconds, dir: path.join(runDir, 'flood'), stateDir, flood: FLOOD, countFile });
  const samples: number[] = [];
  let done: FromWorker | undefined;
  const t0 = Date.now();
  while (!done && Date.now() - t0 < (seconds + 90) * 1000) {
    samples.push(rssBytes(w.pid));
    done = await w.next((m) => m.type === 'floodDone', 200);
  }
  const c1 = cpuTicks(w.pid);
  const rssAfter = rssBytes(w.pid);
  await sleep(2000);
  const rssAfterSettle = rssBytes(w.pid);
  const written = fs.existsSync(countFile) ? Number(fs.readFileSync(countFile, 'utf8')) : Number.NaN;
  let result: CostFigures['flood'];
  if (done?.type === 'floodDone' && Number.isFinite(written)) {
    const counted = await countFloodLines(done.logFile, written);
    result = {
      seconds,
      linesWritten: written,
      linesInLogFile: counted.lines,
      missingInLogFile: counted.missing,
      logFileMB: counted.bytes / 2 ** 20,
      linesSeenBySupervisor: done.linesSeen,
      followerCaughtUpMs: Date.now() - t0,
      supervisorCpuSeconds: (c1 - c0) / CLK_TCK,
      rssBeforeMB: rssBefore / 2 ** 20,
      rssPeakMB: Math.max(...samples, rssAfter) / 2 ** 20,
      rssAfterMB: rssAfter / 2 ** 20,
      rssAfterSettleMB: rssAfterSettle / 2 ** 20,
      loopDelayMaxMs: done.loopDelayMaxMs,
      loopDelayP99Ms: done.loopDelayP99Ms,
      heapBeforeMB: done.heapBefore / 2 ** 20,
      heapAfterMB: done.heapAfter / 2 ** 20,
      state: done.state,
    };
  } else {
    result = { error: done?.type === 'error' ? done.message : `the flood did not finish (written: ${written})` };
  }
  await w.close();
  fs.rmSync(path.join(runDir, 'flood'), { recursive: true, force: true });
  fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
  return result;
}

/** 50 MB in one line without a newline (a `\r` progress bar) after the engine is healthy: the supervisor's CPU and memory. */
async function longLineCost(megabytes: number): Promise<CostFigures['longline']> {
  const w = await newWorker();
  const go = path.join(runDir, 'longline-go');
  fs.rmSync(go, { force: true });
  w.send({ type: 'longline', dir: path.join(runDir, 'longline'), stateDir, engine: LONGLINE, mb: megabytes, go });
  const ready = await w.next((m) => m.type === 'longlineReady', 60_000);
  let result: CostFigures['longline'];
  if (ready?.type !== 'longlineReady') {
    result = { error: ready?.type === 'error' ? ready.message : 'the engine did not start in 60 s' };
  } else if (!ready.state.startsWith('healthy')) {
    result = { error: `the engine did not become healthy (${ready.state})` };
  } else {
    await sleep(300);
    const rssBefore = rssBytes(w.pid);
    const c0 = cpuTicks(w.pid);
    const t0 = Date.now();
    fs.writeFileSync(go, '');
    const samples: number[] = [];
    let done: FromWorker | undefined;
    while (!done && Date.now() - t0 < 130_000) {
      samples.push(rssBytes(w.pid));
      done = await w.next((m) => m.type === 'longlineDone', 100);
    }
    const c1 = cpuTicks(w.pid);
    if (done?.type === 'longlineDone') {
      result = {
        megabytes,
        followedMs: Date.now() - t0,
        supervisorCpuSeconds: (c1 - c0) / CLK_TCK,
        rssBeforeMB: rssBefore / 2 ** 20,
        rssPeakMB: Math.max(...samples) / 2 ** 20,
        loopDelayMaxMs: done.loopDelayMaxMs,
        loopDelayP99Ms: done.loopDelayP99Ms,
        notHealthyEvents: done.unhealthy,
        logFileMB: (fs.existsSync(done.logFile) ? fs.statSync(done.logFile).size : Number.NaN) / 2 ** 20,
        state: done.state,
      };
    } else result = { error: done?.type === 'error' ? done.message : 'the supervisor did not follow the line to its end' };
  }
  await w.close();
  fs.rmSync(path.join(runDir, 'longline'), { recursive: true, force: true });
  fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Issue 15, targets 4-6: peers, scale, real servers

/**
 * The peers' serving ports, their one copy-pasted VLLM_PORT (a run of free ports above it) and Redis's
 * port: free runs of 10800-10999 (outside the contention range), looked for at each use, since tests of
 * this host may hold ports there.
 */
async function bindable(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
async function freeRun(count: number, from = 10800, to = 10999, skip: ReadonlySet<number> = new Set()): Promise<number> {
  for (let base = from; base + count - 1 <= to; base++) {
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = !skip.has(p) && (await bindable(p));
    if (ok) return base;
  }
  throw new Error(`no ${count} free consecutive ports in ${from}-${to}`);
}

async function peersCost(): Promise<PeerFigures> {
  const n = 8;
  const rounds = FULL ? 5 : 1;
  const capMs = FULL ? 60_000 : 30_000;
  const random = rng(20261202);
  const runs: PeerRun[] = [];
  const engineRoom: PeerErRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const loads = Array.from({ length: n }, () => Math.round((LOAD_MIN + random() * (LOAD_MAX - LOAD_MIN)) * 1000) / 1000);
    const serving = await freeRun(n);
    const taken = new Set(loads.map((_, i) => serving + i));
    const vllmPort = await freeRun(n * INTERNAL + 8, 10800, 10999, taken);
    const setup: PeerSetup = {
      root: ROOT, dir: path.join(runDir, 'peers'), python, fake: FAKE, loads, servingPorts: loads.map((_, i) => serving + i),
      vllmPort, contention: CONTENTION, internal: INTERNAL, capMs, env: { ...process.env, ENGINE_ROOM_BENCH_RUN: runId },
    };
    // The same engines (load times) under Engine Room leaseOnly, in the same run, interleaved.
    const er = await runTrial({ round, K: n, P: 1, strategy: 'er-leaseOnly', engines: [loads.map((load, i) => ({ name: `e${i}`, load }))] });
    engineRoom.push({ scenario: 'leaseOnly', round, engines: n, allHealthy: er.allHealthy, wallMs: er.wallMs, collision: er.collision, ...(er.error ? { error: er.error } : {}) });
    say(`peers round ${round + 1}: Engine Room leaseOnly ${er.wallMs === null ? 'timeout' : `${(er.wallMs / 1000).toFixed(2)} s`}${er.collision ? ', COLLISION' : ''}`);
    for (const scenario of ['vllmPort', 'port0'] as const) {
      for (const tool of ['pm2', 'concurrently'] as const) {
        if (interrupted) break;
        const r = await (tool === 'pm2' ? pm2Run : concurrentlyRun)(setup, scenario, round);
        runs.push(r);
        say(`peers round ${round + 1}: ${tool} ${scenario}: ${r.ended}${r.timeToAllHealthyMs !== null ? ` in ${(r.timeToAllHealthyMs / 1000).toFixed(2)} s` : ''}, ${r.healthyAtEnd}/${n} healthy, ${r.collisions} collisions, ${r.restarts} restarts${r.error ? `, ${r.error}` : ''}`);
      }
    }
    fs.rmSync(setup.dir, { recursive: true, force: true });
  }
  return { engines: n, capMs, note: `${rounds} round(s)${FULL ? '' : ' (quick; --full: 5 rounds, a 60 s cap)'}; port-0 picks use the fake's contention range ${CONTENTION.join('-')}, as every strategy of this benchmark.`, runs, engineRoom };
}

async function scaleCost(): Promise<ScaleFigures> {
  const one = FULL ? 256 : 64;
  const per = FULL ? 64 : 16;
  const scaleWorker = async (): Promise<ScaleWorker> => {
    const w = await newWorker();
    return {
      startIdle: (n, dir) => w.send({ type: 'idle', n, dir, stateDir, ranges: IDLE_RANGES, python, idleEngine: IDLE_ENGINE }),
      started: async (timeoutMs) => {
        const m = await w.next((x) => x.type === 'started', timeoutMs);
        if (m?.type === 'started') return { ok: m.ok, failed: m.failed, wallMs: m.wallMs, notes: m.notes };
        return { error: m?.type === 'error' ? m.message : `not started in ${timeoutMs / 1000} s` };
      },
      close: () => w.close(),
    };
  };
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const cases = [];
  for (const [label, processes, enginesPerProcess] of [[`${one} in one config`, 1, one], [`4 processes x ${per}`, 4, per]] as const) {
    say(`scale: ${label} (start, status --json, stop) ...`);
    cases.push(await scaleCase({ label, processes, enginesPerProcess, dir: path.join(runDir, 'scale', String(processes)), stateDir, cli, newWorker: scaleWorker }));
    fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
  }
  say('scale: one registry update with 10, 100 and 1,000 leases ...');
  const registry = await registryUpdateCost(path.join(runDir, 'registry'), [10, 100, 1000], FULL ? 50 : 20);
  return { cases, registry, sizesNote: FULL ? 'The issue\'s sizes.' : `Quick mode: ${one} in one config and 4 x ${per} (the issue's 256 and 4 x 64 with --full).` };
}

function bundleCost(): CostFigures['bundle'] {
  const info = (rel: string) => {
    const file = path.join(ROOT, rel);
    if (!fs.existsSync(file)) return null;
    const buf = fs.readFileSync(file);
    return { file: rel, bytes: buf.length, gzipBytes: zlib.gzipSync(buf).length, builtAt: fs.statSync(file).mtime.toISOString() };
  };
  let activate: unknown = null;
  const activateFile = path.join(ROOT, 'bench', 'results', 'activate.json');
  if (fs.existsSync(activateFile)) {
    try {
      activate = JSON.parse(fs.readFileSync(activateFile, 'utf8'));
    } catch (e) {
      activate = { error: `bench/results/activate.json is not JSON: ${String(e)}` };
    }
  }
  return { extension: info('dist/extension.js'), cli: info('dist/cli-bundle.js'), webview: info('dist/webview.js'), activate };
}

// ---------------------------------------------------------------------------------------------------
// Cleanup: nothing of this run may survive it.

/** Processes (other than us) whose environment carries this run's marker. */
function strays(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
      if (env.split('\0').includes(MARKER)) out.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

async function cleanup(): Promise<number[]> {
  await Promise.all(allWorkers.map((w) => w.close().catch(() => {})));
  await sleep(200);
  const left = strays();
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(runDir, { recursive: true, force: true });
  return left;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping every engine of this run`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// Main

/** `--render DIR`: writes report.md and chart.svg again from DIR/results.json (after a change to the report code). */
function render(dir: string): void {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { info: RunInfo; trials: TrialResult[]; costs: CostFigures };
  const cells = (json.info.settings as { plan: Array<{ K: number; P: number }> }).plan.map(({ K, P }) => ({ K, P }));
  const figures = allCellFigures(json.trials, cells);
  fs.writeFileSync(path.join(dir, 'chart.svg'), chartSvg(figures, cells, `Engine Room benchmark (${json.info.mode}, ${json.info.date.slice(0, 10)}, ${json.info.machine.cores} cores)`));
  const { reportFile } = writeReport({ outDir: dir, info: json.info, trials: json.trials, figures, cells, costs: json.costs });
  say(`report: ${reportFile}`);
}

async function main(): Promise<void> {
  if (opts.render) {
    render(path.resolve(opts.render));
    fs.rmSync(runDir, { recursive: true, force: true });
    return;
  }
  const t0 = Date.now();
  say(`${MODE} mode; results go to ${path.relative(process.cwd(), outDir) || outDir}`);
  workerScript = await bundleWorker();
  const cellsPlan = plan();
  const cells = cellsPlan.map(({ K, P }) => ({ K, P }));
  const trials: TrialResult[] = [];
  if (!opts['only-costs'] && ONLY === undefined) {
    const planned = planTrials();
    say(`${planned.length} trials: K = ${[...new Set(cells.map((c) => c.K))].join(', ')} engines per process, 1 and 3 processes, ${STRATEGIES.length} strategies interleaved; engine load ${LOAD_MIN}-${LOAD_MAX} s`);
    let skippedGroup = '';
    for (const [i, t] of planned.entries()) {
      if (interrupted) return;
      // Quick mode keeps under 5 minutes on a busy machine: the first round of every cell always runs,
      // a later round (all five strategies of it, never part) only while the trials are within budget.
      const group = `${t.round}/${t.K}/${t.P}`;
      if (group === skippedGroup) continue;
      if (!FULL && t.round > 0 && t.strategy === planned.find((u) => u.round === t.round && u.K === t.K && u.P === t.P)?.strategy && Date.now() - t0 > QUICK_TRIAL_BUDGET_MS) {
        skippedGroup = group;
        skippedRounds.push({ round: t.round, K: t.K, P: t.P });
        say(`skipping round ${t.round + 1} of K=${t.K} P=${t.P}: the quick mode's ${QUICK_TRIAL_BUDGET_MS / 1000} s budget for trials is spent`);
        continue;
      }
      const r = await runTrial(t);
      trials.push(r);
      const wall = r.wallMs === null ? 'timeout' : `${(r.wallMs / 1000).toFixed(2)} s`;
      say(
        `${String(i + 1).padStart(3)}/${planned.length} K=${String(t.K).padStart(2)} P=${t.P} ${t.strategy.padEnd(15)} ${wall.padStart(8)}  ` +
          `${r.collision ? `COLLISION (${r.eaddrinuseEngines} EADDRINUSE${r.sharedPorts.length ? `, shared ${r.sharedPorts.join(',')}` : ''})` : 'no collision'}` +
          `${r.allHealthy ? '' : `, ${r.engines.filter((e) => !e.ok).length} not healthy`}${r.error ? `, error: ${r.error.split('\n')[0]}` : ''}`,
      );
    }
  }
  const benchEnd = Date.now();
  let costs: CostFigures = { idle: { error: 'skipped' }, flood: { error: 'skipped' }, cli: { error: 'skipped' }, longline: { error: 'skipped' }, bundle: bundleCost() };
  if (!opts['skip-costs'] && !interrupted) {
    const skipped = { error: 'skipped' };
    const wanted = (c: 'idle' | 'flood' | 'cli' | 'longline') => ONLY === undefined || ONLY === c;
    if (wanted('idle')) say(`64 idle engines under one supervisor, ${IDLE_SECONDS} s ...`);
    const idle = wanted('idle') ? await idleCost(64, IDLE_SECONDS) : skipped;
    if (wanted('flood')) say('log flood, 10 s ...');
    const flood = wanted('flood') ? await floodCost(10) : skipped;
    if (wanted('longline')) say('one 50 MB line without a newline ...');
    const longline = wanted('longline') ? await longLineCost(50) : skipped;
    if (wanted('cli')) say(`CLI start-up: --help, validate, status, env, ${CLI_RUNS} runs each against node -e 0 ...`);
    const cli = wanted('cli') ? cliCost(ROOT, path.join(ROOT, 'test', 'demo', '.vscode', 'engines.json'), stateDir, CLI_RUNS) : skipped;
    const extra = (c: 'peers' | 'scale' | 'real') => ONLY === undefined || ONLY === c;
    const guard = async <T,>(f: () => Promise<T>): Promise<T | { error: string }> => f().catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
    if (extra('peers')) say('peers: Engine Room leaseOnly, PM2 and concurrently on 8 engines, two scenarios ...');
    const peers = extra('peers') && !interrupted ? await guard(peersCost) : skipped;
    const scale = extra('scale') && !interrupted ? await guard(scaleCost) : skipped;
    if (extra('real')) say('real servers: redis-server under Engine Room and by hand ...');
    const real = extra('real') && !interrupted
      ? await guard(async () => realServersCost({ dir: path.join(runDir, 'real'), stateDir, port: await freeRun(1), rounds: FULL ? 20 : 5, env: { ...process.env, ENGINE_ROOM_BENCH_RUN: runId }, ranges: RANGES }))
      : skipped;
    costs = { idle, flood, cli, longline, bundle: bundleCost(), peers, scale, real };
  }
  const left = await cleanup();
  if (interrupted) return;
  const info: RunInfo = {
    mode: MODE,
    date: started.toISOString(),
    durationSec: (Date.now() - t0) / 1000,
    strategiesSec: (benchEnd - t0) / 1000,
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      python: execFileSync(python, ['--version'], { encoding: 'utf8' }).trim(),
      platform: `${os.type()} ${os.release()}`,
      loadAvgAtEnd: os.loadavg(),
    },
    settings: {
      loadSeconds: [LOAD_MIN, LOAD_MAX],
      internalPorts: INTERNAL,
      contentionRange: CONTENTION,
      erRanges: RANGES,
      plan: cellsPlan,
      skippedRounds,
      pollSchedule: '20 ms, x1.2 each time, at most 100 ms (the core\'s start poll; the baselines use it too)',
      fileLockRetry: 'proper-lockfile, retries every 10-100 ms (factor 1.5)',
      trialStartTimeoutSec: 60,
    },
    straysKilled: left,
  };
  const figures = allCellFigures(trials, cells);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'chart.svg'), chartSvg(figures, cells, `Engine Room benchmark (${MODE}, ${info.date.slice(0, 10)}, ${info.machine.cores} cores)`));
  const { reportFile, targets } = writeReport({ outDir, info, trials, figures, cells, costs });
  for (const t of targets) say(`${t.status.toUpperCase().padEnd(15)} ${t.target}: ${t.measured}`);
  say(`done in ${info.durationSec.toFixed(0)} s${left.length ? `; killed ${left.length} stray processes of this run` : ''}`);
  say(`report: ${path.relative(process.cwd(), reportFile) || reportFile}`);
}

main().then(
  () => process.exit(0),
  async (e: unknown) => {
    process.stderr.write(`[bench] crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await cleanup().catch(() => {});
    process.exit(1);
  },
);
