/**
 * Presets: the exact argv and environment each one produces, user fields winning, `gpus`, the warnings,
 * and the schema's snippets. vLLM-preset engines under a real Supervisor: supervisor.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatProblem, parseConfig } from '../../src/core/config';
import { prepareLaunch } from '../../src/core/launch';
import type { ConfigProblem, EngineSpec } from '../../src/core/model';
import { PRESETS, PRESET_NAMES, expandPreset, gpuList } from '../../src/core/presets';
import { ROOT } from '../support/helpers';

const FILE = '/ws/.vscode/engines.json';
const WS = '/ws';
const PORT = 20001;
const BLOCK_START = 24000;

function parse(engines: unknown[]): { engines: readonly EngineSpec[]; problems: readonly ConfigProblem[] } {
  const result = parseConfig(JSON.stringify({ engines }, null, 2), FILE, WS, { fileExists: () => true });
  const errors = result.problems.filter((p) => p.severity === 'error');
  assert.deepEqual(errors.map(formatProblem), []);
  assert.ok(result.config);
  return { engines: result.config.engines, problems: result.problems };
}

function one(engine: Record<string, unknown>): EngineSpec {
  const { engines } = parse([{ name: 'e', ...engine }]);
  return engines[0]!;
}

/** argv and environment as spawned, with the port and block Engine Room would have leased. */
function launch(spec: EngineSpec) {
  const l = prepareLaunch({
    spec,
    workspaceFolder: WS,
    port: spec.port ? PORT : undefined,
    portBlock: spec.portBlock ? [BLOCK_START, BLOCK_START + spec.portBlock - 1] : undefined,
    portOf: () => undefined,
    baseEnv: {},
  });
  // Every engine gets PYTHONUNBUFFERED=1 unless set (launch.ts); the rest is the preset's doing.
  const { PYTHONUNBUFFERED, ...env } = l.env;
  assert.equal(PYTHONUNBUFFERED, '1');
  return { argv: l.command, env, httpTarget: l.httpTarget };
}

