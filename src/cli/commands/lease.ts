// `engine-room lease` and what `exec` shares with it: ports from the host-wide registry for a process
// that Engine Room does not start.
import { parseArgs } from 'node:util';
import { errorMessage, isEngineRoomError } from '../../core/errors';
import { leaseExternal, type ExternalLease } from '../../core/externalLeases';
import { commandLine, parentPid } from '../../core/platform';
import { defaultPortRanges } from '../../core/ports';
import { Registry } from '../../core/registry';
import { defaultStateDir, ensureStateDir } from '../../core/stateDir';
import { UsageError, err, out } from '../common';

/** The options of `lease` that `exec` takes too. */
export const LEASE_OPTIONS = {
  port: { type: 'boolean' },
  block: { type: 'string' },
  label: { type: 'string' },
} as const;

export function cliRegistry(): Registry {
  return new Registry(ensureStateDir(defaultStateDir()), (m) => err(`engine-room: ${m}`));
}

function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number; got "${text}".`);
  return Number(text);
}

/** Leases what the options ask for (a port when they ask for nothing) for process `pid`. */
export async function leaseFor(pid: number, o: { port?: boolean; block?: string; label?: string }): Promise<ExternalLease> {
  const block = o.block !== undefined ? parseCount(o.block, '--block') : undefined;
  if (block !== undefined && block < 1) throw new UsageError('--block must be at least 1.');
  try {
    return await leaseExternal(cliRegistry(), defaultPortRanges(), { port: o.port === true || block === undefined, block, label: o.label, pid });
  } catch (e) {
    if (isEngineRoomError(e, 'no-such-process') || isEngineRoomError(e, 'bad-config')) throw new UsageError(errorMessage(e));
    throw e;
  }
}

/** The variables a leased process gets (printed by `lease`, set by `exec`). */
export function leaseVariables(l: ExternalLease): Record<string, string> {
  const vars: Record<string, string> = { ENGINE_ROOM_LEASE_ID: l.id };
  if (l.port !== null) vars.ENGINE_ROOM_PORT = String(l.port);
  if (l.portBlock) vars.ENGINE_ROOM_PORT_BLOCK = `${l.portBlock[0]}-${l.portBlock[1]}`;
  return vars;
}

// npx / npm exec run us through npm and `sh -c`, Python's subprocess with shell=True through `sh -c`: such
// wrappers exit with us, so the lease follows the process above them (a longer life, never a shorter one).
const LAUNCHER = /(^|[\s/])(npm|npx|npm-cli\.js|npx-cli\.js)(\s|$)/;
const SHELL_C = /^(\S*\/)?(sh|bash|dash|zsh) -c /;

/** Who called us: our parent, or above it when the parent is only a launcher that exits when we do. */
export function callerPid(): number {
  let pid = process.ppid;
  for (let i = 0; i < 4; i++) {
    const cmd = commandLine(pid);
    const up = LAUNCHER.test(cmd) || SHELL_C.test(cmd) ? parentPid(pid) : undefined;
    if (up === undefined || up <= 1) break;
    pid = up;
  }
  return pid;
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...LEASE_OPTIONS, pid: { type: 'string' }, json: { type: 'boolean' } } });
  } catch (e) {
    throw new UsageError(`lease: ${errorMessage(e)}`);
  }
  const o = parsed.values;
  // By default the lease lives as long as whoever called us: a shell, a Python actor's subprocess call.
  const pid = o.pid !== undefined ? parseCount(o.pid, '--pid') : callerPid();
  const lease = await leaseFor(pid, o);
  if (o.json) out(JSON.stringify(lease));
  else for (const [k, v] of Object.entries(leaseVariables(lease))) out(`${k}=${v}`);
  return 0;
}
