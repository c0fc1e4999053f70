/**
 * The CLI's start-up cost (issue 15, target 3): each command timed as a whole process, interleaved with
 * a bare `node -e 0` (A B A B ...), and taken as the median of the paired ratios, so that a machine
 * whose speed drifts during the run moves both alike. The figures before the change are quoted next to
 * them, with the target of 1.6x.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { median, percentile } from './stats';

export const CLI_TARGET_RATIO = 1.6;
export const ACTIVATE_TARGET_MS = 30;

/**
 * Before issue 15 (a 755 KiB bundle that compiled the schema's validator on every call): the median ratio
 * to `node -e 0` on this kind of machine, 12 pairs each, and the issue's own figure where it gave one.
 */
export const CLI_BEFORE: Readonly<Record<string, { ratio: number; note: string }>> = {
  '--help': { ratio: 1.85, note: '0.46 s in the issue' },
  status: { ratio: 2.84, note: '0.52 s against 0.17 s in the issue, about 3x' },
  validate: { ratio: 2.91, note: '' },
  env: { ratio: 2.84, note: '' },
};
/** `activate()` in the reference run (bench/reference, 2026-11-27). */
export const ACTIVATE_BEFORE_MS = 103;

export interface CliCommandFigures {
  readonly command: string;
  readonly argv: readonly string[];
  readonly runs: number;
  readonly medianMs: number;
  readonly nodeMedianMs: number;
  /** Median of the per-pair ratios command / `node -e 0`. */
  readonly ratio: number;
  readonly ratioP90: number;
  readonly exitCodes: number[];
}

export type CliFigures = { readonly error: string } | { readonly commands: CliCommandFigures[] };

/** One whole process, stdout and stderr to /dev/null; wall milliseconds and its exit code. */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv): { ms: number; code: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { env, stdio: 'ignore' });
  return { ms: performance.now() - t0, code: r.status ?? -1 };
}

/**
 * Times `engine-room --help`, `validate`, `status` and `env` on `configFile` (the demo: five engines, none
 * running) `runs` times each, each run paired with a `node -e 0`.
 */
export function cliCost(root: string, configFile: string, stateDir: string, runs: number): CliFigures {
  const cli = path.join(root, 'dist', 'cli.js');
  const env = { ...process.env, ENGINE_ROOM_STATE_DIR: stateDir };
  const commands: Array<[string, string[]]> = [
    ['--help', ['--help']],
    ['validate', ['validate', '--config', configFile]],
    ['status', ['status', '--config', configFile]],
    ['env', ['env', '--config', configFile]],
  ];
  const out: CliCommandFigures[] = [];
  for (const [name, args] of commands) {
    const argv = [cli, ...args];
    // One warm-up of each, not counted (the page cache, the state directory).
    timeOnce(argv, env);
    timeOnce(['-e', '0'], env);
    const a: number[] = [];
    const b: number[] = [];
    const codes = new Set<number>();
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so neither always runs right after the other.
      const first = i % 2 === 0;
      const x = first ? timeOnce(argv, env) : undefined;
      const y = timeOnce(['-e', '0'], env);
      const z = x ?? timeOnce(argv, env);
      a.push(z.ms);
      b.push(y.ms);
      codes.add(z.code);
    }
    const ratios = a.map((v, i) => v / b[i]!);
    out.push({ command: name, argv: args, runs, medianMs: median(a), nodeMedianMs: median(b), ratio: median(ratios), ratioP90: percentile(ratios, 0.9), exitCodes: [...codes] });
  }
  return { commands: out };
}
