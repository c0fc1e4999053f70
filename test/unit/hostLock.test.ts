import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { StartLock, lockState } from '../../src/core/hostLock';
import { Registry } from '../../src/core/registry';
import { selfIdentity } from '../../src/core/platform';
import { ensureStateDir } from '../../src/core/stateDir';
import { isEngineRoomError } from '../../src/core/errors';
import { ROOT, pidAlive, startProcess, tempDir, waitFor } from '../support/helpers';

const client = path.join(ROOT, 'test', 'support', 'lockClient.ts');
const tsx = ['--import', 'tsx', client];

function owner(label: string) {
  return { ...selfIdentity(), id: randomUUID(), kind: 'other' as const, label };
}

test('(unit) a slot holder killed with SIGKILL is replaced at once by the next waiter in another process', async () => {
  const dir = ensureStateDir(tempDir());
  const a = startProcess(process.execPath, [...tsx, dir, 'a']);
  await a.waitForOutput(/acquired a/);
  const b = startProcess(process.execPath, [...tsx, dir, 'b']);
  const waiting = await b.waitForOutput(/waiting b holder=(\d+)/);
  assert.equal(Number(waiting[1]), a.child.pid, 'b names the pid that holds the lock');
  assert.doesNotMatch(b.output(), /acquired b/);
  a.child.kill('SIGKILL');
  await b.waitForOutput(/acquired b/, 5000);
  const state = lockState(new Registry(dir).read());
  assert.equal(state.holder?.owner.pid, b.child.pid);
  b.child.kill('SIGKILL');
  await waitFor(() => !pidAlive(b.child.pid as number), 'b to die');
});

test('(unit) waiters from three processes get the slot one at a time in FIFO order', async () => {
  const dir = ensureStateDir(tempDir());
  const procs = [];
  const names = ['p1', 'p2', 'p3'];
  for (const n of names) {
    const p = startProcess(process.execPath, [...tsx, dir, n, '150']);
    // Let each one queue before the next starts, so the order is known.
    await p.waitForOutput(new RegExp(`(acquired|waiting) ${n}`));
    procs.push(p);
  }
  const times = await Promise.all(procs.map(async (p, i) => {
    const acquired = Number((await p.waitForOutput(new RegExp(`acquired ${names[i]} after \\d+ ms at (\\d+)`), 10000))[1]);
    const released = Number((await p.waitForOutput(new RegExp(`released ${names[i]} at (\\d+)`), 10000))[1]);
    return [acquired, released] as const;
  }));
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i]![0] >= times[i - 1]![1], `${names[i]} acquired after ${names[i - 1]} released (${JSON.stringify(times)})`);
  }
});

test('(unit) waiting for the slot is cancellable and leaves no queue entry behind', async () => {
  const dir = ensureStateDir(tempDir());
  const registry = new Registry(dir);
  const lock = new StartLock(registry);
  const held = await lock.acquire({ owner: owner('holder'), keys: ['k#a'], names: ['a'], holdFor: 60_000, inside: () => 1 });
  const ac = new AbortController();
  const waits: string[] = [];
  const pending = lock.acquire({
    owner: owner('waiter'), keys: ['k#b'], names: ['b'], holdFor: 60_000, signal: ac.signal,
    onWait: (i) => waits.push(`${i.holder?.pid}:${i.holder?.names.join(',')}`),
    inside: () => 2,
  });
  await waitFor(() => waits.length > 0, 'the waiter to report the holder');
  assert.deepEqual(waits, [`${process.pid}:a`]);
  assert.equal(registry.read().queue.length, 1);
  ac.abort();
  await assert.rejects(pending, (e) => isEngineRoomError(e, 'lock-cancelled'));
  assert.equal(registry.read().queue.length, 0);
  await held.release();
  assert.equal(registry.read().slot, null);
});

test('(unit) a registry lock directory left by a killed process is taken over once stale', async () => {
  const dir = ensureStateDir(tempDir());
  const registry = new Registry(dir);
  const lockDir = path.join(dir, 'registry.lock');
  fs.mkdirSync(lockDir);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockDir, old, old);
  const value = await registry.update((d) => {
    d.nextTicket = 42;
    return 'written';
  });
  assert.equal(value, 'written');
  assert.equal(registry.read().nextTicket, 42);
  assert.equal(fs.existsSync(lockDir), false, 'the lock directory is removed after the update');
});

test('(unit) a damaged registry file is read as empty, with a warning, and rewritten on the next update', async () => {
  const dir = ensureStateDir(tempDir());
  const warnings: string[] = [];
  const registry = new Registry(dir, (m) => warnings.push(m));
  fs.writeFileSync(registry.file, '{"version": 1, "leases": [tru');
  assert.deepEqual(registry.read().leases, []);
  assert.match(warnings[0] ?? '', /damaged/);
  await registry.update((d) => {
    d.nextTicket = 7;
  });
  assert.equal(JSON.parse(fs.readFileSync(registry.file, 'utf8')).nextTicket, 7);
});

test('(unit) the state directory is refused when others can write it', () => {
  const dir = tempDir();
  fs.chmodSync(dir, 0o777);
  assert.throws(() => ensureStateDir(dir), (e) => isEngineRoomError(e, 'state-dir-unsafe') && /chmod 700/.test(e.message));
  fs.chmodSync(dir, 0o700);
  assert.equal(ensureStateDir(dir), dir);
  const created = path.join(dir, 'fresh');
  ensureStateDir(created);
  assert.equal(fs.statSync(created).mode & 0o777, 0o700);
});
