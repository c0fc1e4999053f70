/**
 * `engine-room lease`, `release` and `exec` as real OS processes: leases for processes that Engine Room
 * does not start, from the same registry as the engines' leases. Needs `npm run build` first.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, ENGINES, ROOT, writeConfig, cliStatus, exitCode, pidAlive, runCli, startProcess, waitFor, type JsonEngine } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

interface LeaseJson {
  id: string;
  port: number | null;
  portBlock: [number, number] | null;
}

interface StatusAll {
  engines: JsonEngine[];
  leases: Array<{ id: string; label: string; port: number | null; portBlock: [number, number] | null; pid: number; command: string }>;
}

async function statusAll(env: NodeJS.ProcessEnv): Promise<StatusAll> {
  const r = await runCli(['status', '--all', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusAll;
}

/** The external leases as written in the registry file (pruned ones are gone from it). */
function registryLeases(stateDir: string): LeaseJson[] {
  const file = path.join(stateDir, 'registry.json');
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { external?: LeaseJson[] }).external ?? [];
}

/** A process that just sleeps until killed: the holder of a lease. */
function sleeper(t: TestContext): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'lease-holder-marker'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  return child;
}

function portsOf(l: LeaseJson): number[] {
  const out = l.port !== null ? [l.port] : [];
  if (l.portBlock) for (let p = l.portBlock[0]; p <= l.portBlock[1]; p++) out.push(p);
  return out;
}

