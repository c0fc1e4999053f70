// A group of replicas in the supervisor (issue 13, item 1): start, restart and stop of the group name act on
// every replica and on nothing else, one replica by its own name; each keeps its own lease. Real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { Registry } from '../../src/core/registry';
import { ensureStateDir } from '../../src/core/stateDir';
import { Supervisor } from '../../src/core/supervisor/supervisor';
import { ENGINES, pidAlive } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;
const httpServer = path.join(ENGINES, 'http_server.cjs');

test('(unit) start, restart and stop of a group act on its replicas; one replica by its name', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [
      { name: 'w', replicas: 3, command: [node, httpServer, '--port', '${port}', '--name', 'w${replica}'], port: 'auto', health: { http: '/health' } },
      { name: 'other', command: [node, httpServer, '--port', '${port}'], port: 'auto', health: { http: '/health' } },
    ],
  });
  const loaded = await loadConfig(ws.configFile);
  assert.ok(loaded.config, JSON.stringify(loaded.problems));
  const sup = new Supervisor({ config: loaded.config, stateDir: ensureStateDir(ws.stateDir), ownerKind: 'other', ownerLabel: 'test', ranges: ws.ranges });
  ws.onCleanup(() => sup.dispose());
  const states = () => sup.snapshots().map((s) => `${s.name}:${s.state}`);

  assert.deepEqual(sup.expand(['w', 'other', 'w-1']), ['w-0', 'w-1', 'w-2', 'other']);
  const started = await sup.start(['w']);
  assert.deepEqual(started.map((o) => `${o.name}:${o.ok}`), ['w-0:true', 'w-1:true', 'w-2:true']);
  assert.deepEqual(states(), ['w-0:healthy', 'w-1:healthy', 'w-2:healthy', 'other:stopped']);
  const leases = new Registry(ws.stateDir).read().leases;
  assert.deepEqual(leases.map((l) => l.name).sort(), ['w-0', 'w-1', 'w-2']);
  assert.equal(new Set(leases.map((l) => l.ports.port)).size, 3, 'each replica its own port');
  const hello = await (await fetch(`http://127.0.0.1:${sup.snapshot('w-2').ports.port}/`)).text();
  assert.match(hello, /hello from w2 /);

  const before = sup.snapshots().map((s) => s.pid);
  await sup.restart(['w']);
  const after = sup.snapshots().map((s) => s.pid);
  for (let i = 0; i < 3; i++) {
    assert.notEqual(after[i], before[i], `w-${i} was restarted`);
    assert.equal(pidAlive(before[i]!), false);
  }
  assert.deepEqual(states(), ['w-0:healthy', 'w-1:healthy', 'w-2:healthy', 'other:stopped']);

  await sup.stop(['w-1']);
  assert.deepEqual(states(), ['w-0:healthy', 'w-1:stopped', 'w-2:healthy', 'other:stopped']);
  await sup.stop(['w']);
  assert.deepEqual(states(), ['w-0:stopped', 'w-1:stopped', 'w-2:stopped', 'other:stopped']);
  assert.deepEqual(new Registry(ws.stateDir).read().leases, []);
});
