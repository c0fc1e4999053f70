/**
 * The report's parts for issue 15 targets 4-6: peers (PM2, concurrently) against Engine Room
 * leaseOnly, scale, real servers. Figures and targets; report.ts places them.
 */
import type { PeerRun, PeerScenario, PeerTool } from './peers';
import type { RealFigures } from './realServers';
import type { ScaleFigures } from './scale';
import { summarize } from './stats';

export interface PeerErRun {
  readonly scenario: 'leaseOnly';
  readonly round: number;
  readonly engines: number;
  readonly allHealthy: boolean;
  readonly wallMs: number | null;
  readonly collision: boolean;
  readonly error?: string;
}

export type PeerFigures = { readonly error: string } | { readonly engines: number; readonly capMs: number; readonly note: string; readonly runs: PeerRun[]; readonly engineRoom: PeerErRun[] };

export interface ExtraFigures {
  readonly peers?: PeerFigures | { readonly error: string };
  readonly scale?: ScaleFigures | { readonly error: string };
  readonly real?: RealFigures;
}

type Status = 'met' | 'missed' | 'not measured' | 'not enough data';
interface Target {
  readonly target: string;
  readonly measured: string;
  readonly status: Status;
}

function isErr<T extends object>(x: T | undefined): x is Extract<T, { readonly error: string }> | undefined {
  return x === undefined || 'error' in x;
}
const sec = (v: number | null) => (v !== null && Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a');
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : 'n/a');

const SCENARIO: Record<PeerScenario, string> = { vllmPort: 'one copy-pasted VLLM_PORT', port0: 'port-0 internal picks (contention range)' };
const TOOLS: PeerTool[] = ['pm2', 'concurrently'];

function peerGroups(p: Exclude<PeerFigures, { error: string }>) {
  const out: Array<{ tool: string; scenario: string; runs: number; reached: number; medianMs: number; collisions: number; restarts: number; ended: string }> = [];
  for (const scenario of ['vllmPort', 'port0'] as const) {
    for (const tool of TOOLS) {
      const rs = p.runs.filter((r) => r.tool === tool && r.scenario === scenario);
      if (!rs.length) continue;
      const ok = rs.filter((r) => r.allHealthy);
      out.push({
        tool,
        scenario: SCENARIO[scenario],
        runs: rs.length,
        reached: ok.length,
        medianMs: summarize(ok.map((r) => r.timeToAllHealthyMs ?? Number.NaN)).median,
        collisions: rs.reduce((a, r) => a + r.collisions, 0),
        restarts: rs.reduce((a, r) => a + r.restarts, 0),
        ended: [...new Set(rs.map((r) => r.ended + (r.error ? ` (${r.error.slice(0, 80)})` : '')))].join(', '),
      });
    }
  }
  return out;
}

export function extraTargets(x: ExtraFigures): Target[] {
  const out: Target[] = [];
  const p = x.peers;
  if (isErr(p)) out.push({ target: 'peers: PM2 and concurrently in the same run (both scenarios)', measured: p?.error ?? 'not run', status: 'not measured' });
  else {
    const er = p.engineRoom;
    const erOk = er.filter((r) => r.allHealthy && !r.collision);
    const erMed = summarize(erOk.map((r) => r.wallMs ?? Number.NaN)).median;
    const g = peerGroups(p);
    const parts = g.map((r) => `${r.tool}/${r.scenario.split(' ')[0] === 'one' ? 'VLLM_PORT' : 'port-0'}: ${r.reached}/${r.runs} all healthy${r.reached ? ` (median ${sec(r.medianMs)}, ${(r.medianMs / erMed).toFixed(1)}x ER)` : ''}, ${r.collisions} collisions, ${r.restarts} restarts`);
    out.push({
      target: `peers: PM2 and concurrently measured in the same run as Engine Room leaseOnly (${p.engines} engines)`,
      measured: `Engine Room leaseOnly ${erOk.length}/${er.length} all healthy without a collision, median ${sec(erMed)}; ${parts.join('; ')}`,
      status: g.length === 4 && er.length > 0 ? 'met' : 'missed',
    });
  }
  const s = x.scale;
  if (isErr(s)) out.push({ target: 'scale: 256 engines in one config, 4 processes x 64, start/show/stop; registry update with 1,000 leases', measured: s?.error ?? 'not run', status: 'not measured' });
  else {
    const full = s.cases.some((c) => c.processes === 1 && c.enginesPerProcess >= 256) && s.cases.some((c) => c.processes === 4 && c.enginesPerProcess >= 64);
    const allOk = s.cases.every((c) => !c.error && c.failed === 0 && c.statusConfigExit === 0 && c.statusAllExit === 0);
    const reg = s.registry.map((r) => `${r.leases} leases ${ms(r.updateMs.median)}`).join(', ');
    out.push({
      target: 'scale: 256 engines in one config, 4 processes x 64, start/show/stop; registry update with 1,000 leases',
      measured: `${s.cases.map((c) => `${c.label}: ${c.healthy}/${c.processes * c.enginesPerProcess} healthy in ${sec(c.startWallMs)}, status --json ${ms(c.statusConfigMs)}, stop ${sec(c.stopWallMs)}`).join('; ')}; one registry update: ${reg}${full ? '' : ` (${s.sizesNote})`}`,
      status: !full ? 'not measured' : allOk ? 'met' : 'missed',
    });
  }
  const r = x.real;
  if (isErr(r)) out.push({ target: 'real servers: Redis (and Ray) spawn -> healthy, Engine Room / by hand', measured: r?.error ?? 'not run', status: 'not measured' });
  else {
    for (const v of r.servers) {
      out.push({
        target: `real servers: ${v.server} spawn -> healthy under Engine Room vs by hand with a tight probe loop`,
        measured: `Engine Room median ${ms(v.engineRoomMedianMs)} (p90 ${ms(v.engineRoomP90Ms)}), by hand ${ms(v.byHandMedianMs)}: ${v.ratio.toFixed(2)}x (${v.byHandMs.length} + ${v.engineRoomMs.length} starts${v.failures.length ? `, ${v.failures.length} failed` : ''})`,
        status: v.engineRoomMs.length && v.byHandMs.length ? 'met' : 'missed',
      });
    }
    for (const n of r.notMeasured) out.push({ target: `real servers: ${n.split(':')[0]}`, measured: n.slice(n.indexOf(':') + 1).trim(), status: 'not measured' });
  }
  return out;
}

