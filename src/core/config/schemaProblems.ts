/**
 * Pass 2: the schema, run by ajv, with ajv's raw errors boiled down to one readable message per bad field
 * (the schema's own `errorMessage` where it has one), each at the node of the bad value or key.
 */
import type { ErrorObject } from 'ajv';
import {
  childNode,
  decodePointerSegment,
  formatPath,
  isObject,
  nodeAtPath,
  propertyOf,
  type JsonNode,
  type JsonValue,
  type PathSegment,
} from './jsonTree';
import type { Reporter } from './reporter';
import { schemaSteps } from './schema';
import { schemaValidator } from './schemaValidator';
import { andList, orList, preview, suggest } from './wording';

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/**
 * The message the schema gives for a failed keyword: the nearest `errorMessage` (or `patternErrorMessage` for
 * a failed `pattern`) from the keyword's node up to the field it belongs to. `itemsUp` tells how many array
 * levels the message's node sits above the failing value, e.g. 1 for a bad item of a port range.
 */
function schemaMessage(schemaPath: string, keyword: string): { message: string; itemsUp: number } | undefined {
  const steps = schemaSteps(schemaPath);
  let itemsUp = 0;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if (!step) break;
    const own = i === steps.length - 1 && keyword === 'pattern' ? step.node.patternErrorMessage : undefined;
    const message = own ?? step.node.errorMessage;
    if (typeof message === 'string') return { message, itemsUp };
    if (step.via === 'item') itemsUp++;
    else if (step.via !== 'combinator') break;
  }
  return undefined;
}

