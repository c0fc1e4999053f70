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
  const go = path.join(dir, 'go');
  // p1 holds until p2 and p3 both wait, so there really is a queue.
  const p1 = startProcess(process.execPath, [...tsx, dir, 'p1', `@${go}`]);
  await p1.waitForOutput(/acquired p1/);
  const p2 = startProcess(process.execPath, [...tsx, dir, 'p2', '100']);
  await p2.waitForOutput(/waiting p2/);
  const p3 = startProcess(process.execPath, [...tsx, dir, 'p3', '100']);
  await p3.waitForOutput(/waiting p3 holder=\d+ ahead=1/);
  fs.writeFileSync(go, '');
  const released1 = Number((await p1.waitForOutput(/released p1 at (\d+)/))[1]);
  const acquired2 = Number((await p2.waitForOutput(/acquired p2 after \d+ ms at (\d+)/))[1]);
  const released2 = Number((await p2.waitForOutput(/released p2 at (\d+)/))[1]);
  const acquired3 = Number((await p3.waitForOutput(/acquired p3 after \d+ ms at (\d+)/))[1]);
  assert.ok(acquired2 >= released1, 'p2 after p1');
  assert.ok(acquired3 >= released2, 'p3 after p2 (it queued after p2)');
});

test('(unit) a stopped waiter at the head of the queue does not block the others for ever', async () => {
  const dir = ensureStateDir(tempDir());
  const go = path.join(dir, 'go');
  const p1 = startProcess(process.execPath, [...tsx, dir, 'p1', `@${go}`]);
  await p1.waitForOutput(/acquired p1/);
  const p2 = startProcess(process.execPath, [...tsx, dir, 'p2']);
  await p2.waitForOutput(/waiting p2/);
  p2.child.kill('SIGSTOP');
  const p3 = startProcess(process.execPath, [...tsx, dir, 'p3', '1500']);
  try {
    await p3.waitForOutput(/waiting p3 holder=\d+ ahead=1/);
    fs.writeFileSync(go, '');
    await p3.waitForOutput(/acquired p3/, 10000);
    assert.doesNotMatch(p2.output(), /acquired p2/);
    // Woken up, the passed-over waiter queues again and gets its turn; no stale entry is left behind.
    p2.child.kill('SIGCONT');
    await p3.waitForOutput(/released p3/, 10000);
    await p2.waitForOutput(/acquired p2/, 10000);
    assert.deepEqual(new Registry(dir).read().queue, []);
  } finally {
    p2.child.kill('SIGKILL');
    p3.child.kill('SIGKILL');
  }
});

test('(unit) a wall-clock jump does not expire the start slot: a waiter whose clock is 2 h ahead still waits for the holder', async () => {
  const dir = ensureStateDir(tempDir());
  const go = path.join(dir, 'go');
  const holder = startProcess(process.execPath, [...tsx, dir, 'holder', `@${go}`]);
  await holder.waitForOutput(/acquired holder/);
  // faketime (libfaketime) moves this process's wall clock 2 hours ahead, far past the slot's holdFor.
  const jumped = startProcess('faketime', ['-f', '+2h', process.execPath, ...tsx, dir, 'jumped', '100']);
  try {
    // First the premise: the other process's clock really is 2 h ahead of this one's.
    const clock = Number((await jumped.waitForOutput(/clock jumped (\d+)/))[1]);
    const ahead = clock - Date.now();
    assert.ok(Math.abs(ahead - 2 * 3600_000) < 60_000, `the jumped process's clock is ${(ahead / 60_000).toFixed(1)} min ahead, not 120`);
    await jumped.waitForOutput(/waiting jumped holder=\d+/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.doesNotMatch(jumped.output(), /acquired jumped/, 'the slot did not look expired');
    fs.writeFileSync(go, '');
    await jumped.waitForOutput(/acquired jumped/, 10000);
  } finally {
    holder.child.kill('SIGKILL');
    jumped.child.kill('SIGKILL');
  }
});

test('(unit) a waiter whose queue entry vanished queues again instead of waiting for ever', async () => {
  const dir = ensureStateDir(tempDir());
  const registry = new Registry(dir);
  const lock = new StartLock(registry);
  const held = await lock.acquire({ owner: owner('holder'), keys: ['k#a'], names: ['a'], holdFor: 60_000, inside: () => 1 });
  let waited = false;
  const pending = lock.acquire({ owner: owner('waiter'), keys: ['k#b'], names: ['b'], holdFor: 60_000, onWait: () => (waited = true), inside: () => 2 });
  await waitFor(() => waited, 'the waiter to wait');
  // Someone edits the registry by hand (or a damaged file is replaced): the queue is gone.
  await registry.update((d) => {
    d.queue = [];
  });
  await held.release();
  const second = await pending;
  assert.equal(second.value, 2);
  await second.release();
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

test('(unit) a registry update whose event loop stalls past the lock\'s safe time writes nothing (another process may own the lock by then)', async () => {
  const dir = ensureStateDir(tempDir());
  const registry = new Registry(dir);
  await registry.update((d) => {
    d.nextTicket = 5;
  });
  await assert.rejects(
    registry.update((d) => {
      d.nextTicket = 99;
      const until = Date.now() + 3300;
      while (Date.now() < until) {
        // a blocked event loop, as in an extension host busy elsewhere
      }
    }),
    (e) => isEngineRoomError(e, 'lock-timeout') && /held too long/.test(e.message),
  );
  assert.equal(registry.read().nextTicket, 5, 'the stalled update was not written');
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
