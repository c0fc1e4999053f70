/**
 * `engine-room env` as real OS processes: two preset engines started by `up --detach`, their variables read
 * back by bash, Node's util.parseEnv and python-dotenv, then `down`.
 * Needs `npm run build` first (the README's test command does it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseEnv } from 'node:util';
import { CLI, ENGINES, pidAlive, runCli, type JsonEngine } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;

test('(integration) `engine-room env` prints the running engines as valid shell, dotenv and JSON', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, {
    engines: [
      // The http preset: PORT=${port} (http_server.cjs reads it), health GET /.
      { name: 'web-ui', preset: 'http', command: [node, path.join(ENGINES, 'http_server.cjs'), '--name', 'web-ui'] },
      // The vllm preset: --port ${port} appended, VLLM_PORT=${portBlock}, an OpenAI server.
      { name: 'policy', preset: 'vllm', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--internal', '2', '--load', '0.2'] },
      { name: 'idle', preset: 'http', command: [node, path.join(ENGINES, 'http_server.cjs')] },
    ],
  });
  const cli = async (...args: string[]) => {
    const r = await runCli([...args, '--config', config], { env });
    return r;
  };

  // Nothing runs yet: success, and nothing (or {}) printed.
  for (const [format, empty] of [['shell', ''], ['dotenv', ''], ['json', '{}\n']]) {
    const r = await cli('env', '--format', format!);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, empty, format);
  }

  const up = await cli('up', '--detach', 'web-ui', 'policy');
  assert.equal(up.code, 0, up.stderr);
  try {
    const st = await cli('status', '--json');
    const engines = (JSON.parse(st.stdout) as { engines: JsonEngine[] }).engines;
    const web = engines.find((e) => e.name === 'web-ui')!;
    const policy = engines.find((e) => e.name === 'policy')!;
    assert.equal(web.state, 'healthy');
    assert.equal(policy.state, 'healthy');
    assert.ok(policy.portBlock);
    const expected = {
      ENGINE_WEB_UI_URL: `http://127.0.0.1:${web.ports.port}`,
      ENGINE_WEB_UI_PORT: String(web.ports.port),
      ENGINE_POLICY_URL: `http://127.0.0.1:${policy.ports.port}`,
      ENGINE_POLICY_PORT: String(policy.ports.port),
      ENGINE_POLICY_PORT_BLOCK: `${policy.portBlock[0]}-${policy.portBlock[1]}`,
      ENGINE_POLICY_OPENAI_BASE_URL: `http://127.0.0.1:${policy.ports.port}/v1`,
    };

    // Shell (the default): eval'd by bash, the URL reaches the engine.
    const shellOut = execFileSync('bash', ['-c', `set -e; eval "$("${node}" "${CLI}" env --config "${config}")"; echo "$ENGINE_WEB_UI_URL"; echo "$ENGINE_POLICY_OPENAI_BASE_URL"`], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(shellOut, `${expected.ENGINE_WEB_UI_URL}\n${expected.ENGINE_POLICY_OPENAI_BASE_URL}\n`);
    const hello = await (await fetch(expected.ENGINE_WEB_UI_URL)).text();
    assert.match(hello, /hello from web-ui/);
    const models = (await (await fetch(`${expected.ENGINE_POLICY_OPENAI_BASE_URL}/models`)).json()) as { data: Array<{ id: string }> };
    assert.equal(models.data[0]?.id, 'fake-model');
    const shell = await cli('env');
    assert.equal(shell.code, 0, shell.stderr);
    assert.match(shell.stdout, /^export ENGINE_WEB_UI_URL='http:\/\/127\.0\.0\.1:\d+'$/m);

    // dotenv: Node and python-dotenv read the same values.
    const dotenv = await cli('env', '--format', 'dotenv');
    assert.equal(dotenv.code, 0, dotenv.stderr);
    assert.deepEqual({ ...parseEnv(dotenv.stdout) }, expected);
    if (spawnSync('python3', ['-c', 'import dotenv'], { stdio: 'ignore' }).status === 0) {
      const py = execFileSync('python3', ['-c', 'import io,json,sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(stream=io.StringIO(sys.stdin.read()))))'], { input: dotenv.stdout, encoding: 'utf8' });
      assert.deepEqual(JSON.parse(py), expected);
    } else {
      for (const line of dotenv.stdout.trimEnd().split('\n')) assert.match(line, /^[A-Z_][A-Z0-9_]*=[A-Za-z0-9_./:@,+=-]+$/);
    }

    // JSON, and a choice of engines.
    const json = await cli('env', '--format', 'json');
    assert.deepEqual(JSON.parse(json.stdout), expected);
    const only = await cli('env', 'policy', '--format', 'json');
    assert.deepEqual(Object.keys(JSON.parse(only.stdout) as object), Object.keys(expected).filter((k) => k.startsWith('ENGINE_POLICY_')));
    const stopped = await cli('env', 'idle', '--format', 'json');
    assert.equal(stopped.stdout, '{}\n');

    // Usage errors.
    const unknown = await cli('env', 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /No engine named "nope"/);
    const badFormat = await cli('env', '--format', 'yaml');
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /--format must be shell, dotenv, json; got "yaml"/);
  } finally {
    const pids = (JSON.parse((await cli('status', '--json')).stdout) as { engines: JsonEngine[] }).engines.map((e) => e.pid).filter((p): p is number => p !== null);
    const down = await cli('down');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(pidAlive), []);
  }
  const after = await cli('env', '--format', 'json');
  assert.equal(after.code, 0);
  assert.equal(after.stdout, '{}\n');
});