describe('presets: the exact argv and environment of each', () => {
  const cases: Array<{
    preset: string;
    command: string[];
    argv: string[];
    env: Record<string, string>;
    portBlock?: number;
    health: string;
    startTimeout: number;
    startLock: string;
    openai: boolean;
  }> = [
    {
      preset: 'vllm',
      command: ['vllm', 'serve', 'Qwen/Qwen3-0.6B'],
      argv: ['vllm', 'serve', 'Qwen/Qwen3-0.6B', '--port', '20001'],
      // VLLM_PORT scans up from the first port; the ports with fixed defaults lie above that scan.
      env: { VLLM_PORT: '24000', VLLM_DP_MASTER_PORT: '24020', VLLM_NIXL_SIDE_CHANNEL_PORT: '24030', MASTER_PORT: '24039' },
      portBlock: 40,
      health: '/health',
      startTimeout: 15 * 60_000,
      startLock: 'leaseOnly',
      openai: true,
    },
    {
      preset: 'sglang',
      command: ['python3', '-m', 'sglang.launch_server', '--model-path', 'Qwen/Qwen3-0.6B'],
      argv: ['python3', '-m', 'sglang.launch_server', '--model-path', 'Qwen/Qwen3-0.6B', '--port', '20001', '--nccl-port', '24000'],
      env: { MASTER_PORT: '24001' },
      portBlock: 2,
      health: '/health',
      startTimeout: 15 * 60_000,
      startLock: 'untilHealthy',
      openai: true,
    },
    {
      preset: 'llama.cpp',
      command: ['llama-server', '-m', '${workspaceFolder}/models/m.gguf', '-ngl', '99'],
      argv: ['llama-server', '-m', '/ws/models/m.gguf', '-ngl', '99', '--port', '20001'],
      env: {},
      health: '/health',
      startTimeout: 5 * 60_000,
      startLock: 'leaseOnly',
      openai: true,
    },
    {
      preset: 'ollama',
      command: ['ollama', 'serve'],
      argv: ['ollama', 'serve'],
      env: { OLLAMA_HOST: '127.0.0.1:20001' },
      health: '/api/tags',
      startTimeout: 60_000,
      startLock: 'leaseOnly',
      openai: true,
    },
    {
      preset: 'tgi',
      command: ['text-generation-launcher', '--model-id', 'Qwen/Qwen3-0.6B'],
      argv: [
        'text-generation-launcher', '--model-id', 'Qwen/Qwen3-0.6B',
        '--port', '20001', '--master-port', '24000', '--shard-uds-path', '/tmp/engine-room-tgi-20001',
      ],
      env: { PROMETHEUS_PORT: '24001', MASTER_PORT: '24000' },
      portBlock: 2,
      health: '/health',
      startTimeout: 15 * 60_000,
      startLock: 'untilHealthy',
      openai: true,
    },
    {
      preset: 'ray',
      command: ['ray', 'start', '--head', '--block'],
      argv: [
        'ray', 'start', '--head', '--block', '--port', '20001',
        '--dashboard-port', '24000', '--node-manager-port', '24002', '--object-manager-port', '24003',
        '--dashboard-agent-listen-port', '24004', '--dashboard-agent-grpc-port', '24005', '--metrics-export-port', '24006',
        '--runtime-env-agent-port', '24007', '--min-worker-port', '24009', '--max-worker-port', '24099',
      ],
      env: { MASTER_PORT: '24008' },
      portBlock: 100,
      health: 'tcp',
      startTimeout: 3 * 60_000,
      startLock: 'leaseOnly',
      openai: false,
    },
    {
      preset: 'http',
      command: ['npm', 'run', 'dev'],
      argv: ['npm', 'run', 'dev'],
      env: { PORT: '20001' },
      health: '/',
      startTimeout: 2 * 60_000,
      startLock: 'untilHealthy',
      openai: false,
    },
  ];

  it('covers every preset', () => {
    assert.deepEqual(cases.map((c) => c.preset), [...PRESET_NAMES]);
  });

  for (const c of cases) {
    it(c.preset, () => {
      const spec = one({ preset: c.preset, command: c.command });
      const l = launch(spec);
      assert.deepEqual(l.argv, c.argv);
      assert.deepEqual(l.env, c.env);
      assert.deepEqual(spec.port, { kind: 'auto' });
      assert.equal(spec.portBlock, c.portBlock);
      assert.deepEqual(spec.health.probe, c.health === 'tcp' ? { kind: 'tcp' } : { kind: 'http', path: c.health });
      assert.equal(l.httpTarget, c.health === 'tcp' ? undefined : c.health);
      assert.equal(spec.startTimeout, c.startTimeout);
      assert.equal(spec.startLock, c.startLock);
      assert.equal(spec.openai, c.openai);
      assert.equal(spec.preset, c.preset);
      // The preset's own table says the same.
      const p = PRESETS[c.preset as keyof typeof PRESETS];
      assert.equal(p.portBlock, c.portBlock);
      assert.equal(p.startLock, c.startLock);
    });
  }

  it('expandPreset gives the engine object as the user would have written it in full', () => {
    const user = { name: 'policy', preset: 'vllm', command: ['vllm', 'serve', 'Qwen/Qwen3-0.6B'], gpus: '0' };
    const before = structuredClone(user);
    assert.deepEqual(expandPreset(user), {
      name: 'policy',
      preset: 'vllm',
      command: ['vllm', 'serve', 'Qwen/Qwen3-0.6B', '--port', '${port}'],
      gpus: '0',
      env: { VLLM_PORT: '${portBlock}', CUDA_VISIBLE_DEVICES: '0' },
      port: 'auto',
      portBlock: 40,
      health: { http: '/health' },
      startTimeout: '15m',
      startLock: 'leaseOnly',
      openai: true,
    });
    assert.deepEqual(user, before, 'the input is not changed');
  });

  it('appends to a shell command line too', () => {
    const spec = one({ preset: 'sglang', shell: true, command: 'python3 -m sglang.launch_server --model-path m' });
    assert.deepEqual(launch(spec).argv, ['python3 -m sglang.launch_server --model-path m --port 20001 --nccl-port 24000']);
    const ray = one({ preset: 'ray', shell: true, command: 'ray start --head --block --min-worker-port=${portBlockEnd}' });
    const line = launch(ray).argv[0]!;
    assert.match(line, /--dashboard-port 24000 .*--max-worker-port 24099$/);
    assert.match(line, /--min-worker-port=24099/);
    assert.doesNotMatch(line, /--min-worker-port 24009/, 'a flag the line has is not appended again');
    const own = one({ preset: 'sglang', shell: true, command: 'python3 -m sglang.launch_server --port=${port} --nccl-port ${portBlockEnd}' });
    assert.deepEqual(launch(own).argv, ['python3 -m sglang.launch_server --port=20001 --nccl-port 24001']);
  });
});

