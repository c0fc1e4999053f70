/**
 * (unit) What a user sees is true (issue 12, items 4 and 5), with real engines: a stopped engine has no
 * health of its last run; an engine removed from the config is gone whatever its state; a start reports
 * only what it starts; an engine gets its last ports again while they are free.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { Supervisor } from '../../src/core/supervisor/supervisor';
import { ensureStateDir } from '../../src/core/stateDir';
import { ENGINES, pidAlive, waitFor, writeConfig } from '../support/helpers';
import { createWorkspace, type Workspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');
const web = (name: string, extra: object = {}) => ({ name, command: [node, httpServer, '--port', '${port}', '--name', name], port: 'auto', health: { http: '/health', interval: '100ms' }, ...extra });

/** One supervisor per config file of the workspace (a window each), disposed at the end. */
async function supervisorOf(ws: Workspace, configFile = ws.configFile): Promise<Supervisor> {
  const loaded = await loadConfig(configFile);
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  const sup = new Supervisor({ config: loaded.config, stateDir: ensureStateDir(ws.stateDir), ownerKind: 'other', ownerLabel: 'test', ranges: ws.ranges });
  ws.onCleanup(() => sup.dispose());
  return sup;
}

async function reconfigure(sup: Supervisor, ws: Workspace, engines: unknown[]): Promise<void> {
  writeConfig(ws.dir, { engines });
  const loaded = await loadConfig(ws.configFile);
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  sup.setConfig(loaded.config);
}

test('(unit) a stopped engine shows no health and no sparkline from its last run', async (t: TestContext) => {
  const ws = await createWorkspace(t, { engines: [web('web')] });
  const sup = await supervisorOf(ws);
  const [o] = await sup.start();
  assert.equal(o?.ok, true, o?.reason);
  await waitFor(() => sup.snapshot('web').healthHistory.length >= 2, 'a few probes in the history', 20_000);
  await sup.stop(['web']);
  const s = sup.snapshot('web');
  assert.equal(s.state, 'stopped');
  assert.equal(s.health, null);
  assert.deepEqual(s.healthHistory, []);
});

test('(unit) an engine removed from the config is gone whatever its state: a failed one, a running one (stopped); Start All starts only what is left', async (t) => {
  const crash = { name: 'crash', command: [node, '-e', "console.error('boom: bad weights'); process.exit(3)"], port: 'auto' };
  const ws = await createWorkspace(t, { engines: [web('web'), crash, web('keep')] });
  const sup = await supervisorOf(ws);
  const outcomes = await sup.start(['web', 'crash']);
  assert.equal(outcomes.find((x) => x.name === 'crash')?.ok, false);
  const failed = sup.snapshot('crash');
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failure?.summary, 'boom: bad weights', 'a failure says why, from its log');
  const webPid = sup.snapshot('web').pid!;
  assert.ok(pidAlive(webPid));

  await reconfigure(sup, ws, [web('keep')]);
  assert.deepEqual(sup.names(), ['keep'], 'the failed and the running engine left the list at once');
  assert.deepEqual(sup.snapshots().map((s) => s.name), ['keep']);
  await waitFor(() => !pidAlive(webPid), 'the removed running engine to be stopped', 20_000);
  assert.deepEqual(sup.plan(), ['keep'], 'a progress report would name only keep');
  const again = await sup.start();
  assert.deepEqual(again.map((x) => x.name), ['keep'], 'Start All starts neither the removed failed engine nor the removed running one');
  assert.deepEqual(sup.plan(), [], 'nothing left to start: every engine runs');
});

test('(unit) ports stay put: a restart, and a start later, get the ports the engine had while they are free; others keep off them', async (t) => {
  const ws = await createWorkspace(t, { engines: [web('api'), web('db'), { name: 'policy', command: [node, httpServer, '--port', '${port}'], port: 'auto', portBlock: 5 }] });
  const other = ws.addFolder({ engines: [web('other'), { name: 'otherBlock', command: [node, httpServer, '--port', '${port}'], port: 'auto', portBlock: 5 }] });
  const sup = await supervisorOf(ws);
  // db first, then api: api's port is not the first of the range, so a plain first-fit would move it.
  assert.equal((await sup.start(['db']))[0]?.ok, true);
  assert.equal((await sup.start(['api', 'policy'])).every((o) => o.ok), true);
  const api = sup.snapshot('api').ports.port!;
  const db = sup.snapshot('db').ports.port!;
  const block = sup.snapshot('policy').portBlock!;
  assert.notEqual(api, ws.ranges.auto[0]);
  await sup.stop();
  // api alone again (db stopped, so the first port of the range is free): it gets its own port back.
  await sup.restart(['api']);
  assert.equal(sup.snapshot('api').ports.port, api, 'api kept its port');
  await sup.stop();
  // Another config's engines, started meanwhile, keep off the ports that these had last.
  const sup2 = await supervisorOf(ws, other.configFile);
  assert.equal((await sup2.start()).every((o) => o.ok), true);
  const otherPorts = [sup2.snapshot('other').ports.port, ...sup2.snapshot('otherBlock').portBlock!];
  for (const p of [api, db]) assert.ok(!otherPorts.includes(p), `another engine took ${p}`);
  assert.ok(sup2.snapshot('otherBlock').portBlock![0] > block[1] || sup2.snapshot('otherBlock').portBlock![1] < block[0], 'another block keeps off the old block');
  assert.equal((await sup.start()).every((o) => o.ok), true);
  assert.equal(sup.snapshot('api').ports.port, api);
  assert.equal(sup.snapshot('db').ports.port, db);
  assert.deepEqual(sup.snapshot('policy').portBlock, block);
  await sup.stop();
  // Taken by another program meanwhile: the engine gets another port, and starts.
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(api, '127.0.0.1', () => r()));
  t.after(() => squatter.close());
  assert.equal((await sup.start(['api']))[0]?.ok, true);
  assert.notEqual(sup.snapshot('api').ports.port, api);
});

test('(unit) an engine that crashes and is restarted (on-failure) comes back on the same port', async (t) => {
  const flaky = {
    name: 'flaky',
    // Healthy, then dies once; the second run stays up.
    command: [node, '-e', "const fs=require('fs');const f=process.argv[2];const again=fs.existsSync(f);fs.writeFileSync(f,'x');require('http').createServer((q,s)=>s.end('ok')).listen(+process.argv[1],'127.0.0.1');if(!again)setTimeout(()=>process.exit(1),800)", '${port}', '${workspaceFolder}/ran-once'],
    port: 'auto',
    health: { http: '/', interval: '100ms' },
    restart: { policy: 'on-failure', limit: 2, backoff: '100ms' },
  };
  const ws = await createWorkspace(t, { engines: [web('first'), flaky] });
  const sup = await supervisorOf(ws);
  assert.equal((await sup.start(['first']))[0]?.ok, true);
  await sup.start(['flaky']);
  const port = sup.snapshot('flaky').ports.port;
  await sup.stop(['first']); // the range's first port is free now: a first fit would move flaky there
  await waitFor(() => sup.snapshot('flaky').restarts === 1 && sup.snapshot('flaky').state === 'healthy', 'flaky restarted and healthy', 30_000);
  assert.equal(sup.snapshot('flaky').ports.port, port);
});
