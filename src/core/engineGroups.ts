/**
 * Groups of replicas (`"replicas": N` in the config): the name of the entry stands for its replicas
 * `NAME-0` .. `NAME-<N-1>` wherever engines are named by the user (`up NAME`, the tree's group node).
 */
import type { EngineSpec } from './model';

/** The replicas of group `name` in file order; undefined when no engine is a replica of `name`. */
export function groupMembers(engines: readonly EngineSpec[], name: string): string[] | undefined {
  const members = engines.filter((e) => e.replica?.group === name).map((e) => e.name);
  return members.length > 0 ? members : undefined;
}

/** Engine names with each group name replaced by its replicas; order kept, each name once. */
export function expandGroups(engines: readonly EngineSpec[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) for (const m of groupMembers(engines, n) ?? [n]) if (!out.includes(m)) out.push(m);
  return out;
}

/** The names given that are neither an engine nor a group of replicas. */
export function unknownNames(engines: readonly EngineSpec[], names: readonly string[]): string[] {
  return names.filter((n) => !engines.some((e) => e.name === n || e.replica?.group === n));
}
