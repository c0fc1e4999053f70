/** The benchmark's report (report.md) and its figures file (results.json). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { strategyTotals, type CellFigures, type TrialResult } from './analyze';
import { STRATEGIES, STRATEGY_LABEL, type Strategy } from './protocol';
import { summarize, type Summary } from './stats';
import { extraSection, extraTargets, type ExtraFigures } from './reportPeers';
import { ACTIVATE_BEFORE_MS, ACTIVATE_TARGET_MS, CLI_BEFORE, CLI_TARGET_RATIO, type CliFigures } from './cli';

export interface RunInfo {
  readonly mode: 'quick' | 'full';
  readonly date: string;
  readonly durationSec: number;
  readonly strategiesSec: number;
  readonly machine: {
    readonly cores: number;
    readonly cpuModel: string;
    readonly memoryGB: number;
    readonly node: string;
    readonly python: string;
    readonly platform: string;
    readonly loadAvgAtEnd: number[];
  };
  readonly settings: Record<string, unknown>;
  readonly straysKilled: number[];
}

type Failed = { readonly error: string };

export interface CostFigures extends ExtraFigures {
  readonly idle:
    | Failed
    | {
        readonly engines: number;
        readonly healthy: number;
        readonly failed: number;
        readonly startWallMs: number;
        readonly seconds: number;
        readonly cpuPercent: number;
        readonly cpuSeconds: number;
        readonly rssBareNodeMB: number;
        readonly rssFreshMB: number;
        readonly rssBeforeStartMB: number;
        readonly rssMedianMB: number;
        readonly rssMaxMB: number;
        readonly notes: string[];
      };
  readonly flood:
    | Failed
    | {
        readonly seconds: number;
        readonly linesWritten: number;
        readonly linesInLogFile: number;
        readonly missingInLogFile: number;
        readonly logFileMB: number;
        readonly linesSeenBySupervisor: number;
        readonly followerCaughtUpMs: number;
        readonly supervisorCpuSeconds: number;
        readonly rssBeforeMB: number;
        readonly rssPeakMB: number;
        readonly rssAfterMB: number;
        readonly rssAfterSettleMB: number;
        readonly loopDelayMaxMs: number;
        readonly loopDelayP99Ms: number;
        /** V8 heap in use, when the flood starts and once the follower caught up (absent in older results). */
        readonly heapBeforeMB?: number;
        readonly heapAfterMB?: number;
        readonly state: string;
      };
  /** The CLI's start-up against `node -e 0` (absent in results of older runs). */
  readonly cli?: CliFigures;
  /** One line of many megabytes without a newline (absent in older results). */
  readonly longline?:
    | Failed
    | {
        readonly megabytes: number;
        readonly followedMs: number;
        readonly supervisorCpuSeconds: number;
        readonly rssBeforeMB: number;
        readonly rssPeakMB: number;
        readonly loopDelayMaxMs: number;
        readonly loopDelayP99Ms: number;
        readonly notHealthyEvents: number;
        readonly logFileMB: number;
        readonly state: string;
      };
  readonly bundle: {
    readonly extension: BundleInfo | null;
    readonly cli: BundleInfo | null;
    readonly webview: BundleInfo | null;
    /** bench/results/activate.json, written by the end-to-end tests, when it exists. */
    readonly activate: unknown;
  };
}

interface BundleInfo {
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly builtAt: string;
}

type Status = 'met' | 'missed' | 'not measured' | 'not enough data';

export interface Target {
  readonly target: string;
  readonly measured: string;
  readonly status: Status;
}

const isFailed = (x: object): x is Failed => 'error' in x;
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : 'n/a');
const sec = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
const mb = (v: number) => `${v.toFixed(1)} MB`;
const kb = (v: number) => `${(v / 1024).toFixed(1)} KiB`;
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const summ = (s: Summary) => (s.n ? `median ${ms(s.median)}, p90 ${ms(s.p90)} (n = ${s.n})` : 'no data');

/** Wall time of `strategy` / wall time of the unprotected start of the same round and cell, for every round. */
export function pairedRatios(trials: readonly TrialResult[], strategy: Strategy): number[] {
  const out: number[] = [];
  for (const t of trials) {
    if (t.strategy !== strategy || t.error || t.wallMs === null) continue;
    const base = trials.find((u) => u.strategy === 'unprotected' && u.K === t.K && u.P === t.P && u.round === t.round && !u.error);
    if (base?.wallMs) out.push(t.wallMs / base.wallMs);
  }
  return out;
}

