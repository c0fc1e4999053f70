// `engine-room up`.
import * as fs from 'node:fs';
import { readLastLines } from '../../core/logs';
import { isRunning } from '../../shared/engineState';
import { exitAfterFlush } from '../exit';
import { UsageError, engineJson, err, loadOrExit, makeSupervisor, out, portsText, printStatus, warnIfStateDirFull } from '../common';

const COLORS = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];

export async function run(names: string[], opts: { config?: string; detach?: boolean; json?: boolean; 'stop-on-kill'?: boolean }): Promise<number> {
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

  const started = await sup.start(names);
  // Detached, the exit code says how the engines are when it returns: one that died since its start is a failure.
  const outcomes = opts.detach ? await sup.settle(started) : started;
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
    if (failed.length > 0) warnIfStateDirFull();
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
