/**
 * `engine-room`: the command-line face of the core, for terminals and scripts.
 * Exit codes: 0 success, 1 an engine failed, 2 bad configuration or usage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { findConfigFile, formatProblem, loadConfig } from '../core/config';
import type { EnginesConfig } from '../core/model';
import { errorMessage, isEngineRoomError } from '../core/errors';
import { LogFollower, fileSize, logFileFor, readLastLines } from '../core/logs';
import { Registry, leaseIsLive } from '../core/registry';
import { lockState } from '../core/hostLock';
import { defaultStateDir, ensureStateDir } from '../core/stateDir';
import { Supervisor, type EngineSnapshot } from '../core/supervisor/supervisor';
import { gpuMemoryByPid, isAlive } from '../core/platform';
import { ENDPOINT_FORMATS, endpointVariables, formatEndpoints, type EndpointFormat } from '../core/endpoints';
import { isRunning } from '../shared/engineState';
import { exitAfterFlush } from './exit';

const USAGE = `Usage: engine-room <command> [options]

Commands:
  up [NAME...]        start engines (and what they depend on); supervises in the foreground
      --detach        return once all are healthy (exit 0) or one failed (exit 1); they keep running
      --json          with --detach: print the engines as JSON
      --stop-on-kill  stop the engines even if this command is killed (SIGKILL); by default they stay
                      running and the next \`up\` (or a VS Code window) adopts them
  down [NAME...]      stop engines of the config, whoever started them; returns when they are gone
  status              state, pid, ports, health and owner of each engine
      --all           every engine on this host, of any config
      --json          machine-readable output
  logs NAME           print an engine's log
      --lines N       the last N lines (default 100)
      --follow, -f    keep printing new lines
  validate            check the config; --json prints the problems as JSON
  env [NAME...]       the running engines' URLs and ports as variables: ENGINE_<NAME>_URL, _PORT,
                      _PORT_BLOCK, _OPENAI_BASE_URL (eval "$(engine-room env)")
      --format F      shell (export lines, the default), dotenv or json

Common options:
  --config FILE       the engines file (default: .vscode/engines.json, searched upwards from here)
  -h, --help          this help

Exit codes: 0 success, 1 an engine failed, 2 bad configuration or usage.`;

class UsageError extends Error {}
/** The configuration has errors (already printed): exit 2. */
class BadConfig extends Error {}

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

/** The stable JSON shape of one engine (documented in the README). */
export function engineJson(s: EngineSnapshot) {
  return {
    name: s.name,
    state: s.state,
    pid: s.pid,
    ports: s.ports,
    portBlock: s.portBlock,
    health: s.health ? { ok: s.health.ok, latencyMs: s.health.latencyMs, detail: s.health.detail, at: new Date(s.health.at).toISOString() } : null,
    owner: s.owner ? { pid: s.owner.pid, kind: s.owner.kind, label: s.owner.label, alive: s.owner.alive } : null,
    reason: s.reason ?? null,
    exitCode: s.exitCode,
    restarts: s.restarts,
    gpuMemoryMiB: s.gpuMemoryMiB ?? null,
    models: s.models ?? null,
    logFile: s.logFile,
    configFile: s.configFile,
  };
}

async function loadOrExit(configOpt: string | undefined): Promise<EnginesConfig> {
  const file = configOpt ? path.resolve(configOpt) : findConfigFile(process.cwd());
  if (!file) throw new UsageError('No .vscode/engines.json found in this folder or above it; pass --config FILE.');
  const result = await loadConfig(file);
  for (const p of result.problems) err(formatProblem(p));
  if (!result.config) {
    const n = result.problems.filter((p) => p.severity === 'error').length;
    err(`${n} error${n === 1 ? '' : 's'} in ${file}; nothing was started.`);
    throw new BadConfig();
  }
  return result.config;
}