test('(integration) lease: a port and a block for a live process, in the ranges, disjoint, listed by status --all with its command line, pruned when it dies', async (t) => {
  const { env, ranges, stateDir } = await createWorkspace(t);
  const a = sleeper(t);
  const b = sleeper(t);
  const runs = await Promise.all([
    runCli(['lease', '--port', '--block', '20', '--label', 'actor a', '--pid', String(a.pid), '--json'], { env }),
    runCli(['lease', '--block', '20', '--pid', String(b.pid), '--json'], { env }),
    runCli(['lease', '--pid', String(b.pid), '--json'], { env }),
  ]);
  runs.forEach((r) => assert.equal(r.code, 0, r.stderr));
  const [la, lb, lc] = runs.map((r) => JSON.parse(r.stdout) as LeaseJson) as [LeaseJson, LeaseJson, LeaseJson];
  assert.ok(la.port !== null && la.port >= ranges.auto[0] && la.port <= ranges.auto[1], `port ${la.port} in the auto range`);
  assert.equal(lb.port, null, '--block alone leases no port');
  assert.ok(lc.port !== null && lc.portBlock === null, 'no option: a port');
  for (const l of [la, lb]) {
    assert.equal(l.portBlock![1] - l.portBlock![0] + 1, 20);
    assert.ok(l.portBlock![0] >= ranges.blocks[0] && l.portBlock![1] <= ranges.blocks[1], `block ${l.portBlock} in the block range`);
  }
  const all = [la, lb, lc].flatMap(portsOf);
  assert.equal(new Set(all).size, all.length, `leases are disjoint: ${all.join(',')}`);

  const listed = (await statusAll(env)).leases;
  assert.deepEqual(listed.map((l) => l.id).sort(), [la.id, lb.id, lc.id].sort());
  const entryA = listed.find((l) => l.id === la.id)!;
  assert.equal(entryA.label, 'actor a');
  assert.equal(entryA.pid, a.pid);
  assert.match(entryA.command, /lease-holder-marker/, 'the owner command line');
  const text = await runCli(['status', '--all'], { env });
  assert.match(text.stdout, new RegExp(`${la.id}\\s+actor a\\s+${la.port}, block ${la.portBlock![0]}-${la.portBlock![1]}\\s+${a.pid}`));

  a.kill('SIGKILL');
  await exitCode(a);
  await waitFor(() => !pidAlive(a.pid!), 'the holder to die');
  assert.deepEqual((await statusAll(env)).leases.map((l) => l.id).sort(), [lb.id, lc.id].sort(), 'a dead holder lease is not listed');
  // The next critical section prunes it from the registry, and its ports can be leased again.
  const again = await runCli(['lease', '--port', '--block', '20', '--pid', String(b.pid), '--json'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(registryLeases(stateDir).map((l) => l.id).sort(), [lb.id, lc.id, (JSON.parse(again.stdout) as LeaseJson).id].sort());
  assert.deepEqual((JSON.parse(again.stdout) as LeaseJson).portBlock, la.portBlock, 'the freed block is the first fit again');
});

test('(integration) lease without --pid lives with the caller; shell lines; release ends it; bad arguments exit 2', async (t) => {
  const { env, stateDir } = await createWorkspace(t);
  // The caller of the CLI is this test process, which lives on.
  const r = await runCli(['lease', '--block', '5'], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  const id = /^ENGINE_ROOM_LEASE_ID=([0-9a-f]+)$/.exec(lines[0]!)?.[1];
  assert.ok(id, lines[0]);
  assert.match(lines[1]!, /^ENGINE_ROOM_PORT_BLOCK=\d+-\d+$/);
  const listed = (await statusAll(env)).leases;
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.pid, process.pid);

  // Through a `sh -c` wrapper (npx, Python's shell=True), which exits with the CLI: the lease follows
  // the process above it.
  const wrapped = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" lease --json --label wrapped; true`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let wrappedOut = '';
  wrapped.stdout.on('data', (d) => (wrappedOut += d));
  assert.equal(await exitCode(wrapped), 0);
  const viaShell = JSON.parse(wrappedOut) as LeaseJson;
  assert.equal((await statusAll(env)).leases.find((l) => l.id === viaShell.id)?.pid, process.pid, 'the shell wrapper is skipped');
  assert.equal((await runCli(['release', viaShell.id], { env })).code, 0);

  assert.equal((await runCli(['release', id], { env })).code, 0);
  assert.deepEqual(registryLeases(stateDir), []);
  const twice = await runCli(['release', id], { env });
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /no lease/);

  for (const args of [['lease', '--block', 'ten'], ['lease', '--block', '0'], ['lease', '--pid', '999999999'], ['lease', 'extra'], ['release'], ['exec', 'true'], ['exec', '--env', 'BAD NAME=1', '--', 'true']]) {
    const bad = await runCli(args, { env });
    assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /engine-room: /);
  }
  assert.deepEqual(registryLeases(stateDir), [], 'a refused lease leaves nothing');
});

test('(integration) exec: the command gets the lease in its environment, exits with its code, signals are forwarded, the lease ends with it', async (t) => {
  const { env, stateDir, dir } = await createWorkspace(t);
  const out = path.join(dir, 'env.json');
  const script = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env)); process.exit(7)`;
  const r = await runCli(['exec', '--port', '--block', '10', '--env', 'VLLM_PORT=${portBlock}', '--env', 'LAST=${portBlockEnd}', '--env', 'URL=http://127.0.0.1:${port}/v1', '--', process.execPath, '-e', script], { env });
  assert.equal(r.code, 7, r.stderr);
  const seen = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, string>;
  const [first, last] = seen.ENGINE_ROOM_PORT_BLOCK!.split('-').map(Number);
  assert.equal(last! - first! + 1, 10);
  assert.equal(seen.VLLM_PORT, String(first));
  assert.equal(seen.LAST, String(last));
  assert.equal(seen.URL, `http://127.0.0.1:${seen.ENGINE_ROOM_PORT}/v1`);
  assert.match(seen.ENGINE_ROOM_LEASE_ID!, /^[0-9a-f]+$/);
  assert.deepEqual(registryLeases(stateDir), [], 'the lease ended with the command');

  // A long-running command: leased while it runs, gets the SIGTERM sent to exec, exits with its own code.
  const trap = `process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(5) }); console.log('child ready ' + process.env.ENGINE_ROOM_PORT); setInterval(() => {}, 1000)`;
  const p = startProcess(process.execPath, [CLI, 'exec', '--label', 'trainer', '--', process.execPath, '-e', trap], env);
  t.after(() => p.child.kill('SIGKILL'));
  const port = Number((await p.waitForOutput(/child ready (\d+)/))[1]);
  const listed = (await statusAll(env)).leases;
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.port, port);
  assert.equal(listed[0]!.label, 'trainer');
  assert.equal(listed[0]!.pid, p.child.pid, 'the lease follows the exec process');
  p.child.kill('SIGTERM');
  assert.equal(await exitCode(p.child), 5);
  assert.match(p.output(), /child got SIGTERM/);
  assert.deepEqual(registryLeases(stateDir), []);

  // Killed by a signal it does not handle: 128 + the signal number; a missing command: 127.
  const killed = await runCli(['exec', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'], { env });
  assert.equal(killed.code, 128 + 9);
  const missing = await runCli(['exec', '--', 'no-such-command-engine-room'], { env });
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /cannot run no-such-command-engine-room/);
  assert.deepEqual(registryLeases(stateDir), []);
});

