/**
 * Pass 3, what an engine refers to: its `dependsOn` names and the variables in its strings (`${port:db}`
 * makes a dependency on `db`; `${port}` needs a port), checked against the engines of the file.
 */
import { classifyVariable, listVariables, unknownVariableMessage, variableText } from '../variables';
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
  readonly hasPortBlock: boolean;
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
    edges.push({ to: target.index, segments, node });
    if (target.name !== undefined && !dependsOn.includes(target.name)) dependsOn.push(target.name);
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
      else if ((ref.kind === 'portBlock' || ref.kind === 'portBlockEnd') && !engine.hasPortBlock) {
        fail(`${shown} needs a "portBlock" on this engine`);
      } else if (ref.kind === 'portOf') {
        const target = byName.get(ref.engine);
        const self = ref.engine === engine.name;
        if (self && !engine.hasPort) fail(`${shown} needs a "port" on this engine`);
        else if (self) continue; // same as `${port}`, not a dependency
        else if (!target) fail(`${shown}: unknown engine "${ref.engine}"${didYouMean(ref.engine, byName.keys())}`);
        else if (!isObject(target.expanded) || target.expanded.port === undefined) {
          fail(`${shown}: engine "${ref.engine}" has no "port"`);
        } else depend(target, [...base, ...keys], node);
      }
    }
  }
  return { dependsOn, edges };
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
