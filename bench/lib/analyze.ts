/**
 * Turning what the workers report and what the engines wrote in their logs into the benchmark's figures.
 *
 * A collision is read from the engines' own logs, never from the harness: an engine of the start that
 * printed EADDRINUSE (in any attempt, so an Engine Room retry after EADDRINUSE still counts), or two
 * engines whose final attempts printed the same port ("serving port P, internal ports [...]").
 */
import * as fs from 'node:fs';
import type { EngineOutcome, Strategy } from './protocol';
import { STRATEGIES } from './protocol';
import { median, summarize, wilson, type Interval, type Summary } from './stats';

/** One run of the fake engine, as its log tells it (one per pid). */
export interface Attempt {
  readonly pid: number;
  serving?: number;
  internal: number[];
  startAt?: number;
  readyAt?: number;
  eaddrinuse: boolean;
}

const FAKE_LINE = /^\[fake-vllm pid (\d+)\] (.*)$/;
const PORTS_LINE = /^serving port (\d+), internal ports \[([\d, ]*)\]/;
const STAMP_LINE = /^at (\d+(?:\.\d+)?) (\w+)$/;
const ADDR_IN_USE = /EADDRINUSE|address already in use/i;

export function parseEngineLog(file: string): Attempt[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const attempts: Attempt[] = [];
  const byPid = new Map<number, Attempt>();
  for (const line of text.split('\n')) {
    const m = FAKE_LINE.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    let a = byPid.get(pid);
    if (!a) {
      a = { pid, internal: [], eaddrinuse: false };
      byPid.set(pid, a);
      attempts.push(a);
    }
    const body = m[2] ?? '';
    const ports = PORTS_LINE.exec(body);
    if (ports) {
      a.serving = Number(ports[1]);
      a.internal = (ports[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
      continue;
    }
    const stamp = STAMP_LINE.exec(body);
    if (stamp) {
      const t = Number(stamp[1]) * 1000;
      if (stamp[2] === 'ready') a.readyAt = t;
      else if (stamp[2] === 'start') a.startAt = t;
      continue;
    }
    if (ADDR_IN_USE.test(body)) a.eaddrinuse = true;
  }
  return attempts;
}

export interface EngineFigures {
  readonly worker: number;
  readonly name: string;
  readonly ok: boolean;
  readonly reason?: string;
  readonly spawns: number;
  readonly attempts: number;
  readonly eaddrinuse: boolean;
  readonly spawnAt: number | null;
  readonly healthyAt: number | null;
  readonly settledAt: number | null;
  readonly readyAt: number | null;
  /** Spawn to ready, by the engine's own clock: its own start time. */
  readonly ownStartMs: number | null;
  /** Ready (the engine listens) to healthy (the harness or supervisor saw it). */
  readonly probeLatencyMs: number | null;
  readonly ports: number[];
}

export interface Handover {
  /** Previous engine healthy -> next engine spawned. */
  readonly ms: number;
  /** The two engines belong to different OS processes. */
  readonly crossProcess: boolean;
}

export interface TrialResult {
  readonly trialId: string;
  readonly round: number;
  readonly K: number;
  readonly P: number;
  readonly strategy: Strategy;
  readonly goAt: number;
  readonly timedOut: boolean;
  readonly error?: string;
  readonly allHealthy: boolean;
  readonly collision: boolean;
  readonly eaddrinuseEngines: number;
  readonly sharedPorts: number[];
  /** Go -> every engine healthy or failed for good; null when the trial timed out. */
  readonly wallMs: number | null;
  readonly engineStarts: number;
  readonly spawns: number;
  readonly startLateMs: number;
  /** Go -> the first spawn. */
  readonly firstSpawnMs: number | null;
  /** The first spawn -> the last spawn of the start (every process). */
  readonly spawnSpreadMs: number | null;
  /** Sum of the engines' own start times (spawn -> ready), for the untilHealthy target. */
  readonly sumOwnStartMs: number | null;
  readonly handovers: Handover[];
  /** Pairs of consecutive starts that overlapped (the next spawned before the previous was healthy). */
  readonly overlaps: number;
  readonly engines: EngineFigures[];
}

export function analyzeTrial(args: {
  trialId: string;
  round: number;
  K: number;
  P: number;
  strategy: Strategy;
  goAt: number;
  timedOut: boolean;
  error?: string;
  startLateMs: number;
  outcomes: EngineOutcome[];
}): TrialResult {
  const { outcomes } = args;
  const engines: EngineFigures[] = outcomes.map((o) => {
    const attempts = parseEngineLog(o.logFile);
    const last = attempts[attempts.length - 1];
    const readyAt = o.ok && last?.readyAt !== undefined ? last.readyAt : null;
    return {
      worker: o.worker,
      name: o.name,
      ok: o.ok,
      reason: o.reason,
      spawns: o.spawns,
      attempts: attempts.length,
      eaddrinuse: attempts.some((a) => a.eaddrinuse),
      spawnAt: o.spawnAt,
      healthyAt: o.healthyAt,
      settledAt: o.settledAt,
      readyAt,
      ownStartMs: readyAt !== null && o.spawnAt !== null ? readyAt - o.spawnAt : null,
      probeLatencyMs: readyAt !== null && o.healthyAt !== null ? o.healthyAt - readyAt : null,
      ports: last && last.serving !== undefined ? [last.serving, ...last.internal] : [],
    };
  });
  const owners = new Map<number, number>();
  const shared = new Set<number>();
  engines.forEach((e, i) => {
    for (const p of new Set(e.ports)) {
      if (owners.has(p)) shared.add(p);
      else owners.set(p, i);
    }
  });
  const eaddrinuseEngines = engines.filter((e) => e.eaddrinuse).length;
  const settled = engines.map((e) => e.settledAt).filter((t): t is number => t !== null);
  const wallMs = args.timedOut || settled.length < engines.length || engines.length === 0 ? null : Math.max(...settled) - args.goAt;
  const spawned = engines.filter((e) => e.spawnAt !== null).sort((a, b) => (a.spawnAt as number) - (b.spawnAt as number));
  const handovers: Handover[] = [];
  let overlaps = 0;
  for (let i = 0; i + 1 < spawned.length; i++) {
    const prev = spawned[i]!;
    const next = spawned[i + 1]!;
    if (prev.healthyAt === null) continue;
    const ms = (next.spawnAt as number) - prev.healthyAt;
    if (ms < 0) overlaps++;
    else handovers.push({ ms, crossProcess: prev.worker !== next.worker });
  }
  const own = engines.map((e) => e.ownStartMs);
  return {
    trialId: args.trialId,
    round: args.round,
    K: args.K,
    P: args.P,
    strategy: args.strategy,
    goAt: args.goAt,
    timedOut: args.timedOut,
    error: args.error,
    allHealthy: engines.length === args.K * args.P && engines.every((e) => e.ok),
    collision: eaddrinuseEngines > 0 || shared.size > 0,
    eaddrinuseEngines,
    sharedPorts: [...shared].sort((a, b) => a - b),
    wallMs,
    engineStarts: args.K * args.P,
    spawns: engines.reduce((s, e) => s + e.spawns, 0),
    startLateMs: args.startLateMs,
    firstSpawnMs: spawned.length ? (spawned[0]!.spawnAt as number) - args.goAt : null,
    spawnSpreadMs: spawned.length ? (spawned[spawned.length - 1]!.spawnAt as number) - (spawned[0]!.spawnAt as number) : null,
    sumOwnStartMs: own.every((x) => x !== null) && own.length > 0 ? (own as number[]).reduce((a, b) => a + b, 0) : null,
    handovers,
    overlaps,
    engines,
  };
}

/** The figures of one strategy in one cell (K engines per process, P processes). */
export interface CellFigures {
  readonly strategy: Strategy;
  readonly K: number;
  readonly P: number;
  readonly trials: number;
  readonly engineStarts: number;
  readonly withCollision: number;
  readonly collisionShare: number;
  readonly collisionCI: Interval;
  readonly allHealthyTrials: number;
  readonly timedOut: number;
  readonly errors: number;
  readonly wall: Summary;
  /** Median over rounds of (this strategy's wall time / the unprotected wall time of the same round). */
  readonly ratioToUnprotected: number;
  readonly ratioPairs: number;
}

export function cellFigures(trials: readonly TrialResult[], strategy: Strategy, K: number, P: number): CellFigures {
  const mine = trials.filter((t) => t.strategy === strategy && t.K === K && t.P === P && !t.error);
  const errors = trials.filter((t) => t.strategy === strategy && t.K === K && t.P === P && t.error).length;
  const k = mine.filter((t) => t.collision).length;
  const ratios: number[] = [];
  for (const t of mine) {
    const base = trials.find((u) => u.strategy === 'unprotected' && u.K === K && u.P === P && u.round === t.round && !u.error);
    if (base?.wallMs && t.wallMs !== null) ratios.push(t.wallMs / base.wallMs);
  }
  return {
    strategy,
    K,
    P,
    trials: mine.length,
    engineStarts: mine.reduce((s, t) => s + t.engineStarts, 0),
    withCollision: k,
    collisionShare: mine.length ? k / mine.length : Number.NaN,
    collisionCI: wilson(k, mine.length),
    allHealthyTrials: mine.filter((t) => t.allHealthy).length,
    timedOut: mine.filter((t) => t.timedOut).length,
    errors,
    wall: summarize(mine.map((t) => t.wallMs ?? Number.NaN)),
    ratioToUnprotected: median(ratios),
    ratioPairs: ratios.length,
  };
}

export function allCellFigures(trials: readonly TrialResult[], cells: ReadonlyArray<{ K: number; P: number }>): CellFigures[] {
  const out: CellFigures[] = [];
  for (const c of cells) for (const s of STRATEGIES) out.push(cellFigures(trials, s, c.K, c.P));
  return out;
}

/** Totals of one strategy over every cell. */
export function strategyTotals(trials: readonly TrialResult[], strategy: Strategy) {
  const mine = trials.filter((t) => t.strategy === strategy && !t.error);
  const k = mine.filter((t) => t.collision).length;
  return {
    strategy,
    trials: mine.length,
    engineStarts: mine.reduce((s, t) => s + t.engineStarts, 0),
    spawns: mine.reduce((s, t) => s + t.spawns, 0),
    withCollision: k,
    collisionCI: wilson(k, mine.length),
    eaddrinuseEngines: mine.reduce((s, t) => s + t.eaddrinuseEngines, 0),
    sharedPortTrials: mine.filter((t) => t.sharedPorts.length > 0).length,
    notAllHealthy: mine.filter((t) => !t.allHealthy).length,
  };
}