/** Everything computed from the trials besides the per-cell figures. */
export function derived(trials: readonly TrialResult[]) {
  const er = (s: Strategy) => trials.filter((t) => t.strategy === s && !t.error);
  const handoverOf = (s: Strategy, cross?: boolean) => er(s).flatMap((t) => t.handovers.filter((h) => cross === undefined || h.crossProcess === cross).map((h) => h.ms));
  const probeOf = (s: Strategy) => er(s).flatMap((t) => t.engines.map((e) => e.probeLatencyMs ?? Number.NaN));
  const uh = er('er-untilHealthy').filter((t) => t.wallMs !== null && t.sumOwnStartMs !== null);
  const overheads = uh.map((t) => ({
    trialId: t.trialId,
    K: t.K,
    P: t.P,
    wallMs: t.wallMs as number,
    sumOwnMs: t.sumOwnStartMs as number,
    perEngineMs: ((t.wallMs as number) - (t.sumOwnStartMs as number)) / t.engineStarts,
  }));
  return {
    handover: {
      untilHealthy: summarize(handoverOf('er-untilHealthy')),
      untilHealthyWithinProcess: summarize(handoverOf('er-untilHealthy', false)),
      untilHealthyAcrossProcesses: summarize(handoverOf('er-untilHealthy', true)),
      filelock: summarize(handoverOf('filelock')),
      untilHealthyOverlaps: er('er-untilHealthy').reduce((s, t) => s + t.overlaps, 0),
    },
    firstSpawn: Object.fromEntries(STRATEGIES.map((s) => [s, summarize(er(s).map((t) => t.firstSpawnMs ?? Number.NaN))])) as Record<Strategy, Summary>,
    probeLatency: Object.fromEntries(STRATEGIES.map((s) => [s, summarize(probeOf(s))])) as Record<Strategy, Summary>,
    probeLatencyEngineRoom: summarize([...probeOf('er-untilHealthy'), ...probeOf('er-leaseOnly')]),
    ownStart: summarize(trials.flatMap((t) => t.engines.map((e) => e.ownStartMs ?? Number.NaN))),
    untilHealthyOverhead: overheads,
    untilHealthyOverheadPerEngine: summarize(overheads.map((o) => o.perEngineMs)),
    startLate: summarize(trials.map((t) => t.startLateMs)),
  };
}

