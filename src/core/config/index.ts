/**
 * Reads and validates `.vscode/engines.json` into the typed model of `model.ts`.
 *
 * Validation runs in three passes, and every finding becomes a {@link ConfigProblem} with a precise range:
 * 1. JSON syntax (jsonc-parser: comments and trailing commas allowed);
 * 2. structure, with the same JSON schema the editor uses (`schema/engines.schema.json`, run by ajv); ajv's
 *    raw errors are boiled down to one readable message per bad field;
 * 3. meaning: duplicate names, `dependsOn` and `${port:X}` references, cycles, variables, ports, regexes,
 *    GPUs given to two engines...
 *
 * Presets (`"preset": "vllm"`, see `presets.ts`) and `gpus` are applied between passes 2 and 3: the schema
 * checks what the user wrote, pass 3 checks and builds the expanded engine. A problem in a value the preset
 * added is reported at the engine's `"preset"` (at `"gpus"` for the `CUDA_VISIBLE_DEVICES` it adds).
 *
 * Nothing here throws on any input: a bad config is a list of problems, never an exception.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { parseTree, printParseErrorCode, type Node as JsonNode, type ParseError } from 'jsonc-parser';
import schemaJson from '../../../schema/engines.schema.json';
import { errorMessage } from '../errors';
import type {
  ConfigProblem,
  EngineSpec,
  HealthProbe,
  HealthSpec,
  LoadResult,
  PortRequest,
  RestartPolicy,
  SourceRange,
  StartLockMode,
} from '../model';
import { classifyVariable, listVariables, unknownVariableMessage, variableText } from '../variables';
import { PRESETS, expandPreset, findFlag, gpuList, isPresetName } from '../presets';

export { expandPreset } from '../presets';

/** Larger files are refused before parsing: a config this big is a mistake, and parsing it would stall. */
export const MAX_CONFIG_BYTES = 5 * 1024 * 1024;

/** Longest duration: Node's timers fire at once for anything longer than a signed 32-bit millisecond count. */
export const MAX_DURATION_MS = 2_147_483_647;

/** The values used when a field is omitted; the schema's `default`s say the same (a test checks it). */
export const ENGINE_DEFAULTS = {
  shell: false,
  host: '127.0.0.1',
  startTimeout: 120_000,
  stopTimeout: 10_000,
  stopSignal: 'SIGTERM',
  startLock: 'untilHealthy',
  health: { interval: 5_000, timeout: 2_000, failureThreshold: 3 },
  restart: { policy: 'no', limit: 5, backoff: 1_000, maxBackoff: 30_000 },
} as const satisfies {
  shell: boolean;
  host: string;
  startTimeout: number;
  stopTimeout: number;
  stopSignal: NodeJS.Signals;
  startLock: StartLockMode;
  health: Omit<HealthSpec, 'probe'>;
  restart: RestartPolicy;
};

/** Keywords of VS Code's JSON language service that the schema uses; ajv must know them as annotations. */
export const EDITOR_SCHEMA_KEYWORDS: readonly string[] = [
  'errorMessage',
  'patternErrorMessage',
  'markdownDescription',
  'defaultSnippets',
  'enumDescriptions',
  'markdownEnumDescriptions',
  'deprecationMessage',
  'doNotSuggest',
  'allowComments',
  'allowTrailingCommas',
];

export interface ParseOptions {
  /**
   * Used for the "envFile does not exist" warning (the only file-system access of {@link parseConfig}).
   * Default: `fs.existsSync`.
   */
  readonly fileExists?: (absolutePath: string) => boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Public API

/**
 * Validates the text of an engines file. `file` is used in problems and in the result; `workspaceFolder` is
 * the folder that holds `.vscode/`. Synchronous; never throws.
 */
export function parseConfig(
  text: string,
  file: string,
  workspaceFolder: string,
  options: ParseOptions = {},
): LoadResult {
  try {
    return new ConfigAnalysis(text, file, workspaceFolder, options.fileExists ?? existsSync).run();
  } catch (e) {
    // jsonc-parser and the value walk recurse once per nesting level: absurd nesting overflows the stack.
    const tooDeep = e instanceof RangeError && /call stack/i.test(e.message);
    const message = tooDeep
      ? 'the file is nested too deeply to be read'
      : `internal error while reading the file: ${errorMessage(e)}`;
    return { problems: [fileProblem(file, message)] };
  }
}

/** Reads and validates an engines file. A missing or unreadable file is a problem, never an exception. */
export async function loadConfig(file: string): Promise<LoadResult> {
  const absolute = path.resolve(file);
  let bytes: Buffer;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) return { problems: [fileProblem(absolute, 'not a file')] };
    if (info.size > MAX_CONFIG_BYTES) return { problems: [fileProblem(absolute, tooLargeMessage(info.size))] };
    bytes = await readFile(absolute);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'config file not found' : `cannot read the config file: ${errorMessage(e)}`;
    return { problems: [fileProblem(absolute, message)] };
  }
  if (bytes.length > MAX_CONFIG_BYTES) return { problems: [fileProblem(absolute, tooLargeMessage(bytes.length))] };
  let text: string;
  try {
    // Strips a UTF-8 byte order mark, like editors do, so columns match what the user sees.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { problems: [fileProblem(absolute, 'the file is not valid UTF-8 text')] };
  }
  return parseConfig(text, absolute, workspaceFolderFor(absolute));
}

