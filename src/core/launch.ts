/**
 * Turns an engine's spec plus its leased ports into what is spawned: argv, cwd, environment, and the
 * expanded health probe targets. Pure apart from reading the env file, so presets can be tested exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnv } from 'node:util';
import type { EngineSpec } from './model';
import { EngineRoomError, errorMessage } from './errors';
import { placeBlockPorts } from './presetPorts';
import { expandVariables, type VariableContext } from './variables';

export interface Launch {
  readonly command: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** Expanded `health.http` path or URL. */
  readonly httpTarget?: string;
  /** Expanded `health.command`. */
  readonly healthCommand?: string[];
  /** Expanded `pidFile`, absolute. */
  readonly pidFile?: string;
}

export interface LaunchInput {
  readonly spec: EngineSpec;
  readonly workspaceFolder: string;
  readonly port?: number;
  /** The named ports (`"ports"`), for `${port.NAME}`. */
  readonly ports?: Readonly<Record<string, number>>;
  readonly portBlock?: readonly [number, number];
  /** Main (or, with `portName`, named) ports of the other engines of the same config that hold a lease. */
  readonly portOf: (name: string, portName?: string) => number | undefined;
  /** The environment the engine inherits (usually process.env). */
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
}

export function prepareLaunch(input: LaunchInput): Launch {
  const { spec, workspaceFolder, baseEnv } = input;
  const ctx: VariableContext = {
    port: input.port,
    ports: input.ports,
    portBlock: input.portBlock,
    portOf: input.portOf,
    workspaceFolder,
    env: baseEnv,
  };
  const x = (s: string): string => expandVariables(s, ctx);
  const cwd = spec.cwd ? path.resolve(workspaceFolder, x(spec.cwd)) : workspaceFolder;

  const env: Record<string, string> = {};
  // Output goes to a file, where Python buffers stdout in blocks: an inference server's log lines (and
  // a `log` health probe) would lag by kilobytes. Unbuffered unless the user says otherwise.
  env.PYTHONUNBUFFERED = '1';
  for (const [k, v] of Object.entries(baseEnv)) if (v !== undefined) env[k] = v;
  let fromFile: Record<string, string | undefined> = {};
  if (spec.envFile) {
    const file = path.resolve(workspaceFolder, x(spec.envFile));
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new EngineRoomError('bad-config', `Engine "${spec.name}": cannot read envFile ${file}: ${errorMessage(e)}`);
    }
    fromFile = parseEnv(text);
    Object.assign(env, fromFile);
  }
  for (const [k, v] of Object.entries(spec.env)) env[k] = x(v);
  const placed = placeBlockPorts(spec, input.portBlock, (k) => Object.hasOwn(spec.env, k) || fromFile[k] !== undefined);
  Object.assign(env, placed.env);
  const command = spec.command.map(x);
  if (placed.args.length > 0) {
    if (spec.shell) command[0] = `${command[0] ?? ''} ${placed.args.join(' ')}`;
    else command.push(...placed.args);
  }

  const probe = spec.health.probe;
  return {
    command,
    cwd,
    env,
    httpTarget: probe.kind === 'http' ? x(probe.path) : undefined,
    healthCommand: probe.kind === 'command' ? probe.command.map(x) : undefined,
    ...(spec.pidFile !== undefined ? { pidFile: path.resolve(cwd, x(spec.pidFile)) } : {}),
  };
}