describe('presets: the user wins', () => {
  it('field by field: port, portBlock, health (as a whole), startTimeout, startLock, openai', () => {
    const spec = one({
      preset: 'vllm',
      command: ['vllm', 'serve', 'm'],
      port: [8000, 8099],
      portBlock: 40,
      health: { tcp: true, interval: '30s' },
      startTimeout: '30m',
      startLock: 'untilHealthy',
      openai: false,
    });
    assert.deepEqual(spec.port, { kind: 'range', from: 8000, to: 8099 });
    assert.equal(spec.portBlock, 40);
    assert.deepEqual(spec.health.probe, { kind: 'tcp' });
    assert.equal(spec.health.interval, 30_000);
    assert.equal(spec.startTimeout, 30 * 60_000);
    assert.equal(spec.startLock, 'untilHealthy');
    assert.equal(spec.openai, false);
  });

  it('env key by key: own keys added, the preset key replaced', () => {
    const spec = one({ preset: 'vllm', command: ['vllm', 'serve', 'm'], env: { HF_HOME: '/cache', VLLM_PORT: '${portBlockEnd}' } });
    assert.deepEqual(launch(spec).env, {
      VLLM_PORT: '24039',
      HF_HOME: '/cache',
      VLLM_DP_MASTER_PORT: '24020',
      VLLM_NIXL_SIDE_CHANNEL_PORT: '24030',
      MASTER_PORT: '24039',
    });
    const ollama = one({ preset: 'ollama', command: ['ollama', 'serve'], env: { OLLAMA_HOST: '0.0.0.0:${port}', OLLAMA_KEEP_ALIVE: '1h' } });
    assert.deepEqual(launch(ollama).env, { OLLAMA_HOST: '0.0.0.0:20001', OLLAMA_KEEP_ALIVE: '1h' });
  });

  it('a flag the command has already is not appended again, in any of its forms', () => {
    const spaced = one({ preset: 'vllm', command: ['vllm', 'serve', 'm', '--port', '${port}', '--max-model-len', '4096'] });
    assert.deepEqual(launch(spaced).argv, ['vllm', 'serve', 'm', '--port', '20001', '--max-model-len', '4096']);
    const joined = one({ preset: 'sglang', command: ['sglang', '--nccl-port=${portBlock}'] });
    assert.deepEqual(launch(joined).argv, ['sglang', '--nccl-port=24000', '--port', '20001']);
    const alias = one({ preset: 'tgi', command: ['text-generation-launcher', '-p', '${port}', '--shard-uds-path', '/run/tgi'] });
    assert.deepEqual(launch(alias).argv, ['text-generation-launcher', '-p', '20001', '--shard-uds-path', '/run/tgi', '--master-port', '24000']);
  });

  it('a fixed port written in the command is warned about, where it is; with a matching "port" it is not', () => {
    const text = JSON.stringify({ engines: [{ name: 'p', preset: 'vllm', command: ['vllm', 'serve', 'm', '--port', '8000'] }] }, null, 2);
    const r = parseConfig(text, FILE, WS);
    assert.ok(r.config, 'a warning does not refuse the file');
    const [w] = r.problems;
    assert.equal(r.problems.length, 1);
    assert.equal(w?.severity, 'warning');
    assert.equal(w?.field, 'engines[0].command[4]');
    assert.match(w?.message ?? '', /sets --port 8000 itself, but Engine Room leases and probes \$\{port\}/);
    assert.equal(text.split('\n')[(w?.range.line ?? 0) - 1]?.trim(), '"8000"');
    const fixed = parse([{ name: 'p', preset: 'vllm', command: ['vllm', 'serve', 'm', '--port', '8000'], port: 8000 }]);
    assert.deepEqual(fixed.problems, []);
    const host = parseConfig(JSON.stringify({ engines: [{ name: 'o', preset: 'ollama', command: ['ollama', 'serve'], env: { OLLAMA_HOST: '127.0.0.1:11434' } }] }), FILE, WS);
    assert.deepEqual(host.problems.map((p) => `${p.severity} ${p.field}`), ['warning engines[0].env.OLLAMA_HOST']);
  });

  it('${port:OTHER} reaches an engine whose port comes from its preset', () => {
    const { engines } = parse([
      { name: 'policy', preset: 'vllm', command: ['vllm', 'serve', 'm'] },
      { name: 'trainer', command: ['python3', 'train.py'], env: { POLICY_URL: 'http://127.0.0.1:${port:policy}/v1' } },
    ]);
    assert.deepEqual(engines[1]?.dependsOn, ['policy']);
  });

  it('rejects an unknown preset, pointing at it', () => {
    const text = '{ "engines": [ { "name": "p", "preset": "vlm", "command": ["vllm"] } ] }';
    const r = parseConfig(text, FILE, WS);
    assert.equal(r.config, undefined);
    assert.deepEqual(r.problems.map((p) => [p.field, p.range.column, p.message]), [
      ['engines[0].preset', text.indexOf('"vlm"') + 1, 'must be "vllm", "sglang", "llama.cpp", "ollama", "tgi", "ray" or "http"; got "vlm"'],
    ]);
  });
});

