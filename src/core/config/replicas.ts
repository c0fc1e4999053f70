/**
 * Replicas: an entry with `"replicas": N` is N engines, `NAME-0` .. `NAME-<N-1>`. Each replica is an
 * {@link EngineEntry} of its own (same index and node as the entry, so problems land on the user's text),
 * whose strings have `${replica}` replaced by its index and whose `gpus` are its share when
 * `gpusPerReplica` is given. The entry itself stays the group: `dependsOn: "NAME"` means all its replicas.
 */
import type { ReplicaInfo } from '../model';
import { expandPreset, gpuList } from '../presets';
import type { EngineEntry } from './engineEntry';
import { isObject, propertyNode, type JsonObject, type JsonValue } from './jsonTree';
import type { Reporter } from './reporter';

const REPLICA = /\$\{replica\}/g;

/** The replica count of an entry's value, when it is a valid one (the schema reports the others). */
export function replicaCount(value: JsonValue): number | undefined {
  const n = isObject(value) ? value.replicas : undefined;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** `NAME-INDEX`, the name of one replica. */
export function replicaName(group: string, index: number): string {
  return `${group}-${index}`;
}

/** The entries with their replicas filled in (see {@link replicaEntries}). */
export function withReplicas(entries: readonly EngineEntry[]): EngineEntry[] {
  return entries.map((entry) => {
    const replicas = replicaEntries(entry);
    return replicas.length > 0 ? { ...entry, replicas } : entry;
  });
}

/**
 * The replicas of a group entry (empty for an entry without `replicas` or without a name). Pure: the
 * problems of `replicas`, `gpusPerReplica` and `gpus` are reported by {@link checkReplicaFields}.
 */
export function replicaEntries(entry: EngineEntry): EngineEntry[] {
  const count = replicaCount(entry.value);
  if (count === undefined || entry.name === undefined || !isObject(entry.value)) return [];
  const group = entry.name;
  const share = gpuShares(entry.value, count);
  return Array.from({ length: count }, (_, index) => {
    const name = replicaName(group, index);
    const value = substitute(entry.value, String(index)) as JsonObject;
    value.name = name;
    const gpus = share?.[index];
    if (gpus !== undefined) value.gpus = gpus;
    const replica: ReplicaInfo = { group, index, count };
    return { ...entry, name, value, expanded: expandPreset(value) as JsonObject, replica };
  });
}

/** Each replica's GPUs under `gpusPerReplica`: its slice of the `gpus` list, or of 0, 1, 2, ... */
function gpuShares(value: JsonObject, count: number): string[] | undefined {
  const per = value.gpusPerReplica;
  if (typeof per !== 'number' || !Number.isInteger(per) || per < 1) return undefined;
  const listed = gpuList(value.gpus);
  const pool = listed !== undefined ? listed.split(',') : Array.from({ length: per * count }, (_, i) => String(i));
  if (pool.length < per * count) return undefined;
  return Array.from({ length: count }, (_, i) => pool.slice(per * i, per * i + per).join(','));
}

/** A copy of `value` with `${replica}` replaced in every string (keys stay as they are). */
function substitute(value: JsonValue, index: string): JsonValue {
  if (typeof value === 'string') return value.replace(REPLICA, index);
  if (Array.isArray(value)) return value.map((v) => substitute(v, index));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, k, { value: substitute(v, index), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * What the schema cannot see of `replicas`, `gpusPerReplica` and `gpus`: `gpusPerReplica` or `${replica}`
 * in `gpus` without `replicas`, both ways of sharing GPUs at once, and a `gpus` list too short to share.
 */
export function checkReplicaFields(reporter: Reporter, entry: EngineEntry): void {
  const v = entry.value;
  if (!isObject(v)) return;
  const at = (key: string) => propertyNode(entry.node, key) ?? entry.node;
  const error = (key: string, message: string): void => reporter.error(['engines', entry.index, key], at(key), message);
  const count = replicaCount(v);
  const per = typeof v.gpusPerReplica === 'number' ? v.gpusPerReplica : undefined;
  const gpusText = typeof v.gpus === 'string' ? v.gpus : undefined;
  const replicaInGpus = gpusText !== undefined && gpusText.includes('${replica}');
  if (count === undefined) {
    if (per !== undefined) error('gpusPerReplica', 'needs "replicas" on this engine');
    if (replicaInGpus) error('gpus', '${replica} needs "replicas" on this engine');
    return;
  }
  if (per === undefined) return;
  if (replicaInGpus) {
    error('gpusPerReplica', 'give either "gpusPerReplica" or "${replica}" in "gpus", not both');
    return;
  }
  const listed = gpuList(v.gpus);
  const have = listed?.split(',').length;
  if (have !== undefined && have < per * count) {
    error('gpus', `${count} replicas of ${per} GPUs need ${per * count} GPUs; the list has ${have}`);
  }
}
