// `engine-room exec [--port] [--block N] [--label TEXT] [--env NAME=TEMPLATE]... -- COMMAND ARGS...`:
// leases, runs COMMAND (no shell) with the lease in its environment, forwards signals, exits with its
// code and ends the lease with it.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { findConfigFile, workspaceFolderFor } from '../../core/config';
import { errorMessage } from '../../core/errors';
import { releaseExternal, type ExternalLease } from '../../core/externalLeases';
import { leaseKey } from '../../core/registry';
import { expandVariables } from '../../core/variables';
import { UsageError, err } from '../common';
import { LEASE_OPTIONS, cliRegistry, leaseFor, leaseVariables } from './lease';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

function parseEnv(items: readonly string[]): Array<[string, string]> {
  return items.map((item) => {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !ENV_NAME.test(name)) throw new UsageError(`--env takes NAME=TEMPLATE (NAME letters, digits and _); got "${item}".`);
    return [name, item.slice(eq + 1)];
  });
}

/** The values of `--env` templates: the lease's ports, the config's engines for `${port:NAME}`. */
function expandEnv(pairs: ReadonlyArray<[string, string]>, lease: ExternalLease, configOpt: string | undefined): Record<string, string> {
  const configFile = configOpt ? path.resolve(configOpt) : findConfigFile(process.cwd());
  const leases = pairs.some(([, t]) => t.includes('${port:')) ? cliRegistry().read().leases : [];
  const ctx = {
    port: lease.port ?? undefined,
    portBlock: lease.portBlock ?? undefined,
    portOf: (name: string, portName = 'port') => (configFile ? leases.find((l) => l.key === leaseKey(configFile, name))?.ports[portName] : undefined),
    workspaceFolder: configFile ? workspaceFolderFor(configFile) : process.cwd(),
    env: process.env,
  };
  return Object.fromEntries(pairs.map(([name, template]) => [name, expandVariables(template, ctx)]));
}

export async function run(argv: string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  if (dashes < 0 || dashes === argv.length - 1) throw new UsageError('exec needs the command after "--": engine-room exec [options] -- COMMAND ARGS...');
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(0, dashes), options: { ...LEASE_OPTIONS, env: { type: 'string', multiple: true }, config: { type: 'string', short: 'c' } } });
  } catch (e) {
    throw new UsageError(`exec: ${errorMessage(e)}`);
  }
  const o = parsed.values;
  const [file, ...args] = argv.slice(dashes + 1) as [string, ...string[]];
  const pairs = parseEnv(o.env ?? []);
  // The lease lives with this process: it ends when the command has ended and we exit (or are killed).
  const lease = await leaseFor(process.pid, o);
  const registry = cliRegistry();
  let env: Record<string, string>;
  try {
    env = { ...leaseVariables(lease), ...expandEnv(pairs, lease, o.config) };
  } catch (e) {
    await releaseExternal(registry, lease.id);
    throw new UsageError(`--env: ${errorMessage(e)}`);
  }
  const child = execa(file, args, { stdio: 'inherit', env, reject: false, stripFinalNewline: false });
  // Ctrl-C in a terminal reaches the command by itself (same process group); a second SIGINT would
  // interrupt its own handling of the first.
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal === 'SIGINT' && process.stdin.isTTY) return;
    child.kill(signal);
  };
  const handlers = FORWARDED.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const result = await child;
  for (const [s, h] of handlers) process.off(s, h);
  await releaseExternal(registry, lease.id).catch((e: unknown) => err(`engine-room: could not release lease ${lease.id}: ${errorMessage(e)}`));
  if (result.exitCode !== undefined) return result.exitCode;
  if (result.signal) return 128 + (os.constants.signals[result.signal] ?? 0);
  err(`engine-room: cannot run ${file}: ${result.originalMessage ?? result.shortMessage}`);
  return 127;
}
