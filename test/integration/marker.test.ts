/**
 * Every engine is known from the moment before its spawn: a CLI killed between the spawn and the
 * registry write of the pid leaves engines that `status --all` shows and `down` stops (found by the
 * ENGINE_ROOM_START marker in their environment); an engine cannot escape a stop by forking into a new
 * session. Real CLI processes, real engines, real SIGKILLs. Needs `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, ENGINES, pidAlive, runCli, sleep, waitFor } from '../support/helpers';
import { downLeavesNothing, killLeftovers, processesOf } from '../support/processes';
import { createWorkspace, type Workspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');

function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

interface AllJson {
  engines: Array<{ name: string; state: string; pid: number | null; owner: { alive: boolean } }>;
}

async function statusAll(ws: Workspace): Promise<AllJson['engines']> {
  const r = await runCli(['status', '--all', '--json'], { env: ws.env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as AllJson).engines;
}

/** Starts `up --detach`; `supervisor()` is the pid of the background supervisor (which spawns) once said. */
function upDetached(ws: Workspace, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(node, [CLI, 'up', '--detach', '--config', ws.configFile], { env: { ...process.env, ...ws.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('close', r));
  const supervisor = () => Number(/background supervisor pid (\d+)/.exec(stderr)?.[1]) || undefined;
  return { child, exited, supervisor };
}

/**
 * `up --detach` whose background supervisor (the process that spawns) stops itself right after each
 * batch's spawn (the test hook), let go on until `engines` engines run, then SIGKILLed there: the last
 * batch's pids never reach the registry.
 */
async function upKilledAfterSpawn(ws: Workspace, engines = 1): Promise<void> {
  const up = upDetached(ws, { ENGINE_ROOM_TEST_PAUSE_AFTER_SPAWN: '1' });
  const pid = await waitFor(up.supervisor, 'the background supervisor', 30000);
  for (;;) {
    await waitFor(() => procState(pid) === 'T', 'the supervisor to stop itself after the spawn', 30000);
    if (processesOf(ws).length >= engines) break;
    process.kill(pid, 'SIGCONT');
    await waitFor(() => procState(pid) !== 'T', 'the supervisor to go on');
  }
  process.kill(pid, 'SIGKILL');
  await up.exited;
}

function httpEngine(name: string, startLock: string) {
  return { name, command: [node, httpServer, '--port', '${port}', '--name', name], port: 'auto', health: { http: '/health' }, startLock };
}

test('(integration) a CLI killed after the spawn, before the pid is recorded: `status --all` shows the engine, `down` stops it', async (t) => {
  const ws = await createWorkspace(t, { engines: [httpEngine('solo', 'untilHealthy')] });
  killLeftovers(ws);
  await upKilledAfterSpawn(ws);
  const engines = processesOf(ws);
  assert.equal(engines.length, 1, 'the engine runs on without its owner');
  const registry = JSON.parse(fs.readFileSync(path.join(ws.stateDir, 'registry.json'), 'utf8')) as { leases: Array<{ engine: unknown; marker: string }> };
  assert.equal(registry.leases[0]?.engine, null, 'the kill came before the pid was recorded');
  assert.equal(registry.leases[0]?.marker, engines[0]?.marker, "the lease's marker is in the engine's environment");
  const listed = await statusAll(ws);
  assert.deepEqual(listed.map((e) => [e.name, e.state, e.pid, e.owner.alive]), [['solo', 'running', engines[0]!.pid, false]]);
  // The next `up` does not lease its port again: it adopts the engine, which was healthy all along.
  const up = await runCli(['up', '--detach', '--json', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const again = (JSON.parse(up.stdout) as { engines: Array<{ state: string; pid: number }> }).engines;
  assert.deepEqual(again.map((e) => [e.state, e.pid]), [['healthy', engines[0]!.pid]]);
  assert.deepEqual(processesOf(ws).map((p) => p.pid), [engines[0]!.pid], 'no second engine');
  await downLeavesNothing(ws);
  assert.deepEqual(await statusAll(ws), []);
});

test('(integration) a CLI killed after spawning a leaseOnly batch: every engine of it is shown and stopped', async (t) => {
  const ws = await createWorkspace(t, { engines: [0, 1, 2, 3].map((i) => httpEngine(`batch-${i}`, 'leaseOnly')) });
  killLeftovers(ws);
  await upKilledAfterSpawn(ws, 4);
  const engines = processesOf(ws);
  assert.equal(engines.length, 4);
  const registry = JSON.parse(fs.readFileSync(path.join(ws.stateDir, 'registry.json'), 'utf8')) as { leases: Array<{ engine: unknown }> };
  const unrecorded = registry.leases.filter((l) => l.engine === null).length;
  assert.ok(unrecorded > 0, 'the last batch was killed before its pids were recorded');
  t.diagnostic(`engines of the killed batch without a recorded pid: ${unrecorded} of 4`);
  assert.equal(new Set(engines.map((e) => e.marker)).size, 4, 'one marker per start');
  const listed = await statusAll(ws);
  assert.deepEqual(listed.map((e) => e.name).sort(), ['batch-0', 'batch-1', 'batch-2', 'batch-3']);
  assert.deepEqual(listed.map((e) => e.pid).sort(), engines.map((e) => e.pid).sort());
  await downLeavesNothing(ws);
});

test('(integration) 30 kills of `up --detach` at random moments: what runs is shown, `down` leaves nothing', async (t) => {
  const ws = await createWorkspace(t, { engines: [httpEngine('first', 'untilHealthy'), ...[0, 1, 2].map((i) => httpEngine(`lease-${i}`, 'leaseOnly'))] });
  killLeftovers(ws);
  // Kills land anywhere in a whole `up --detach` (its length on this machine, at most a few seconds).
  const t0 = Date.now();
  assert.equal((await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env })).code, 0);
  const span = Math.min(Date.now() - t0, 5000);
  await downLeavesNothing(ws);
  let leftRunning = 0;
  let unrecorded = 0;
  for (let round = 0; round < 30; round++) {
    // The background supervisor spawns the engines: the kill is for it (the command too, before it said its pid).
    const up = upDetached(ws);
    await sleep(5 + Math.random() * span);
    const pid = up.supervisor();
    if (pid) process.kill(pid, 'SIGKILL');
    up.child.kill('SIGKILL');
    await up.exited;
    // Its pid may have been said just before the kill and read only now.
    const late = up.supervisor();
    if (late && !pid && pidAlive(late)) process.kill(late, 'SIGKILL');
    // Let an engine forked at the moment of the kill finish its exec (its environment is set then).
    await sleep(50);
    const running = processesOf(ws);
    const listed = await statusAll(ws);
    const pids = new Set(listed.map((e) => e.pid));
    for (const p of running) assert.ok(pids.has(p.pid), `round ${round}: engine pid ${p.pid} is not shown by status --all (${JSON.stringify(listed)})`);
    leftRunning += running.length;
    const registry = JSON.parse(fs.readFileSync(path.join(ws.stateDir, 'registry.json'), 'utf8')) as { leases: Array<{ engine: unknown; marker: string }> };
    unrecorded += registry.leases.filter((l) => l.engine === null && running.some((p) => p.marker === l.marker)).length;
    await downLeavesNothing(ws);
  }
  t.diagnostic(`kills in 5-${span} ms: ${leftRunning} engines left running by a killed CLI over 30 rounds, ${unrecorded} of them without a recorded pid`);
});

test('(integration) an engine that forks a setsid grandchild in its SIGTERM handler: after `down` nothing is left', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [{ name: 'escaper', command: [node, path.join(ENGINES, 'escaper.cjs'), '--port', '${port}'], port: 'auto', health: { tcp: true } }],
  });
  killLeftovers(ws);
  const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  await downLeavesNothing(ws);
  const log = fs.readFileSync((await statusOf(ws)).logFile, 'utf8');
  const m = /forked grandchild (\d+) in its own session/.exec(log);
  assert.ok(m, `the engine forked its grandchild:\n${log}`);
  assert.equal(pidAlive(Number(m[1])), false, 'the grandchild was stopped too');
});

async function statusOf(ws: Workspace): Promise<{ logFile: string; state: string; pid: number | null }> {
  const r = await runCli(['status', '--json', '--config', ws.configFile], { env: ws.env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { engines: Array<{ logFile: string; state: string; pid: number | null }> }).engines[0]!;
}
