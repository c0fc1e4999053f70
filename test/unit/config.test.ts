import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse as parseJsonc } from 'jsonc-parser';
import {
  findConfigFile,
  formatProblem,
  loadConfig,
  parseConfig,
  workspaceFolderFor,
} from '../../src/core/config';
import { ENGINE_DEFAULTS, MAX_CONFIG_BYTES, parseDuration } from '../../src/core/config/defaults';
import { EDITOR_SCHEMA_KEYWORDS } from '../../src/core/config/schema';
import { createSchemaValidator, standaloneSchemaValidatorCode } from '../../src/core/config/schemaCompile';
import type { ConfigProblem, EngineSpec, LoadResult } from '../../src/core/model';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CORPUS = path.join(ROOT, 'test', 'fixtures', 'bad-configs');
const SCHEMA_FILE = path.join(ROOT, 'schema', 'engines.schema.json');
const FILE = '/ws/.vscode/engines.json';
const WS = '/ws';

/** parseConfig with every envFile present, so that only the checks under test speak. */
function parse(text: string, fileExists: (p: string) => boolean = () => true): LoadResult {
  return parseConfig(text, FILE, WS, { fileExists });
}

function dump(problems: readonly ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n');
}

/** The range of `needle` (its first occurrence) in a single-line-per-needle text, for exact assertions. */
function rangeOf(text: string, needle: string) {
  const offset = text.indexOf(needle);
  assert.ok(offset >= 0, `${needle} not in text`);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before[before.length - 1] ?? '').length + 1;
  return { offset, length: needle.length, line, column, endLine: line, endColumn: column + needle.length };
}

describe('bad-config corpus', () => {
  // Each file starts with one or more `// expect: FIELD @ LINE: MESSAGE-SUBSTRING` lines (`""` = no field).
  // The file must give no config and exactly these errors: one per bad field, no noise.
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.jsonc')).sort();

  it('has at least 20 files', () => {
    assert.ok(files.length >= 20, `only ${files.length} files`);
  });

  for (const name of files) {
    it(name, () => {
      const text = readFileSync(path.join(CORPUS, name), 'utf8');
      const expectations = [...text.matchAll(/^\/\/ expect: (\S+) @ (\d+): (.+)$/gm)].map((m) => ({
        field: m[1] === '""' ? '' : (m[1] ?? ''),
        line: Number(m[2]),
        message: m[3] ?? '',
      }));
      assert.ok(expectations.length > 0, 'no "// expect:" line');
      const result = parse(text);
      assert.equal(result.config, undefined, 'a bad config must not produce a config');
      const errors = result.problems.filter((p) => p.severity === 'error');
      for (const e of expectations) {
        const hit = errors.find((p) => p.field === e.field && p.range.line === e.line && p.message.includes(e.message));
        assert.ok(hit, `expected ${e.field || '(file)'} @ ${e.line}: ${e.message}\ngot:\n${dump(result.problems)}`);
        assert.equal(hit.file, FILE);
      }
      assert.equal(errors.length, expectations.length, `unexpected extra errors:\n${dump(errors)}`);
    });
  }
});

