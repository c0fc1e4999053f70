/**
 * The shipped JSON schema (`schema/engines.schema.json`, the editor's too): its `$ref`s inlined for ajv
 * (compiled in `schemaCompile.ts`, at build time for the bundles), and walked along ajv's schema paths.
 */
import schemaJson from '../../../schema/engines.schema.json';
import { decodePointerSegment, isObject, type JsonObject, type JsonValue } from './jsonTree';

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

let cachedSchema: JsonObject | undefined;

/** The shipped schema with every local `$ref` replaced by its target; computed once. */
export function inlinedSchema(): JsonObject {
  cachedSchema ??= inlineRefs(schemaJson as unknown as JsonObject);
  return cachedSchema;
}

/** A schema with every local `$ref` replaced by its target (siblings of `$ref` win) and no `definitions`. */
export function inlineRefs(root: JsonObject): JsonObject {
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
  return inlined;
}

/**
 * How a schema node was reached from its parent: across a property (`properties/x`, `additionalProperties`,
 * `propertyNames`: another field), across an array item (`items`, `additionalItems`: one level deeper in the
 * data, same field for messages), or through a combinator (`oneOf/1`, `then`: same data).
 */
export interface SchemaStep {
  readonly node: JsonObject;
  readonly via: 'root' | 'property' | 'item' | 'combinator';
}

/** The schema nodes along an ajv `schemaPath` like `#/properties/port/oneOf/2/items/1/maximum`. */
export function schemaSteps(schemaPath: string): SchemaStep[] {
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
