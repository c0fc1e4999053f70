/**
 * Replicas and named ports (issue 13, items 1 and 2) as real OS processes: the built CLI starts a group of
 * replicas and one replica of another group, each a real engine (test/fixtures/engines/multiport.cjs) that
 * binds its main port, a named port and a port of its block; each replica gets its own ports and its own
 * `${replica}` and GPUs (`CUDA_VISIBLE_DEVICES`); another engine reaches a replica's named port; `env`
 * lists each replica; `down NAME` stops the group only. Needs `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ENGINES, cliStatus, pidAlive, runCli, type JsonEngine } from '../support/helpers';
import { Registry } from '../../src/core/registry';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const multiport = path.join(ENGINES, 'multiport.cjs');

interface Info {
  replica: string | null;
  rank: string | null;
  cuda: string | null;
  env: Record<string, string>;
  port: number;
  listens: Record<string, number>;
}

/** What the TCP listener on `port` answers (its name), proving the engine itself bound the port. */
function hello(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = net.connect(port, '127.0.0.1');
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data.trim()));
    s.on('error', reject);
  });
}

async function info(e: JsonEngine): Promise<Info> {
  return (await (await fetch(`http://127.0.0.1:${e.ports.port}/`)).json()) as Info;
}

test('(integration) replicas: own ports, ${replica} and GPUs each; named ports leased and bound; group and single up/down', async (t) => {
  const ws = await createWorkspace(t);
  const [, autoTo] = ws.ranges.auto;
  const grpc: [number, number] = [autoTo - 9, autoTo];
  mkdirSync(path.dirname(ws.configFile), { recursive: true });
  writeFileSync(
    ws.configFile,
    JSON.stringify({
      engines: [
        {
          name: 'w',
          replicas: 3,
          gpus: '${replica}',
          command: [node, multiport, '--port', '${port}', '--listen', 'metrics=${port.metrics}', '--listen', 'grpc=${port.grpc}', '--listen', 'side=${portBlock+3}', '--replica', '${replica}'],
          env: { RANK: '${replica}' },
          port: 'auto',
          ports: { metrics: 'auto', grpc },
          portBlock: 4,
          health: { http: '/health' },
        },
        { name: 'tp', replicas: 2, gpusPerReplica: 2, command: [node, multiport, '--port', '${port}', '--replica', '${replica}'], port: 'auto', health: { http: '/health' } },
        {
          name: 'client',
          command: [node, multiport, '--port', '${port}'],
          env: { PEER_METRICS: '${port:w-2.metrics}', PEER_MAIN: '${port:w-1}' },
          port: 'auto',
          health: { http: '/health' },
        },
      ],
    }),
  );
  const cli = (...args: string[]) => runCli([...args, '--config', ws.configFile], { env: ws.env, timeoutMs: 120_000 });
  const status = async () => new Map((await cliStatus(ws.configFile, ws.env)).map((e) => [e.name, e]));
  try {
    // The group: all three replicas, nothing else.
    const up = await cli('up', '--detach', 'w');
    assert.equal(up.code, 0, up.stderr);
    let st = await status();
    assert.deepEqual([...st.keys()], ['w-0', 'w-1', 'w-2', 'tp-0', 'tp-1', 'client']);
    assert.deepEqual(
      [...st.values()].map((e) => e.state),
      ['healthy', 'healthy', 'healthy', 'stopped', 'stopped', 'stopped'],
    );
    const replicas = ['w-0', 'w-1', 'w-2'].map((n) => st.get(n)!);
    const all: number[] = [];
    for (const [i, e] of replicas.entries()) {
      assert.deepEqual(Object.keys(e.ports), ['port', 'metrics', 'grpc']);
      assert.ok(e.ports.grpc! >= grpc[0] && e.ports.grpc! <= grpc[1], `grpc ${e.ports.grpc} outside ${grpc.join('-')}`);
      assert.ok(e.portBlock);
      const got = await info(e);
      assert.equal(got.replica, String(i));
      assert.equal(got.rank, String(i));
      assert.equal(got.cuda, String(i));
      assert.deepEqual(got.listens, { metrics: e.ports.metrics, grpc: e.ports.grpc, side: e.portBlock[0] + 3 });
      // Each port is bound by this replica's own process.
      assert.equal(await hello(e.ports.metrics!), 'metrics');
      assert.equal(await hello(e.ports.grpc!), 'grpc');
      assert.equal(await hello(e.portBlock[0] + 3), 'side');
      all.push(e.ports.port!, e.ports.metrics!, e.ports.grpc!, ...Array.from({ length: 4 }, (_, k) => e.portBlock![0] + k));
    }
    assert.equal(new Set(all).size, all.length, `replicas share a port: ${all.join(', ')}`);

    // One replica of the other group, with its share of the GPUs.
    const one = await cli('up', '--detach', 'tp-1');
    assert.equal(one.code, 0, one.stderr);
    st = await status();
    assert.equal(st.get('tp-0')!.state, 'stopped');
    assert.equal(st.get('tp-1')!.state, 'healthy');
    const tp1 = await info(st.get('tp-1')!);
    assert.deepEqual([tp1.replica, tp1.cuda], ['1', '2,3']);

    // Another engine reaches one replica's named port and main port.
    const client = await cli('up', '--detach', 'client');
    assert.equal(client.code, 0, client.stderr);
    st = await status();
    const c = await info(st.get('client')!);
    assert.deepEqual(c.env, { PEER_METRICS: String(st.get('w-2')!.ports.metrics), PEER_MAIN: String(st.get('w-1')!.ports.port) });

    // env lists each replica with its named ports.
    const env = JSON.parse((await cli('env', 'w', '--format', 'json')).stdout) as Record<string, string>;
    for (const [i, e] of replicas.entries()) {
      assert.equal(env[`ENGINE_W_${i}_PORT`], String(e.ports.port));
      assert.equal(env[`ENGINE_W_${i}_PORT_METRICS`], String(e.ports.metrics));
      assert.equal(env[`ENGINE_W_${i}_PORT_GRPC`], String(e.ports.grpc));
    }
    assert.deepEqual(Object.keys(env).filter((k) => !k.startsWith('ENGINE_W_')), []);

    // down of the group stops its three replicas only.
    const down = await cli('down', 'w');
    assert.equal(down.code, 0, down.stderr);
    st = await status();
    assert.deepEqual(
      [...st.values()].map((e) => `${e.name}:${e.state}`),
      ['w-0:stopped', 'w-1:stopped', 'w-2:stopped', 'tp-0:stopped', 'tp-1:healthy', 'client:healthy'],
    );
    for (const e of replicas) assert.equal(pidAlive(e.pid!), false, `${e.name} (pid ${e.pid}) still runs`);
  } finally {
    const pids = (await cliStatus(ws.configFile, ws.env)).map((e) => e.pid).filter((p): p is number => p !== null);
    const down = await cli('down');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(pidAlive), []);
  }
});

