import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig } from '../../src/core/config';
import { isEngineRoomError } from '../../src/core/errors';
import { externalLeases, leaseExternal, releaseExternal } from '../../src/core/externalLeases';
import { Registry } from '../../src/core/registry';
import { ensureStateDir } from '../../src/core/stateDir';
import { Supervisor } from '../../src/core/supervisor/supervisor';
import { ENGINES, exitCode } from '../support/helpers';
import { createWorkspace } from '../support/workspace';

const node = process.execPath;

test('(unit) external leases and engine leases in the same registry: disjoint when taken at once, a fixed port held by a lease is refused naming it, a dead holder frees its ports', async (t) => {
  const ws = await createWorkspace(t, {
    engines: [
      ...[0, 1, 2].map((i) => ({ name: `e${i}`, command: [node, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}'], port: 'auto', portBlock: 10, startLock: 'leaseOnly', health: { http: '/health' } })),
    ],
  });
  const registry = new Registry(ensureStateDir(ws.stateDir));
  const loaded = await loadConfig(ws.configFile);
  assert.ok(loaded.config);
  const sup = new Supervisor({ config: loaded.config, stateDir: ws.stateDir, ownerKind: 'other', ownerLabel: 'test', ranges: ws.ranges });
  ws.onCleanup(() => sup.dispose());
  const holder = spawn(node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));

  const [outcomes, ...leases] = await Promise.all([
    sup.start(),
    ...Array.from({ length: 6 }, (_, i) => leaseExternal(registry, ws.ranges, { port: i % 2 === 0, block: 10, pid: holder.pid!, label: `l${i}` })),
  ]);
  for (const o of outcomes) assert.equal(o.ok, true, o.reason);
  const ports: number[] = [];
  const add = (port: number | undefined | null, block: readonly [number, number] | null) => {
    if (port !== undefined && port !== null) ports.push(port);
    if (block) for (let p = block[0]; p <= block[1]; p++) ports.push(p);
  };
  for (const s of sup.snapshots()) add(s.ports.port, s.portBlock);
  for (const l of leases) add(l.port, l.portBlock);
  assert.equal(new Set(ports).size, ports.length, `disjoint: ${ports.join(',')}`);
  assert.equal(externalLeases(registry.read()).length, 6);

  // A config engine with a fixed port that a lease holds: refused, naming the lease.
  const held = leases[0]!.port!;
  const other = ws.addFolder({ engines: [{ name: 'fixed', command: [node, path.join(ENGINES, 'http_server.cjs'), '--port', '${port}'], port: held, health: { http: '/health' } }] });
  const otherConfig = await loadConfig(other.configFile);
  const sup2 = new Supervisor({ config: otherConfig.config!, stateDir: ws.stateDir, ownerKind: 'other', ownerLabel: 'test 2', ranges: ws.ranges });
  ws.onCleanup(() => sup2.dispose());
  const [refused] = await sup2.start();
  assert.equal(refused?.ok, false);
  assert.match(refused!.reason ?? '', new RegExp(`port ${held}, which is leased to lease ${leases[0]!.id} "l0"`));

  assert.equal(await releaseExternal(registry, leases[1]!.id), true);
  assert.equal(await releaseExternal(registry, leases[1]!.id), false);
  holder.kill('SIGKILL');
  await exitCode(holder);
  // The next critical section prunes the dead holder's leases; their lowest port is the next first fit.
  const next = await leaseExternal(registry, ws.ranges, { port: true, pid: process.pid });
  assert.equal(next.port, Math.min(...leases.map((l) => l.port ?? Infinity)));
  assert.deepEqual(externalLeases(registry.read()).map((l) => l.id), [next.id]);
  await assert.rejects(leaseExternal(registry, ws.ranges, { port: true, pid: holder.pid! }), (e) => isEngineRoomError(e, 'no-such-process'));
});