function evaluateTargets(info: RunInfo, trials: readonly TrialResult[], figures: readonly CellFigures[], d: ReturnType<typeof derived>, costs: CostFigures): Target[] {
  const out: Target[] = [];
  for (const s of ['er-untilHealthy', 'er-leaseOnly'] as const) {
    const t = strategyTotals(trials, s);
    const enough = t.engineStarts >= 300;
    out.push({
      target: `${STRATEGY_LABEL[s]}: zero starts with a collision over >= 300 engine starts (full run)`,
      measured: `${t.withCollision} of ${t.trials} starts (${t.engineStarts} engine starts, ${t.spawns} spawns) had a collision; 95% CI of the share ${pct(t.collisionCI.low)}-${pct(t.collisionCI.high)}`,
      status: t.withCollision > 0 ? 'missed' : enough ? 'met' : 'not enough data',
    });
  }
  for (const s of ['unprotected', 'sleep'] as const) {
    const t = strategyTotals(trials, s);
    out.push({
      target: `${STRATEGY_LABEL[s]} shows its collisions (contention mode)`,
      measured: `${t.withCollision} of ${t.trials} starts (${pct(t.withCollision / t.trials)}, 95% CI ${pct(t.collisionCI.low)}-${pct(t.collisionCI.high)})`,
      status: t.trials === 0 ? 'not measured' : t.withCollision > 0 ? 'met' : 'missed',
    });
  }
  const lo = figures.filter((f) => f.strategy === 'er-leaseOnly' && Number.isFinite(f.ratioToUnprotected));
  const pooled = pairedRatios(trials, 'er-leaseOnly');
  out.push({
    target: 'leaseOnly + port blocks: wall time within 1.2x of the unprotected start (every K and process count)',
    measured: lo.length
      ? `${lo.map((f) => `K=${f.K}/P=${f.P}: ${times(f.ratioToUnprotected)} (${f.ratioPairs})`).join('; ')}; all cells pooled: median ${times(summarize(pooled).median)}, p90 ${times(summarize(pooled).p90)} over ${pooled.length} pairs` +
        (lo.some((f) => f.ratioPairs < 3) ? ' (cells with fewer than 3 pairs are noisy)' : '')
      : 'no data',
    status: lo.length === 0 ? 'not measured' : lo.every((f) => f.ratioToUnprotected <= 1.2) ? 'met' : 'missed',
  });
  const oh = d.untilHealthyOverhead;
  const okOh = oh.filter((o) => o.perEngineMs <= 20).length;
  out.push({
    target: 'untilHealthy: wall time within the sum of the engines\' own start times (spawn to ready) + 20 ms per engine (reference run: 65 ms per engine)',
    measured: oh.length
      ? `overhead per engine ${summ(d.untilHealthyOverheadPerEngine)}; ${okOh} of ${oh.length} starts within the bound`
      : 'no data',
    status: oh.length === 0 ? 'not measured' : okOh === oh.length ? 'met' : 'missed',
  });
  const pl = d.probeLatencyEngineRoom;
  out.push({
    target: 'probe detection latency (engine ready -> state healthy): median under 10 ms, p90 under 25 ms (reference run: median 52 ms, p90 92 ms)',
    measured: `${summ(pl)} (both Engine Room modes)`,
    status: pl.n === 0 ? 'not measured' : pl.median < 10 && pl.p90 < 25 ? 'met' : 'missed',
  });
  const ho = d.handover.untilHealthy;
  out.push({
    target: 'lock handover (engine healthy -> next engine spawned, untilHealthy): median under 20 ms',
    measured: `${summ(ho)}; within one process ${summ(d.handover.untilHealthyWithinProcess)}; across processes ${summ(d.handover.untilHealthyAcrossProcesses)}`,
    status: ho.n === 0 ? 'not measured' : ho.median < 20 ? 'met' : 'missed',
  });
  if (isFailed(costs.flood)) {
    out.push({ target: 'log flood: zero lines lost', measured: costs.flood.error, status: 'not measured' });
    out.push({ target: 'log flood: supervisor memory growth under 50 MB', measured: costs.flood.error, status: 'not measured' });
  } else {
    const f = costs.flood;
    const lost = f.linesWritten - f.linesInLogFile + f.missingInLogFile;
    out.push({
      target: 'log flood: zero lines lost',
      measured: `${f.linesWritten.toLocaleString('en-US')} lines written in ${f.seconds} s, ${f.linesInLogFile.toLocaleString('en-US')} in the log file, ${f.missingInLogFile} line numbers missing`,
      status: lost === 0 && f.linesInLogFile === f.linesWritten ? 'met' : 'missed',
    });
    const growth = f.rssAfterMB - f.rssBeforeMB;
    out.push({
      target: 'log flood: supervisor memory growth under 50 MB',
      measured: `RSS ${mb(f.rssBeforeMB)} before, ${mb(f.rssAfterMB)} after (+${mb(growth)}), ${mb(f.rssAfterSettleMB)} 2 s later; peak ${mb(f.rssPeakMB)}`,
      status: growth < 50 ? 'met' : 'missed',
    });
  }
  // The figure before the supervisor's idle work was shared between engines (issue 9), for comparison.
  const IDLE_BEFORE = '4.6% over 10 s in the reference run before the change';
  if (isFailed(costs.idle)) out.push({ target: '64 idle engines: under 1% of one core over 60 s', measured: `${costs.idle.error} (${IDLE_BEFORE})`, status: 'not measured' });
  else {
    const i = costs.idle;
    out.push({
      target: '64 idle engines: under 1% of one core over 60 s',
      measured: `${i.cpuPercent.toFixed(1)}% over ${i.seconds} s (${IDLE_BEFORE})`,
      status: i.seconds < 60 ? 'not measured' : i.cpuPercent < 1 ? 'met' : 'missed',
    });
  }
  out.push(...cliTargets(costs));
  out.push(...extraTargets(costs));
  out.push({
    target: 'quick mode (`npm run bench`) under 5 minutes',
    measured: `${info.mode} run took ${(info.durationSec / 60).toFixed(1)} min`,
    status: info.mode !== 'quick' ? 'not measured' : info.durationSec < 300 ? 'met' : 'missed',
  });
  return out;
}

