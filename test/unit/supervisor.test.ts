import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { loadConfig } from '../../src/core/config';
import { Supervisor, type EngineSnapshot } from '../../src/core/supervisor/supervisor';
import { Registry } from '../../src/core/registry';
import { ensureStateDir } from '../../src/core/stateDir';
import { ENGINES, pidAlive, waitFor } from '../support/helpers';
import { createWorkspace, type Workspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');

/** A Supervisor of the workspace's config, as one window would run it; disposed when the test ends. */
async function supervise(ws: Workspace, ownerLabel: string, env?: Record<string, string | undefined>): Promise<Supervisor> {
  const loaded = await loadConfig(ws.configFile);
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  const sup = new Supervisor({ config: loaded.config, stateDir: ensureStateDir(ws.stateDir), ownerKind: 'other', ownerLabel, ranges: ws.ranges, env });
  ws.onCleanup(() => sup.dispose());
  return sup;
}

/** A supervisor over a fresh workspace (its own state dir and ports) and the changes it reports. */
async function setup(t: TestContext, engines: unknown[], env?: Record<string, string | undefined>) {
  const ws = await createWorkspace(t, { engines });
  const sup = await supervise(ws, 'test', env);
  const events: EngineSnapshot[] = [];
  sup.on('change', (s) => events.push(s));
  return { ws, sup, dir: ws.dir, stateDir: ws.stateDir, ranges: ws.ranges, events };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('(unit) an engine gets an auto port from the range, becomes healthy, and its stop leaves nothing', async (t) => {
  const { sup, stateDir, ranges, events } = await setup(t, [
    { name: 'web', command: [node, httpServer, '--port', '${port}', '--name', 'web'], port: 'auto', health: { http: '/health' } },
  ]);
  const [outcome] = await sup.start();
  assert.equal(outcome?.ok, true, outcome?.reason);
  const snap = sup.snapshot('web');
  assert.equal(snap.state, 'healthy');
  assert.equal(snap.ports.port, ranges.auto[0], 'first free port of the range');
  assert.ok(snap.health?.ok && snap.health.latencyMs >= 0);
  assert.deepEqual(
    [...new Set(events.map((e) => e.state))],
    ['waiting', 'starting', 'healthy'],
  );
  const lease = new Registry(stateDir).read().leases.find((l) => l.name === 'web');
  assert.equal(lease?.engine?.pid, snap.pid);
  assert.deepEqual(lease?.ports, { port: ranges.auto[0] });
  assert.ok(await listening(ranges.auto[0]));

  await sup.stop(['web']);
  assert.equal(sup.snapshot('web').state, 'stopped');
  assert.equal(pidAlive(snap.pid as number), false);
  assert.equal(await listening(ranges.auto[0]), false);
  assert.equal(new Registry(stateDir).read().leases.length, 0, 'lease released');
  const log = fs.readFileSync(snap.logFile, 'utf8');
  assert.match(log, /web listening on http:\/\/127\.0\.0\.1:\d+/);
  assert.match(log, /web got SIGTERM/);
});

test('(unit) dependsOn orders the starts and ${port:db} reaches the dependent engine', async (t) => {
  const { sup } = await setup(t, [
    {
      name: 'app',
      command: [node, '-e', 'console.log("DB_PORT=" + process.env.DB_PORT); require("http").createServer((q, s) => s.end("ok")).listen(Number(process.argv[1]), "127.0.0.1")', '${port}'],
      port: 'auto',
      env: { DB_PORT: '${port:db}' },
    },
    { name: 'db', command: [node, httpServer, '--port', '${port}', '--delay', '300', '--name', 'db'], port: 'auto', health: { http: '/health' } },
  ]);
  const outcomes = await sup.start(['app']);
  assert.deepEqual(outcomes.map((o) => [o.name, o.ok]), [['app', true]]);
  const db = sup.snapshot('db');
  const app = sup.snapshot('app');
  assert.equal(db.state, 'healthy');
  assert.ok((app.startedAt as number) >= (db.healthyAt as number), 'app spawned after db was healthy');
  await waitFor(() => sup.tail('app').some((l) => l === `DB_PORT=${db.ports.port}`), 'app to print the db port');
});

test('(unit) a failing engine reports its exit and last lines, its dependents do not start, the others run on', async (t) => {
  const { sup } = await setup(t, [
    // A probe that can only fail: without one, "healthy" would be "still running after a grace time",
    // which a slow start on a loaded machine can outlast.
    { name: 'broken', command: [node, '-e', 'console.log("loading weights"); console.error("CUDA out of memory"); process.exit(3)'], port: 'auto', health: { tcp: true } },
    { name: 'needs-broken', command: [node, httpServer, '--port', '${port}'], port: 'auto', dependsOn: ['broken'] },
    { name: 'fine', command: [node, httpServer, '--port', '${port}'], port: 'auto' },
  ]);
  const outcomes = await sup.start();
  const byName = Object.fromEntries(outcomes.map((o) => [o.name, o]));
  assert.equal(byName.fine?.ok, true);
  assert.equal(byName.broken?.ok, false);
  assert.equal(byName['needs-broken']?.ok, false);
  const broken = sup.snapshot('broken');
  assert.equal(broken.state, 'failed');
  assert.equal(broken.exitCode, 3);
  assert.equal(broken.errorCode, 'exited');
  assert.deepEqual(broken.lastLines, ['loading weights', 'CUDA out of memory']);
  const dependent = sup.snapshot('needs-broken');
  assert.equal(dependent.errorCode, 'dependency-failed');
  assert.match(dependent.reason ?? '', /depends on broken, which failed/);
  assert.equal(dependent.pid, null);
  assert.equal(sup.snapshot('fine').state, 'healthy');
});

test('(unit) stopping an engine that forks ends the whole tree, also a grandchild that left the group', async (t) => {
  const { sup, dir } = await setup(t, [{ name: 'forker', command: ['python3', path.join(ENGINES, 'forker.py'), path.join('${workspaceFolder}', 'pids')] }]);
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  const pidsFile = path.join(dir, 'pids');
  await waitFor(() => fs.existsSync(pidsFile), 'the forker to write its pids');
  const pids = fs.readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
  assert.equal(pids.length, 4);
  assert.ok(pids.every(pidAlive));
  await sup.stop(['forker']);
  assert.deepEqual(pids.filter(pidAlive), [], 'no process of the tree is left');
});

test('(unit) a stop escalates to SIGKILL after stopTimeout for an engine that ignores SIGTERM', async (t) => {
  const { dir, sup } = await setup(t, [
    { name: 'stubborn', command: ['python3', path.join(ENGINES, 'forker.py'), path.join('${workspaceFolder}', 'pids'), '--ignore-term'], stopTimeout: 300 },
  ]);
  await sup.start();
  await waitFor(() => fs.existsSync(path.join(dir, 'pids')), 'pids');
  const pids = fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
  const t0 = Date.now();
  await sup.stop();
  assert.deepEqual(pids.filter(pidAlive), []);
  assert.equal(sup.snapshot('stubborn').signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 300);
});

test('(unit) every line of an engine that writes fast and dies is in its log file', async (t) => {
  const count = 200_000;
  const { sup } = await setup(t, [{ name: 'flood', command: [node, path.join(ENGINES, 'flood.cjs'), String(count), '--die'] }]);
  await sup.start();
  await waitFor(() => sup.snapshot('flood').state === 'failed', 'flood to exit');
  const snap = sup.snapshot('flood');
  assert.equal(snap.exitCode, 3);
  const lines = fs.readFileSync(snap.logFile, 'utf8').split('\n').filter((l) => l.startsWith('line '));
  assert.equal(lines.length, count);
  const seen = new Set(lines.map((l) => Number(l.split(' ')[1])));
  assert.equal(seen.size, count);
});

test('(unit) an engine that never becomes healthy fails at startTimeout, counted from the spawn, and is killed', async (t) => {
  const { sup, events } = await setup(t, [{ name: 'mute', command: [node, '-e', 'setInterval(() => {}, 1000)'], port: 'auto', startTimeout: 400 }]);
  const t0 = Date.now();
  const [o] = await sup.start();
  const snap = sup.snapshot('mute');
  assert.equal(o?.ok, false);
  assert.equal(snap.errorCode, 'health-timeout');
  assert.match(snap.reason ?? '', /not healthy within 0.4 s \(last probe: connection refused\)/);
  assert.ok(Date.now() - t0 >= 400);
  const pid = events.find((e) => e.state === 'starting')?.pid;
  assert.ok(pid);
  assert.equal(pidAlive(pid), false, 'the engine was killed');
  assert.equal(snap.pid, null);
});

test('(unit) restart on-failure retries with backoff until the engine comes up', async (t) => {
  const { sup, dir } = await setup(t, [
    {
      name: 'flaky',
      // Fails twice (counting in a file), then serves.
      command: [node, '-e', `const fs=require("fs");const f=process.argv[1];const n=fs.existsSync(f)?Number(fs.readFileSync(f,"utf8")):0;fs.writeFileSync(f,String(n+1));if(n<2){console.log("attempt "+n+" fails");process.exit(1)}require("http").createServer((q,s)=>s.end("ok")).listen(Number(process.argv[2]),"127.0.0.1")`, path.join('${workspaceFolder}', 'count'), '${port}'],
      port: 'auto',
      restart: { policy: 'on-failure', limit: 3, backoff: 50 },
    },
  ]);
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  assert.equal(sup.snapshot('flaky').restarts, 2);
  assert.equal(fs.readFileSync(path.join(dir, 'count'), 'utf8'), '3');
});

test('(unit) untilHealthy engines start one after another; leaseOnly engines spawn together', async (t) => {
  const mk = (name: string, startLock: string, delayMs = 300) => ({
    name,
    command: [node, httpServer, '--port', '${port}', '--delay', String(delayMs), '--name', name],
    port: 'auto',
    health: { http: '/health' },
    startLock,
  });
  const seq = await setup(t, [mk('s1', 'untilHealthy'), mk('s2', 'untilHealthy'), mk('s3', 'untilHealthy')]);
  await seq.sup.start();
  const s = ['s1', 's2', 's3'].map((n) => seq.sup.snapshot(n));
  for (let i = 1; i < s.length; i++) assert.ok((s[i]!.startedAt as number) >= (s[i - 1]!.healthyAt as number), `s${i + 1} spawned after s${i} was healthy`);

  // Each takes 3 s to be healthy: three spawns take far less, also on a loaded machine.
  const par = await setup(t, [mk('l1', 'leaseOnly', 3000), mk('l2', 'leaseOnly', 3000), mk('l3', 'leaseOnly', 3000)]);
  await par.sup.start();
  const l = ['l1', 'l2', 'l3'].map((n) => par.sup.snapshot(n));
  assert.ok(l.every((x) => x.state === 'healthy'));
  // Together: every one was spawned before the first of them was healthy.
  const lastSpawn = Math.max(...l.map((x) => x.startedAt as number));
  const firstHealthy = Math.min(...l.map((x) => x.healthyAt as number));
  assert.ok(lastSpawn <= firstHealthy, `leaseOnly engines all spawned (last at +${lastSpawn - firstHealthy} ms of the first healthy) before any was healthy`);
  assert.equal(new Set(l.map((x) => x.ports.port)).size, 3);
});

test('(unit) vLLM-like engines, written out or through the vllm preset, get disjoint port blocks from the block range, each its own VLLM_PORT', async (t) => {
  const fakeVllm = path.join(ENGINES, 'fake_vllm.py');
  const { sup, ranges } = await setup(t, [
    {
      name: 'written',
      command: ['python3', fakeVllm, '--port', '${port}', '--internal', '3', '--load', '0.2'],
      env: { VLLM_PORT: '${portBlock}' },
      port: 'auto',
      portBlock: 20,
      health: { http: '/health' },
      startLock: 'leaseOnly',
    },
    // The preset appends --port ${port}, sets VLLM_PORT=${portBlock}, leases 40 ports and probes /health.
    { name: 'preset', preset: 'vllm', command: ['python3', fakeVllm, '--internal', '3', '--load', '0.2'] },
  ]);
  const outcomes = await sup.start();
  assert.deepEqual(outcomes.map((o) => o.name).sort(), ['preset', 'written']);
  assert.ok(outcomes.every((o) => o.ok), JSON.stringify(outcomes));
  const first = ranges.blocks[0];
  const expected: Record<string, [number, number]> = { written: [first, first + 19], preset: [first + 20, first + 59] };
  for (const [name, block] of Object.entries(expected)) {
    const s = sup.snapshot(name);
    assert.equal(s.state, 'healthy', `${name}: ${s.reason}`);
    assert.deepEqual(s.portBlock, block, `${name}: the next ports of the block range`);
    // The engine process itself got VLLM_PORT = the first port of its own block, and its --port.
    const environ = fs.readFileSync(`/proc/${s.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`VLLM_PORT=${block[0]}`), `${name}: VLLM_PORT=${block[0]} in its environment`);
    const argv = fs.readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv[argv.indexOf('--port') + 1], String(s.ports.port), `${name}: --port ${s.ports.port} in ${argv.join(' ')}`);
    // Like vLLM's get_open_port(), the engine took its internal ports upwards from VLLM_PORT.
    const log = fs.readFileSync(s.logFile, 'utf8');
    assert.match(log, new RegExp(`serving port ${s.ports.port}, internal ports \\[${block[0]}, ${block[0] + 1}, ${block[0] + 2}\\]`), `${name}: ${log}`);
  }
  assert.notEqual(sup.snapshot('written').ports.port, sup.snapshot('preset').ports.port);
});

test('(unit) another supervisor of the same config sees a running engine with its owner and can stop it', async (t) => {
  const { ws, sup } = await setup(t, [{ name: 'shared', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } }]);
  await sup.start();
  const pid = sup.snapshot('shared').pid as number;
  const other = await supervise(ws, 'second window');
  await other.refresh();
  const seen = other.snapshot('shared');
  assert.equal(seen.state, 'healthy');
  assert.equal(seen.pid, pid);
  assert.equal(seen.owner?.label, 'test');
  assert.equal(seen.owner?.self, false);
  const outcome = await other.start(['shared']);
  assert.match(outcome[0]?.reason ?? '', /already running, started by test/);
  await other.stop(['shared']);
  assert.equal(pidAlive(pid), false);
  await waitFor(() => sup.snapshot('shared').state === 'stopped', 'the first supervisor to see the stop');
  assert.equal(sup.snapshot('shared').reason, 'stopped by second window');
});

test('(unit) a port squatted between lease and listen (EADDRINUSE) is retried on fresh ports', async (t) => {
  const { sup, ranges, events } = await setup(t, [
    { name: 'victim', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--port', '${port}', '--internal', '0', '--load', '0.8'], port: 'auto', health: { http: '/health' }, startLock: 'leaseOnly' },
  ]);
  const squatPort = ranges.auto[0];
  // Bound with SO_REUSEADDR but not listening: invisible to a probe, like vLLM's serving socket while it
  // loads. It starts listening after the engine was given the port and before the engine listens.
  const squatter = await import('node:child_process').then((cp) =>
    cp.spawn('python3', ['-c', `import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("127.0.0.1", ${squatPort}))\nprint("bound", flush=True)\ntime.sleep(0.4)\ns.listen(1)\nprint("listening", flush=True)\ntime.sleep(30)`], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  try {
    await new Promise((r) => squatter.stdout.once('data', r));
    const [o] = await sup.start();
    assert.equal(o?.ok, true, o?.reason);
    const snap = sup.snapshot('victim');
    assert.notEqual(snap.ports.port, squatPort);
    const log = fs.readFileSync(snap.logFile, 'utf8');
    assert.match(log, /EADDRINUSE/);
    const failure = events.find((e) => e.errorCode === 'EADDRINUSE');
    assert.ok(failure, 'the first attempt failed with EADDRINUSE');
    assert.match(failure.reason ?? '', new RegExp(`port ${squatPort} is held by pid ${squatter.pid} \\(\\S*python3 -c import socket`));
  } finally {
    squatter.kill('SIGKILL');
  }
});

test('(unit) restart on-failure also restarts an engine that crashes after it was healthy', async (t) => {
  const { sup, events } = await setup(t, [
    {
      name: 'crashy',
      command: [node, '-e', 'require("http").createServer((q,s)=>s.end("ok")).listen(Number(process.argv[1]),"127.0.0.1",()=>{console.log("up"); setTimeout(()=>process.exit(4), 1000)})', '${port}'],
      port: 'auto',
      restart: { policy: 'on-failure', limit: 2, backoff: 50 },
    },
  ]);
  const [o] = await sup.start();
  assert.equal(o?.ok, true);
  // Healthy, crash, restart, healthy, crash, restart, healthy, crash: then the limit is reached.
  await waitFor(() => sup.snapshot('crashy').restarts === 2 && sup.snapshot('crashy').state === 'failed' && sup.snapshot('crashy').nextRestartAt === null && sup.snapshot('crashy').pid === null, 'two restarts, then failed for good', 20000);
  const pids = new Set(events.filter((e) => e.state === 'healthy').map((e) => e.pid));
  assert.equal(pids.size, 3, 'healthy three times with three processes');
  assert.equal(sup.snapshot('crashy').exitCode, 4);
});

test('(unit) a dependency that another supervisor is still starting is waited for, not taken as ready', async (t) => {
  const first = await setup(t, [
    { name: 'db', command: [node, httpServer, '--port', '${port}', '--delay', '1200', '--name', 'db'], port: 'auto', health: { http: '/health' } },
    { name: 'app', command: [node, httpServer, '--port', '${port}', '--name', 'app'], port: 'auto', dependsOn: ['db'], health: { http: '/health' } },
  ]);
  const dbStart = first.sup.start(['db']);
  await waitFor(() => first.sup.snapshot('db').state === 'starting', 'db to start in the first supervisor');
  const second = await supervise(first.ws, 'second');
  const outcomes = await second.start(['app']);
  assert.deepEqual(outcomes.map((o) => [o.name, o.ok]), [['app', true]]);
  const db = first.sup.snapshot('db');
  assert.equal(db.state, 'healthy');
  assert.ok((second.snapshot('app').startedAt as number) >= (db.healthyAt as number) - 5, 'app spawned once db was healthy');
  assert.equal(second.snapshot('db').owner?.self, false, 'db was not started a second time');
  await dbStart;
});

test('(unit) when an engine\'s main process crashes, its workers go too, also one that left the process group', async (t) => {
  const { sup, dir } = await setup(t, [
    { name: 'forker', command: ['python3', path.join(ENGINES, 'forker.py'), path.join('${workspaceFolder}', 'pids')], health: { log: 'forker: pids', interval: '100ms' } },
  ]);
  await sup.start();
  const pidsFile = path.join(dir, 'pids');
  await waitFor(() => fs.existsSync(pidsFile), 'the forker to write its pids');
  const pids = fs.readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
  // Let a few health intervals pass so the supervisor has seen the workers (its process table may be
  // up to half a second old).
  await new Promise((r) => setTimeout(r, 1200));
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor(() => sup.snapshot('forker').state === 'failed', 'the crash to be seen');
  assert.equal(sup.snapshot('forker').signal, 'SIGKILL');
  assert.deepEqual(pids.filter(pidAlive), [], 'no worker survives its leader');
});

test('(unit) another program listening on an engine\'s port with SO_REUSEPORT is reported, although health says 200', async (t) => {
  const reuseServer = (tag: string) => `import socket,sys,time
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("${tag} listening", flush=True)
while True:
    c,_=s.accept()
    c.close()
`;
  const { sup, ranges } = await setup(t, [
    { name: 'shared-port', command: ['python3', '-c', reuseServer('engine'), '${port}'], port: 'auto', health: { tcp: true, interval: '200ms' } },
  ]);
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  assert.equal(sup.snapshot('shared-port').state, 'healthy');
  const port = sup.snapshot('shared-port').ports.port as number;
  assert.ok(port >= ranges.auto[0] && port <= ranges.auto[1]);
  const cp = await import('node:child_process');
  const intruder = cp.spawn('python3', ['-c', reuseServer('intruder'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => intruder.stdout.once('data', r));
    await waitFor(() => sup.snapshot('shared-port').state === 'unhealthy', 'the conflict to be seen', 10000);
    const snap = sup.snapshot('shared-port');
    assert.equal(snap.errorCode, 'port-conflict');
    assert.match(snap.reason ?? '', new RegExp(`port ${port} is also held by pid ${intruder.pid} \\(\\S*python3 -c import socket`));
    intruder.kill('SIGKILL');
    await waitFor(() => sup.snapshot('shared-port').state === 'healthy', 'healthy again once the intruder is gone', 10000);
  } finally {
    intruder.kill('SIGKILL');
  }
});

test('(unit) an OpenAI-compatible engine (vllm preset) reports the models it serves once healthy', async (t) => {
  const { sup } = await setup(t, [
    { name: 'llm', preset: 'vllm', command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--internal', '1', '--load', '0.1'], startTimeout: '30s' },
  ]);
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  const snap = sup.snapshot('llm');
  assert.equal(snap.openai, true);
  await waitFor(() => sup.snapshot('llm').models, 'the served models');
  assert.deepEqual(sup.snapshot('llm').models, ['fake-model']);
  await sup.stop();
  assert.equal(sup.snapshot('llm').models, undefined);
});


test('(unit) a Python engine that prints without flushing is seen at once: its output is unbuffered by default', async (t) => {
  const { sup } = await setup(t, [
    // No flush=True, no -u: stdout to a file would be block-buffered, and this line would wait for exit.
    { name: 'py', command: ['python3', '-c', 'import time; print("model loaded, ready"); time.sleep(60)'], health: { log: 'ready$' }, startTimeout: '20s' },
  ], { ...process.env, PYTHONUNBUFFERED: undefined });
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  assert.equal(sup.snapshot('py').state, 'healthy');
});
