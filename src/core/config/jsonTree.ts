/**
 * JSON values and the jsonc-parser tree they come from: typed paths (`engines[2].health.interval`), node
 * lookups by path, and 1-based line and column positions of offsets.
 */
import type { Node as JsonNode } from 'jsonc-parser';
import type { SourceRange } from '../model';

export type { Node as JsonNode } from 'jsonc-parser';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
/** A key of an object or an index of an array. */
export type PathSegment = string | number;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `engines[2].health.interval`, `engines[0].env["1X"]`; `` for the root. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** One segment of a JSON pointer (`/engines/0/port`, `#/definitions/duration`), unescaped. */
export function decodePointerSegment(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Like `JSON.parse`'s result, but `__proto__` keys become plain properties instead of prototypes. */
export function nodeToValue(node: JsonNode): JsonValue {
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
export function propertyNode(obj: JsonNode | undefined, key: string): JsonNode | undefined {
  const prop = propertyOf(obj, key);
  return prop?.children?.[1];
}

/** The property node (key and value) of `key` in an object node; the last one when the key is repeated. */
export function propertyOf(obj: JsonNode | undefined, key: string): JsonNode | undefined {
  if (obj?.type !== 'object') return undefined;
  let found: JsonNode | undefined;
  for (const prop of obj.children ?? []) if (prop.children?.[0]?.value === key) found = prop;
  return found;
}

export function childNode(node: JsonNode | undefined, segment: PathSegment): JsonNode | undefined {
  if (node?.type === 'array') return typeof segment === 'number' ? node.children?.[segment] : undefined;
  return typeof segment === 'string' ? propertyNode(node, segment) : undefined;
}

export function nodeAtPath(node: JsonNode | undefined, segments: readonly PathSegment[]): JsonNode | undefined {
  let current = node;
  for (const s of segments) current = childNode(current, s);
  return current;
}

/** 1-based line and column of offsets; `\n`, `\r\n` and `\r` all end a line, as in VS Code. */
export class LineMap {
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