/** Issue 15, target 3: each CLI command within 1.6x of `node -e 0`; `activate()` under 30 ms. */
function cliTargets(costs: CostFigures): Target[] {
  const out: Target[] = [];
  const cli = costs.cli;
  for (const [command, before] of Object.entries(CLI_BEFORE)) {
    const target = `\`engine-room ${command}\` within ${CLI_TARGET_RATIO}x of \`node -e 0\``;
    const was = `before: ${times(before.ratio)}${before.note ? `, ${before.note}` : ''}`;
    const f = cli && !isFailed(cli) ? cli.commands.find((c) => c.command === command) : undefined;
    if (!f) {
      out.push({ target, measured: `${cli && isFailed(cli) ? cli.error : 'not run'} (${was})`, status: 'not measured' });
      continue;
    }
    const failedRun = f.exitCodes.some((c) => c !== 0);
    out.push({
      target,
      measured: `${times(f.ratio)} (median of ${f.runs} pairs, p90 ${times(f.ratioP90)}; ${ms(f.medianMs)} against ${ms(f.nodeMedianMs)})` +
        `${failedRun ? `; exit codes ${f.exitCodes.join(', ')}` : ''} (${was})`,
      status: failedRun ? 'missed' : f.ratio <= CLI_TARGET_RATIO ? 'met' : 'missed',
    });
  }
  const act = costs.bundle.activate as { activateMs?: unknown; activateCpuMs?: unknown; configsLoadedMs?: unknown; at?: unknown } | null;
  const target = `\`activate()\` in a real VS Code under ${ACTIVATE_TARGET_MS} ms`;
  const was = `reference run: ${ACTIVATE_BEFORE_MS} ms, the configs loaded inside it`;
  if (act && typeof act.activateMs === 'number') {
    const loaded = typeof act.configsLoadedMs === 'number' ? `; the configs loaded after it, ${ms(act.configsLoadedMs)} from its start` : '';
    out.push({
      target,
      measured: `${ms(act.activateMs)}${typeof act.activateCpuMs === 'number' ? ` (${ms(act.activateCpuMs)} of CPU)` : ''}${loaded}, from bench/results/activate.json (the end-to-end tests${act.at ? `, ${String(act.at)}` : ''}) (${was})`,
      status: act.activateMs < ACTIVATE_TARGET_MS ? 'met' : 'missed',
    });
  } else out.push({ target, measured: `not measured: run the end-to-end tests, they write bench/results/activate.json (${was})`, status: 'not measured' });
  return out;
}

