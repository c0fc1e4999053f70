// `engine-room down`.
import { isAlive } from '../../core/platform';
import { UsageError, err, loadOrExit, makeSupervisor, warnIfStateDirFull } from '../common';

export async function run(given: string[], opts: { config?: string }): Promise<number> {
  const config = await loadOrExit(opts.config);
  const sup = makeSupervisor(config, 'engine-room down');
  const names = sup.expand(given);
  for (const n of names) if (!sup.names().includes(n)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  await sup.refresh();
  const running = sup.snapshots().filter((s) => s.pid !== null && (names.length === 0 || names.includes(s.name)));
  await sup.stop(names);
  const survivors = running.filter((s) => s.pid !== null && isAlive({ pid: s.pid, startTime: '' }));
  for (const s of running) if (!survivors.includes(s)) err(`engine-room: stopped ${s.name} (pid ${s.pid})`);
  for (const s of survivors) err(`engine-room: ${s.name} (pid ${s.pid}) is still running after SIGKILL`);
  if (running.length === 0) err('engine-room: nothing was running.');
  warnIfStateDirFull();
  return survivors.length > 0 ? 1 : 0;
}