describe('parseConfig: good configs', () => {
  it('fills every default for a minimal engine', () => {
    const text = '{\n  "engines": [\n    { "name": "web", "command": ["python3", "-m", "http.server"] }\n  ]\n}\n';
    const result = parse(text);
    assert.deepEqual(result.problems, []);
    const expected: EngineSpec = {
      name: 'web',
      command: ['python3', '-m', 'http.server'],
      shell: false,
      env: {},
      host: '127.0.0.1',
      health: { probe: { kind: 'none' }, interval: 5000, timeout: 2000, failureThreshold: 3 },
      startTimeout: 120000,
      dependsOn: [],
      restart: { policy: 'no', limit: 5, backoff: 1000, maxBackoff: 30000 },
      stopSignal: 'SIGTERM',
      stopTimeout: 10000,
      stopSignalTo: 'group',
      startLock: 'untilHealthy',
      range: rangeOf(text, '{ "name": "web", "command": ["python3", "-m", "http.server"] }'),
    };
    assert.deepEqual(result.config, { file: FILE, workspaceFolder: WS, engines: [expected] });
  });

  it('reads every field, with comments and trailing commas', () => {
    const text = `{
  "$schema": "../schema/engines.schema.json",
  // a database and an API that uses it
  "engines": [
    { "name": "db", "command": ["postgres", "-p", "\${port}"], "port": [5400, 5499], },
    {
      "name": "api",
      "description": "The API server",
      "command": ["node", "api.js", "--db-port", "\${port:db}", "--cache", "\${port:cache}"],
      "cwd": "\${workspaceFolder}/api",
      "env": { "PORT": "\${port}", "WORKERS": 4, "VERBOSE": true, "RATIO": 0.5, "DB": "\${port:db}" },
      "envFile": ".env",
      "host": "localhost",
      "port": "auto",
      "portBlock": 16,
      "health": { "http": "/health", "expectStatus": 204, "interval": "1.5s", "timeout": 750, "failureThreshold": 5 },
      "startTimeout": "2m",
      "stopTimeout": "30s",
      "dependsOn": ["cache", "db", "cache"],
      "restart": { "policy": "on-failure", "limit": 0, "backoff": "500ms" },
      "stopSignal": "SIGINT", "stopSignalTo": "leader", "pidFile": "run/api-\${port}.pid",
      "startLock": "untilListening",
    },
    { "name": "cache", "shell": true, "command": "redis-server --port \${port}", "port": 6379, "restart": "on-failure" },
  ],
}`;
    const result = parse(text);
    assert.deepEqual(result.problems, [], dump(result.problems));
    const engines = result.config?.engines ?? [];
    assert.equal(engines.length, 3);
    const [db, api, cache] = engines;
    assert.deepEqual(db?.port, { kind: 'range', from: 5400, to: 5499 });
    assert.deepEqual(db?.health.probe, { kind: 'tcp' }); // a port and no health: tcp
    const { range: _range, ...apiWithoutRange } = api ?? ({} as EngineSpec);
    assert.deepEqual(apiWithoutRange, {
      name: 'api',
      description: 'The API server',
      command: ['node', 'api.js', '--db-port', '${port:db}', '--cache', '${port:cache}'],
      shell: false,
      cwd: '${workspaceFolder}/api',
      env: { PORT: '${port}', WORKERS: '4', VERBOSE: 'true', RATIO: '0.5', DB: '${port:db}' },
      envFile: '.env',
      host: 'localhost',
      port: { kind: 'auto' },
      portBlock: 16,
      health: {
        probe: { kind: 'http', path: '/health', expectStatus: [204] },
        interval: 1500,
        timeout: 750,
        failureThreshold: 5,
      },
      startTimeout: 120000,
      // explicit first (deduplicated), then the engines named by ${port:X} that are not there yet
      dependsOn: ['cache', 'db'],
      restart: { policy: 'on-failure', limit: 0, backoff: 500, maxBackoff: 30000 },
      stopSignal: 'SIGINT',
      stopTimeout: 30000,
      stopSignalTo: 'leader',
      pidFile: 'run/api-${port}.pid',
      startLock: 'untilListening',
    });
    assert.equal(api?.range.line, 6);
    assert.equal(api?.range.endLine, 23);
    assert.deepEqual(cache?.command, ['redis-server --port ${port}']);
    assert.equal(cache?.shell, true);
    assert.deepEqual(cache?.port, { kind: 'fixed', port: 6379 });
    assert.deepEqual(cache?.restart, { policy: 'on-failure', limit: 5, backoff: 1000, maxBackoff: 30000 });
  });

  it('adds the engines named by ${port:X} to dependsOn, explicit ones first, never itself', () => {
    const text = JSON.stringify({
      engines: [
        { name: 'a', command: ['a'], port: 1 },
        { name: 'b', command: ['b'], port: 2 },
        { name: 'c', command: ['c', '${port:b}', '${port:c}'], env: { A: '${port:a}', B: '${port:b}' }, port: 3, dependsOn: 'a' },
      ],
    });
    const result = parse(text);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.config?.engines[2]?.dependsOn, ['a', 'b']);
  });

  it('parses every health probe kind and duration form', () => {
    const text = JSON.stringify({
      engines: [
        { name: 'h', command: ['x'], health: { http: 'https://example.invalid/ready', expectStatus: [200, 301] } },
        { name: 'l', command: ['x'], health: { log: 'ready on \\d+' }, startTimeout: '1h' },
        { name: 'c', command: ['x'], health: { command: ['pg_isready', '-p', '${port}'], timeout: '5m' }, port: 'auto' },
        { name: 't', command: ['x'], health: { tcp: true }, port: 9 },
      ],
    });
    const result = parse(text);
    assert.deepEqual(result.problems, []);
    const [h, l, c, t] = result.config?.engines ?? [];
    assert.deepEqual(h?.health.probe, { kind: 'http', path: 'https://example.invalid/ready', expectStatus: [200, 301] });
    assert.deepEqual(l?.health.probe, { kind: 'log', pattern: 'ready on \\d+' });
    assert.equal(l?.startTimeout, 3_600_000);
    assert.deepEqual(c?.health, {
      probe: { kind: 'command', command: ['pg_isready', '-p', '${port}'] },
      interval: 5000,
      timeout: 300_000,
      failureThreshold: 3,
    });
    assert.deepEqual(t?.health.probe, { kind: 'tcp' });
  });

  it('accepts an empty engines list', () => {
    assert.deepEqual(parse('{ "engines": [] }'), {
      config: { file: FILE, workspaceFolder: WS, engines: [] },
      problems: [],
    });
  });

  it('keeps a "__proto__" environment variable as a plain key', () => {
    const result = parse('{ "engines": [{ "name": "a", "command": ["a"], "env": { "__proto__": "x" } }] }');
    const env = result.config?.engines[0]?.env ?? {};
    assert.deepEqual(Object.keys(env), ['__proto__']);
    assert.equal(Object.getPrototypeOf(env), Object.prototype);
  });
});

