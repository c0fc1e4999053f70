/**
 * Pass 3 for one engine that passed the schema: its expanded fields (preset and `gpus` applied) become an
 * {@link EngineSpec}, and what the schema cannot see is reported: a reversed port range, probes and
 * variables that need a port, unknown engines, missing env files, paths outside the workspace.
 */
import * as path from 'node:path';
import type { EngineSpec } from '../model';
import { gpuList, isPresetName } from '../presets';
import { listVariables } from '../variables';
import { checkPresetBlock, checkPresetPort } from './crossChecks';
import { ENGINE_DEFAULTS } from './defaults';
import { originNode, type Edge, type EngineEntry } from './engineEntry';
import {
  durationReader,
  toEnvironment,
  toHealthSpec,
  toNamedPorts,
  toPortRequest,
  toRestartPolicy,
  type FieldError,
} from './engineFields';
import type { PathSegment } from './jsonTree';
import { allFieldsRead, type RawEngine } from './rawEngine';
import { engineReferences, variableSites } from './references';
import type { Reporter } from './reporter';

/** What building an engine needs besides the engine: where to report, and the workspace's files. */
export interface BuildContext {
  readonly reporter: Reporter;
  readonly workspaceFolder: string;
  readonly fileExists: (absolutePath: string) => boolean;
}

export function buildEngine(
  ctx: BuildContext,
  entry: EngineEntry,
  byName: ReadonlyMap<string, EngineEntry>,
): { spec: EngineSpec; edges: Edge[] } {
  // The schema accepted this engine, so it has the RawEngine shape; presets keep that shape.
  const raw = entry.expanded as unknown as RawEngine;
  const user = entry.value as unknown as RawEngine;
  const {
    name,
    description,
    command,
    shell,
    cwd,
    env,
    envFile,
    host,
    port,
    ports,
    portBlock,
    replicas,
    gpusPerReplica,
    health,
    startTimeout,
    stopTimeout,
    dependsOn,
    restart,
    stopSignal,
    stopSignalTo,
    pidFile,
    startLock,
    preset,
    gpus,
    openai,
    ...unread
  } = raw;
  allFieldsRead(unread);
  // Read by replicas.ts: the entry is already one of its replicas here, with its own gpus.
  void replicas;
  void gpusPerReplica;
  const { reporter } = ctx;
  const base: PathSegment[] = ['engines', entry.index];
  const fieldError: FieldError = (keys, message) =>
    reporter.error([...base, ...keys], originNode(entry, keys), message);
  const duration = durationReader(fieldError);
  const hasPort = port !== undefined;
  const d = ENGINE_DEFAULTS;

  const portRequest = toPortRequest(port, fieldError, ['port']);
  const namedPorts = toNamedPorts(ports, fieldError);
  const healthSpec = toHealthSpec(health, hasPort, fieldError, duration);
  const restartPolicy = toRestartPolicy(restart, duration);
  const lockMode = startLock ?? d.startLock;
  if (lockMode === 'untilListening' && !hasPort) {
    fieldError(['startLock'], '"untilListening" needs a "port" on this engine; use "untilHealthy" or add "port"');
  }
  const environment = toEnvironment(env);
  checkPaths(ctx, entry, { cwd, envFile });
  const references = engineReferences(
    reporter,
    entry,
    byName,
    { name, dependsOn, hasPort, portBlock, portNames: Object.keys(ports ?? {}) },
    variableSites(raw, entry),
  );
  if (isPresetName(user.preset)) {
    checkPresetPort(reporter, entry, user);
    checkPresetBlock(reporter, entry, user);
  }

  const gpuIds = gpuList(gpus);
  const spec: EngineSpec = {
    name,
    ...(description !== undefined ? { description } : {}),
    command: typeof command === 'string' ? [command] : [...command],
    shell: shell ?? d.shell,
    ...(cwd !== undefined ? { cwd } : {}),
    env: environment,
    ...(envFile !== undefined ? { envFile } : {}),
    host: host ?? d.host,
    ...(portRequest !== undefined ? { port: portRequest } : {}),
    ...(namedPorts !== undefined ? { ports: namedPorts } : {}),
    ...(portBlock !== undefined ? { portBlock } : {}),
    health: healthSpec,
    startTimeout: duration(['startTimeout'], startTimeout, d.startTimeout),
    dependsOn: references.dependsOn,
    restart: restartPolicy,
    stopSignal: stopSignal ?? d.stopSignal,
    stopTimeout: duration(['stopTimeout'], stopTimeout, d.stopTimeout),
    stopSignalTo: stopSignalTo ?? d.stopSignalTo,
    ...(pidFile !== undefined ? { pidFile } : {}),
    startLock: lockMode,
    ...(preset !== undefined ? { preset } : {}),
    ...(gpuIds !== undefined ? { gpus: gpuIds } : {}),
    ...(openai !== undefined ? { openai } : {}),
    ...(entry.replica !== undefined ? { replica: entry.replica } : {}),
    range: reporter.nodeRange(entry.node),
  };
  return { spec, edges: references.edges };
}

/** Warns about an env file that does not exist and about paths that leave the workspace folder. */
function checkPaths(
  { reporter, workspaceFolder, fileExists }: BuildContext,
  entry: EngineEntry,
  paths: Pick<RawEngine, 'cwd' | 'envFile'>,
): void {
  const warn = (key: 'cwd' | 'envFile', message: string): void =>
    reporter.warning(['engines', entry.index, key], originNode(entry, [key]), message);
  if (paths.envFile !== undefined && listVariables(paths.envFile).length === 0) {
    const absolute = path.resolve(workspaceFolder, paths.envFile);
    if (!fileExists(absolute)) {
      warn('envFile', `the env file "${paths.envFile}" does not exist (${absolute})`);
    }
  }
  // A workspace is code from someone: say so when it reaches outside its folder (allowed: a model
  // cache or a venv elsewhere is common, but it should be a choice the reader sees).
  for (const key of ['cwd', 'envFile'] as const) {
    const value = paths[key];
    if (value === undefined || listVariables(value).some((v) => v.name !== 'workspaceFolder')) continue;
    const absolute = path.resolve(workspaceFolder, value.replace(/\$\{workspaceFolder\}/g, workspaceFolder));
    const rel = path.relative(workspaceFolder, absolute);
    if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      warn(key, `"${value}" is outside the workspace folder (${absolute})`);
    }
  }
}
