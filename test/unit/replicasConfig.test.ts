// The loader's replicas and named ports (issue 13, items 1 and 2): what a good config becomes. The bad uses
// are in the corpus (test/fixtures/bad-configs: replicas-*, replica-*, gpus-per-replica, *port*).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config/index';
import type { EngineSpec } from '../../src/core/model';
import { classifyVariable, expandVariables, type VariableContext } from '../../src/core/variables';

function engines(config: unknown): EngineSpec[] {
  const result = parseConfig(JSON.stringify(config, null, 2), '/w/.vscode/engines.json', '/w');
  const errors = result.problems.filter((p) => p.severity === 'error');
  assert.deepEqual(errors, []);
  assert.ok(result.config);
  return [...result.config.engines];
}

describe('replicas', () => {
  it('makes NAME-0 .. NAME-<N-1> with ${replica} replaced in command, env, cwd and gpus', () => {
    const list = engines({
      engines: [
        {
          name: 'vllm',
          replicas: 3,
          command: ['serve', '--rank', '${replica}', '--port', '${port}'],
          env: { RANK: '${replica}', TAG: 'r${replica}' },
          cwd: 'runs/${replica}',
          gpus: '${replica}',
          port: 'auto',
        },
      ],
    });
    assert.deepEqual(
      list.map((e) => [e.name, e.command.join(' '), e.env.RANK, e.env.TAG, e.cwd, e.gpus, e.env.CUDA_VISIBLE_DEVICES]),
      [
        ['vllm-0', 'serve --rank 0 --port ${port}', '0', 'r0', 'runs/0', '0', '0'],
        ['vllm-1', 'serve --rank 1 --port ${port}', '1', 'r1', 'runs/1', '1', '1'],
        ['vllm-2', 'serve --rank 2 --port ${port}', '2', 'r2', 'runs/2', '2', '2'],
      ],
    );
    assert.deepEqual(list[2]?.replica, { group: 'vllm', index: 2, count: 3 });
  });

  it('gives replica i the GPUs K*i .. K*i+K-1 with gpusPerReplica, or its share of a gpus list', () => {
    const list = engines({
      engines: [
        { name: 'tp', replicas: 4, gpusPerReplica: 2, command: ['x'] },
        { name: 'big', replicas: 2, gpusPerReplica: 3, gpus: [8, 9, 10, 11, 12, 13], command: ['x'] },
      ],
    });
    assert.deepEqual(
      list.map((e) => [e.name, e.env.CUDA_VISIBLE_DEVICES]),
      [
        ['tp-0', '0,1'],
        ['tp-1', '2,3'],
        ['tp-2', '4,5'],
        ['tp-3', '6,7'],
        ['big-0', '8,9,10'],
        ['big-1', '11,12,13'],
      ],
    );
  });

  it('dependsOn a group means every replica; ${port:NAME-3} one replica', () => {
    const list = engines({
      engines: [
        { name: 'vllm', replicas: 4, command: ['x'], port: 'auto' },
        { name: 'router', command: ['x', '${port:vllm-3}'], dependsOn: 'vllm' },
        { name: 'probe', command: ['x', '${port:vllm-1}'] },
      ],
    });
    assert.deepEqual(list.find((e) => e.name === 'router')?.dependsOn, ['vllm-0', 'vllm-1', 'vllm-2', 'vllm-3']);
    assert.deepEqual(list.find((e) => e.name === 'probe')?.dependsOn, ['vllm-1']);
  });

  it('a replica may name a sibling: a dependency, not a cycle', () => {
    const list = engines({ engines: [{ name: 'w', replicas: 2, command: ['x', '--master', '${port:w-0}'], port: 'auto' }] });
    assert.deepEqual(
      list.map((e) => [e.name, e.dependsOn]),
      [
        ['w-0', []],
        ['w-1', ['w-0']],
      ],
    );
  });
});

describe('named ports', () => {
  it('builds each named port as a request beside port', () => {
    const [api] = engines({ engines: [{ name: 'api', command: ['x'], port: 'auto', ports: { metrics: 'auto', grpc: [9000, 9099], admin: 9500 } }] });
    assert.deepEqual(api?.ports, {
      metrics: { kind: 'auto' },
      grpc: { kind: 'range', from: 9000, to: 9099 },
      admin: { kind: 'fixed', port: 9500 },
    });
  });

  it('${port:OTHER.NAME} depends on OTHER; a dotted engine name is taken whole first', () => {
    const list = engines({
      engines: [
        { name: 'api', command: ['x'], ports: { metrics: 'auto' } },
        { name: 'api.v2', command: ['x'], port: 'auto' },
        { name: 'scraper', command: ['x', '${port:api.metrics}', '${port:api.v2}'] },
      ],
    });
    assert.deepEqual(list.find((e) => e.name === 'scraper')?.dependsOn, ['api', 'api.v2']);
  });
});

describe('variables of items 1 and 2 at start time', () => {
  const ctx: VariableContext = {
    port: 20001,
    ports: { metrics: 20002 },
    portBlock: [24000, 24019],
    portOf: (name, portName) => (({ db: { port: 5432, admin: 5433 }, 'a.b': { port: 7000 } }) as Record<string, Record<string, number>>)[name]?.[portName ?? 'port'],
    workspaceFolder: '/w',
    env: {},
  };

  it('classifies ${port.NAME}, ${portBlock+N}, ${port:X.NAME} and ${replica}', () => {
    assert.deepEqual(classifyVariable({ name: 'port.metrics' }), { kind: 'namedPort', port: 'metrics' });
    assert.deepEqual(classifyVariable({ name: 'portBlock+7' }), { kind: 'portBlockOffset', offset: 7 });
    assert.deepEqual(classifyVariable({ name: 'port', arg: 'db.admin' }), { kind: 'portOf', engine: 'db.admin', named: { engine: 'db', port: 'admin' } });
    assert.deepEqual(classifyVariable({ name: 'replica' }), { kind: 'replica' });
    assert.equal(classifyVariable({ name: 'port.1x' }), undefined);
    assert.equal(classifyVariable({ name: 'portBlock+' }), undefined);
    assert.equal(classifyVariable({ name: 'portBlock-1' }), undefined);
  });

  it('expands them from the leases', () => {
    assert.equal(expandVariables('${port}/${port.metrics}', ctx), '20001/20002');
    assert.equal(expandVariables('${portBlock+0},${portBlock+1},${portBlock+19}', ctx), '24000,24001,24019');
    assert.equal(expandVariables('${port:db}/${port:db.admin}/${port:a.b}', ctx), '5432/5433/7000');
  });

  it('refuses what the leases do not hold', () => {
    assert.throws(() => expandVariables('${portBlock+20}', ctx), /no port at offset 20/);
    assert.throws(() => expandVariables('${port.grpc}', ctx), /no port named "grpc"/);
    assert.throws(() => expandVariables('${port:db.grpc}', ctx), /has no leased port/);
    assert.throws(() => expandVariables('${replica}', ctx), /no "replicas"/);
  });
});