/** ajv's message, reworded for people. */
function keywordMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const limit = Number(p.limit);
  switch (e.keyword) {
    case 'type': {
      const types = Array.isArray(p.type) ? p.type.map(String) : String(p.type).split(',');
      return `must be ${orList(types.map((t) => TYPE_NAMES[t] ?? t))}`;
    }
    case 'enum':
      return `must be ${orList((Array.isArray(p.allowedValues) ? p.allowedValues : []).map((v) => JSON.stringify(v)))}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'minimum':
      return `must be at least ${limit}`;
    case 'maximum':
      return `must be at most ${limit}`;
    case 'exclusiveMinimum':
      return `must be more than ${limit}`;
    case 'exclusiveMaximum':
      return `must be less than ${limit}`;
    case 'minLength':
      return limit === 1 ? 'must not be empty' : `must be at least ${limit} characters long`;
    case 'maxLength':
      return `must be at most ${limit} characters long`;
    case 'minItems':
      return limit === 1 ? 'must not be empty' : `must have at least ${limit} items`;
    case 'maxItems':
    case 'additionalItems':
      return `must have at most ${limit} items`;
    case 'pattern':
      return `must match the pattern ${String(p.pattern)}`;
    case 'uniqueItems':
      return 'must not repeat an item';
    case 'oneOf':
    case 'anyOf':
      return 'does not match any of the allowed forms';
    default:
      return e.message ?? 'is not valid';
  }
}

/**
 * Removes the noise of failed `oneOf`/`anyOf`: ajv reports every branch's errors plus the union's own. When
 * the value's JSON type fits exactly one branch (a string for `"auto"`, an object for `restart: {...}`), only
 * that branch's errors stay, so nested fields get their own messages; otherwise only the union's error stays
 * and gets the union's `errorMessage`. Also drops `if` and `propertyNames` wrappers, whose inner errors say it
 * all.
 */
function simplifyErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const alive = new Set(errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'propertyNames'));
  // Each error filed under its instance path and every ancestor path: the errors below a union's value are
  // then one lookup away (the same schema applies to every engine, so schema paths alone do not tell).
  const below = new Map<string, ErrorObject[]>();
  for (const e of alive) {
    for (let p = e.instancePath; ; p = p.slice(0, p.lastIndexOf('/'))) {
      const list = below.get(p);
      if (list) list.push(e);
      else below.set(p, [e]);
      if (p === '') break;
    }
  }
  const unions = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length); // outer unions first
  for (const union of unions) {
    if (!alive.has(union)) continue;
    const prefix = `${union.schemaPath}/`;
    const branchOf = (e: ErrorObject): number => Number(e.schemaPath.slice(prefix.length).split('/')[0]);
    const inBranches = (below.get(union.instancePath) ?? []).filter(
      (e) => alive.has(e) && e.schemaPath.startsWith(prefix),
    );
    const typeMismatch = new Set(
      inBranches
        .filter((e) => e.keyword === 'type' && e.instancePath === union.instancePath)
        .filter((e) => e.schemaPath === `${prefix}${branchOf(e)}/type`)
        .map(branchOf),
    );
    const branchCount = Array.isArray(union.schema) ? union.schema.length : 0;
    const fitting = [...Array(branchCount).keys()].filter((i) => !typeMismatch.has(i));
    const severalPassed = (union.params as Record<string, unknown>).passingSchemas != null;
    if (fitting.length === 1 && !severalPassed) {
      alive.delete(union);
      for (const e of inBranches) if (branchOf(e) !== fitting[0]) alive.delete(e);
    } else {
      for (const e of inBranches) alive.delete(e);
    }
  }
  return errors.filter((e) => alive.has(e));
}

/** Reports schema errors; returns the indexes of the engines that have any. */
export function reportSchemaProblems(reporter: Reporter, root: JsonNode, value: JsonValue): Set<number> {
  const validate = schemaValidator();
  const invalidEngines = new Set<number>();
  if (validate(value)) return invalidEngines;

  interface Located {
    node: JsonNode;
    segments: PathSegment[];
  }
  /** The node and typed path of an ajv `instancePath` like `/engines/0/port`. */
  const locate = (pointer: string): Located => {
    let node = root;
    const segments: PathSegment[] = [];
    for (const raw of pointer === '' ? [] : pointer.split('/').slice(1).map(decodePointerSegment)) {
      const segment: PathSegment = node.type === 'array' ? Number(raw) : raw;
      const child = childNode(node, segment);
      if (!child) break;
      node = child;
      segments.push(segment);
    }
    return { node, segments };
  };
  const valueAt = (segments: readonly PathSegment[]): JsonValue => {
    let v: JsonValue = value;
    for (const s of segments) {
      if (Array.isArray(v) && typeof s === 'number') v = v[s] ?? null;
      else if (isObject(v) && typeof s === 'string' && Object.hasOwn(v, s)) v = v[s] ?? null;
      else return null;
    }
    return v;
  };

  // One message per bad value: the first of the most direct errors (cross-field `then`/`else` rules last).
  const byField = new Map<string, { priority: number; segments: PathSegment[]; node: JsonNode; message: string }>();
  const missing = new Map<string, Located & { names: string[] }>();
  const suggested = new Set<string>(); // `pointer\0field` when an unknown field looks like a missing one
  const schemaProblemStart = reporter.count;

  for (const e of simplifyErrors(validate.errors ?? [])) {
    const params = e.params as Record<string, unknown>;
    const at = locate(e.instancePath);
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      const key = params.additionalProperty;
      const steps = schemaSteps(e.schemaPath);
      const properties = steps[steps.length - 1]?.node.properties;
      const allowed = isObject(properties) ? Object.keys(properties) : [];
      const guess = suggest(key, allowed);
      if (guess !== undefined) suggested.add(`${e.instancePath}\0${guess}`);
      const keyNode = propertyOf(at.node, key)?.children?.[0] ?? at.node;
      const message =
        guess !== undefined
          ? `unknown field "${key}"; did you mean "${guess}"?`
          : `unknown field "${key}"; allowed fields: ${allowed.join(', ')}`;
      reporter.error([...at.segments, key], keyNode, message);
    } else if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      const entry = missing.get(e.instancePath) ?? { ...at, names: [] };
      entry.names.push(params.missingProperty);
      missing.set(e.instancePath, entry);
    } else if (e.keyword === 'dependencies' && typeof params.property === 'string') {
      const keyNode = propertyOf(at.node, params.property)?.children?.[0] ?? at.node;
      const needs = String(params.missingProperty);
      reporter.error([...at.segments, params.property], keyNode, `can only be used together with "${needs}"`);
    } else if (typeof e.propertyName === 'string') {
      // A bad key (`propertyNames`): point at the key itself.
      const keyNode = propertyOf(at.node, e.propertyName)?.children?.[0] ?? at.node;
      const message = schemaMessage(e.schemaPath, e.keyword)?.message ?? `invalid key: ${keywordMessage(e)}`;
      reporter.error([...at.segments, e.propertyName], keyNode, message);
    } else {
      const found = schemaMessage(e.schemaPath, e.keyword);
      const itemsUp = Math.min(found?.itemsUp ?? 0, at.segments.length);
      const segments = at.segments.slice(0, at.segments.length - itemsUp);
      const node = nodeAtPath(root, segments) ?? at.node;
      const message = `${found?.message ?? keywordMessage(e)}; got ${preview(valueAt(segments))}`;
      const priority = /\/(then|else)\//.test(e.schemaPath) ? 1 : 0;
      const field = formatPath(segments);
      const previous = byField.get(field);
      if (!previous || priority < previous.priority) byField.set(field, { priority, segments, node, message });
    }
  }
  for (const { segments, node, message } of byField.values()) reporter.error(segments, node, message);
  for (const [pointer, { node, segments, names }] of missing) {
    // `"comand"` already got "did you mean "command"?"; saying that "command" is missing adds nothing.
    const left = names.filter((n) => !suggested.has(`${pointer}\0${n}`));
    if (left.length === 0) continue;
    const quoted = left.map((n) => `"${n}"`);
    const message =
      left.length === 1 ? `missing required field ${quoted[0]}` : `missing required fields ${andList(quoted)}`;
    reporter.error(segments, node.type === 'object' ? reporter.range(node.offset, 1) : node, message);
  }

  for (const p of reporter.problemsSince(schemaProblemStart)) {
    const m = /^engines\[(\d+)\]/.exec(p.field);
    if (p.severity === 'error' && m) invalidEngines.add(Number(m[1]));
  }
  return invalidEngines;
}