/** Walks up from `startDir` to the first folder holding `.vscode/engines.json`; returns that file's path. */
export function findConfigFile(startDir: string): string | undefined {
  let dir = path.resolve(startDir);
  for (;;) {
    const candidate = path.join(dir, '.vscode', 'engines.json');
    if (isFile(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `${workspaceFolder}` of a config file: the folder holding `.vscode/`, else the file's own folder. */
export function workspaceFolderFor(file: string): string {
  const dir = path.dirname(path.resolve(file));
  return path.basename(dir) === '.vscode' ? path.dirname(dir) : dir;
}

/** `FILE:LINE:COL: error: FIELD: MESSAGE`, the format of compilers, which terminals and editors link. */
export function formatProblem(p: ConfigProblem): string {
  const field = p.field === '' ? '' : `${p.field}: `;
  return `${p.file}:${p.range.line}:${p.range.column}: ${p.severity}: ${field}${p.message}`;
}

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a duration: a non-negative integer of milliseconds, or a string like `"500ms"`, `"30s"`,
 * `"5m"`, `"1h"`, `"1.5s"` (rounded to whole milliseconds). `undefined` when invalid or over
 * {@link MAX_DURATION_MS}.
 */
export function parseDuration(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return undefined;
    ms = value;
  } else if (typeof value === 'string') {
    const m = DURATION.exec(value);
    if (!m) return undefined;
    ms = Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN));
  } else {
    return undefined;
  }
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/**
 * Compiles the shipped schema for ajv. `$ref`s are inlined first so that every ajv `schemaPath` is a path
 * from the root; the error mapping below relies on that.
 */
export function createSchemaValidator(): ValidateFunction {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    // These checks flag idioms the editor schema needs (`oneOf` of `required`, tuples with `additionalItems`).
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    logger: false,
  });
  ajv.addVocabulary([...EDITOR_SCHEMA_KEYWORDS]);
  return ajv.compile(inlinedSchema());
}

// ---------------------------------------------------------------------------------------------------------
// JSON values and positions