/** The README's Python snippet (up to the line that creates the engine), as it stands. */
function readmeSnippet(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Ports for engines that others start'));
  const code = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'the README has the Python snippet');
  const cut = code.indexOf('# In each engine actor');
  assert.ok(cut > 0);
  return code.slice(0, cut);
}

// An engine actor: the README's lease, then vLLM's get_open_port() scan from VLLM_PORT for each internal
// port, a window (the model load), then the binds; holds them until stdin closes.
const ACTOR = `
import socket, sys, time
ENGINE_ROOM = [sys.argv[1], sys.argv[2]]
sys.path.insert(0, sys.argv[3])
from fake_vllm import get_open_port  # vLLM's scan upwards from VLLM_PORT

first, last = lease_port_block(10)
os.environ["VLLM_PORT"] = str(first)
picked = []
for _ in range(3):
    p = get_open_port(None, picked)
    os.environ["VLLM_PORT"] = str(p + 1)
    picked.append(p)
time.sleep(0.3)
held = []
for p in picked:
    s = socket.socket()
    # SO_REUSEADDR and no listen(), like vLLM's early binds: a second process binding the same port would
    # succeed silently, so only the set of ports shows a collision.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", p))
    held.append(s)
print(json.dumps({"pid": os.getpid(), "block": [first, last], "ports": picked}), flush=True)
sys.stdin.read()
`;

