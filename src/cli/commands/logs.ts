// `engine-room logs`.
import * as fs from 'node:fs';
import { LogFollower, fileSize, logFileFor, readLastLines } from '../../core/logs';
import { defaultStateDir, ensureStateDir } from '../../core/stateDir';
import { UsageError, err, loadOrExit, out } from '../common';

export async function run(names: string[], opts: { config?: string; lines?: string; follow?: boolean }): Promise<number> {
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