function makeSupervisor(config: EnginesConfig, label: string, orphans: 'adopt' | 'leave' = 'leave', stopOnKill = false): Supervisor {
  const stateDir = ensureStateDir(defaultStateDir());
  return new Supervisor({
    config,
    stateDir,
    ownerKind: 'cli',
    ownerLabel: `${label} (pid ${process.pid})`,
    orphans,
    // dist/reaper.js beside this bundle.
    reaper: stopOnKill ? { script: path.join(__dirname, 'reaper.js') } : undefined,
    log: (level, m) => {
      if (level !== 'info') err(`engine-room: ${m}`);
    },
  });
}

function portsText(s: Pick<EngineSnapshot, 'ports' | 'portBlock'>): string {
  const parts = Object.entries(s.ports).map(([k, v]) => (k === 'port' ? String(v) : `${k}=${v}`));
  if (s.portBlock) parts.push(`block ${s.portBlock[0]}-${s.portBlock[1]}`);
  return parts.join(', ') || '-';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function printStatus(snaps: readonly EngineSnapshot[]): void {
  const rows = [['NAME', 'STATE', 'PID', 'PORTS', 'HEALTH', 'OWNER']];
  for (const s of snaps) {
    const health = s.health ? `${s.health.ok ? 'ok' : s.health.detail} (${s.health.latencyMs} ms)` : '-';
    const owner = s.owner ? `${s.owner.label}${s.owner.alive ? '' : ' (exited)'}` : '-';
    rows.push([s.name, s.state, s.pid ? String(s.pid) : '-', portsText(s), health, owner]);
  }
  out(table(rows));
}

const COLORS = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];

async function cmdUp(names: string[], opts: { config?: string; detach?: boolean; json?: boolean; 'stop-on-kill'?: boolean }): Promise<number> {
  const config = await loadOrExit(opts.config);
  for (const n of names) if (!config.engines.some((e) => e.name === n)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  // Engines of this config left by a killed `up` or a crashed window become ours (and stop with us).
  if (opts.detach && opts['stop-on-kill']) throw new UsageError('--stop-on-kill makes no sense with --detach: detached engines outlive the command.');
  const sup = makeSupervisor(config, opts.detach ? 'engine-room up --detach' : 'engine-room up', 'adopt', opts['stop-on-kill'] ?? false);
  if (!opts.detach) sup.watch();
  const tty = process.stdout.isTTY;
  const width = Math.max(...config.engines.map((e) => e.name.length));
  const color = new Map(config.engines.map((e, i) => [e.name, COLORS[i % COLORS.length]]));
  const prefix = (name: string) => {
    const p = `${name.padEnd(width)} |`;
    return tty ? `\x1b[${color.get(name)}m${p}\x1b[0m` : p;
  };
  if (!opts.detach) sup.on('line', (name, line) => out(`${prefix(name)} ${line}`));
  const said = new Map<string, string>();
  sup.on('change', (s) => {
    if (opts.json) return;
    // Say each transition once (health polls re-emit the same state).
    const key = `${s.state}:${s.reason}`;
    if (said.get(s.name) === key) return;
    said.set(s.name, key);
    {
      const ports = Object.keys(s.ports).length || s.portBlock ? ` [${portsText(s)}]` : '';
      err(`engine-room: ${s.name}: ${s.state}${ports}${s.reason ? ` - ${s.reason}` : ''}`);
    }
  });

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    err('engine-room: stopping the engines this command started...');
    await sup.dispose();
    exitAfterFlush(code);
  };
  if (!opts.detach) {
    process.on('SIGINT', () => void shutdown(130));
    process.on('SIGTERM', () => void shutdown(143));
    process.on('SIGHUP', () => void shutdown(129));
  } else {
    // Interrupted while starting: stop what was started so far.
    const abort = () => void shutdown(130);
    process.on('SIGINT', abort);
    process.on('SIGTERM', abort);
  }

  const outcomes = await sup.start(names);
  const failed = outcomes.filter((o) => !o.ok);
  if (opts.detach) {
    await sup.detach();
    const snaps = sup.snapshots().filter((s) => names.length === 0 || names.includes(s.name) || failed.some((f) => f.name === s.name));
    if (opts.json) out(JSON.stringify({ ok: failed.length === 0, engines: snaps.map(engineJson) }, null, 2));
    else printStatus(snaps);
    for (const f of failed) {
      const snap = sup.snapshot(f.name);
      err(`\n${f.name} failed: ${f.reason ?? snap.reason ?? f.state}`);
      const lines = snap.lastLines ?? (fs.existsSync(snap.logFile) ? readLastLines(snap.logFile, 20) : []);
      if (lines.length > 0) err(`last log lines (${snap.logFile}):\n${lines.map((l) => `  ${l}`).join('\n')}`);
    }
    return failed.length === 0 ? 0 : 1;
  }
  // Foreground: keep supervising until interrupted, or until nothing of ours runs any more.
  return await new Promise<number>((resolve) => {
    const check = () => {
      const snaps = sup.snapshots();
      const active = snaps.some((s) => s.owner?.self && isRunning(s));
      if (!active && !stopping) {
        const anyFailed = snaps.some((s) => s.state === 'failed');
        err(`engine-room: no engine of this command is running any more${anyFailed ? ' (some failed)' : ''}.`);
        resolve(anyFailed ? 1 : 0);
      }
    };
    sup.on('change', () => setImmediate(check));
    check();
  });
}