export function writeReport(args: {
  outDir: string;
  info: RunInfo;
  trials: readonly TrialResult[];
  figures: readonly CellFigures[];
  cells: ReadonlyArray<{ K: number; P: number }>;
  costs: CostFigures;
}): { reportFile: string; targets: Target[] } {
  const { outDir, info, trials, figures, cells, costs } = args;
  const d = derived(trials);
  const targets = evaluateTargets(info, trials, figures, d, costs);
  const totals = STRATEGIES.map((s) => strategyTotals(trials, s));
  const L: string[] = [];
  const line = (s = '') => L.push(s);
  const m = info.machine;

  line(`# Engine Room benchmark: ${info.mode} run, ${info.date.slice(0, 16).replace('T', ' ')} UTC`);
  line();
  line(`Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGB} GB, ${m.platform}, Node ${m.node}, ${m.python}. ` +
    `Run took ${(info.durationSec / 60).toFixed(1)} min (${(info.strategiesSec / 60).toFixed(1)} min of strategy trials). ` +
    `Load average at the end: ${m.loadAvgAtEnd.map((x) => x.toFixed(2)).join(', ')}.`);
  line();
  line('> This machine may have been shared with other work (tests, an editor server) during the run, so the ' +
    'timings are indicative: they compare strategies run interleaved under the same conditions, not absolute speeds. ' +
    (info.mode === 'quick' ? 'This is the quick mode: few trials per cell, wide confidence intervals; `npm run bench -- --full` runs many more. ' : '') +
    'Collisions use the fake engine\'s **contention mode** (see Setup), not vLLM\'s real port-0 pick.');
  line();
  line('![chart](chart.svg)');
  line();

  line('## Headline');
  line();
  for (const t of totals) {
    line(`- **${STRATEGY_LABEL[t.strategy]}**: ${t.withCollision} of ${t.trials} starts with a collision ` +
      `(${pct(t.withCollision / t.trials)}, 95% CI ${pct(t.collisionCI.low)}-${pct(t.collisionCI.high)}; ${t.engineStarts} engine starts, ` +
      `${t.eaddrinuseEngines} engines hit EADDRINUSE${t.sharedPortTrials ? `, ${t.sharedPortTrials} starts with a port shared by two engines` : ''})` +
      `${t.notAllHealthy ? `; ${t.notAllHealthy} starts ended with an engine not healthy` : ''}.`);
  }
  const ratioLine = (s: Strategy) =>
    figures.filter((f) => f.strategy === s && Number.isFinite(f.ratioToUnprotected)).map((f) => `K=${f.K}/P=${f.P} ${times(f.ratioToUnprotected)}`).join(', ');
  line(`- Wall time vs unprotected (median of per-round ratios): leaseOnly ${ratioLine('er-leaseOnly')}; untilHealthy ${ratioLine('er-untilHealthy')}; file lock ${ratioLine('filelock')}; sleep ${ratioLine('sleep')}.`);
  line(`- Probe detection latency (Engine Room): ${summ(d.probeLatencyEngineRoom)}. Lock handover (untilHealthy): ${summ(d.handover.untilHealthy)}.`);
  line();

  line('## Targets (from issue 4)');
  line();
  line('| target | measured | status |');
  line('|---|---|---|');
  for (const t of targets) line(`| ${t.target} | ${t.measured} | **${t.status}** |`);
  line();

  line('## Setup');
  line();
  const st = info.settings as { loadSeconds: number[]; internalPorts: number; contentionRange: number[]; erRanges: { auto: number[]; blocks: number[] }; plan: Array<{ K: number; P: number; rounds: number }>; skippedRounds: Array<{ round: number; K: number; P: number }>; pollSchedule: string; fileLockRetry: string };
  line(`- **Engines**: \`test/fixtures/engines/fake_vllm.py\` (sleeps, no CPU burn). It binds its serving port early (SO_REUSEADDR, not listening), ` +
    `picks ${st.internalPorts} internal ports the way vLLM's \`get_open_port()\` does, "loads" for ${st.loadSeconds[0]}-${st.loadSeconds[1]} s ` +
    '(drawn per engine, the same engines for every strategy of a round), then binds the internal ports, listens and answers `GET /health`. A bind failure exits 1 with EADDRINUSE in its log. ' +
    'With `--timestamps` it logs when it is ready (listening), which gives the probe detection latency.');
  line(`- **Contention mode (clearly not vLLM's real behaviour)**: the internal-port pick draws from the narrow shared range ${st.contentionRange[0]}-${st.contentionRange[1]} ` +
    'instead of the kernel\'s ephemeral range, so that collisions are frequent enough to measure (with real port-0 picks 16 engines collided in 0 of 150 tries, see `../shared/PORTS.md`). ' +
    'It is used by the unprotected, sleep and file-lock strategies **and by Engine Room untilHealthy**; in leaseOnly mode the engine gets `VLLM_PORT=${portBlock}`, which takes precedence over it, as in vLLM.');
  line('- **Strategies** (each trial starts the same engines with one strategy; the order rotates every round, so machine noise hits all of them alike):');
  line('  - *unprotected*: every engine at once; the harness picks the serving port port-0 style (bind 0, read, close) just before each spawn, as users do.');
  line('  - *sleep*: the same after a random 1.5-3.0 s sleep before each start (the common fix).');
  line(`  - *file lock*: a proper-lockfile lock on one shared file, held around each whole start until the engine is healthy (${st.fileLockRetry}).`);
  line(`  - *Engine Room untilHealthy*: a \`Supervisor\` (src/core) per process, \`"port": "auto"\` (leased from ${st.erRanges.auto[0]}-${st.erRanges.auto[1]}), \`startLock: "untilHealthy"\`, health \`{ "http": "/health" }\`.`);
  line(`  - *Engine Room leaseOnly*: the same with \`startLock: "leaseOnly"\`, \`portBlock: ${st.internalPorts}\` (blocks from ${st.erRanges.blocks[0]}-${st.erRanges.blocks[1]}) and \`env: { "VLLM_PORT": "\${portBlock}" }\`.`);
  line(`- **Processes**: "P=1" runs K engines in one worker process; "P=3" runs three worker processes at once, K engines each (3K engines), like three VS Code windows. ` +
    'Engine Room workers share one state directory (one host-wide registry and start slot); file-lock workers share the lock file. ' +
    'Workers are prepared first, then all told to go at the same moment; wall time is from that moment until every engine is healthy or failed for good.');
  line(`- **Health polling**: ${st.pollSchedule}.`);
  line('- **Collision**: a start (K engines, or 3K with P=3) in which an engine logged EADDRINUSE (any attempt: an Engine Room retry after EADDRINUSE still counts) ' +
    'or two engines\' final attempts logged the same port. Read from the engines\' own logs.');
  line(`- **Plan**: ${st.plan.map((p) => `K=${p.K}/P=${p.P}: ${p.rounds} round${p.rounds === 1 ? '' : 's'}`).join(', ')}; ports 10000-19999 only; a private state directory.` +
    (st.skippedRounds.length ? ` Skipped to keep the quick mode under 5 minutes: ${st.skippedRounds.map((r) => `round ${r.round + 1} of K=${r.K}/P=${r.P}`).join(', ')}.` : ''));
  line();

  line('## Collisions and wall time per strategy, K and process count');
  line();
  line('| K | processes | strategy | starts (engine starts) | starts with a collision | 95% CI | all healthy | median wall | p90 wall | ratio to unprotected |');
  line('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of cells) {
    for (const s of STRATEGIES) {
      const f = figures.find((x) => x.strategy === s && x.K === c.K && x.P === c.P);
      if (!f) continue;
      line(`| ${c.K} | ${c.P} | ${STRATEGY_LABEL[s]} | ${f.trials} (${f.engineStarts}) | ${f.withCollision} (${pct(f.collisionShare)}) | ${pct(f.collisionCI.low)}-${pct(f.collisionCI.high)} | ` +
        `${f.allHealthyTrials}/${f.trials}${f.timedOut ? `, ${f.timedOut} timed out` : ''}${f.errors ? `, ${f.errors} errors` : ''} | ${sec(f.wall.median)} | ${sec(f.wall.p90)} | ${times(f.ratioToUnprotected)}${f.ratioPairs ? ` (${f.ratioPairs})` : ''} |`);
    }
  }
  line();
  line('Wall time counts until every engine is healthy *or failed*: a baseline start that lost an engine to EADDRINUSE is counted at the time of the failure, ' +
    'without the retry a user would then need (so the baselines\' wall times are flattering). The ratio is the median over rounds of the wall time divided by the ' +
    'unprotected wall time of the same round and cell (number of pairs in parentheses).');
  line();

  line('## Engine Room\'s own costs');
  line();
  line('### Lock handover and probe detection');
  line();
  line(`- Lock handover, untilHealthy (engine i healthy -> engine i+1 spawned, from the supervisor's \`healthyAt\` and \`startedAt\`): ${summ(d.handover.untilHealthy)}.`);
  line('  - it covers everything between `healthyAt` and the next spawn: the supervisor\'s own checks after the successful probe, the registry write that frees the slot, ' +
    'the next engine\'s acquire (another process learns of it by watching the registry file), its lease (port probes) and its spawn.');
  line(`  - within one process: ${summ(d.handover.untilHealthyWithinProcess)}; across processes (P=3; the slot goes to the next process in FIFO order): ${summ(d.handover.untilHealthyAcrossProcesses)}.`);
  line(`  - for comparison, the file-lock baseline (healthy -> next spawn): ${summ(d.handover.filelock)}.`);
  line(`  - consecutive untilHealthy starts that overlapped (next spawned before the previous was healthy): ${d.handover.untilHealthyOverlaps}.`);
  line(`- Probe detection latency (the engine's own "ready" timestamp -> healthy as seen by the supervisor or harness; the fake logs ready right after \`listen()\`):`);
  for (const s of STRATEGIES) line(`  - ${STRATEGY_LABEL[s]}: ${summ(d.probeLatency[s])}`);
  line(`- Go -> first engine spawned: ${STRATEGIES.map((s) => `${STRATEGY_LABEL[s]} ${ms(d.firstSpawn[s].median)}`).join('; ')} (medians).`);
  const spread = (s: Strategy) =>
    cells.map((c) => {
      const v = trials.filter((t) => t.strategy === s && t.K === c.K && t.P === c.P && !t.error).map((t) => t.spawnSpreadMs ?? Number.NaN);
      return v.length ? `K=${c.K}/P=${c.P} ${ms(summarize(v).median)}` : '';
    }).filter(Boolean).join(', ');
  line(`- Spawn spread, first to last spawn of a start (medians): leaseOnly ${spread('er-leaseOnly')}; unprotected ${spread('unprotected')}. ` +
    'A leaseOnly batch holds the slot only for the registry write that leases its ports; its engines spawn after it, beside the batches of other processes.');
  line(`- Engines' own start time (spawn -> ready, includes Python's start and the load): ${summ(d.ownStart)}.`);
  line(`- untilHealthy overhead per engine, (wall - sum of own start times) / engines: ${summ(d.untilHealthyOverheadPerEngine)}.`);
  const byCell = cells.map((c) => {
    const o = d.untilHealthyOverhead.filter((x) => x.K === c.K && x.P === c.P);
    return o.length ? `K=${c.K}/P=${c.P} ${ms(summarize(o.map((x) => x.perEngineMs)).median)}` : '';
  }).filter(Boolean);
  if (byCell.length) line(`  - by cell (median): ${byCell.join('; ')}.`);
  line(`  - it is made of the probe detection latency (median ${ms(d.probeLatency['er-untilHealthy'].median)} in untilHealthy), during which the slot stays held, ` +
    `the handover (median ${ms(d.handover.untilHealthy.median)}) and, once per start, go -> first spawn (median ${ms(d.firstSpawn['er-untilHealthy'].median)}).`);
  line('- Why the detection latency is what it is: the core waits for a starting engine\'s port to listen, trying a TCP connection every 2 ms at first, ' +
    'growing by a tenth a try to 10 ms (src/core/listening.ts), then probes at once, and again after 5, 7.5, 11 ... up to 100 ms while the probe fails; ' +
    'an engine that is ready when it listens (as this fake is) is seen healthy within a few milliseconds plus the probe, unless the machine is saturated ' +
    '(16 engines loading at once on 2 cores delay the supervisor itself). The baselines use the same wait, so their detection latency is similar.');
  line(`- Workers started late after "go" by ${summ(d.startLate)} (event-loop scheduling of the workers).`);
  line();

  line('### A supervisor with 64 idle engines');
  line();
  if (isFailed(costs.idle)) line(`Not measured: ${costs.idle.error}`);
  else {
    const i = costs.idle;
    line(`64 tiny idle engines (\`bench/fixtures/idle_engine.py\`, a Python socket server each), \`leaseOnly\`, \`"port": "auto"\`, health \`{ "http": "/health" }\` at the default 5 s interval, ` +
      `under one \`Supervisor\` in its own process (the worker, bundled like \`dist/cli.js\`), watching the registry like \`engine-room up\`. ${i.healthy} healthy, ${i.failed} failed, all up in ${sec(i.startWallMs)}.`);
    line();
    line(`- CPU over ${i.seconds} s: **${i.cpuPercent.toFixed(1)}%** of one core (${i.cpuSeconds.toFixed(2)} s of CPU); before the health loop shared its /proc passes between engines: 4.6% over 10 s (reference run).`);
    line(`- RSS: ${mb(i.rssBareNodeMB)} for a bare Node process (for scale), ${mb(i.rssFreshMB)} for the idle worker (the core bundled, nothing started), ${mb(i.rssBeforeStartMB)} with the supervisor created, **${mb(i.rssMedianMB)}** (max ${mb(i.rssMaxMB)}) supervising the 64 engines.`);
    if (i.notes.length) line(`- Failures: ${i.notes.join('; ')}`);
  }
  line();

  line('### Log flood');
  line();
  if (isFailed(costs.flood)) line(`Not measured: ${costs.flood.error}`);
  else {
    const f = costs.flood;
    line(`One engine (\`bench/fixtures/flood_for.cjs\`) writes numbered lines as fast as it can for ${f.seconds} s (one synchronous write per line, alternating stdout and stderr) ` +
      `under a \`Supervisor\` that listens to its \`line\` events (as \`engine-room up\` and the extension do).`);
    line();
    line(`- Lines written: **${f.linesWritten.toLocaleString('en-US')}**; in the log file: **${f.linesInLogFile.toLocaleString('en-US')}**, ${f.missingInLogFile} line numbers missing (${mb(f.logFileMB)}).`);
    line(`- Lines delivered by the supervisor's log follower (\`line\` events): ${f.linesSeenBySupervisor.toLocaleString('en-US')}; it caught up ${sec(f.followerCaughtUpMs)} after the flood started; supervisor CPU ${f.supervisorCpuSeconds.toFixed(1)} s.`);
    line(`- Supervisor RSS: ${mb(f.rssBeforeMB)} before, peak ${mb(f.rssPeakMB)}, ${mb(f.rssAfterMB)} after (**+${mb(f.rssAfterMB - f.rssBeforeMB)}**), ${mb(f.rssAfterSettleMB)} 2 s later.` +
      (f.heapBeforeMB !== undefined && f.heapAfterMB !== undefined
        ? ` V8 heap in use: ${mb(f.heapBeforeMB)} before, ${mb(f.heapAfterMB)} after (RSS also counts memory the garbage collector has freed but not returned to the system).`
        : ''));
    line(`- Supervisor event loop delay during the flood: max ${ms(f.loopDelayMaxMs)}, p99 ${ms(f.loopDelayP99Ms)} (health probes and the UI wait that long).`);
  }
  line();

  line('### The CLI\'s start-up');
  line();
  const cli = costs.cli;
  if (!cli || isFailed(cli)) line(`Not measured: ${cli ? cli.error : 'not in this run'}.`);
  else {
    line(`Each command on the demo config (\`test/demo/.vscode/engines.json\`, five engines, none running, a private state directory) as a whole process, ` +
      'stdout and stderr to /dev/null, each run paired with a bare `node -e 0` (alternating which goes first); the ratio is the median of the per-pair ratios.');
    line();
    line(`| command | median | \`node -e 0\` | ratio (p90) | before | target ${CLI_TARGET_RATIO}x |`);
    line('|---|---|---|---|---|---|');
    for (const c of cli.commands) {
      const before = CLI_BEFORE[c.command];
      line(`| \`engine-room ${c.argv.join(' ').replace(/--config \S+/, '--config demo')}\` | ${ms(c.medianMs)} | ${ms(c.nodeMedianMs)} | **${times(c.ratio)}** (${times(c.ratioP90)}) | ${before ? times(before.ratio) : '-'} | ${c.ratio <= CLI_TARGET_RATIO ? 'met' : 'missed'} |`);
    }
  }
  line();

  line('### One long line');
  line();
  const ll = costs.longline;
  if (!ll || isFailed(ll)) line(`Not measured: ${ll ? ll.error : 'not in this run'}`);
  else {
    line(`A healthy engine (\`test/fixtures/engines/longline.cjs --cr\`) writes one line of ${ll.megabytes} MB without a newline (a progress bar that only uses \`\\r\`, as model downloads do) under a \`Supervisor\` that listens to its lines. ` +
      'Before the follower was made linear, 20 MB cost 8.8 s of CPU and 292 MB, and 50 MB never finished (killed at 90 s, 617 MB).');
    line();
    line(`- Followed to its end in ${sec(ll.followedMs)}; supervisor CPU **${ll.supervisorCpuSeconds.toFixed(2)} s**; log file ${mb(ll.logFileMB)}; engine ${ll.state}, ${ll.notHealthyEvents} changes away from healthy meanwhile.`);
    line(`- Supervisor RSS: ${mb(ll.rssBeforeMB)} before, peak **${mb(ll.rssPeakMB)}**; event loop delay max ${ms(ll.loopDelayMaxMs)}, p99 ${ms(ll.loopDelayP99Ms)}.`);
  }
  line();

  line('## Startup cost of the extension');
  line();
  const b = costs.bundle;
  for (const x of [b.extension, b.cli, b.webview]) {
    if (x) line(`- \`${x.file}\`: ${kb(x.bytes)} (${kb(x.gzipBytes)} gzipped), built ${x.builtAt}.`);
  }
  if (!b.extension) line('- `dist/extension.js`: not built; run `npm run build` first.');
  const act = b.activate as { activateMs?: unknown; codeServer?: unknown; at?: unknown; source?: unknown } | null;
  if (act && typeof act.activateMs === 'number') {
    line(`- \`activate()\` in a real VS Code: **${act.activateMs} ms**` +
      `${act.codeServer ? ` (code-server ${String(act.codeServer)})` : ''}${act.source ? `, measured by \`${String(act.source)}\`` : ''}${act.at ? ` at ${String(act.at)}` : ''}` +
      ' and read from `bench/results/activate.json` (not measured by this run).');
  } else if (act) line(`- \`activate()\` in a real VS Code (from \`bench/results/activate.json\`, written by the end-to-end tests): \`${JSON.stringify(act)}\``);
  else line('- `activate()` time in a real VS Code: **not measured in this run** (the end-to-end tests write `bench/results/activate.json`; it does not exist yet).');
  line();

  const bad = trials.filter((t) => t.collision || !t.allHealthy || t.error);
  L.push(...extraSection(costs));
  line('## Starts with a collision or an engine not healthy');
  line();
  if (bad.length === 0) line('None.');
  else {
    line('| trial | K | P | strategy | EADDRINUSE engines | shared ports | not healthy | note |');
    line('|---|---|---|---|---|---|---|---|');
    for (const t of bad) {
      const unhealthy = t.engines.filter((e) => !e.ok);
      const silent = unhealthy.filter((e) => e.attempts === 0 && e.spawns > 0);
      const note = t.error
        ? t.error.split('\n')[0]
        : silent.length
          ? `${silent.length} engine(s) ${silent[0]?.reason ?? ''} without a line of output: the fake never ran (2 is Python's usage error), not a port collision`
          : (unhealthy[0]?.reason ?? '');
      line(`| ${t.trialId} | ${t.K} | ${t.P} | ${STRATEGY_LABEL[t.strategy]} | ${t.eaddrinuseEngines} | ${t.sharedPorts.join(', ') || '-'} | ${unhealthy.length} | ${note.replace(/\|/g, '\\|').slice(0, 200)} |`);
    }
  }
  line();
  line(`Stray processes of this run found and killed at the end: ${info.straysKilled.length}.`);
  line();
  line('Every figure, and every trial with every engine, is in `results.json`.');
  line();

  const reportFile = path.join(outDir, 'report.md');
  fs.writeFileSync(reportFile, L.join('\n'));
  const json = {
    info,
    targets,
    totals: totals.map((t) => ({ ...t, collisionShare: t.trials ? t.withCollision / t.trials : null })),
    figures,
    derived: d,
    costs,
    trials,
  };
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1));
  return { reportFile, targets };
}
