// The loader's raw engine types (src/core/config/rawEngine.ts) mirror schema/engines.schema.json by hand.
// This test walks every object of the schema and compares its fields with the fields the types model, so a
// field added to the schema (or dropped from it) fails here until the types follow; the `satisfies` below
// tie these lists to the types at compile time, and `allFieldsRead` ties the types to the builders.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import schemaJson from '../../schema/engines.schema.json';
import { isObject, type JsonObject, type JsonValue } from '../../src/core/config/jsonTree';
import type { RawEngine, RawHealth, RawRestart } from '../../src/core/config/rawEngine';
import { inlineRefs } from '../../src/core/config/schema';

const ENGINE_FIELDS = {
  name: true,
  description: true,
  command: true,
  shell: true,
  cwd: true,
  env: true,
  envFile: true,
  host: true,
  port: true,
  ports: true,
  portBlock: true,
  replicas: true,
  gpusPerReplica: true,
  health: true,
  startTimeout: true,
  stopTimeout: true,
  dependsOn: true,
  restart: true,
  stopSignal: true,
  stopSignalTo: true,
  pidFile: true,
  startLock: true,
  preset: true,
  gpus: true,
  openai: true,
} as const satisfies Record<keyof RawEngine, true>;

const HEALTH_FIELDS = {
  http: true,
  expectStatus: true,
  tcp: true,
  log: true,
  command: true,
  interval: true,
  timeout: true,
  failureThreshold: true,
} as const satisfies Record<keyof RawHealth, true>;

const RESTART_FIELDS = {
  policy: true,
  limit: true,
  backoff: true,
  maxBackoff: true,
} as const satisfies Record<keyof RawRestart, true>;

/** The fields the loader models, by data path: `engines[]` is an engine, `engines[].health` its health. */
const MODELED: Readonly<Record<string, readonly string[]>> = {
  // The root has no raw type: `$schema` is for editors, `engines` is read by config/index.ts.
  '': ['$schema', 'engines'],
  'engines[]': Object.keys(ENGINE_FIELDS),
  'engines[].health': Object.keys(HEALTH_FIELDS),
  'engines[].restart': Object.keys(RESTART_FIELDS),
};

/**
 * The declared fields of every object in a schema, by data path. Combinators and conditionals (`oneOf`,
 * `allOf`, `if`/`then`/`else`) describe the same value, so their fields join the path's; `not` and
 * `propertyNames` declare no field.
 */
function schemaFields(schema: JsonObject): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const visit = (node: JsonValue | undefined, at: string): void => {
    if (!isObject(node)) return;
    if (isObject(node.properties)) {
      const fields = found.get(at) ?? new Set<string>();
      found.set(at, fields);
      for (const [key, child] of Object.entries(node.properties)) {
        fields.add(key);
        visit(child, at === '' ? key : `${at}.${key}`);
      }
    }
    if (isObject(node.patternProperties)) for (const child of Object.values(node.patternProperties)) visit(child, `${at}.*`);
    visit(node.additionalProperties, `${at}.*`);
    for (const child of Array.isArray(node.items) ? node.items : [node.items]) visit(child, `${at}[]`);
    visit(node.additionalItems, `${at}[]`);
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const branches = node[key];
      if (Array.isArray(branches)) for (const branch of branches) visit(branch, at);
    }
    for (const key of ['if', 'then', 'else'] as const) visit(node[key], at);
  };
  visit(inlineRefs(schema), '');
  return found;
}

/** One line per difference between the schema's objects and the loader's types; none when they agree. */
function fieldDrift(schema: JsonObject, modeled: Readonly<Record<string, readonly string[]>>): string[] {
  const drift: string[] = [];
  const inSchema = schemaFields(schema);
  for (const [at, fields] of inSchema) {
    const known = modeled[at];
    const where = at === '' ? 'the root' : at;
    if (known === undefined) {
      const list = [...fields].join(', ');
      drift.push(`${where}: the schema has an object with fields ${list}, which no loader type models`);
      continue;
    }
    for (const f of fields) {
      if (!known.includes(f)) drift.push(`${where}: the schema's field "${f}" is not in the loader's types`);
    }
  }
  for (const [at, known] of Object.entries(modeled)) {
    const fields = inSchema.get(at);
    const where = at === '' ? 'the root' : at;
    if (fields === undefined) drift.push(`${where}: the loader models an object the schema does not have`);
    else for (const f of known) if (!fields.has(f)) drift.push(`${where}: the loader's field "${f}" is not in the schema`);
  }
  return drift;
}

/** The shipped schema, changed by `edit`: a fixture that stays current with the real one. */
function editedSchema(edit: (schema: JsonObject) => void): JsonObject {
  const schema = structuredClone(schemaJson) as unknown as JsonObject;
  edit(schema);
  return schema;
}