describe('parseConfig: warnings and problems', () => {
  it('warns (without failing) when an envFile does not exist', () => {
    const seen: string[] = [];
    const text = '{ "engines": [{ "name": "a", "command": ["a"], "envFile": "conf/.env" }] }';
    const result = parse(text, (p) => {
      seen.push(p);
      return false;
    });
    assert.deepEqual(seen, [path.resolve(WS, 'conf/.env')]);
    assert.ok(result.config, 'warnings keep the config');
    assert.deepEqual(result.problems, [
      {
        file: FILE,
        field: 'engines[0].envFile',
        message: `the env file "conf/.env" does not exist (${path.resolve(WS, 'conf/.env')})`,
        severity: 'warning',
        range: rangeOf(text, '"conf/.env"'),
      },
    ]);
  });

  it('does not check an envFile that holds variables', () => {
    const text = '{ "engines": [{ "name": "a", "command": ["a"], "envFile": "${env:HOME}/.env" }] }';
    const result = parse(text, () => assert.fail('must not be called'));
    assert.deepEqual(result.problems, []);
  });

  it('warns about a repeated field; the last one counts', () => {
    const text = '{ "engines": [{ "name": "a", "command": ["a"], "port": 1, "port": 2 }] }';
    const result = parse(text);
    assert.equal(result.config?.engines[0]?.port?.kind, 'fixed');
    assert.deepEqual(result.config?.engines[0]?.port, { kind: 'fixed', port: 2 });
    assert.deepEqual(
      result.problems.map((p) => [p.severity, p.field, p.message, p.range.column]),
      [['warning', 'engines[0].port', 'duplicate field "port"; only the last one counts', text.lastIndexOf('"port"') + 1]],
    );
  });

  it('puts an unknown field on its key, with an exact range', () => {
    const text = '{ "engines": [{ "name": "a", "comand": ["a"] }] }';
    const result = parse(text);
    assert.deepEqual(result.problems, [
      {
        file: FILE,
        field: 'engines[0].comand',
        message: 'unknown field "comand"; did you mean "command"?',
        severity: 'error',
        range: rangeOf(text, '"comand"'),
      },
    ]);
  });

  it('reports a JSON syntax error at its offset', () => {
    const text = '{\n  "engines": [\n    { "name": "a", "command": ["a"] }\n    { "name": "b" }\n  ]\n}';
    const result = parse(text);
    assert.equal(result.config, undefined);
    const first = result.problems[0];
    assert.deepEqual(
      [first?.field, first?.range.line, first?.range.column, first?.message],
      ['', 4, 5, "JSON syntax error: expected ','"],
    );
  });

  it('reports missing fields on the object and several bad fields of one engine', () => {
    const text = '{ "engines": [{ "port": 0, "stopSignal": "KILL" }] }';
    const result = parse(text);
    assert.deepEqual(
      result.problems.map((p) => `${p.field}|${p.range.column}|${p.message}`),
      [
        'engines[0]|15|missing required fields "name" and "command"',
        'engines[0].port|25|must be "auto", a port number 1-65535, or a range [from, to]; got 0',
        'engines[0].stopSignal|42|must be "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGKILL", "SIGUSR1" or "SIGUSR2"; got "KILL"',
      ],
    );
  });

  it('reports a dependency cycle once, from the first engine of the cycle in the file', () => {
    const text = JSON.stringify({
      engines: [
        { name: 'x', command: ['x'], dependsOn: 'b' },
        { name: 'b', command: ['b'], dependsOn: ['c'] },
        { name: 'c', command: ['c'], dependsOn: ['b'] },
        { name: 'd', command: ['d'], dependsOn: ['e'] },
        { name: 'e', command: ['e'], dependsOn: ['d'] },
      ],
    });
    const result = parse(text);
    assert.deepEqual(
      result.problems.map((p) => `${p.field}: ${p.message}`),
      ['engines[1].dependsOn[0]: dependency cycle: b -> c -> b', 'engines[3].dependsOn[0]: dependency cycle: d -> e -> d'],
    );
  });

  it('does not cascade from an invalid engine into references to it', () => {
    const text = JSON.stringify({
      engines: [
        { name: 'db', command: 'postgres', port: 5432 },
        { name: 'api', command: ['api', '${port:db}'], dependsOn: ['db'] },
      ],
    });
    const result = parse(text);
    assert.deepEqual(
      result.problems.map((p) => p.field),
      ['engines[0].command'],
    );
  });

  it('refuses a file over 5 MiB', () => {
    const text = `{ "engines": [] ${' '.repeat(MAX_CONFIG_BYTES)}}`;
    assert.deepEqual(parse(text), {
      problems: [
        {
          file: FILE,
          field: '',
          message: 'the file is 5.0 MiB; config files larger than 5 MiB are refused',
          severity: 'error',
          range: { offset: 0, length: 0, line: 1, column: 1, endLine: 1, endColumn: 1 },
        },
      ],
    });
  });

  it('turns absurd nesting into a problem instead of a stack overflow', () => {
    for (const text of ['['.repeat(300_000), `{ "engines": ${'['.repeat(200_000)}${']'.repeat(200_000)} }`]) {
      const result = parse(text);
      assert.equal(result.config, undefined);
      assert.equal(result.problems.length >= 1, true);
      assert.equal(result.problems[0]?.severity, 'error');
    }
  });

  it('never throws on mangled input', () => {
    const good = JSON.stringify({
      engines: [
        { name: 'db', command: ['postgres', '-p', '${port}'], port: 'auto', health: { tcp: true } },
        { name: 'api', command: ['node', '${port:db}'], port: [8000, 8100], restart: { policy: 'on-failure' } },
      ],
    });
    // A fixed-seed generator keeps failures reproducible.
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = '{}[]:,"\\/*0123456789.-+eE truefalsnul${}portA\n\uFEFF\u2028';
    for (let i = 0; i < 400; i++) {
      const chars = [...good];
      for (let k = 0; k <= random(4); k++) {
        const at = random(chars.length);
        const op = random(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[random(alphabet.length)] ?? '');
        else chars[at] = alphabet[random(alphabet.length)] ?? '';
      }
      const result = parse(chars.join(''));
      const hasError = result.problems.some((p) => p.severity === 'error');
      assert.equal(result.config === undefined, hasError, `config and errors disagree for ${chars.join('')}`);
      for (const p of result.problems) {
        assert.ok(p.range.line >= 1 && p.range.column >= 1, formatProblem(p));
        assert.ok(!/internal error/.test(p.message), formatProblem(p));
      }
    }
  });
});

