/** Endpoint variables and their shell, dotenv and JSON forms, read back by bash, Node and python-dotenv. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { parseEnv } from 'node:util';
import { describe, it } from 'node:test';
import {
  dotenvQuote,
  endpointPrefix,
  endpointVariables,
  formatDotenv,
  formatEndpoints,
  formatJson,
  formatShell,
  shellQuote,
} from '../../src/core/endpoints';

const engines = [
  { name: 'policy', host: '127.0.0.1', ports: { port: 20001 }, portBlock: [24000, 24019] as const, openai: true },
  { name: 'reward-model.v2', ports: { port: 20002 }, portBlock: null },
  { name: 'db', host: '::1', ports: { port: 5432 } },
  { name: 'stopped', ports: {}, portBlock: null, openai: true },
];

const expected = {
  ENGINE_POLICY_URL: 'http://127.0.0.1:20001',
  ENGINE_POLICY_PORT: '20001',
  ENGINE_POLICY_PORT_BLOCK: '24000-24019',
  ENGINE_POLICY_OPENAI_BASE_URL: 'http://127.0.0.1:20001/v1',
  ENGINE_REWARD_MODEL_V2_URL: 'http://127.0.0.1:20002',
  ENGINE_REWARD_MODEL_V2_PORT: '20002',
  ENGINE_DB_URL: 'http://[::1]:5432',
  ENGINE_DB_PORT: '5432',
};

/** Values a shell or dotenv reader could get wrong. */
const awkward = {
  A: "it's",
  B: 'two words',
  C: '$HOME and `x` and $(x)',
  D: 'a#b',
  E: '',
  F: 'x="y"',
  G: 'http://127.0.0.1:1/v1?q=1&r=2',
};

const hasPythonDotenv = spawnSync('python3', ['-c', 'import dotenv'], { stdio: 'ignore' }).status === 0;

/** What python-dotenv reads from a dotenv text. */
function pythonDotenv(text: string): Record<string, string> {
  const out = execFileSync('python3', ['-c', 'import io,json,sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(stream=io.StringIO(sys.stdin.read()))))'], { input: text, encoding: 'utf8' });
  return JSON.parse(out) as Record<string, string>;
}

describe('endpointVariables', () => {
  it('gives URL, PORT, PORT_BLOCK and OPENAI_BASE_URL of the engines that have a port, in order', () => {
    const vars = endpointVariables(engines);
    assert.deepEqual(vars, expected);
    assert.deepEqual(Object.keys(vars), Object.keys(expected));
  });

  it('gives each named port as PORT_<PORTNAME>, with or without a main port', () => {
    assert.deepEqual(endpointVariables([{ name: 'vllm-3', ports: { port: 20001, metrics: 20002, grpc_api: 9000 }, portBlock: [24000, 24019] }]), {
      ENGINE_VLLM_3_URL: 'http://127.0.0.1:20001',
      ENGINE_VLLM_3_PORT: '20001',
      ENGINE_VLLM_3_PORT_METRICS: '20002',
      ENGINE_VLLM_3_PORT_GRPC_API: '9000',
      ENGINE_VLLM_3_PORT_BLOCK: '24000-24019',
    });
    assert.deepEqual(endpointVariables([{ name: 'w', ports: { metrics: 20002 }, openai: true }]), { ENGINE_W_PORT_METRICS: '20002' });
  });

  it('upper-cases the name and turns every other character into _', () => {
    assert.equal(endpointPrefix('policy'), 'ENGINE_POLICY');
    assert.equal(endpointPrefix('reward-model.v2'), 'ENGINE_REWARD_MODEL_V2');
    assert.equal(endpointPrefix('9b_x'), 'ENGINE_9B_X');
    assert.equal(endpointVariables([{ name: 'x', ports: { port: 80 } }]).ENGINE_X_URL, 'http://127.0.0.1:80');
    assert.equal(endpointVariables([{ name: 'x', host: '[::1]', ports: { port: 80 } }]).ENGINE_X_URL, 'http://[::1]:80');
    assert.equal(endpointVariables([{ name: 'x', host: '::1', ports: { port: 80 } }]).ENGINE_X_URL, 'http://[::1]:80');
  });

  it('a Ray head gets its GCS address; plain RAY_ADDRESS only when it is the only Ray head', () => {
    const one = endpointVariables([{ name: 'ray-head', preset: 'ray', ports: { port: 20002 }, portBlock: [24000, 24099] }, { name: 'x', ports: { port: 80 } }]);
    assert.equal(one.ENGINE_RAY_HEAD_RAY_ADDRESS, '127.0.0.1:20002');
    assert.equal(one.RAY_ADDRESS, '127.0.0.1:20002');
    assert.equal(one.ENGINE_X_RAY_ADDRESS, undefined);
    const two = endpointVariables([
      { name: 'a', preset: 'ray', ports: { port: 1 } },
      { name: 'b', preset: 'ray', host: '::1', ports: { port: 2 } },
    ]);
    assert.equal(two.ENGINE_B_RAY_ADDRESS, '[::1]:2');
    assert.equal(two.RAY_ADDRESS, undefined);
  });

  it('keeps the first of two names with the same variables and reports the second', () => {
    const conflicts: string[][] = [];
    const vars = endpointVariables(
      [
        { name: 'a-b', ports: { port: 1 } },
        { name: 'a.b', ports: { port: 2 } },
      ],
      (name, other, prefix) => conflicts.push([name, other, prefix]),
    );
    assert.deepEqual(vars, { ENGINE_A_B_URL: 'http://127.0.0.1:1', ENGINE_A_B_PORT: '1' });
    assert.deepEqual(conflicts, [['a.b', 'a-b', 'ENGINE_A_B']]);
  });
});