type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
interface JsonObject {
  [key: string]: JsonValue;
}
type PathSegment = string | number;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `engines[2].health.interval`, `engines[0].env["1X"]`; `` for the root. */
function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Like `JSON.parse`'s result, but `__proto__` keys become plain properties instead of prototypes. */
function nodeToValue(node: JsonNode): JsonValue {
  switch (node.type) {
    case 'object': {
      const obj: JsonObject = {};
      for (const prop of node.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (key && value) {
          Object.defineProperty(obj, String(key.value), {
            value: nodeToValue(value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      return obj;
    }
    case 'array':
      return (node.children ?? []).map(nodeToValue);
    case 'string':
      return String(node.value);
    case 'number':
      return Number(node.value);
    case 'boolean':
      return node.value === true;
    default:
      return null;
  }
}

/** The value node of `key` in an object node; the last one when the key is repeated, as in `JSON.parse`. */
function propertyNode(obj: JsonNode | undefined, key: string): JsonNode | undefined {
  const prop = propertyOf(obj, key);
  return prop?.children?.[1];
}

function propertyOf(obj: JsonNode | undefined, key: string): JsonNode | undefined {
  if (obj?.type !== 'object') return undefined;
  let found: JsonNode | undefined;
  for (const prop of obj.children ?? []) if (prop.children?.[0]?.value === key) found = prop;
  return found;
}

function childNode(node: JsonNode | undefined, segment: PathSegment): JsonNode | undefined {
  if (node?.type === 'array') return typeof segment === 'number' ? node.children?.[segment] : undefined;
  return typeof segment === 'string' ? propertyNode(node, segment) : undefined;
}

function nodeAtPath(node: JsonNode | undefined, segments: readonly PathSegment[]): JsonNode | undefined {
  let current = node;
  for (const s of segments) current = childNode(current, s);
  return current;
}

/** 1-based line and column of offsets; `\n`, `\r\n` and `\r` all end a line, as in VS Code. */
class LineMap {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      if (c === 10 || c === 13) this.starts.push(i + 1);
    }
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }

  range(offset: number, length: number): SourceRange {
    const start = this.position(offset);
    const end = this.position(offset + length);
    return { offset, length, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
  }
}

const FILE_START: SourceRange = { offset: 0, length: 0, line: 1, column: 1, endLine: 1, endColumn: 1 };

function fileProblem(file: string, message: string): ConfigProblem {
  return { file, field: '', message, severity: 'error', range: FILE_START };
}

function tooLargeMessage(bytes: number): string {
  return `the file is ${(bytes / 1024 / 1024).toFixed(1)} MiB; config files larger than 5 MiB are refused`;
}

// ---------------------------------------------------------------------------------------------------------
// Messages

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function andList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** A short rendering of a value for "got ..." suffixes; long strings and big containers are cut. */
function preview(value: JsonValue, depth = 0): string {
  const MAX_ITEMS = 6;
  if (Array.isArray(value)) {
    if (depth > 1) return '[…]';
    const items = value.slice(0, MAX_ITEMS).map((v) => preview(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push('…');
    return `[${items.join(', ')}]`;
  }
  if (isObject(value)) {
    if (depth > 1) return '{…}';
    const entries = Object.entries(value);
    const items = entries.slice(0, MAX_ITEMS).map(([k, v]) => `${JSON.stringify(k)}: ${preview(v, depth + 1)}`);
    if (entries.length > MAX_ITEMS) items.push('…');
    return items.length === 0 ? '{}' : `{ ${items.join(', ')} }`;
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 56)}…${text.endsWith('"') ? '"' : ''}` : text;
}

/**
 * Optimal string alignment distance (Levenshtein plus transpositions), case-insensitive, for "did you
 * mean" suggestions.
 */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= t.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] ?? [];
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[s.length]?.[t.length] ?? Math.max(s.length, t.length);
}

/** The closest candidate to a misspelled `word`, if one is close enough to be a likely typo. */
function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 100) return undefined;
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function smallest(values: Iterable<number>): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}

// ---------------------------------------------------------------------------------------------------------
// The schema

let cachedSchema: JsonObject | undefined;
let cachedValidator: ValidateFunction | undefined;

function decodePointerSegment(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The shipped schema with every local `$ref` replaced by its target (siblings of `$ref` win). */
function inlinedSchema(): JsonObject {
  if (cachedSchema) return cachedSchema;
  const root = schemaJson as unknown as JsonObject;
  const resolve = (ref: string): JsonValue => {
    if (!ref.startsWith('#/')) throw new Error(`schema: unsupported $ref ${ref}`);
    let current: JsonValue = root;
    for (const seg of ref.slice(2).split('/').map(decodePointerSegment)) {
      if (!isObject(current) || !Object.hasOwn(current, seg)) throw new Error(`schema: unresolved $ref ${ref}`);
      current = current[seg] ?? null;
    }
    return current;
  };
  const visit = (value: JsonValue, depth: number): JsonValue => {
    if (depth > 64) throw new Error('schema: $ref recursion');
    if (Array.isArray(value)) return value.map((v) => visit(v, depth + 1));
    if (!isObject(value)) return value;
    const target = typeof value.$ref === 'string' ? visit(resolve(value.$ref), depth + 1) : undefined;
    const out: JsonObject = isObject(target) ? { ...target } : {};
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' || (depth === 0 && key === 'definitions')) continue;
      out[key] = visit(v, depth + 1);
    }
    return out;
  };
  const inlined = visit(root, 0);
  if (!isObject(inlined)) throw new Error('schema: root is not an object');
  cachedSchema = inlined;
  return inlined;
}

function validator(): ValidateFunction {
  cachedValidator ??= createSchemaValidator();
  return cachedValidator;
}

/**
 * How a schema node was reached from its parent: across a property (`properties/x`, `additionalProperties`,
 * `propertyNames`: another field), across an array item (`items`, `additionalItems`: one level deeper in the
 * data, same field for messages), or through a combinator (`oneOf/1`, `then`: same data).
 */
interface SchemaStep {
  readonly node: JsonObject;
  readonly via: 'root' | 'property' | 'item' | 'combinator';
}

/** The schema nodes along an ajv `schemaPath` like `#/properties/port/oneOf/2/items/1/maximum`. */
function schemaSteps(schemaPath: string): SchemaStep[] {
  const segs = schemaPath.split('/').slice(1).map(decodePointerSegment);
  const steps: SchemaStep[] = [{ node: inlinedSchema(), via: 'root' }];
  let i = 0;
  const next = (child: JsonValue | undefined, via: SchemaStep['via'], consumed: number): boolean => {
    if (!isObject(child)) return false;
    steps.push({ node: child, via });
    i += consumed;
    return true;
  };
  while (i < segs.length) {
    const node = steps[steps.length - 1]?.node ?? {};
    const keyword = segs[i] ?? '';
    const arg = segs[i + 1];
    const container = node[keyword];
    let moved = false;
    switch (keyword) {
      case 'properties':
      case 'patternProperties':
        moved = arg !== undefined && isObject(container) && next(container[arg], 'property', 2);
        break;
      case 'additionalProperties':
      case 'propertyNames':
        moved = next(container, 'property', 1);
        break;
      case 'items':
        moved = Array.isArray(container)
          ? arg !== undefined && next(container[Number(arg)], 'item', 2)
          : next(container, 'item', 1);
        break;
      case 'additionalItems':
      case 'contains':
        moved = next(container, 'item', 1);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        moved = arg !== undefined && Array.isArray(container) && next(container[Number(arg)], 'combinator', 2);
        break;
      case 'if':
      case 'then':
      case 'else':
      case 'not':
        moved = i + 1 < segs.length && next(container, 'combinator', 1);
        break;
    }
    if (!moved) break; // the failing keyword itself
  }
  return steps;
}

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

// ---------------------------------------------------------------------------------------------------------
// The analysis

/** The engine shape the schema guarantees once an engine has no schema error. */
type RawDuration = number | string;
interface RawHealth {
  readonly http?: string;
  readonly expectStatus?: number | number[];
  readonly tcp?: true;
  readonly log?: string;
  readonly command?: string[];
  readonly interval?: RawDuration;
  readonly timeout?: RawDuration;
  readonly failureThreshold?: number;
}
interface RawRestart {
  readonly policy: RestartPolicy['policy'];
  readonly limit?: number;
  readonly backoff?: RawDuration;
  readonly maxBackoff?: RawDuration;
}
interface RawEngine {
  readonly name: string;
  readonly description?: string;
  readonly command: string | string[];
  readonly shell?: boolean;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | number | boolean>>;
  readonly envFile?: string;
  readonly host?: string;
  readonly port?: 'auto' | number | [number, number];
  readonly portBlock?: number;
  readonly health?: RawHealth;
  readonly startTimeout?: RawDuration;
  readonly stopTimeout?: RawDuration;
  readonly dependsOn?: string | string[];
  readonly restart?: RestartPolicy['policy'] | RawRestart;
  readonly stopSignal?: NodeJS.Signals;
  readonly startLock?: StartLockMode;
  readonly preset?: string;
  readonly gpus?: string | number[];
  readonly openai?: boolean;
}

interface EngineEntry {
  readonly index: number;
  readonly node: JsonNode;
  readonly value: JsonValue;
  /** The name when it is a string, valid or not: references to it should not cascade into more errors. */
  readonly name?: string;
  /** No schema error inside: `value` is a {@link RawEngine}. */
  readonly valid: boolean;
  /** `value` with its preset and `gpus` applied (see `expandPreset`); `value` itself when not an object. */
  readonly expanded: JsonValue;
}

/** A dependency of one engine on another, with the string node that creates it. */
interface Edge {
  readonly to: number;
  readonly segments: readonly PathSegment[];
  readonly node: JsonNode;
}

const SYNTAX_MESSAGES: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a field name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'expected the end of the file',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'incomplete number',
  InvalidUnicode: 'invalid unicode escape sequence',
  InvalidEscapeCharacter: 'invalid escape character in string',
  InvalidCharacter: 'invalid character in string',
};

const MAX_SYNTAX_PROBLEMS = 20;

class ConfigAnalysis {
  private readonly problems: ConfigProblem[] = [];
  private readonly lines: LineMap;
  private readonly text: string;

  constructor(
    text: string,
    private readonly file: string,
    private readonly workspaceFolder: string,
    private readonly fileExists: (absolutePath: string) => boolean,
  ) {
    // A byte order mark is no JSON; blank it without shifting offsets.
    this.text = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text;
    this.lines = new LineMap(this.text);
  }

  run(): LoadResult {
    // `length` is a lower bound of the UTF-8 size and spares encoding a huge string.
    const bytes = this.text.length > MAX_CONFIG_BYTES ? this.text.length : Buffer.byteLength(this.text, 'utf8');
    if (bytes > MAX_CONFIG_BYTES) return { problems: [fileProblem(this.file, tooLargeMessage(bytes))] };

    const syntaxErrors: ParseError[] = [];
    const root = parseTree(this.text, syntaxErrors, {
      allowTrailingComma: true,
      disallowComments: false,
      allowEmptyContent: true,
    });
    if (syntaxErrors.length > 0) {
      this.reportSyntax(syntaxErrors);
      return this.result(undefined);
    }
    if (!root) {
      this.error([], FILE_START, 'the file is empty; expected an object like { "engines": [ ... ] }');
      return this.result(undefined);
    }
    const value = nodeToValue(root);
    this.reportDuplicateKeys(root);
    const invalidEngines = this.checkSchema(root, value);
    return this.result(this.buildEngines(root, value, invalidEngines));
  }

  private result(engines: readonly EngineSpec[] | undefined): LoadResult {
    const problems = [...this.problems].sort((a, b) => a.range.offset - b.range.offset);
    const ok = engines !== undefined && !problems.some((p) => p.severity === 'error');
    return ok
      ? { config: { file: this.file, workspaceFolder: this.workspaceFolder, engines }, problems }
      : { problems };
  }

  // --- reporting

  private add(
    severity: ConfigProblem['severity'],
    segments: readonly PathSegment[],
    where: JsonNode | SourceRange,
    message: string,
  ): void {
    const range = 'type' in where ? this.problemRange(where) : where;
    this.problems.push({ file: this.file, field: formatPath(segments), message, severity, range });
  }

  private error(segments: readonly PathSegment[], where: JsonNode | SourceRange, message: string): void {
    this.add('error', segments, where, message);
  }

  private warning(segments: readonly PathSegment[], where: JsonNode | SourceRange, message: string): void {
    this.add('warning', segments, where, message);
  }

  private nodeRange(node: JsonNode): SourceRange {
    return this.lines.range(node.offset, node.length);
  }

  /**
   * Where to put a problem about a node: the node itself, except that a multi-line object or array is
   * marked by its property key (or its first character) rather than squiggled whole.
   */
  private problemRange(node: JsonNode): SourceRange {
    if (node.type === 'object' || node.type === 'array') {
      const range = this.nodeRange(node);
      if (range.endLine > range.line) {
        const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
        return key ? this.nodeRange(key) : this.lines.range(node.offset, 1);
      }
      return range;
    }
    return this.nodeRange(node);
  }

  private line(node: JsonNode): number {
    return this.lines.position(node.offset).line;
  }

  // --- pass 1: syntax

  private reportSyntax(errors: readonly ParseError[]): void {
    const seen = new Set<number>();
    for (const e of errors) {
      if (seen.has(e.offset)) continue; // one error at a place; the parser's recovery repeats itself
      seen.add(e.offset);
      if (seen.size > MAX_SYNTAX_PROBLEMS) break;
      const code = printParseErrorCode(e.error);
      const what = SYNTAX_MESSAGES[code] ?? code;
      const message =
        e.offset >= this.text.length
          ? `JSON syntax error: the file ends too early; ${what}`
          : `JSON syntax error: ${what}`;
      this.error([], this.lines.range(e.offset, e.length), message);
    }
  }

  /** JSON allows repeated keys and the last one wins; that is almost always a mistake, so warn. */
  private reportDuplicateKeys(root: JsonNode): void {
    const stack: Array<{ node: JsonNode; segments: PathSegment[] }> = [{ node: root, segments: [] }];
    for (let item = stack.pop(); item; item = stack.pop()) {
      const { node, segments } = item;
      if (node.type === 'array') {
        (node.children ?? []).forEach((child, i) => stack.push({ node: child, segments: [...segments, i] }));
      } else if (node.type === 'object') {
        const seen = new Set<string>();
        for (const prop of node.children ?? []) {
          const [key, value] = prop.children ?? [];
          if (!key) continue;
          const name = String(key.value);
          if (seen.has(name)) {
            this.warning([...segments, name], key, `duplicate field "${name}"; only the last one counts`);
          }
          seen.add(name);
          if (value) stack.push({ node: value, segments: [...segments, name] });
        }
      }
    }
  }

  // --- pass 2: schema

  /** Reports schema errors; returns the indexes of the engines that have any. */
  private checkSchema(root: JsonNode, value: JsonValue): Set<number> {
    const validate = validator();
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
    const schemaProblemStart = this.problems.length;

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
        this.error([...at.segments, key], keyNode, message);
      } else if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
        const entry = missing.get(e.instancePath) ?? { ...at, names: [] };
        entry.names.push(params.missingProperty);
        missing.set(e.instancePath, entry);
      } else if (e.keyword === 'dependencies' && typeof params.property === 'string') {
        const keyNode = propertyOf(at.node, params.property)?.children?.[0] ?? at.node;
        const needs = String(params.missingProperty);
        this.error([...at.segments, params.property], keyNode, `can only be used together with "${needs}"`);
      } else if (typeof e.propertyName === 'string') {
        // A bad key (`propertyNames`): point at the key itself.
        const keyNode = propertyOf(at.node, e.propertyName)?.children?.[0] ?? at.node;
        const message = schemaMessage(e.schemaPath, e.keyword)?.message ?? `invalid key: ${keywordMessage(e)}`;
        this.error([...at.segments, e.propertyName], keyNode, message);
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
    for (const { segments, node, message } of byField.values()) this.error(segments, node, message);
    for (const [pointer, { node, segments, names }] of missing) {
      // `"comand"` already got "did you mean "command"?"; saying that "command" is missing adds nothing.
      const left = names.filter((n) => !suggested.has(`${pointer}\0${n}`));
      if (left.length === 0) continue;
      const quoted = left.map((n) => `"${n}"`);
      const message =
        left.length === 1 ? `missing required field ${quoted[0]}` : `missing required fields ${andList(quoted)}`;
      this.error(segments, node.type === 'object' ? this.lines.range(node.offset, 1) : node, message);
    }

    for (const p of this.problems.slice(schemaProblemStart)) {
      const m = /^engines\[(\d+)\]/.exec(p.field);
      if (p.severity === 'error' && m) invalidEngines.add(Number(m[1]));
    }
    return invalidEngines;
  }

  // --- pass 3: meaning

  private buildEngines(root: JsonNode, value: JsonValue, invalid: ReadonlySet<number>): EngineSpec[] | undefined {
    const enginesNode = propertyNode(root, 'engines');
    if (!isObject(value) || !Array.isArray(value.engines) || enginesNode?.type !== 'array') return undefined;
    const values = value.engines;
    const entries: EngineEntry[] = (enginesNode.children ?? []).map((node, index) => {
      const v = values[index] ?? null;
      const name = isObject(v) && typeof v.name === 'string' ? v.name : undefined;
      const expanded = isObject(v) ? (expandPreset(v) as JsonObject) : v;
      return { index, node, value: v, expanded, valid: isObject(v) && !invalid.has(index), ...(name !== undefined ? { name } : {}) };
    });

    // Names: the first engine with a name owns it.
    const byName = new Map<string, EngineEntry>();
    for (const entry of entries) {
      if (entry.name === undefined) continue;
      const first = byName.get(entry.name);
      if (first) {
        const nameNode = propertyNode(entry.node, 'name') ?? entry.node;
        const firstLine = this.line(propertyNode(first.node, 'name') ?? first.node);
        const message = `duplicate engine name "${entry.name}"; engines[${first.index}] on line ${firstLine} already uses it`;
        this.error(['engines', entry.index, 'name'], nameNode, message);
      } else {
        byName.set(entry.name, entry);
      }
    }

    const built: Array<{ entry: EngineEntry; spec: EngineSpec }> = [];
    const edges = new Map<number, Edge[]>();
    for (const entry of entries) {
      if (!entry.valid) continue;
      const engine = this.buildEngine(entry, byName);
      built.push({ entry, spec: engine.spec });
      edges.set(entry.index, engine.edges);
    }
    this.checkCycles(entries, edges);
    this.checkFixedPorts(built);
    this.checkSharedGpus(built);
    return built.map((b) => b.spec);
  }

  private buildEngine(
    entry: EngineEntry,
    byName: ReadonlyMap<string, EngineEntry>,
  ): { spec: EngineSpec; edges: Edge[] } {
    // The schema accepted this engine, so it has the RawEngine shape; presets keep that shape.
    const raw = entry.expanded as unknown as RawEngine;
    const user = entry.value as unknown as RawEngine;
    const base: PathSegment[] = ['engines', entry.index];
    const nodeOf = (...keys: PathSegment[]): JsonNode => this.originNode(entry, keys);
    const fieldError = (keys: PathSegment[], message: string): void =>
      this.error([...base, ...keys], nodeOf(...keys), message);
    const hasPort = raw.port !== undefined;

    // Port
    let port: PortRequest | undefined;
    if (raw.port === 'auto') port = { kind: 'auto' };
    else if (typeof raw.port === 'number') port = { kind: 'fixed', port: raw.port };
    else if (Array.isArray(raw.port)) {
      const [from, to] = raw.port;
      if (from > to) fieldError(['port'], `the range [${from}, ${to}] is reversed; write [${to}, ${from}]`);
      port = { kind: 'range', from, to };
    }

    const duration = (keys: PathSegment[], v: RawDuration | undefined, fallback: number): number => {
      if (v === undefined) return fallback;
      const ms = parseDuration(v);
      if (ms !== undefined) return ms;
      // The schema checked the syntax, so the value is too long for a timer.
      fieldError(keys, `is too long: durations are limited to ${MAX_DURATION_MS} ms (about 24 days); got ${JSON.stringify(v)}`);
      return fallback;
    };

    // Health
    const h = raw.health;
    let probe: HealthProbe;
    if (h === undefined) {
      probe = hasPort ? { kind: 'tcp' } : { kind: 'none' };
    } else if (h.http !== undefined) {
      if (h.http.startsWith('/') && !hasPort) {
        fieldError(
          ['health', 'http'],
          `a path probe needs a "port" on this engine; add "port" or give a full URL like "http://127.0.0.1:8080${h.http}"`,
        );
      }
      const expect = h.expectStatus;
      probe =
        expect === undefined
          ? { kind: 'http', path: h.http }
          : { kind: 'http', path: h.http, expectStatus: typeof expect === 'number' ? [expect] : [...expect] };
    } else if (h.tcp) {
      if (!hasPort) fieldError(['health', 'tcp'], 'a tcp probe needs a "port" on this engine');
      probe = { kind: 'tcp' };
    } else if (h.log !== undefined) {
      try {
        new RegExp(h.log);
      } catch (e) {
        fieldError(['health', 'log'], `invalid regular expression: ${errorMessage(e).replace(/^Invalid regular expression: /, '')}`);
      }
      probe = { kind: 'log', pattern: h.log };
    } else {
      probe = h.command !== undefined ? { kind: 'command', command: [...h.command] } : { kind: 'none' };
    }
    const d = ENGINE_DEFAULTS;
    const health: HealthSpec = {
      probe,
      interval: duration(['health', 'interval'], h?.interval, d.health.interval),
      timeout: duration(['health', 'timeout'], h?.timeout, d.health.timeout),
      failureThreshold: h?.failureThreshold ?? d.health.failureThreshold,
    };

    // Restart
    const r = raw.restart;
    const restart: RestartPolicy =
      r === undefined || typeof r === 'string'
        ? { ...d.restart, policy: r ?? d.restart.policy }
        : {
            policy: r.policy,
            limit: r.limit ?? d.restart.limit,
            backoff: duration(['restart', 'backoff'], r.backoff, d.restart.backoff),
            maxBackoff: duration(['restart', 'maxBackoff'], r.maxBackoff, d.restart.maxBackoff),
          };

    const startLock = raw.startLock ?? d.startLock;
    if (startLock === 'untilListening' && !hasPort) {
      fieldError(['startLock'], '"untilListening" needs a "port" on this engine; use "untilHealthy" or add "port"');
    }

    // Environment: numbers and booleans become strings; `defineProperty` keeps a `__proto__` key a plain key.
    const env: Record<string, string> = {};
    for (const [key, v] of Object.entries(raw.env ?? {})) {
      Object.defineProperty(env, key, { value: String(v), enumerable: true, writable: true, configurable: true });
    }

    if (raw.envFile !== undefined && listVariables(raw.envFile).length === 0) {
      const absolute = path.resolve(this.workspaceFolder, raw.envFile);
      if (!this.fileExists(absolute)) {
        this.warning([...base, 'envFile'], nodeOf('envFile'), `the env file "${raw.envFile}" does not exist (${absolute})`);
      }
    }
    // A workspace is code from someone: say so when it reaches outside its folder (allowed: a model
    // cache or a venv elsewhere is common, but it should be a choice the reader sees).
    for (const key of ['cwd', 'envFile'] as const) {
      const value = raw[key];
      if (value === undefined || listVariables(value).some((v) => v.name !== 'workspaceFolder')) continue;
      const absolute = path.resolve(this.workspaceFolder, value.replace(/\$\{workspaceFolder\}/g, this.workspaceFolder));
      const rel = path.relative(this.workspaceFolder, absolute);
      if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
        this.warning([...base, key], nodeOf(key), `"${value}" is outside the workspace folder (${absolute})`);
      }
    }

    // Dependencies: explicit ones first, then the engines whose port this one uses.
    const edges: Edge[] = [];
    const dependsOn: string[] = [];
    const depend = (target: EngineEntry, segments: PathSegment[], node: JsonNode): void => {
      edges.push({ to: target.index, segments, node });
      if (target.name !== undefined && !dependsOn.includes(target.name)) dependsOn.push(target.name);
    };
    const explicit =
      typeof raw.dependsOn === 'string'
        ? [{ name: raw.dependsOn, keys: ['dependsOn'] as PathSegment[] }]
        : (raw.dependsOn ?? []).map((name, i) => ({ name, keys: ['dependsOn', i] as PathSegment[] }));
    for (const { name, keys } of explicit) {
      const target = byName.get(name);
      if (name === raw.name) fieldError(keys, `engine "${name}" cannot depend on itself`);
      else if (!target) fieldError(keys, `unknown engine "${name}"${didYouMean(name, byName.keys())}`);
      else depend(target, [...base, ...keys], nodeOf(...keys));
    }

    for (const { keys, node, text } of this.variableSites(raw, entry)) {
      for (const use of listVariables(text)) {
        const ref = classifyVariable(use);
        const shown = variableText(use);
        const fail = (message: string): void => this.error([...base, ...keys], node, message);
        if (ref === undefined) fail(unknownVariableMessage(use));
        else if (ref.kind === 'port' && !hasPort) fail(`${shown} needs a "port" on this engine`);
        else if ((ref.kind === 'portBlock' || ref.kind === 'portBlockEnd') && raw.portBlock === undefined) {
          fail(`${shown} needs a "portBlock" on this engine`);
        } else if (ref.kind === 'portOf') {
          const target = byName.get(ref.engine);
          const self = ref.engine === raw.name;
          if (self && !hasPort) fail(`${shown} needs a "port" on this engine`);
          else if (self) continue; // same as `${port}`, not a dependency
          else if (!target) fail(`${shown}: unknown engine "${ref.engine}"${didYouMean(ref.engine, byName.keys())}`);
          else if (!isObject(target.expanded) || target.expanded.port === undefined) {
            fail(`${shown}: engine "${ref.engine}" has no "port"`);
          } else depend(target, [...base, ...keys], node);
        }
      }
    }

    if (isPresetName(user.preset)) this.checkPresetPort(entry, user);

    const command = typeof raw.command === 'string' ? [raw.command] : [...raw.command];
    const gpus = gpuList(raw.gpus);
    const spec: EngineSpec = {
      name: raw.name,
      ...(raw.description !== undefined ? { description: raw.description } : {}),
      command,
      shell: raw.shell ?? d.shell,
      ...(raw.cwd !== undefined ? { cwd: raw.cwd } : {}),
      env,
      ...(raw.envFile !== undefined ? { envFile: raw.envFile } : {}),
      host: raw.host ?? d.host,
      ...(port !== undefined ? { port } : {}),
      ...(raw.portBlock !== undefined ? { portBlock: raw.portBlock } : {}),
      health,
      startTimeout: duration(['startTimeout'], raw.startTimeout, d.startTimeout),
      dependsOn,
      restart,
      stopSignal: raw.stopSignal ?? d.stopSignal,
      stopTimeout: duration(['stopTimeout'], raw.stopTimeout, d.stopTimeout),
      startLock,
      ...(raw.preset !== undefined ? { preset: raw.preset } : {}),
      ...(gpus !== undefined ? { gpus } : {}),
      ...(raw.openai !== undefined ? { openai: raw.openai } : {}),
      range: this.nodeRange(entry.node),
    };
    return { spec, edges };
  }

  /**
   * The strings of an engine where variables are expanded, with their paths below the engine: the text is
   * the expanded engine's, the node the user's (or the origin of a value a preset added).
   */
  private variableSites(raw: RawEngine, entry: EngineEntry): Array<{ keys: PathSegment[]; node: JsonNode; text: string }> {
    const sites: Array<{ keys: PathSegment[]; node: JsonNode; text: string }> = [];
    const add = (keys: PathSegment[], text: unknown): void => {
      if (typeof text === 'string') sites.push({ keys, node: this.originNode(entry, keys), text });
    };
    if (typeof raw.command === 'string') add(['command'], raw.command);
    else raw.command.forEach((arg, i) => add(['command', i], arg));
    add(['cwd'], raw.cwd);
    for (const [key, v] of Object.entries(raw.env ?? {})) add(['env', key], v);
    add(['envFile'], raw.envFile);
    add(['health', 'http'], raw.health?.http);
    raw.health?.command?.forEach((arg, i) => add(['health', 'command', i], arg));
    return sites;
  }

  /**
   * The node a value of the expanded engine came from: the user's own node when the user wrote it, else
   * `gpus` for the `CUDA_VISIBLE_DEVICES` it sets, else `preset`, else the engine.
   */
  private originNode(entry: EngineEntry, keys: readonly PathSegment[]): JsonNode {
    const own = nodeAtPath(entry.node, keys);
    if (own) return own;
    if (keys[0] === 'env' && keys[1] === 'CUDA_VISIBLE_DEVICES') {
      const gpus = propertyNode(entry.node, 'gpus');
      if (gpus) return gpus;
    }
    return propertyNode(entry.node, 'preset') ?? entry.node;
  }

  /**
   * A preset's serving port must reach the engine: a command that sets the port flag to something else than
   * `${port}` (or the engine's fixed port) listens where Engine Room does not probe. Warned, not refused.
   */
  private checkPresetPort(entry: EngineEntry, user: RawEngine): void {
    const preset = PRESETS[user.preset as keyof typeof PRESETS];
    const fixed = typeof user.port === 'number' ? String(user.port) : undefined;
    const fine = (value: string): boolean =>
      value.includes('${port}') || (fixed !== undefined && (value === fixed || value.endsWith(`:${fixed}`)));
    const fix = `write "\${port}" there, or set "port" to that number`;
    for (const f of preset.flags) {
      if (!f.value.includes('${port}') || !Array.isArray(user.command)) continue;
      const found = findFlag(user.command, [f.flag, ...(f.aliases ?? [])]);
      if (found?.value === undefined || fine(found.value)) continue;
      const keys: PathSegment[] = ['command', found.index + (user.command[found.index]?.includes('=') ? 0 : 1)];
      this.warning(
        ['engines', entry.index, ...keys],
        this.originNode(entry, keys),
        `the command sets ${f.flag} ${found.value} itself, but Engine Room leases and probes \${port}; ${fix}`,
      );
    }
    for (const [key, value] of Object.entries(preset.env)) {
      const own = user.env?.[key];
      if (!value.includes('${port}') || typeof own !== 'string' || fine(own)) continue;
      const keys: PathSegment[] = ['env', key];
      this.warning(
        ['engines', entry.index, ...keys],
        this.originNode(entry, keys),
        `${key}=${own} does not use \${port}, but Engine Room leases and probes \${port}; ${fix}`,
      );
    }
  }

  /**
   * Two engines given the same GPU (by `gpus` or a literal `env.CUDA_VISIBLE_DEVICES`) share its memory; that
   * can be meant (small models, `--gpu-memory-utilization`), so it is a warning at the later engine.
   */
  private checkSharedGpus(engines: ReadonlyArray<{ entry: EngineEntry; spec: EngineSpec }>): void {
    const seen: Array<{ entry: EngineEntry; gpus: Set<string>; line: number }> = [];
    for (const { entry, spec } of engines) {
      const visible = spec.env.CUDA_VISIBLE_DEVICES;
      if (visible === undefined || visible.includes('${')) continue;
      const gpus = new Set(visible.split(',').map((g) => g.trim()).filter((g) => g !== ''));
      if (gpus.size === 0) continue;
      const keys: PathSegment[] = ['env', 'CUDA_VISIBLE_DEVICES'];
      const node = this.originNode(entry, keys);
      const field: PathSegment[] = node === propertyNode(entry.node, 'gpus') ? ['gpus'] : keys;
      for (const other of seen) {
        const shared = [...gpus].filter((g) => other.gpus.has(g));
        if (shared.length === 0) continue;
        const what = shared.length === 1 ? `GPU ${shared[0]} is` : `GPUs ${shared.join(', ')} are`;
        this.warning(
          ['engines', entry.index, ...field],
          node,
          `${what} also given to engine "${other.entry.name ?? ''}" (line ${other.line}); the two share its memory (for vLLM, lower --gpu-memory-utilization)`,
        );
      }
      seen.push({ entry, gpus, line: this.line(node) });
    }
  }

  /**
   * Reports each dependency cycle once, at the engine of the cycle that comes first in the file. Iterative
   * (no recursion) so that long chains cannot overflow the stack.
   */
  private checkCycles(entries: readonly EngineEntry[], edges: ReadonlyMap<number, Edge[]>): void {
    const outgoing = (v: number): Edge[] => edges.get(v) ?? [];
    const alive = new Set(edges.keys());
    const outCount = new Map<number, number>();
    const incoming = new Map<number, number[]>();
    for (const [from, list] of edges) {
      const targets = new Set(list.map((e) => e.to));
      outCount.set(from, [...targets].filter((t) => alive.has(t)).length);
      for (const t of targets) {
        const list = incoming.get(t);
        if (list) list.push(from);
        else incoming.set(t, [from]);
      }
    }
    // Engines that depend on nothing in a cycle are peeled off; what remains each lies on or leads to a cycle.
    const queue = [...alive].filter((v) => outCount.get(v) === 0);
    const remove = (v: number): void => {
      if (!alive.delete(v)) return;
      for (const u of incoming.get(v) ?? []) {
        if (!alive.has(u)) continue;
        const left = (outCount.get(u) ?? 0) - 1;
        outCount.set(u, left);
        if (left === 0) queue.push(u);
      }
    };
    for (;;) {
      for (let v = queue.pop(); v !== undefined; v = queue.pop()) remove(v);
      if (alive.size === 0) return;
      // Follow dependencies from the first remaining engine until one repeats: that closes a cycle.
      const trail: number[] = [];
      const position = new Map<number, number>();
      let v = smallest(alive);
      while (!position.has(v)) {
        position.set(v, trail.length);
        trail.push(v);
        v = outgoing(v).find((e) => alive.has(e.to))?.to ?? v;
      }
      const cycle = trail.slice(position.get(v));
      const start = cycle.indexOf(smallest(cycle));
      const ordered = [...cycle.slice(start), ...cycle.slice(0, start)];
      let names = [...ordered, ordered[0] ?? 0].map((i) => entries[i]?.name ?? `engines[${i}]`);
      if (names.length > 12) names = [...names.slice(0, 6), `… ${names.length - 9} more`, ...names.slice(-3)];
      const first = ordered[0] ?? 0;
      const next = ordered[1] ?? first;
      const edge = outgoing(first).find((e) => e.to === next);
      if (edge) this.error(edge.segments, edge.node, `dependency cycle: ${names.join(' -> ')}`);
      for (const c of cycle) remove(c);
    }
  }

  /** Two engines cannot both insist on the same port; ranges and "auto" are leased apart at start time. */
  private checkFixedPorts(engines: ReadonlyArray<{ entry: EngineEntry; spec: EngineSpec }>): void {
    const owners = new Map<number, EngineEntry>();
    for (const { entry, spec } of engines) {
      if (spec.port?.kind !== 'fixed') continue;
      const owner = owners.get(spec.port.port);
      if (!owner) {
        owners.set(spec.port.port, entry);
        continue;
      }
      const ownerLine = this.line(propertyNode(owner.node, 'port') ?? owner.node);
      this.error(
        ['engines', entry.index, 'port'],
        propertyNode(entry.node, 'port') ?? entry.node,
        `port ${spec.port.port} is already the port of engine "${owner.name ?? ''}" (line ${ownerLine})`,
      );
    }
  }
}