/** `schema.definitions.engine` and friends, asserted to be objects. */
function objectAt(root: JsonValue, ...keys: Array<string | number>): JsonObject {
  let node = root;
  for (const k of keys) {
    const next: JsonValue | undefined =
      Array.isArray(node) && typeof k === 'number' ? node[k] : isObject(node) ? node[String(k)] : undefined;
    assert.ok(next !== undefined, `no ${keys.join('.')} in the schema`);
    node = next;
  }
  assert.ok(isObject(node), `${keys.join('.')} is not an object`);
  return node;
}

describe('raw engine types against the schema', () => {
  it('model every field of every object in schema/engines.schema.json, and no other', () => {
    assert.deepEqual(fieldDrift(schemaJson as unknown as JsonObject, MODELED), []);
  });

  it('finds the engine, health and restart objects in the schema (the walk reaches them)', () => {
    const found = schemaFields(schemaJson as unknown as JsonObject);
    assert.deepEqual([...found.keys()].sort(), Object.keys(MODELED).sort());
  });

  it('reports a field added to the engine in the schema only', () => {
    const schema = editedSchema((s) => {
      objectAt(s, 'definitions', 'engine', 'properties').priority = { type: 'integer' };
    });
    assert.deepEqual(fieldDrift(schema, MODELED), [`engines[]: the schema's field "priority" is not in the loader's types`]);
  });

  it('reports a field added to health, and one added only in a conditional branch', () => {
    const schema = editedSchema((s) => {
      objectAt(s, 'definitions', 'engine', 'properties', 'health', 'properties').grace = { type: 'integer' };
      objectAt(s, 'definitions', 'engine', 'allOf', 0, 'then', 'properties').login = { type: 'boolean' };
    });
    assert.deepEqual(fieldDrift(schema, MODELED), [
      `engines[]: the schema's field "login" is not in the loader's types`,
      `engines[].health: the schema's field "grace" is not in the loader's types`,
    ]);
  });

  it('reports a new nested object inside the object form of restart', () => {
    const schema = editedSchema((s) => {
      const restartObject = objectAt(s, 'definitions', 'engine', 'properties', 'restart', 'oneOf', 1, 'properties');
      restartObject.jitter = { type: 'object', properties: { min: { type: 'integer' }, max: { type: 'integer' } } };
    });
    assert.deepEqual(fieldDrift(schema, MODELED), [
      `engines[].restart: the schema's field "jitter" is not in the loader's types`,
      'engines[].restart.jitter: the schema has an object with fields min, max, which no loader type models',
    ]);
  });

  it('reports a field the loader models that the schema dropped, and a dropped object', () => {
    const schema = editedSchema((s) => {
      delete objectAt(s, 'definitions', 'engine', 'properties', 'health', 'properties').failureThreshold;
    });
    assert.deepEqual(fieldDrift(schema, MODELED), [
      `engines[].health: the loader's field "failureThreshold" is not in the schema`,
    ]);
    const noRestartObject = editedSchema((s) => {
      objectAt(s, 'definitions', 'engine', 'properties').restart = { type: 'string', enum: ['no', 'on-failure'] };
    });
    assert.deepEqual(fieldDrift(noRestartObject, MODELED), [
      'engines[].restart: the loader models an object the schema does not have',
    ]);
  });

  it('makes a builder that leaves a raw field unread a type error (allFieldsRead)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'er-fields-'));
    try {
      const rawEngine = path.resolve(import.meta.dirname, '..', '..', 'src', 'core', 'config', 'rawEngine');
      const file = path.join(dir, 'builder.ts');
      writeFileSync(
        file,
        [
          `import { allFieldsRead, type RawRestart } from ${JSON.stringify(rawEngine)};`,
          'type Grown = RawRestart & { readonly jitter?: number };',
          // rawEngine.ts names NodeJS.Signals; this spares loading all of @types/node.
          'declare global { namespace NodeJS { type Signals = string; } }',
          'export function everyField(r: Grown): unknown {',
          '  const { policy, limit, backoff, maxBackoff, jitter, ...unread } = r;',
          '  allFieldsRead(unread);',
          '  return [policy, limit, backoff, maxBackoff, jitter];',
          '}',
          'export function oneLeft(r: Grown): unknown {',
          '  const { policy, limit, backoff, maxBackoff, ...unread } = r;',
          '  allFieldsRead(unread);',
          '  return [policy, limit, backoff, maxBackoff];',
          '}',
        ].join('\n'),
      );
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
        lib: ['lib.es2022.d.ts'],
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        target: ts.ScriptTarget.ES2022,
      });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
        return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0] ?? '', /^11: .*jitter/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
