/**
 * Reads and validates `.vscode/engines.json` into the typed model of `model.ts`; the public API of the
 * config folder (`../core/config` resolves here).
 *
 * Validation runs in three passes, and every finding becomes a {@link ConfigProblem} with a precise range,
 * reported through one `Reporter` (`reporter.ts`):
 * 1. JSON syntax (`syntax.ts`; jsonc-parser: comments and trailing commas allowed);
 * 2. structure, with the same JSON schema the editor uses (`schema/engines.schema.json`, run by ajv); ajv's
 *    raw errors are boiled down to one readable message per bad field (`schemaProblems.ts`);
 * 3. meaning (`buildEngine.ts`, `engineFields.ts`, `references.ts`, `crossChecks.ts`, `replicas.ts`):
 *    duplicate names, `dependsOn` and `${port:X}` references, cycles, variables, ports, regexes, GPUs
 *    given to two engines, replicas (an entry with `"replicas": N` is built as N engines)...
 *
 * Presets (`"preset": "vllm"`, see `presets.ts`) and `gpus` are applied between passes 2 and 3: the schema
 * checks what the user wrote, pass 3 checks and builds the expanded engine. A problem in a value the preset
 * added is reported at the engine's `"preset"` (at `"gpus"` for the `CUDA_VISIBLE_DEVICES` it adds).
 *
 * Nothing here throws on any input: a bad config is a list of problems, never an exception.
 */
import { existsSync, readFile, stat, statSync } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { errorMessage } from '../errors';
import type { ConfigProblem, EngineSpec, LoadResult } from '../model';
import { buildEngine, type BuildContext } from './buildEngine';
import { checkCycles, checkFixedPorts, checkSharedGpus, engineNames, type BuiltEngine } from './crossChecks';
import { MAX_CONFIG_BYTES, tooLargeMessage } from './defaults';
import { engineEntries, enginesOf, type Edge } from './engineEntry';
import { isObject, nodeToValue, propertyNode, type JsonNode, type JsonValue } from './jsonTree';
import { Reporter, fileProblem } from './reporter';
import { checkReplicaFields, withReplicas } from './replicas';
import { reportSchemaProblems } from './schemaProblems';
import { parseJsonTree, reportDuplicateKeys } from './syntax';

export interface ParseOptions {
  /**
   * Used for the "envFile does not exist" warning (the only file-system access of {@link parseConfig}).
   * Default: `fs.existsSync`.
   */
  readonly fileExists?: (absolutePath: string) => boolean;
}

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
    return analyze(text, file, workspaceFolder, options.fileExists ?? existsSync);
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
    // The callback API, promisified: node:fs/promises would be one more module to load for every CLI call.
    const info = await promisify(stat)(absolute);
    if (!info.isFile()) return { problems: [fileProblem(absolute, 'not a file')] };
    if (info.size > MAX_CONFIG_BYTES) return { problems: [fileProblem(absolute, tooLargeMessage(info.size))] };
    bytes = await promisify(readFile)(absolute);
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

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The three passes over one file's text. */
function analyze(
  original: string,
  file: string,
  workspaceFolder: string,
  fileExists: (absolutePath: string) => boolean,
): LoadResult {
  // A byte order mark is no JSON; blank it without shifting offsets.
  const text = original.charCodeAt(0) === 0xfeff ? ` ${original.slice(1)}` : original;
  // `length` is a lower bound of the UTF-8 size and spares encoding a huge string.
  const bytes = text.length > MAX_CONFIG_BYTES ? text.length : Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) return { problems: [fileProblem(file, tooLargeMessage(bytes))] };

  const reporter = new Reporter(file, text);
  const root = parseJsonTree(reporter, text);
  if (!root) return reporter.result(workspaceFolder, undefined);
  const value = nodeToValue(root);
  reportDuplicateKeys(reporter, root);
  const invalidEngines = reportSchemaProblems(reporter, root, value);
  const engines = buildEngines({ reporter, workspaceFolder, fileExists }, root, value, invalidEngines);
  return reporter.result(workspaceFolder, engines);
}

/** Pass 3: every engine without a schema error built, then the checks across engines. */
function buildEngines(
  ctx: BuildContext,
  root: JsonNode,
  value: JsonValue,
  invalid: ReadonlySet<number>,
): EngineSpec[] | undefined {
  const enginesNode = propertyNode(root, 'engines');
  if (!isObject(value) || !Array.isArray(value.engines) || enginesNode?.type !== 'array') return undefined;
  const entries = withReplicas(engineEntries(enginesNode, value.engines, invalid));
  const byName = engineNames(ctx.reporter, entries);
  const built: BuiltEngine[] = [];
  // By entry: a group's edges are its replicas' together (they cannot form a cycle among themselves).
  const edges = new Map<number, Edge[]>();
  for (const entry of entries) {
    if (!entry.valid) continue;
    checkReplicaFields(ctx.reporter, entry);
    const out: Edge[] = [];
    for (const one of enginesOf(entry)) {
      const engine = buildEngine(ctx, one, byName);
      built.push({ entry: one, spec: engine.spec });
      out.push(...engine.edges);
    }
    edges.set(entry.index, out);
  }
  checkCycles(ctx.reporter, entries, edges);
  checkFixedPorts(ctx.reporter, built);
  checkSharedGpus(ctx.reporter, built);
  return built.map((b) => b.spec);
}