test('(integration) a bad use of replicas or block offsets starts nothing and is reported at its place', async (t) => {
  const ws = await createWorkspace(t);
  mkdirSync(path.dirname(ws.configFile), { recursive: true });
  const text = `{
  "engines": [
    { "name": "ok", "command": ["${node}", "${multiport}", "--port", "\${port}"], "port": "auto" },
    { "name": "ray", "command": ["${node}", "${multiport}", "--port", "\${portBlock+20}"], "portBlock": 20 },
    { "name": "vllm", "replicas": 0, "command": ["x"] },
    { "name": "w", "replicas": 2, "command": ["x"] },
    { "name": "w-1", "command": ["x"] }
  ]
}
`;
  writeFileSync(ws.configFile, text);
  const up = await runCli(['up', '--detach', 'ok', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 2, up.stderr);
  const at = (needle: string, line: number) => `${ws.configFile}:${line}:${text.split('\n')[line - 1]!.indexOf(needle) + 1}: error: `;
  assert.ok(up.stderr.includes(`${at('"${portBlock+20}"', 4)}engines[1].command[3]: \${portBlock+20} is outside the block`), up.stderr);
  assert.ok(up.stderr.includes(`${at('0', 5)}engines[2].replicas: must be a whole number of replicas from 1 to 256; got 0`), up.stderr);
  assert.ok(up.stderr.includes(`${at('"w-1"', 7)}engines[4].name: duplicate engine name "w-1"; replica "w-1" of engines[3] (line 6) already uses it`), up.stderr);
  assert.match(up.stderr, /3 errors in .*; nothing was started\./);
  // Nothing leased: the registry holds no lease (or was never written).
  assert.deepEqual(new Registry(ws.stateDir).read().leases, []);
});
