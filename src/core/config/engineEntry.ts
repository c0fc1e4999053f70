/** The engines of a config as pass 3 sees them: each with its node, its value and its preset applied. */
import type { ReplicaInfo } from '../model';
import { expandPreset } from '../presets';
import {
  isObject,
  nodeAtPath,
  propertyNode,
  type JsonNode,
  type JsonObject,
  type JsonValue,
  type PathSegment,
} from './jsonTree';

export interface EngineEntry {
  readonly index: number;
  readonly node: JsonNode;
  readonly value: JsonValue;
  /** The name when it is a string, valid or not: references to it should not cascade into more errors. */
  readonly name?: string;
  /** No schema error inside: `value` is a `RawEngine`. */
  readonly valid: boolean;
  /** `value` with its preset and `gpus` applied (see `expandPreset`); `value` itself when not an object. */
  readonly expanded: JsonValue;
  /** A group's replicas (`"replicas": N`), each an entry of its own with the same index and node. */
  readonly replicas?: readonly EngineEntry[];
  /** Set on a replica: which one it is. */
  readonly replica?: ReplicaInfo;
}

/** A dependency of one engine on another, with the string node that creates it. */
export interface Edge {
  readonly to: number;
  readonly segments: readonly PathSegment[];
  readonly node: JsonNode;
}

/** The items of `engines`; `invalid` holds the indexes of those with a schema error. */
export function engineEntries(
  enginesNode: JsonNode,
  values: readonly JsonValue[],
  invalid: ReadonlySet<number>,
): EngineEntry[] {
  return (enginesNode.children ?? []).map((node, index) => {
    const v = values[index] ?? null;
    const name = isObject(v) && typeof v.name === 'string' ? v.name : undefined;
    const expanded = isObject(v) ? (expandPreset(v) as JsonObject) : v;
    const valid = isObject(v) && !invalid.has(index);
    return { index, node, value: v, expanded, valid, ...(name !== undefined ? { name } : {}) };
  });
}

/** The engines an entry makes: its replicas, or the entry itself. */
export function enginesOf(entry: EngineEntry): readonly EngineEntry[] {
  return entry.replicas ?? [entry];
}

/**
 * The node a value of the expanded engine came from: the user's own node when the user wrote it, else
 * `gpus` (or `gpusPerReplica`) for the `CUDA_VISIBLE_DEVICES` it sets, else `preset`, else the engine.
 */
export function originNode(entry: EngineEntry, keys: readonly PathSegment[]): JsonNode {
  const own = nodeAtPath(entry.node, keys);
  if (own) return own;
  if (keys[0] === 'env' && keys[1] === 'CUDA_VISIBLE_DEVICES') {
    const gpus = propertyNode(entry.node, 'gpus') ?? propertyNode(entry.node, 'gpusPerReplica');
    if (gpus) return gpus;
  }
  return propertyNode(entry.node, 'preset') ?? entry.node;
}