describe('formatProblem', () => {
  const range = { offset: 10, length: 3, line: 4, column: 7, endLine: 4, endColumn: 10 };
  it('formats FILE:LINE:COL: severity: FIELD: MESSAGE', () => {
    assert.equal(
      formatProblem({ file: '/w/.vscode/engines.json', field: 'engines[1].port', message: 'bad', severity: 'error', range }),
      '/w/.vscode/engines.json:4:7: error: engines[1].port: bad',
    );
  });
  it('omits an empty field', () => {
    assert.equal(
      formatProblem({ file: 'f.json', field: '', message: 'the file is empty', severity: 'warning', range }),
      'f.json:4:7: warning: the file is empty',
    );
  });
});

describe('parseDuration', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [0, 0],
    [1500, 1500],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    ['0.0004s', 0],
    [2_147_483_647, 2_147_483_647],
    [2_147_483_648, undefined],
    ['1000h', undefined],
    [-1, undefined],
    [1.5, undefined],
    ['5 parsecs', undefined],
    ['5', undefined],
    ['5 s', undefined],
    ['', undefined],
    [Number.NaN, undefined],
    [null, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${String(expected)}`, () => assert.equal(parseDuration(input), expected));
  }
});

describe('loadConfig and findConfigFile', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'engine-room-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads .vscode/engines.json with the workspace folder above .vscode', async () => {
    const ws = path.join(dir, 'ws1');
    mkdirSync(path.join(ws, '.vscode'), { recursive: true });
    const file = path.join(ws, '.vscode', 'engines.json');
    writeFileSync(file, '\uFEFF{ "engines": [{ "name": "a", "command": ["a"], "envFile": ".env" }] }');
    // relative paths are made absolute
    const result = await loadConfig(path.relative(process.cwd(), file));
    assert.equal(result.config?.file, file);
    assert.equal(result.config?.workspaceFolder, ws);
    const column = '{ "engines": [{ "name": "a", "command": ["a"], "envFile": '.length + 1; // the BOM is not a column
    assert.deepEqual(
      result.problems.map((p) => [p.severity, p.field, p.range.column]),
      [['warning', 'engines[0].envFile', column]],
    );
    writeFileSync(path.join(ws, '.env'), 'A=1\n');
    assert.deepEqual((await loadConfig(file)).problems, []);
  });

  it('uses the file folder as workspace folder outside .vscode', async () => {
    const file = path.join(dir, 'engines.json');
    writeFileSync(file, '{ "engines": [] }');
    assert.equal((await loadConfig(file)).config?.workspaceFolder, dir);
    assert.equal(workspaceFolderFor('/a/b/.vscode/engines.json'), '/a/b');
    assert.equal(workspaceFolderFor('/a/b/engines.json'), '/a/b');
  });

  it('reports a missing file, a directory, a huge file and bad UTF-8 as problems', async () => {
    const missing = path.join(dir, 'nope', 'engines.json');
    assert.deepEqual((await loadConfig(missing)).problems.map(formatProblem), [
      `${missing}:1:1: error: config file not found`,
    ]);
    assert.deepEqual((await loadConfig(dir)).problems.map((p) => p.message), ['not a file']);
    const huge = path.join(dir, 'huge.json');
    writeFileSync(huge, Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
    assert.deepEqual((await loadConfig(huge)).problems.map((p) => p.message), [
      'the file is 5.0 MiB; config files larger than 5 MiB are refused',
    ]);
    const latin1 = path.join(dir, 'latin1.json');
    writeFileSync(latin1, Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x7d]));
    assert.deepEqual((await loadConfig(latin1)).problems.map((p) => p.message), ['the file is not valid UTF-8 text']);
  });

  it('finds .vscode/engines.json walking up', () => {
    const ws = path.join(dir, 'ws2');
    const deep = path.join(ws, 'src', 'deep', 'er');
    mkdirSync(deep, { recursive: true });
    mkdirSync(path.join(ws, '.vscode'));
    // nothing in between yet: the search goes on above the temporary folder, like from its root
    assert.equal(findConfigFile(deep), findConfigFile(dir));
    writeFileSync(path.join(ws, '.vscode', 'engines.json'), '{ "engines": [] }');
    assert.equal(findConfigFile(deep), path.join(ws, '.vscode', 'engines.json'));
    assert.equal(findConfigFile(ws), path.join(ws, '.vscode', 'engines.json'));
    // a directory with the right name is not a config file
    const other = path.join(dir, 'ws3');
    mkdirSync(path.join(other, '.vscode', 'engines.json'), { recursive: true });
    assert.notEqual(findConfigFile(other), path.join(other, '.vscode', 'engines.json'));
  });
});

describe('schema/engines.schema.json', () => {
  const text = readFileSync(SCHEMA_FILE, 'utf8');
  const schema = JSON.parse(text) as Record<string, unknown>;

  it('is draft-07 and compiles in strict ajv as shipped, and inlined', () => {
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ strict: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false });
    ajv.addVocabulary([...EDITOR_SCHEMA_KEYWORDS]);
    const validate = ajv.compile(schema);
    assert.equal(validate({ engines: [{ name: 'a', command: ['a'] }] }), true);
    assert.equal(validate({ engines: [{ name: 'a', command: 'a' }] }), false);
    const inlined = createSchemaValidator();
    assert.equal(inlined({ engines: [{ name: 'a', command: ['a'], port: [1, 2] }] }), true);
    assert.equal(inlined({ engines: [{ name: 'a', command: ['a'], port: [2] }] }), false);
  });

  it('compiled at build time (ajv standalone code, as in the bundles) gives the errors of the run-time compile', () => {
    // The module the build puts in place of src/core/config/schemaValidator.ts runs this very code.
    const generated = { exports: {} as unknown };
    new Function('module', 'exports', 'require', standaloneSchemaValidatorCode())(generated, generated.exports, createRequire(SCHEMA_FILE));
    const precompiled = generated.exports as ValidateFunction;
    const runtime = createSchemaValidator();
    const inputs = [...readdirSync(CORPUS).map((f) => path.join(CORPUS, f)), path.join(ROOT, 'test', 'demo', '.vscode', 'engines.json')];
    let failing = 0;
    for (const file of inputs) {
      const value: unknown = parseJsonc(readFileSync(file, 'utf8'));
      const ok = runtime(value);
      assert.equal(precompiled(value), ok, file);
      assert.deepEqual(precompiled.errors ?? null, runtime.errors ?? null, file);
      if (!ok) failing++;
    }
    assert.ok(failing >= 20, `only ${failing} inputs fail the schema: the comparison proves little`);
  });

  /** Every schema object in the file, with its JSON pointer. */
  function* schemaNodes(node: unknown, pointer: string): Generator<[string, Record<string, unknown>]> {
    if (Array.isArray(node)) {
      for (const [i, v] of node.entries()) yield* schemaNodes(v, `${pointer}/${i}`);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const obj = node as Record<string, unknown>;
    yield [pointer, obj];
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'defaultSnippets' || k === 'default' || k === 'enum' || k === 'const') continue;
      if (k === 'properties' && typeof v === 'object' && v !== null) {
        for (const [name, sub] of Object.entries(v)) yield* schemaNodes(sub, `${pointer}/properties/${name}`);
      } else {
        yield* schemaNodes(v, `${pointer}/${k}`);
      }
    }
  }

  it('describes every property, for hovers', () => {
    const undocumented: string[] = [];
    for (const [pointer, node] of schemaNodes(schema, '#')) {
      // `if`/`then`/`else` only add rules to fields that are documented where they are declared.
      if (!/\/properties\/[^/]+$/.test(pointer) || /\/(if|then|else)\//.test(pointer)) continue;
      if (typeof node.description !== 'string') undocumented.push(pointer);
    }
    assert.deepEqual(undocumented, []);
  });

  it('closes every object with additionalProperties: false', () => {
    const open: string[] = [];
    for (const [pointer, node] of schemaNodes(schema, '#')) {
      if (node.properties !== undefined && node.additionalProperties !== false) open.push(pointer);
    }
    // `if`/`then`/`else` only constrain fields declared elsewhere.
    assert.deepEqual(open.filter((p) => !/\/(if|then|else)$/.test(p)), []);
  });

  it('has the same defaults as the parser', () => {
    const engine = (schema.definitions as Record<string, Record<string, Record<string, Record<string, unknown>>>>)
      .engine?.properties;
    assert.ok(engine);
    const defaultOf = (name: string): unknown => engine[name]?.default;
    assert.equal(defaultOf('shell'), ENGINE_DEFAULTS.shell);
    assert.equal(defaultOf('host'), ENGINE_DEFAULTS.host);
    assert.equal(defaultOf('startTimeout'), ENGINE_DEFAULTS.startTimeout);
    assert.equal(defaultOf('stopTimeout'), ENGINE_DEFAULTS.stopTimeout);
    assert.equal(defaultOf('stopSignal'), ENGINE_DEFAULTS.stopSignal);
    assert.equal(defaultOf('stopSignalTo'), ENGINE_DEFAULTS.stopSignalTo);
    assert.equal(defaultOf('startLock'), ENGINE_DEFAULTS.startLock);
    const health = engine.health?.properties as Record<string, Record<string, unknown>>;
    assert.equal(health.interval?.default, ENGINE_DEFAULTS.health.interval);
    assert.equal(health.timeout?.default, ENGINE_DEFAULTS.health.timeout);
    assert.equal(health.failureThreshold?.default, ENGINE_DEFAULTS.health.failureThreshold);
    const restartObject = (engine.restart?.oneOf as Array<Record<string, Record<string, Record<string, unknown>>>>)[1];
    assert.equal(restartObject?.properties?.limit?.default, ENGINE_DEFAULTS.restart.limit);
    assert.equal(restartObject?.properties?.backoff?.default, ENGINE_DEFAULTS.restart.backoff);
    assert.equal(restartObject?.properties?.maxBackoff?.default, ENGINE_DEFAULTS.restart.maxBackoff);
  });
});

describe('paths outside the workspace', () => {
  it('warns (without refusing) for a cwd or envFile outside the workspace folder', () => {
    const text = JSON.stringify({ engines: [
      { name: 'a', command: ['x'], cwd: '../elsewhere' },
      { name: 'b', command: ['x'], cwd: '/etc' },
      { name: 'c', command: ['x'], cwd: '${workspaceFolder}/sub' },
      { name: 'd', command: ['x'], cwd: 'sub/../../up' },
    ] }, null, 2);
    const r = parseConfig(text, '/w/.vscode/engines.json', '/w', { fileExists: () => true });
    assert.ok(r.config, 'warnings do not refuse the config');
    const outside = r.problems.filter((p) => /outside the workspace folder/.test(p.message));
    assert.deepEqual(outside.map((p) => [p.field, p.severity]), [['engines[0].cwd', 'warning'], ['engines[1].cwd', 'warning'], ['engines[3].cwd', 'warning']]);
  });
});
