// `engine-room up`.
import { expandGroups, unknownNames } from '../../core/engineGroups';
import { isRunning } from '../../shared/engineState';
import { exitAfterFlush } from '../exit';
import { UsageError, err, loadOrExit, makeSupervisor, out, portsText } from '../common';

const COLORS = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];

export async function run(given: string[], opts: { config?: string; detach?: boolean; json?: boolean; 'stop-on-kill'?: boolean }): Promise<number> {
  const config = await loadOrExit(opts.config);
  for (const n of unknownNames(config.engines, given)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  // `up NAME` of a group of replicas starts them all; `up NAME-3` one of them.
  const names = expandGroups(config.engines, given);
  // Engines of this config left by a killed `up` or a crashed window become ours (and stop with us).
  if (opts.detach && opts['stop-on-kill']) throw new UsageError('--stop-on-kill makes no sense with --detach: detached engines outlive the command.');
  // Detached: a background supervisor starts the engines and stays with them (src/cli/detached.ts).
  if (opts.detach) return (await import('../detached')).upDetached(config.file, names, opts);
  const sup = makeSupervisor(config, 'engine-room up', 'adopt', opts['stop-on-kill'] ?? false);
  sup.watch();
  const tty = process.stdout.isTTY;
  const width = Math.max(...config.engines.map((e) => e.name.length));
  const color = new Map(config.engines.map((e, i) => [e.name, COLORS[i % COLORS.length]]));
  const prefix = (name: string) => {
    const p = `${name.padEnd(width)} |`;
    return tty ? `\x1b[${color.get(name)}m${p}\x1b[0m` : p;
  };
  sup.on('line', (name, line) => out(`${prefix(name)} ${line}`));
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
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));
  process.on('SIGHUP', () => void shutdown(129));

  await sup.start(names);
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