export function extraSection(x: ExtraFigures): string[] {
  const L: string[] = [];
  const line = (s = '') => L.push(s);
  line('## Peers: PM2 and concurrently on the same engines');
  line();
  const p = x.peers;
  if (isErr(p)) line(`Not measured: ${p?.error ?? 'not run'}.`);
  else {
    line(`${p.engines} fake vLLM-like engines with fixed serving ports, started by each tool as real processes (PM2 from an ecosystem file under a private PM2_HOME, its defaults: autorestart, at most 16 unstable restarts; concurrently from its CLI, no restart), probed by the harness every 10 ms; a run ends when all are healthy, when the tool has given up (PM2: an app "errored"; concurrently: an engine exited), or at the cap of ${sec(p.capMs)}. ${p.note}`);
    line();
    line('| tool | scenario | runs | all healthy | median time to all healthy | collisions (EADDRINUSE) | restarts | how runs ended |');
    line('|---|---|---|---|---|---|---|---|');
    const er = p.engineRoom;
    const erOk = er.filter((r) => r.allHealthy);
    line(`| Engine Room leaseOnly | VLLM_PORT=\${portBlock} | ${er.length} | ${erOk.length} | ${sec(summarize(erOk.map((r) => r.wallMs ?? Number.NaN)).median)} | ${er.filter((r) => r.collision).length} starts with one | 0 | ${er.map((r) => r.error ?? (r.allHealthy ? 'all healthy' : 'not all healthy')).join(', ')} |`);
    for (const g of peerGroups(p)) line(`| ${g.tool} | ${g.scenario} | ${g.runs} | ${g.reached} | ${sec(g.medianMs)} | ${g.collisions} | ${g.restarts} | ${g.ended} |`);
  }
  line();
  line('## Scale');
  line();
  const s = x.scale;
  if (isErr(s)) line(`Not measured: ${s?.error ?? 'not run'}.`);
  else {
    line(`Tiny idle engines (bench/fixtures/idle_engine.py), leaseOnly, each process a worker with one supervisor, all on one state directory. ${s.sizesNote}`);
    line();
    line('| case | engines | healthy | start (all processes) | per process | `status --json --config` | `status --all --json` (engines listed) | stop |');
    line('|---|---|---|---|---|---|---|---|');
    for (const c of s.cases) {
      line(`| ${c.label} | ${c.processes} x ${c.enginesPerProcess} | ${c.healthy} | ${sec(c.startWallMs)} | ${c.startPerProcessMs.map((v) => sec(v)).join(', ')} | ${ms(c.statusConfigMs)} (exit ${c.statusConfigExit}) | ${ms(c.statusAllMs)} (${c.statusAllEngines}, exit ${c.statusAllExit}) | ${sec(c.stopWallMs)} |`);
      if (c.error) line(`|  | error: ${c.error.replace(/\|/g, '\\|').slice(0, 200)} |  |  |  |  |  |  |`);
      if (c.failed > 0) line(`|  | not healthy: ${c.notes.join('; ').replace(/\|/g, '\\|').slice(0, 300)} |  |  |  |  |  |  |`);
    }
    line();
    line('One registry update (lock, read, prune, one lease changed, atomic write), with N live leases recorded:');
    line();
    line('| leases | file | updates | median | p90 | max |');
    line('|---|---|---|---|---|---|');
    for (const r of s.registry) line(`| ${r.leases} | ${r.fileKiB.toFixed(0)} KiB | ${r.updates} | ${ms(r.updateMs.median)} | ${ms(r.updateMs.p90)} | ${ms(r.updateMs.max)} |`);
  }
  line();
  line('## Real servers');
  line();
  const r = x.real;
  if (isErr(r)) line(`Not measured: ${r?.error ?? 'not run'}.`);
  else {
    line('Spawn -> healthy, alternated: by hand (spawn, then connect + PING in a tight loop until +PONG) and under an Engine Room supervisor (`health: { tcp: true }`, leaseOnly; from `start()` to its return).');
    line();
    line('| server | starts | by hand median | Engine Room median (p90) | its own spawn -> healthy median | ratio |');
    line('|---|---|---|---|---|---|');
    for (const v of r.servers) line(`| ${v.server} (${v.version.split(' ').slice(0, 3).join(' ')}) | ${v.byHandMs.length} + ${v.engineRoomMs.length} | ${ms(v.byHandMedianMs)} | ${ms(v.engineRoomMedianMs)} (${ms(v.engineRoomP90Ms)}) | ${ms(summarize(v.engineRoomSpawnToHealthyMs).median)} | ${v.ratio.toFixed(2)}x |`);
    for (const n of r.notMeasured) line(`\nNot measured: ${n}.`);
  }
  line();
  return L;
}
