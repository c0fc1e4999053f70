/**
 * The engine object as the schema accepts it (`schema/engines.schema.json`, `definitions/engine`): what the
 * builder reads once an engine has no schema error. These types mirror the schema by hand;
 * `test/unit/configSchemaTypes.test.ts` walks the schema and fails when a field is in one and not the
 * other, and the builders take every field out with a destructuring ended by {@link allFieldsRead}, so a
 * field cannot be added to the schema and then silently dropped.
 */
import type { RestartPolicy, StartLockMode } from '../model';

/** Whole milliseconds or a string like `"30s"` (see `parseDuration`). */
export type RawDuration = number | string;

/** `"auto"`, a fixed port or a range `[from, to]`: `port` and each of `ports`. */
export type RawPort = 'auto' | number | [number, number];

export interface RawHealth {
  readonly http?: string;
  readonly expectStatus?: number | number[];
  readonly tcp?: true;
  readonly log?: string;
  readonly command?: string[];
  readonly interval?: RawDuration;
  readonly timeout?: RawDuration;
  readonly failureThreshold?: number;
}

/** The object form of `restart`. */
export interface RawRestart {
  readonly policy: RestartPolicy['policy'];
  readonly limit?: number;
  readonly backoff?: RawDuration;
  readonly maxBackoff?: RawDuration;
}

export interface RawEngine {
  readonly name: string;
  readonly description?: string;
  readonly command: string | string[];
  readonly shell?: boolean;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | number | boolean>>;
  readonly envFile?: string;
  readonly host?: string;
  readonly port?: RawPort;
  readonly ports?: Readonly<Record<string, RawPort>>;
  readonly portBlock?: number;
  readonly replicas?: number;
  readonly gpusPerReplica?: number;
  readonly health?: RawHealth;
  readonly startTimeout?: RawDuration;
  readonly stopTimeout?: RawDuration;
  readonly dependsOn?: string | string[];
  readonly restart?: RestartPolicy['policy'] | RawRestart;
  readonly stopSignal?: NodeJS.Signals;
  readonly stopSignalTo?: 'group' | 'leader';
  readonly pidFile?: string;
  readonly startLock?: StartLockMode;
  readonly preset?: string;
  readonly gpus?: string | number[];
  readonly openai?: boolean;
}

/**
 * Type-level proof that a builder took every field out of a raw object: give it the `...rest` of the
 * destructuring. A field of the raw types that the builder does not take out is a type error here (and one
 * it takes out but never uses is one for `noUnusedLocals`). Does nothing at run time.
 */
export function allFieldsRead(_rest: Readonly<Record<string, never>>): void {}