describe('presets: ports placed in the block, MASTER_PORT', () => {
  it('every engine with a block gets MASTER_PORT (its last port) unless env or envFile sets it; none without a block', () => {
    assert.deepEqual(launch(one({ command: ['python3', 'train.py'], portBlock: 4 })).env, { MASTER_PORT: '24003' });
    assert.deepEqual(launch(one({ command: ['python3', 'train.py'], portBlock: 4, env: { MASTER_PORT: '29501' } })).env, { MASTER_PORT: '29501' });
    assert.deepEqual(launch(one({ command: ['python3', 'train.py'], port: 'auto' })).env, {});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-presets-'));
    try {
      fs.writeFileSync(path.join(dir, '.env'), 'MASTER_PORT=29999\nVLLM_NIXL_SIDE_CHANNEL_PORT=5601\n');
      const spec = one({ preset: 'vllm', command: ['vllm', 'serve', 'm'], envFile: path.join(dir, '.env') });
      const env = launch(spec).env;
      assert.equal(env.MASTER_PORT, '29999');
      assert.equal(env.VLLM_NIXL_SIDE_CHANNEL_PORT, '5601');
      assert.equal(env.VLLM_DP_MASTER_PORT, '24020');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a ray head flag the command has is left alone; the rest are appended', () => {
    const spec = one({ preset: 'ray', command: ['ray', 'start', '--head', '--block', '--dashboard-port=8265', '--max-worker-port', '${portBlockEnd}'] });
    const argv = launch(spec).argv;
    assert.equal(argv.filter((a) => a.startsWith('--dashboard-port')).length, 1);
    assert.equal(argv.filter((a) => a === '--max-worker-port').length, 1);
    assert.deepEqual(argv.slice(argv.indexOf('--node-manager-port'), argv.indexOf('--node-manager-port') + 2), ['--node-manager-port', '24002']);
  });

  it('the ray preset stops through its leader; the user wins', () => {
    assert.equal(one({ preset: 'ray', command: ['ray', 'start', '--head', '--block'] }).stopSignalTo, 'leader');
    assert.equal(one({ preset: 'ray', command: ['ray'], stopSignalTo: 'group' }).stopSignalTo, 'group');
    assert.equal(one({ preset: 'vllm', command: ['vllm'] }).stopSignalTo, 'group');
  });

  it('a portBlock of its own too small for the preset\'s ports is refused at the field', () => {
    const text = JSON.stringify({ engines: [{ name: 'r', preset: 'ray', command: ['ray'], portBlock: 10 }] }, null, 2);
    const r = parseConfig(text, FILE, WS);
    assert.equal(r.config, undefined);
    assert.deepEqual(r.problems.map((p) => [p.field, p.message]), [
      ['engines[0].portBlock', 'the ray preset places its ports in the block and needs at least 11; got 10'],
    ]);
    assert.equal(text.split('\n')[(r.problems[0]?.range.line ?? 0) - 1]?.trim(), '"portBlock": 10');
    parse([{ name: 'r', preset: 'ray', command: ['ray'], portBlock: 11 }]);
  });
});

describe('gpus', () => {
  it('normalizes "0, 1" and [2, 3] into CUDA_VISIBLE_DEVICES; env wins', () => {
    assert.equal(gpuList('0, 1'), '0,1');
    assert.equal(gpuList([2, 3]), '2,3');
    assert.equal(gpuList('GPU-5c3b2f1e-aaaa,MIG-1'), 'GPU-5c3b2f1e-aaaa,MIG-1');
    assert.equal(gpuList(''), undefined);
    assert.equal(gpuList([]), undefined);
    const a = one({ command: ['x'], gpus: '0, 1' });
    assert.equal(a.gpus, '0,1');
    assert.deepEqual(launch(a).env, { CUDA_VISIBLE_DEVICES: '0,1' });
    const b = one({ command: ['x'], gpus: [2, 3], env: { CUDA_VISIBLE_DEVICES: '7' } });
    assert.equal(b.gpus, '2,3');
    assert.deepEqual(launch(b).env, { CUDA_VISIBLE_DEVICES: '7' });
  });

  it('warns (without refusing) at the later engine when two engines share a GPU', () => {
    const text = [
      '{ "engines": [',
      '  { "name": "a", "command": ["a"], "gpus": "0,1" },',
      '  { "name": "b", "command": ["b"], "gpus": [2] },',
      '  { "name": "c", "command": ["c"], "gpus": [1, 0] },',
      '  { "name": "d", "command": ["d"], "env": { "CUDA_VISIBLE_DEVICES": "2" } }',
      '] }',
    ].join('\n');
    const r = parseConfig(text, FILE, WS);
    assert.ok(r.config);
    assert.deepEqual(r.problems.map((p) => `${p.severity} ${p.field} @${p.range.line}: ${p.message}`), [
      'warning engines[2].gpus @4: GPUs 1, 0 are also given to engine "a" (line 2); the two share its memory (for vLLM, lower --gpu-memory-utilization)',
      'warning engines[3].env.CUDA_VISIBLE_DEVICES @5: GPU 2 is also given to engine "b" (line 3); the two share its memory (for vLLM, lower --gpu-memory-utilization)',
    ]);
  });

  it('rejects GPU values of neither form', () => {
    for (const bad of ['0;1', '', 'a b', [], [-1], [0, 0], [1.5], true]) {
      const r = parseConfig(JSON.stringify({ engines: [{ name: 'a', command: ['a'], gpus: bad }] }), FILE, WS);
      assert.equal(r.config, undefined, JSON.stringify(bad));
      assert.deepEqual(r.problems.map((p) => p.field), ['engines[0].gpus'], JSON.stringify(bad));
    }
  });
});

describe('schema: presets for the editor', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'engines.schema.json'), 'utf8')) as {
    definitions: { engine: { defaultSnippets: Array<{ label: string; body: unknown }>; properties: Record<string, Record<string, unknown>> } };
  };
  const engine = schema.definitions.engine;

  it('offers every preset with a description', () => {
    assert.deepEqual(engine.properties.preset?.enum, [...PRESET_NAMES]);
    assert.equal((engine.properties.preset?.markdownEnumDescriptions as string[]).length, PRESET_NAMES.length);
  });

  /** A snippet body with `${1:text}` placeholders replaced by their text and `\${` unescaped. */
  function resolve(body: unknown): unknown {
    if (typeof body === 'string') return body.replace(/(?<!\\)\$\{\d+:([^}]*)\}/g, '$1').replace(/\\\$/g, '$');
    if (Array.isArray(body)) return body.map(resolve);
    if (typeof body === 'object' && body !== null) return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, resolve(v)]));
    return body;
  }

  it('has a snippet per preset: its example, complete and valid', () => {
    for (const name of PRESET_NAMES) {
      const snippets = engine.defaultSnippets.filter((s) => (s.body as { preset?: string }).preset === name);
      assert.equal(snippets.length, 1, name);
      const body = resolve(snippets[0]!.body);
      assert.deepEqual(body, PRESETS[name].example, name);
      const r = parseConfig(JSON.stringify({ engines: [body] }), FILE, WS, { fileExists: () => true });
      assert.deepEqual(r.problems.map(formatProblem), [], name);
    }
  });
});
