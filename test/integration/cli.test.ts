/**
 * The `engine-room` CLI as real OS processes: several at once, killed, interrupted.
 * Needs `npm run build` first (the README's test command does it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, ENGINES, FIXTURES, cliStatus, exitCode, pidAlive, runCli, startProcess, waitFor, writeConfig, type JsonEngine } from '../support/helpers';
import { claimPorts } from '../support/ports';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const fakeVllm = path.join(ENGINES, 'fake_vllm.py');
const httpServer = path.join(ENGINES, 'http_server.cjs');

const status = cliStatus;

test('(integration) three `up --detach` at once, eight vLLM-like engines each: all healthy, no EADDRINUSE, no shared port', async (t) => {
  const { env, addFolder } = await createWorkspace(t);
  // The narrow range shared by the engines without a block (see below).
  const contention = await claimPorts(24);
  t.after(() => contention.release());
  const configs: string[] = [];
  for (let w = 0; w < 3; w++) {
    const engines = [];
    for (let i = 0; i < 8; i++) {
      const withBlock = i % 2 === 0;
      engines.push({
        name: `vllm-${w}-${i}`,
        command: withBlock
          ? ['python3', fakeVllm, '--port', '${port}', '--internal', '3', '--load', '0.3']
          : // No block: internal ports picked get_open_port-style from a narrow shared range, so the
            // engines would collide without the lock held until each is healthy.
            ['python3', fakeVllm, '--port', '${port}', '--internal', '2', '--load', '0.3', '--contention', `${contention.from}-${contention.from + 23}`],
        env: withBlock ? { VLLM_PORT: '${portBlock}' } : {},
        port: 'auto',
        ...(withBlock ? { portBlock: 10, startLock: 'leaseOnly' } : { startLock: 'untilHealthy' }),
        health: { http: '/health' },
      });
    }
    configs.push(addFolder({ engines }).configFile);
  }
  const runs = await Promise.all(configs.map((c) => runCli(['up', '--detach', '--json', '--config', c], { env, timeoutMs: 90000 })));
  try {
    runs.forEach((r, i) => assert.equal(r.code, 0, `window ${i}: ${r.stderr}`));
    const all: JsonEngine[] = [];
    for (const c of configs) all.push(...(await status(c, env)));
    assert.equal(all.length, 24);
    for (const e of all) assert.equal(e.state, 'healthy', `${e.name}: ${JSON.stringify(e)}`);
    // Every port: serving ports from the leases, internal ports from what each engine printed.
    const ports: number[] = [];
    for (const e of all) {
      const log = fs.readFileSync(e.logFile, 'utf8');
      assert.doesNotMatch(log, /EADDRINUSE/, `${e.name} hit EADDRINUSE`);
      const m = /serving port (\d+), internal ports \[([\d, ]*)\]/.exec(log);
      assert.ok(m, `${e.name} printed its ports`);
      assert.equal(Number(m[1]), e.ports.port);
      const internal = m[2]!.split(',').filter(Boolean).map(Number);
      if (e.portBlock) for (const p of internal) assert.ok(p >= e.portBlock[0] && p <= e.portBlock[1], `${e.name}: ${p} inside its block`);
      ports.push(e.ports.port!, ...internal);
    }
    assert.equal(new Set(ports).size, ports.length, `no port is shared: ${ports.join(',')}`);
    // The blocks are disjoint and below the ephemeral range.
    const blocks = all.filter((e) => e.portBlock).map((e) => e.portBlock!);
    const [ephLow] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (const b of blocks) assert.ok(b[1] < ephLow!, `block ${b} below the ephemeral range`);
  } finally {
    const pids = (await Promise.all(configs.map((c) => status(c, env)))).flat().map((e) => e.pid).filter((p): p is number => p !== null);
    await Promise.all(configs.map((c) => runCli(['down', '--config', c], { env })));
    assert.deepEqual(pids.filter(pidAlive), [], 'down leaves no engine running');
  }
});

test('(integration) the start lock of a CLI killed with SIGKILL is recovered by the next start at once', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [{ name: 'slow', command: [node, httpServer, '--port', '${port}', '--delay', '60000'], port: 'auto', health: { http: '/health' }, startTimeout: '2m' }],
  });
  const { env, configFile: slowConfig } = ws;
  const nextConfig = ws.addFolder({
    engines: [{ name: 'next', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } }],
  }).configFile;
  const holder = startProcess(node, [CLI, 'up', '--detach', '--config', slowConfig], env);
  await holder.waitForOutput(/slow: starting/);
  // `up --detach`'s background supervisor starts the engine and holds the lock: it is the one killed.
  const supervisor = Number((await holder.waitForOutput(/background supervisor pid (\d+)/))[1]);
  const waiter = startProcess(node, [CLI, 'up', '--detach', '--config', nextConfig], env);
  const m = await waiter.waitForOutput(/next: waiting - waiting for the start lock held by pid (\d+) \(slow\)/);
  assert.equal(Number(m[1]), supervisor);
  process.kill(supervisor, 'SIGKILL');
  const code = await exitCode(waiter.child);
  assert.equal(code, 0, waiter.output());
  assert.match(waiter.output(), /next: healthy/);
  // The killed CLI's engine is still recorded (it runs on) and `down` stops it.
  const slow = (await status(slowConfig, env))[0]!;
  assert.ok(slow.pid && pidAlive(slow.pid));
  assert.equal(slow.owner?.alive, false);
  await runCli(['down', '--config', slowConfig], { env });
  await runCli(['down', '--config', nextConfig], { env });
  assert.equal(pidAlive(slow.pid), false);
});

test('(integration) `down` of an engine that forks grandchildren leaves no process behind', async (t) => {
  const { dir, env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'forker', command: ['python3', path.join(ENGINES, 'forker.py'), '${workspaceFolder}/pids'] }] });
  const up = await runCli(['up', '--detach', '--config', config], { env });
  assert.equal(up.code, 0, up.stderr);
  await waitFor(() => fs.existsSync(path.join(dir, 'pids')), 'pids file');
  const pids = fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
  assert.equal(pids.length, 4);
  assert.ok(pids.every(pidAlive), 'the tree runs after `up --detach` returned');
  const down = await runCli(['down', '--config', config], { env });
  assert.equal(down.code, 0);
  assert.match(down.stderr, new RegExp(`stopped forker \\(pid ${pids[0]}\\)`));
  assert.deepEqual(pids.filter(pidAlive), []);
});

test('(integration) foreground `up` streams prefixed log lines and stops its engines on SIGTERM', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, {
    engines: [
      { name: 'alpha', command: [node, httpServer, '--port', '${port}', '--name', 'alpha'], port: 'auto', health: { http: '/health' } },
      { name: 'b', command: [node, httpServer, '--port', '${port}', '--name', 'b'], port: 'auto' },
    ],
  });
  const up = startProcess(node, [CLI, 'up', '--config', config], env);
  await up.waitForOutput(/alpha \| alpha listening on/);
  await up.waitForOutput(/b {5}\| b listening on/);
  await up.waitForOutput(/b: healthy/);
  const engines = await status(config, env);
  assert.deepEqual(engines.map((e) => e.state), ['healthy', 'healthy']);
  up.child.kill('SIGTERM');
  const code = await exitCode(up.child);
  assert.equal(code, 143);
  for (const e of engines) assert.equal(pidAlive(e.pid as number), false, `${e.name} stopped`);
  assert.deepEqual((await status(config, env)).map((e) => e.state), ['stopped', 'stopped']);
});

test('(integration) `logs --lines N` returns N lines with no cap of its own', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'flood', command: [node, path.join(ENGINES, 'flood.cjs'), '30000'], health: { log: 'flood done' } }] });
  const up = await runCli(['up', '--detach', '--config', config], { env });
  assert.equal(up.code, 0, up.stderr);
  const logs = await runCli(['logs', 'flood', '--lines', '30001', '--config', config], { env });
  const lines = logs.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 30001);
  assert.equal(lines.filter((l) => l.startsWith('line ')).length, 30000);
  assert.equal(lines.at(-1), 'flood done');
  await runCli(['down', '--config', config], { env });
});

test('(integration) each config of the bad-config corpus is refused with exit 2 and starts nothing', async (t) => {
  const corpus = path.join(FIXTURES, 'bad-configs');
  const files = fs.readdirSync(corpus).filter((f) => f.endsWith('.jsonc'));
  assert.ok(files.length >= 20, `corpus has ${files.length} files`);
  for (const f of files) {
    const ws = await createWorkspace(t, { config: fs.readFileSync(path.join(corpus, f), 'utf8') });
    const { stateDir, env, configFile: config } = ws;
    const expects = [...fs.readFileSync(path.join(corpus, f), 'utf8').matchAll(/^\/\/ expect: (\S*) @ (\d+): (.*)$/gm)];
    const up = await runCli(['up', '--detach', '--config', config], { env });
    assert.equal(up.code, 2, `${f}: ${up.stderr}`);
    for (const [, , line, msg] of expects) {
      assert.ok(up.stderr.includes(`${config}:${line}:`) && up.stderr.includes(msg!.trim()), `${f}: stderr names line ${line} and "${msg}":\n${up.stderr}`);
    }
    assert.match(up.stderr, /nothing was started/);
    const logs = path.join(stateDir, 'logs');
    assert.ok(!fs.existsSync(logs) || fs.readdirSync(logs).length === 0, `${f}: no engine log was created`);
    await ws.cleanup();
  }
});

test('(integration) `logs --follow` keeps printing new lines until interrupted', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'ticker', command: [node, '-e', 'let i=0; setInterval(() => console.log("tick " + (++i)), 100)'] }] });
  assert.equal((await runCli(['up', '--detach', '--config', config], { env })).code, 0);
  const follow = startProcess(node, [CLI, 'logs', 'ticker', '--follow', '--lines', '1', '--config', config], env);
  try {
    const first = Number((await follow.waitForOutput(/tick (\d+)/))[1]);
    await follow.waitForOutput(new RegExp(`tick ${first + 5}\\b`), 10000);
    follow.child.kill('SIGINT');
    const code = await exitCode(follow.child);
    assert.equal(code, 0);
  } finally {
    follow.child.kill('SIGKILL');
    await runCli(['down', '--config', config], { env });
  }
});

test('(integration) usage errors exit 2: an unknown engine, an unknown command', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'a', command: [node, '-e', 'setInterval(()=>{},1000)'] }] });
  const up = await runCli(['up', 'nope', '--detach', '--config', config], { env });
  assert.equal(up.code, 2);
  assert.match(up.stderr, /No engine named "nope"/);
  assert.equal((await runCli(['frobnicate'], { env })).code, 2);
  assert.equal((await runCli(['logs', '--config', config], { env })).code, 2);
});

test('(integration) a foreground `up` whose engine is stopped by `down` in another terminal reports a stop, not a crash', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'w', command: [node, httpServer, '--port', '${port}', '--name', 'w'], port: 'auto' }] });
  const up = startProcess(node, [CLI, 'up', '--config', config], env);
  await up.waitForOutput(/w: healthy/);
  const down = await runCli(['down', '--config', config], { env });
  assert.equal(down.code, 0, down.stderr);
  const code = await exitCode(up.child);
  assert.equal(code, 0, up.output());
  assert.doesNotMatch(up.output(), /w: failed/);
  assert.match(up.output(), /w: stopped - stopped by engine-room down \(pid \d+\)/);
});

test('(integration) engines of a CLI killed with SIGKILL are adopted by the next `up` (and stop with it); `up --detach` engines are left alone', async (t) => {
  const { env, configFile: config } = await createWorkspace(t, {
    engines: [
      { name: 'orphan', command: [node, httpServer, '--port', '${port}', '--name', 'orphan'], port: 'auto', health: { http: '/health' } },
      { name: 'kept', command: [node, httpServer, '--port', '${port}', '--name', 'kept'], port: 'auto', health: { http: '/health' } },
    ],
  });
  // `kept` is left running on purpose; `orphan` loses its owner to SIGKILL.
  assert.equal((await runCli(['up', 'kept', '--detach', '--config', config], { env })).code, 0);
  const first = startProcess(node, [CLI, 'up', 'orphan', '--config', config], env);
  await first.waitForOutput(/orphan: healthy/);
  first.child.kill('SIGKILL');
  await exitCode(first.child);
  const before = await status(config, env);
  const orphan = before.find((e) => e.name === 'orphan')!;
  assert.ok(orphan.pid && pidAlive(orphan.pid), 'the engine outlives its killed CLI');
  assert.equal(orphan.owner?.alive, false);

  const second = startProcess(node, [CLI, 'up', '--config', config], env);
  try {
    await second.waitForOutput(/orphan: healthy \[\d+\] - adopted from engine-room up \(pid \d+\), which exited/);
    const after = await status(config, env);
    assert.equal(after.find((e) => e.name === 'orphan')?.owner?.pid, second.child.pid, 'adopted by the second CLI');
    assert.equal(after.find((e) => e.name === 'orphan')?.pid, orphan.pid, 'the same process, not a new one');
    assert.notEqual(after.find((e) => e.name === 'kept')?.owner?.pid, second.child.pid, 'a detached engine is not adopted');
    second.child.kill('SIGTERM');
    assert.equal(await exitCode(second.child), 143);
    assert.equal(pidAlive(orphan.pid), false, 'the adopted engine stopped with its new owner');
    const kept = (await status(config, env)).find((e) => e.name === 'kept')!;
    assert.ok(kept.pid && pidAlive(kept.pid), 'the detached engine still runs');
  } finally {
    second.child.kill('SIGKILL');
    await runCli(['down', '--config', config], { env });
  }
});

test('(integration) where nvidia-smi exists, status reports the GPU memory of each engine\'s processes; without it, null', async (t) => {
  const { dir, env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'gpu', command: [node, httpServer, '--port', '${port}'], port: 'auto' }] });
  assert.equal((await runCli(['up', '--detach', '--config', config], { env })).code, 0);
  try {
    const pid = (await status(config, env))[0]!.pid as number;
    // A stand-in nvidia-smi that reports the engine and an unrelated process.
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\necho "${pid}, 2048"\necho "1, 999"\n`, { mode: 0o755 });
    const withGpu = JSON.parse((await runCli(['status', '--json', '--config', config], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } })).stdout);
    assert.equal(withGpu.engines[0].gpuMemoryMiB, 2048);
    const without = JSON.parse((await runCli(['status', '--json', '--config', config], { env: { ...env, PATH: path.join(dir, 'empty-bin') } })).stdout);
    assert.equal(without.engines[0].gpuMemoryMiB, null);
  } finally {
    await runCli(['down', '--config', config], { env });
  }
});

test('(integration) `up --stop-on-kill` killed with SIGKILL: its reaper stops the engines at once, nothing is left running', async (t) => {
  const { dir, env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'tied', command: ['python3', path.join(ENGINES, 'forker.py'), '${workspaceFolder}/pids'] }] });
  const up = startProcess(node, [CLI, 'up', '--stop-on-kill', '--config', config], env);
  await up.waitForOutput(/tied: healthy/);
  await waitFor(() => fs.existsSync(path.join(dir, 'pids')), 'pids file');
  const pids = fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
  up.child.kill('SIGKILL');
  await exitCode(up.child);
  await waitFor(() => pids.every((p) => !pidAlive(p)), 'the reaper to stop the whole tree', 10000);
  const after = await status(config, env);
  assert.equal(after[0]?.state, 'stopped');
});

test('(integration) 64 engines in one config start, show and stop correctly', async (t) => {
  const engines = Array.from({ length: 64 }, (_, i) => ({
    name: `e${String(i).padStart(2, '0')}`,
    command: ['python3', '-m', 'http.server', '--bind', '127.0.0.1', '${port}'],
    port: 'auto',
    startLock: 'leaseOnly',
  }));
  const { env, configFile: config } = await createWorkspace(t, { engines, ports: { auto: 200, blocks: 300 } });
  const up = await runCli(['up', '--detach', '--config', config], { env, timeoutMs: 120000 });
  try {
    assert.equal(up.code, 0, up.stderr.slice(-3000));
    const all = await status(config, env);
    assert.equal(all.length, 64);
    assert.deepEqual([...new Set(all.map((e) => e.state))], ['healthy']);
    assert.equal(new Set(all.map((e) => e.ports.port)).size, 64, 'every engine has its own port');
  } finally {
    const pids = (await status(config, env)).map((e) => e.pid).filter((p): p is number => p !== null);
    const down = await runCli(['down', '--config', config], { env, timeoutMs: 120000 });
    assert.equal(down.code, 0);
    assert.deepEqual(pids.filter(pidAlive), []);
  }
  assert.deepEqual([...new Set((await status(config, env)).map((e) => e.state))], ['stopped']);
});

test('(integration) hostile values: shell metacharacters in argv are passed as they are, never run by a shell', async (t) => {
  const { dir, env, configFile: config } = await createWorkspace(t);
  const evil = `$(touch ${dir}/pwned-1); \`touch ${dir}/pwned-2\`; rm -rf ${dir}/victim && echo "; |&>< *"`;
  fs.mkdirSync(path.join(dir, 'victim'));
  writeConfig(dir, { engines: [{ name: 'echo', command: ['python3', '-c', 'import sys,time; print("ARG=" + sys.argv[1], flush=True); time.sleep(60)', evil], health: { log: '^ARG=' } }] });
  const up = await runCli(['up', '--detach', '--config', config], { env });
  try {
    assert.equal(up.code, 0, up.stderr);
    const logs = await runCli(['logs', 'echo', '--config', config], { env });
    assert.ok(logs.stdout.includes(`ARG=${evil}`), logs.stdout);
    assert.equal(fs.existsSync(path.join(dir, 'pwned-1')), false);
    assert.equal(fs.existsSync(path.join(dir, 'pwned-2')), false);
    assert.equal(fs.existsSync(path.join(dir, 'victim')), true);
  } finally {
    await runCli(['down', '--config', config], { env });
  }
});

test('(integration) a broken registry lock (a file where its directory should be) fails with a clear message, no hang, nothing started', async (t) => {
  const { stateDir, env, configFile: config } = await createWorkspace(t, { engines: [{ name: 'a', command: [node, httpServer, '--port', '${port}'], port: 'auto' }] });
  fs.mkdirSync(stateDir, { mode: 0o700 });
  fs.writeFileSync(path.join(stateDir, 'registry.lock'), 'not a lock directory');
  const t0 = Date.now();
  const up = await runCli(['up', '--detach', '--config', config], { env, timeoutMs: 120000 });
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, /Could not lock the Engine Room registry .*registry\.lock/);
  // proper-lockfile retries for about 16 s before it gives up: no hang, whatever the machine's speed.
  assert.ok(Date.now() - t0 < 100000, 'gave up in bounded time');
  const logs = path.join(stateDir, 'logs');
  assert.ok(!fs.existsSync(logs) || fs.readdirSync(logs).every((d) => fs.readdirSync(path.join(logs, d)).length === 0), 'nothing was started');
});
