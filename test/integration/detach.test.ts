/**
 * `up --detach` as real OS processes: its exit code tells how the engines are when it returns, and an
 * engine's death is reported when it happens, not when a slow health probe ends. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENGINES, pidAlive, runCli, waitFor, type JsonEngine } from '../support/helpers';
import { killLeftovers, processesByCommand } from '../support/processes';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');

type Engine = JsonEngine & { restarts: number; lastExit: { exitCode: number | null; signal: string | null; reason: string } | null };

async function status(configFile: string, env: NodeJS.ProcessEnv): Promise<Engine[]> {
  const r = await runCli(['status', '--json', '--config', configFile], { env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { engines: Engine[] }).engines;
}

test('(integration) a detached engine killed with SIGKILL is restarted by the background supervisor; status shows the restart and the previous exit; after `down` the supervisor is gone', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [{ name: 'api', command: [node, httpServer, '--port', '${port}', '--name', 'api'], port: 'auto', health: { http: '/health', interval: '200ms' }, restart: { policy: 'on-failure', limit: 3, backoff: 100 } }],
  });
  killLeftovers(ws);
  const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const [first] = await status(ws.configFile, ws.env);
  assert.equal(first?.state, 'healthy');
  const supervisor = first!.owner!.pid;
  assert.notEqual(supervisor, first!.pid);
  assert.ok(pidAlive(supervisor), 'the background supervisor runs after `up --detach` returned');
  assert.match(first!.owner!.label, /background supervisor/);
  // A proper detached process: a session of its own, stdin closed, its output in its log.
  const stat = fs.readFileSync(`/proc/${supervisor}/stat`, 'utf8');
  assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]), supervisor, 'it leads its own session');
  assert.equal(fs.readlinkSync(`/proc/${supervisor}/fd/0`), '/dev/null');
  for (const fd of [1, 2]) assert.equal(fs.readlinkSync(`/proc/${supervisor}/fd/${fd}`), path.join(ws.stateDir, 'supervisor.log'));
  try {
    process.kill(first!.pid!, 'SIGKILL');
    const again = await waitFor(async () => {
      const [e] = await status(ws.configFile, ws.env);
      return e?.state === 'healthy' && e.pid !== first!.pid ? e : undefined;
    }, 'the engine to be restarted and healthy', 60_000, 200);
    assert.equal(again.restarts, 1);
    assert.equal(again.lastExit?.signal, 'SIGKILL');
    assert.match(again.lastExit?.reason ?? '', /killed by SIGKILL/);
    assert.equal(again.owner?.pid, supervisor, 'restarted by the same supervisor');
    const text = await runCli(['status', '--config', ws.configFile], { env: ws.env });
    assert.match(text.stdout, /api +healthy .* 1 \(previous: killed by SIGKILL\)/);
  } finally {
    const down = await runCli(['down', '--config', ws.configFile], { env: ws.env });
    assert.equal(down.code, 0, down.stderr);
  }
  await waitFor(() => !pidAlive(supervisor), 'the background supervisor to exit after `down`', 30_000);
  assert.equal((await status(ws.configFile, ws.env))[0]?.state, 'stopped');
  const log = fs.readFileSync(path.join(ws.stateDir, 'supervisor.log'), 'utf8');
  assert.match(log, new RegExp(`\\[pid ${supervisor}\\] api: failed - killed by SIGKILL`));
  assert.match(log, new RegExp(`\\[pid ${supervisor}\\] no engine of mine runs any more: exiting`));
});

test('(integration) when its last engine exits and does not restart, the background supervisor exits', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [
      { name: 'a', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
      { name: 'b', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
    ],
  });
  killLeftovers(ws);
  const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const engines = await status(ws.configFile, ws.env);
  const supervisor = engines[0]!.owner!.pid;
  assert.equal(engines[1]!.owner!.pid, supervisor, 'one supervisor for the engines of one `up --detach`');
  process.kill(engines[0]!.pid!, 'SIGKILL');
  // Gone: no pid, and (the registry remembers its last run's failure) failed, or stopped.
  await waitFor(async () => {
    const a = (await status(ws.configFile, ws.env))[0];
    return a?.pid === null && (a.state === 'failed' || a.state === 'stopped');
  }, 'a to be gone');
  assert.ok(pidAlive(supervisor), 'it still watches b');
  process.kill(engines[1]!.pid!, 'SIGTERM');
  await waitFor(() => !pidAlive(supervisor), 'the background supervisor to exit with its last engine', 30_000);
});

test('(integration) `up --detach` exits 1, with the reason, when an engine that was healthy died before it returned', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [
      // Exits with code 3 right after its first healthy answer.
      { name: 'brief', command: [node, path.join(ENGINES, 'healthy_once.cjs'), '${port}', '${workspaceFolder}/brief.pid'], port: 'auto', health: { http: '/health' } },
      // Healthy only once `brief` is gone: `up --detach` returns after the death, whatever the timing.
      {
        name: 'after',
        command: [node, '-e', 'setInterval(() => {}, 1000)'],
        health: { command: [node, path.join(ENGINES, 'gone.cjs'), '${workspaceFolder}/brief.pid'], timeout: '60s' },
        startTimeout: '120s',
      },
    ],
  });
  killLeftovers(ws);
  try {
    const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env, timeoutMs: 180_000 });
    assert.equal(up.code, 1, `${up.stdout}\n${up.stderr}`);
    assert.match(up.stderr, /brief failed: exited with code 3/);
    assert.doesNotMatch(up.stderr, /after failed/);
  } finally {
    await runCli(['down', '--config', ws.configFile], { env: ws.env });
  }
});

test('(integration) an engine that exits while its `command` probe runs is reported at its exit; the probe is killed', async (t) => {
  const ws = await createWorkspace(t, { engines: [] });
  // The probe blocks on a fifo that nothing ever writes: it can only end by being killed, so a report
  // before the probe's 10-minute timeout comes from the engine's exit.
  const fifo = path.join(ws.dir, 'never-written');
  execFileSync('mkfifo', [fifo]);
  const config = {
    engines: [
      {
        name: 'brief',
        command: [node, path.join(ENGINES, 'exit_during_probe.cjs'), fifo],
        health: { command: ['cat', fifo], timeout: '10m' },
        startTimeout: '20m',
      },
    ],
  };
  const configFile = ws.addFolder(config).configFile;
  killLeftovers(ws);
  t.after(() => {
    for (const pid of processesByCommand(new RegExp(`^cat ${fifo}`))) process.kill(pid, 'SIGKILL');
  });
  const up = await runCli(['up', '--detach', '--json', '--config', configFile], { env: ws.env, timeoutMs: 120_000 });
  assert.equal(up.code, 1, up.stderr);
  const engine = (JSON.parse(up.stdout) as { engines: Array<{ state: string; exitCode: number | null; reason: string }> }).engines[0]!;
  assert.equal(engine.state, 'failed');
  assert.equal(engine.exitCode, 4);
  assert.match(engine.reason, /exited with code 4/);
  assert.deepEqual(processesByCommand(new RegExp(`^cat ${fifo}`)), [], 'the probe was killed with the engine');
});
