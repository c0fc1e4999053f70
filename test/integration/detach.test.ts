/**
 * `up --detach` as real OS processes: its exit code tells how the engines are when it returns, and an
 * engine's death is reported when it happens, not when a slow health probe ends. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ENGINES, runCli } from '../support/helpers';
import { killLeftovers, processesByCommand } from '../support/processes';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;

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
