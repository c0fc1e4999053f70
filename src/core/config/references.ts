/**
 * Pass 3, what an engine refers to: its `dependsOn` names and the variables in its strings (`${port:db}`
 * makes a dependency on `db`; `${port}` needs a port), checked against the engines of the file.
 */
import { classifyVariable, listVariables, unknownVariableMessage, variableText, type VariableRef } from '../variables';
import { originNode, type Edge, type EngineEntry } from './engineEntry';
import { isObject, type JsonNode, type PathSegment } from './jsonTree';
import type { RawEngine } from './rawEngine';
import type { Reporter } from './reporter';
import { didYouMean } from './wording';

/** A string of an engine where variables are expanded, with its keys below the engine. */
export interface VariableSite {
  readonly keys: PathSegment[];
  readonly node: JsonNode;
  readonly text: string;
}

/** What of the engine the references are checked against. */
export interface ReferringEngine {
  readonly name: string;
  readonly dependsOn: RawEngine['dependsOn'];
  readonly hasPort: boolean;
  /** The size of the engine's block. */
  readonly portBlock: number | undefined;
  /** The names of its named ports (`"ports"`). */
  readonly portNames: readonly string[];
}

/**
 * The engine's dependencies (explicit ones first, then the engines whose port it uses) and the edges that
 * the cycle check follows; reports unknown names, self-dependencies and variables that cannot be expanded.
 */
export function engineReferences(
  reporter: Reporter,
  entry: EngineEntry,
  byName: ReadonlyMap<string, EngineEntry>,
  engine: ReferringEngine,
  sites: readonly VariableSite[],
): { dependsOn: string[]; edges: Edge[] } {
  const base: PathSegment[] = ['engines', entry.index];
  const edges: Edge[] = [];
  const dependsOn: string[] = [];
  const depend = (target: EngineEntry, segments: PathSegment[], node: JsonNode): void => {
    // A replica of the same group: no edge (replicas cannot form a cycle among themselves, see index.ts).
    if (target.index !== entry.index) edges.push({ to: target.index, segments, node });
    // A group means all its replicas.
    for (const one of target.replicas ?? [target]) {
      if (one.name !== undefined && !dependsOn.includes(one.name)) dependsOn.push(one.name);
    }
  };
  const explicit =
    typeof engine.dependsOn === 'string'
      ? [{ name: engine.dependsOn, keys: ['dependsOn'] as PathSegment[] }]
      : (engine.dependsOn ?? []).map((name, i) => ({ name, keys: ['dependsOn', i] as PathSegment[] }));
  for (const { name, keys } of explicit) {
    const target = byName.get(name);
    const node = originNode(entry, keys);
    const fail = (message: string): void => reporter.error([...base, ...keys], node, message);
    if (name === engine.name) fail(`engine "${name}" cannot depend on itself`);
    else if (target?.index === entry.index) fail(`"${name}" is this engine's own group or one of its replicas; an engine cannot depend on its group`);
    else if (!target) fail(`unknown engine "${name}"${didYouMean(name, byName.keys())}`);
    else depend(target, [...base, ...keys], node);
  }

  for (const { keys, node, text } of sites) {
    for (const use of listVariables(text)) {
      const ref = classifyVariable(use);
      const shown = variableText(use);
      const fail = (message: string): void => reporter.error([...base, ...keys], node, message);
      if (ref === undefined) fail(unknownVariableMessage(use));
      else if (ref.kind === 'port' && !engine.hasPort) fail(`${shown} needs a "port" on this engine`);
      else if (ref.kind === 'namedPort' && !engine.portNames.includes(ref.port)) {
        fail(`${shown}: this engine has no port named "${ref.port}" in "ports"${didYouMean(ref.port, engine.portNames)}`);
      } else if (ref.kind === 'replica') fail(`${shown} needs "replicas" on this engine`);
      else if (ref.kind === 'portBlock' || ref.kind === 'portBlockEnd' || ref.kind === 'portBlockOffset') {
        if (engine.portBlock === undefined) fail(`${shown} needs a "portBlock" on this engine`);
        else if (ref.kind === 'portBlockOffset' && ref.offset >= engine.portBlock) {
          fail(`${shown} is outside the block: "portBlock" is ${engine.portBlock}, so offsets go from 0 to ${engine.portBlock - 1}`);
        }
      } else if (ref.kind === 'portOf') {
        const resolved = resolvePortRef(ref, byName);
        const self = resolved.engine === engine.name;
        const target = resolved.entry;
        const portName = resolved.port;
        if (self && portName === undefined && !engine.hasPort) fail(`${shown} needs a "port" on this engine`);
        else if (self && portName !== undefined && !engine.portNames.includes(portName)) {
          fail(`${shown}: this engine has no port named "${portName}" in "ports"${didYouMean(portName, engine.portNames)}`);
        } else if (self) continue; // same as `${port}` or `${port.NAME}`, not a dependency
        else if (!target) fail(`${shown}: unknown engine "${ref.engine}"${didYouMean(ref.engine, byName.keys())}`);
        else if (target.replicas) {
          fail(`${shown}: "${resolved.engine}" is a group of ${target.replicas.length} replicas; name one, like \${port:${resolved.engine}-0${portName !== undefined ? `.${portName}` : ''}}`);
        } else if (portName === undefined && (!isObject(target.expanded) || target.expanded.port === undefined)) {
          fail(`${shown}: engine "${resolved.engine}" has no "port"`);
        } else if (portName !== undefined && !namedPortsOf(target).includes(portName)) {
          fail(`${shown}: engine "${resolved.engine}" has no port named "${portName}" in "ports"${didYouMean(portName, namedPortsOf(target))}`);
        } else depend(target, [...base, ...keys], node);
      }
    }
  }
  return { dependsOn, edges };
}

/**
 * `${port:X}` names engine X's main port when an engine is called X, else (`${port:X.NAME}`) the port
 * NAME of engine X: engine names may hold dots.
 */
function resolvePortRef(
  ref: Extract<VariableRef, { kind: 'portOf' }>,
  byName: ReadonlyMap<string, EngineEntry>,
): { engine: string; entry?: EngineEntry; port?: string } {
  const whole = byName.get(ref.engine);
  if (whole || !ref.named) return { engine: ref.engine, ...(whole ? { entry: whole } : {}) };
  const entry = byName.get(ref.named.engine);
  return entry ? { engine: ref.named.engine, entry, port: ref.named.port } : { engine: ref.engine };
}

function namedPortsOf(target: EngineEntry): string[] {
  const ports = isObject(target.expanded) ? target.expanded.ports : undefined;
  return isObject(ports) ? Object.keys(ports) : [];
}

/**
 * The strings of an engine where variables are expanded, with their paths below the engine: the text is
 * the expanded engine's, the node the user's (or the origin of a value a preset added).
 */
export function variableSites(raw: RawEngine, entry: EngineEntry): VariableSite[] {
  const sites: VariableSite[] = [];
  const add = (keys: PathSegment[], text: unknown): void => {
    if (typeof text === 'string') sites.push({ keys, node: originNode(entry, keys), text });
  };
  if (typeof raw.command === 'string') add(['command'], raw.command);
  else raw.command.forEach((arg, i) => add(['command', i], arg));
  add(['cwd'], raw.cwd);
  for (const [key, v] of Object.entries(raw.env ?? {})) add(['env', key], v);
  add(['envFile'], raw.envFile);
  add(['pidFile'], raw.pidFile);
  add(['health', 'http'], raw.health?.http);
  raw.health?.command?.forEach((arg, i) => add(['health', 'command', i], arg));
  return sites;
}