describe('formats', () => {
  it('shell: export lines that bash reads back exactly', () => {
    const vars = { ...expected, ...awkward, H: '${HOME} \\ "$(id)"\nline 2' };
    const text = formatShell(vars);
    assert.match(text, /^export ENGINE_POLICY_URL='http:\/\/127\.0\.0\.1:20001'\n/);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    const script = `set -eu; eval "$(cat)"; for k in ${Object.keys(vars).join(' ')}; do printf '%s=%s\\0' "$k" "\${!k}"; done`;
    const out = execFileSync('bash', ['-c', script], { input: text, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nowhere' } });
    const back = Object.fromEntries(out.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.deepEqual(back, vars);
  });

  it('dotenv: K=v lines that util.parseEnv reads back exactly', () => {
    const vars = { ...expected, ...awkward };
    const text = formatDotenv(vars);
    assert.match(text, /^ENGINE_POLICY_URL=http:\/\/127\.0\.0\.1:20001\n/m);
    assert.match(text, /^ENGINE_POLICY_PORT_BLOCK=24000-24019$/m);
    assert.deepEqual({ ...parseEnv(text) }, vars);
  });

  it('dotenv: python-dotenv reads it back exactly', { skip: !hasPythonDotenv && 'python-dotenv is not installed' }, () => {
    const vars = { ...expected, ...awkward };
    assert.deepEqual(pythonDotenv(formatDotenv(vars)), vars);
  });

  it('dotenv: refuses a value neither reader would get back', () => {
    assert.equal(dotenvQuote('plain-1.2:3/x'), 'plain-1.2:3/x');
    assert.equal(dotenvQuote('a b'), "'a b'");
    assert.equal(dotenvQuote("it's"), `"it's"`);
    assert.throws(() => dotenvQuote('a\nb'), /cannot write/);
    assert.throws(() => dotenvQuote(`'"`), /cannot write/);
    assert.throws(() => dotenvQuote('back\\slash'), /cannot write/);
    assert.throws(() => dotenvQuote('${HOME}'), /cannot write/);
  });

  it('json: one object; {} when nothing runs', () => {
    assert.deepEqual(JSON.parse(formatJson(expected)), expected);
    assert.equal(formatEndpoints({}, 'json'), '{}\n');
    assert.equal(formatEndpoints({}, 'shell'), '');
    assert.equal(formatEndpoints({}, 'dotenv'), '');
  });
});
