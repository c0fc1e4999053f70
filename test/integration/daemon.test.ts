/**
 * A server that daemonizes (its main process exits 0, the server runs on in a new session) is followed:
 * healthy, shown running, stopped by `down` with nothing left. Real `redis-server --daemonize yes`
 * (.ci/run installs it). Needs `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ENGINES, cliStatus, pidAlive, runCli } from '../support/helpers';
import { downLeavesNothing, killLeftovers, processesByCommand, processesOf } from '../support/processes';
import { createWorkspace } from '../support/workspace';

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      resolve(d.toString().trim());
      s.end();
    });
    s.once('error', reject);
  });
}

test('(integration) redis-server --daemonize yes: healthy, shown running with the daemon pid, stopped by `down`, nothing left', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [
      {
        name: 'redis',
        command: ['redis-server', '--port', '${port}', '--daemonize', 'yes', '--pidfile', '${workspaceFolder}/redis.pid', '--dir', '${workspaceFolder}', '--save', '', '--appendonly', 'no'],
        port: 'auto',
        pidFile: 'redis.pid',
        health: { tcp: true, interval: '200ms' },
      },
    ],
  });
  killLeftovers(ws);
  let port = 0;
  t.after(() => {
    for (const pid of port ? processesByCommand(new RegExp(`redis-server .*:${port}\\b`)) : []) process.kill(pid, 'SIGKILL');
  });
  const up = await runCli(['up', '--detach', '--json', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const started = (JSON.parse(up.stdout) as { engines: Array<{ state: string; pid: number; ports: { port: number } }> }).engines[0]!;
  port = started.ports.port;
  assert.equal(started.state, 'healthy');
  const daemonPid = Number(fs.readFileSync(path.join(ws.dir, 'redis.pid'), 'utf8').trim());
  assert.deepEqual(processesByCommand(new RegExp(`redis-server .*:${port}\\b`)), [daemonPid], 'one redis daemon runs');
  assert.equal(await ping(port), '+PONG');
  // Another process sees it running, with the daemon's pid, and probes it healthy.
  const [seen] = await cliStatus(ws.configFile, ws.env);
  assert.equal(seen?.state, 'healthy', JSON.stringify(seen));
  assert.equal(seen?.pid, daemonPid);
  const log = fs.readFileSync(seen.logFile, 'utf8');
  assert.match(log, new RegExp(`following it as a daemon`));
  const down = await runCli(['down', '--config', ws.configFile], { env: ws.env });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, new RegExp(`stopped redis \\(pid ${daemonPid}\\)`));
  assert.equal(pidAlive(daemonPid), false, 'the daemon is stopped');
  assert.deepEqual(processesByCommand(new RegExp(`redis-server .*:${port}\\b`)), []);
  await assert.rejects(ping(port), /ECONNREFUSED/);
  const [after] = await cliStatus(ws.configFile, ws.env);
  assert.equal(after?.state, 'stopped');
});

test('(integration) a daemon that keeps its environment is followed by the marker alone: running, healthy, stopped with its worker', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [{ name: 'daemon', command: [process.execPath, path.join(ENGINES, 'daemonizer.cjs'), '--port', '${port}'], port: 'auto', health: { tcp: true, interval: '200ms' } }],
  });
  killLeftovers(ws);
  const up = await runCli(['up', '--detach', '--config', ws.configFile], { env: ws.env });
  assert.equal(up.code, 0, up.stderr);
  const running = processesOf(ws);
  assert.equal(running.length, 2, 'the daemon and its worker run; the main process exited');
  const [seen] = await cliStatus(ws.configFile, ws.env);
  assert.equal(seen?.state, 'healthy', JSON.stringify(seen));
  const log = fs.readFileSync(seen.logFile, 'utf8');
  const daemonPid = Number(/daemon (\d+) listening/.exec(log)?.[1]);
  assert.equal(seen.pid, daemonPid, "the daemon is shown as the engine's process");
  await downLeavesNothing(ws);
});