test('(integration) 8 Python engine actors lease VLLM_PORT blocks at once (the README snippet) beside a running `up`: no port bound twice, no lease left', async (t) => {
  const { env, configFile, dir, stateDir } = await createWorkspace(t, {
    engines: [0, 1].map((i) => ({
      name: `vllm-${i}`,
      command: ['python3', path.join(ENGINES, 'fake_vllm.py'), '--port', '${port}', '--internal', '3', '--load', '0.3'],
      env: { VLLM_PORT: '${portBlock}' },
      port: 'auto',
      portBlock: 10,
      startLock: 'leaseOnly',
      health: { http: '/health' },
    })),
  });
  const actorFile = path.join(dir, 'actor.py');
  fs.writeFileSync(actorFile, readmeSnippet() + ACTOR);
  const up = startProcess(process.execPath, [CLI, 'up', '--config', configFile], env);
  t.after(async () => {
    await runCli(['down', '--config', configFile], { env });
    up.child.kill('SIGKILL');
  });
  const actors = Array.from({ length: 8 }, () => {
    const child = spawn('python3', [actorFile, process.execPath, CLI, ENGINES], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    t.after(() => child.kill('SIGKILL'));
    return { child, out: () => stdout, err: () => stderr };
  });
  const reports = await Promise.all(
    actors.map((a, i) =>
      waitFor(() => (a.out().includes('\n') ? (JSON.parse(a.out()) as { pid: number; block: [number, number]; ports: number[] }) : a.child.exitCode !== null ? assert.fail(`actor ${i} exited: ${a.err()}`) : undefined), () => `actor ${i} (${a.err()})`, 60000),
    ),
  );
  await up.waitForOutput(/vllm-0: healthy/, 60000);
  await up.waitForOutput(/vllm-1: healthy/, 60000);

  const listed = (await statusAll(env)).leases;
  assert.deepEqual(listed.map((l) => l.pid).sort(), reports.map((r) => r.pid).sort(), 'each actor holds its lease');
  const bound: number[] = [];
  const blocks: Array<[number, number]> = [];
  for (const r of reports) {
    for (const p of r.ports) assert.ok(p >= r.block[0] && p <= r.block[1], `actor ${r.pid}: port ${p} inside its block ${r.block}`);
    bound.push(...r.ports);
    blocks.push(r.block);
  }
  for (const e of await cliStatus(configFile, env)) {
    assert.equal(e.state, 'healthy');
    const m = /serving port (\d+), internal ports \[([\d, ]*)\]/.exec(fs.readFileSync(e.logFile, 'utf8'));
    assert.ok(m, `${e.name} printed its ports`);
    bound.push(Number(m[1]), ...m[2]!.split(',').filter(Boolean).map(Number));
    blocks.push(e.portBlock!);
  }
  assert.equal(new Set(bound).size, bound.length, `no port is bound twice: ${bound.join(',')}`);
  const inBlocks = blocks.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
  assert.equal(new Set(inBlocks).size, inBlocks.length, `the blocks are disjoint: ${JSON.stringify(blocks)}`);

  for (const a of actors) a.child.stdin!.end();
  const codes = await Promise.all(actors.map((a) => exitCode(a.child)));
  assert.deepEqual(codes, Array(8).fill(0));
  assert.deepEqual((await statusAll(env)).leases, [], 'no lease is listed once the actors are gone');
  // `down` writes the registry, and with it prunes what the dead actors held.
  assert.equal((await runCli(['down', '--config', configFile], { env })).code, 0);
  assert.deepEqual(registryLeases(stateDir), [], 'no lease is left in the registry');
});

test('(integration) exec --env takes ${port:ENGINE} of a running engine of the config; a variable it cannot expand exits 2 and leases nothing', async (t) => {
  const { env, configFile, dir, stateDir } = await createWorkspace(t, {
    engines: [{ name: 'api', command: [process.execPath, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}'], port: 'auto', health: { http: '/health' } }],
  });
  t.after(() => runCli(['down', '--config', configFile], { env }));
  assert.equal((await runCli(['up', '--detach', '--config', configFile], { env })).code, 0);
  const [api] = await cliStatus(configFile, env);
  const out = path.join(dir, 'env.txt');
  const print = `require('fs').writeFileSync(${JSON.stringify(out)}, process.env.API_URL + ' ' + process.env.ROOT)`;
  const r = await runCli(['exec', '--config', configFile, '--env', 'API_URL=http://127.0.0.1:${port:api}', '--env', 'ROOT=${workspaceFolder}', '--', process.execPath, '-e', print], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(out, 'utf8'), `http://127.0.0.1:${api!.ports.port} ${dir}`);

  // Found from the working directory as well; an engine that does not run cannot be expanded.
  const other = path.join(dir, 'sub');
  writeConfig(other, { engines: [{ name: 'db', command: ['true'], port: 'auto' }] });
  const bad = await runCli(['exec', '--env', 'DB=${port:db}', '--', 'true'], { env, cwd: other });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--env: cannot expand \$\{port:db\}.*engine "db" has no leased port/);
  const unknown = await runCli(['exec', '--env', 'X=${HOME}', '--', 'true'], { env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown variable "\$\{HOME\}"/);
  assert.deepEqual(registryLeases(stateDir), [], 'nothing stays leased');
});