async function cmdDown(names: string[], opts: { config?: string }): Promise<number> {
  const config = await loadOrExit(opts.config);
  const sup = makeSupervisor(config, 'engine-room down');
  for (const n of names) if (!sup.names().includes(n)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  await sup.refresh();
  const running = sup.snapshots().filter((s) => s.pid !== null && (names.length === 0 || names.includes(s.name)));
  await sup.stop(names);
  const survivors = running.filter((s) => s.pid !== null && isAlive({ pid: s.pid, startTime: '' }));
  for (const s of running) if (!survivors.includes(s)) err(`engine-room: stopped ${s.name} (pid ${s.pid})`);
  for (const s of survivors) err(`engine-room: ${s.name} (pid ${s.pid}) is still running after SIGKILL`);
  if (running.length === 0) err('engine-room: nothing was running.');
  return survivors.length > 0 ? 1 : 0;
}

async function cmdStatus(opts: { config?: string; all?: boolean; json?: boolean }): Promise<number> {
  if (opts.all) {
    const stateDir = ensureStateDir(defaultStateDir());
    const data = new Registry(stateDir, (m) => err(`engine-room: ${m}`)).read();
    const leases = data.leases.filter(leaseIsLive);
    const lock = lockState(data);
    if (opts.json) {
      out(
        JSON.stringify(
          {
            engines: leases.map((l) => ({
              name: l.name,
              configFile: l.configFile,
              state: l.engine ? 'running' : 'starting',
              pid: l.engine?.pid ?? null,
              ports: l.ports,
              portBlock: l.portBlock,
              health: null,
              owner: { pid: l.owner.pid, kind: l.owner.kind, label: l.owner.label, alive: isAlive(l.owner) },
              logFile: l.logFile,
            })),
            lock: { holder: lock.holder ? { pid: lock.holder.owner.pid, label: lock.holder.owner.label, engines: lock.holder.names } : null, queue: lock.queue.map((w) => ({ pid: w.owner.pid, engine: w.name })) },
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const rows = [['NAME', 'PID', 'PORTS', 'OWNER', 'CONFIG']];
    for (const l of leases) rows.push([l.name, String(l.engine?.pid ?? '-'), portsText(l), `${l.owner.label}${isAlive(l.owner) ? '' : ' (exited)'}`, l.configFile]);
    out(leases.length > 0 ? table(rows) : 'No engines are running on this host.');
    if (lock.holder) out(`\nStart lock held by ${lock.holder.owner.label} for ${lock.holder.names.join(', ')}; ${lock.queue.length} waiting.`);
    return 0;
  }
  const config = await loadOrExit(opts.config);
  const sup = makeSupervisor(config, 'engine-room status');
  await sup.refresh();
  if (opts.json) sup.attachGpuMemory(gpuMemoryByPid());
  const snaps = sup.snapshots();
  if (opts.json) out(JSON.stringify({ configFile: config.file, engines: snaps.map(engineJson) }, null, 2));
  else printStatus(snaps);
  return 0;
}

async function cmdLogs(names: string[], opts: { config?: string; lines?: string; follow?: boolean }): Promise<number> {
  if (names.length !== 1) throw new UsageError('logs takes exactly one engine name.');
  const name = names[0] as string;
  const n = opts.lines === undefined ? 100 : Number(opts.lines);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--lines needs a whole number, got "${opts.lines}".`);
  const config = await loadOrExit(opts.config);
  if (!config.engines.some((e) => e.name === name)) throw new UsageError(`No engine named "${name}" in ${config.file}.`);
  const stateDir = ensureStateDir(defaultStateDir());
  const file = logFileFor(stateDir, config.file, name);
  if (!fs.existsSync(file)) {
    err(`engine-room: ${name} has no log yet (${file}).`);
    if (!opts.follow) return 0;
  } else {
    for (const line of readLastLines(file, n)) out(line);
  }
  if (!opts.follow) return 0;
  const follower = new LogFollower(file, fileSize(file), (lines) => lines.forEach(out), 0, 200);
  // The follower's own timer does not keep the process alive; this one does, until Ctrl-C.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  follower.close();
  return 0;
}

async function cmdEnv(names: string[], opts: { config?: string; format?: string }): Promise<number> {
  const format = (opts.format ?? 'shell') as EndpointFormat;
  if (!ENDPOINT_FORMATS.includes(format)) {
    throw new UsageError(`--format must be ${ENDPOINT_FORMATS.join(', ')}; got "${opts.format}".`);
  }
  const config = await loadOrExit(opts.config);
  for (const n of names) if (!config.engines.some((e) => e.name === n)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  const sup = makeSupervisor(config, 'engine-room env');
  await sup.refresh();
  const openai = new Map(config.engines.map((e) => [e.name, e.openai === true]));
  const running = sup
    .snapshots()
    .filter((s) => s.pid !== null && (names.length === 0 || names.includes(s.name)))
    .map((s) => ({ ...s, openai: openai.get(s.name) ?? false }));
  const vars = endpointVariables(running, (name, other, prefix) =>
    err(`engine-room: ${name} is left out: its variables would be ${prefix}_*, like those of ${other}`),
  );
  process.stdout.write(formatEndpoints(vars, format));
  return 0;
}

async function cmdValidate(opts: { config?: string; json?: boolean }): Promise<number> {
  const file = opts.config ? path.resolve(opts.config) : findConfigFile(process.cwd());
  if (!file) throw new UsageError('No .vscode/engines.json found in this folder or above it; pass --config FILE.');
  const result = await loadConfig(file);
  if (opts.json) {
    out(JSON.stringify({ file, ok: !!result.config, problems: result.problems }, null, 2));
  } else {
    for (const p of result.problems) err(formatProblem(p));
    if (result.config) out(`${file}: ${result.config.engines.length} engine${result.config.engines.length === 1 ? '' : 's'}, no errors.`);
  }
  return result.config ? 0 : 2;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        detach: { type: 'boolean', short: 'd' },
        json: { type: 'boolean' },
        all: { type: 'boolean', short: 'a' },
        lines: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        'stop-on-kill': { type: 'boolean' },
      },
    });
  } catch (e) {
    err(`engine-room: ${errorMessage(e)}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...names] = parsed.positionals;
  const o = parsed.values;
  if (o.help || !command) {
    (o.help ? out : err)(USAGE);
    return o.help ? 0 : 2;
  }
  try {
    switch (command) {
      case 'up':
        return await cmdUp(names, o);
      case 'down':
        return await cmdDown(names, o);
      case 'status':
        return await cmdStatus(o);
      case 'logs':
        return await cmdLogs(names, o);
      case 'validate':
        return await cmdValidate(o);
      case 'env':
        return await cmdEnv(names, o);
      default:
        throw new UsageError(`Unknown command "${command}".`);
    }
  } catch (e) {
    if (e instanceof BadConfig) return 2;
    if (e instanceof UsageError) {
      err(`engine-room: ${e.message}\n\nRun \`engine-room --help\` for usage.`);
      return 2;
    }
    err(`engine-room: ${errorMessage(e)}`);
    return isEngineRoomError(e, 'bad-config') || isEngineRoomError(e, 'unknown-engine') ? 2 : 1;
  }
}
